// Ops::attention (decode: subgroup kernel with head dims over the lanes, or the generic kernel
// without subgroup arithmetic; key chunks + merge; prefill tiles) against ref::attention: windows
// smaller and larger than the sequence, GQA ratios 1, 2, 8, head dims 256, 512 and 96, F16 and F32
// caches, ring-buffer slots wrapping; each also with subgroup/fp16/limits forced off.
#include <algorithm>
#include <cmath>

#include "ops_test.h"

using namespace vkg;
using namespace vkg::test;

namespace {

struct AttnCase {
  uint32_t n_head, n_kv, hd;
  uint32_t ring, window;
  std::vector<int32_t> pos;  // query positions (keys 0..max(pos) have been stored)
  float scale;
  bool scratch = true;
};

/// Runs one case; returns max |gpu - ref|.
double run_attention(Ops& ops, const AttnCase& c, uint32_t seed) {
  const uint32_t T = static_cast<uint32_t>(c.pos.size());
  const int32_t max_pos = *std::max_element(c.pos.begin(), c.pos.end());
  const size_t row = size_t{c.n_kv} * c.hd;
  const bool f16 = ops.kv_type() == KvType::F16;
  // Keys/values of every position 0..max_pos, stored in ring order (later positions overwrite).
  auto keys = random_floats((max_pos + 1) * row, seed, -1.0f, 1.0f);
  auto vals = random_floats((max_pos + 1) * row, seed + 1, -1.0f, 1.0f);
  if (f16)
    for (auto* v : {&keys, &vals})
      for (auto& x : *v) x = fp16_to_fp32(fp32_to_fp16(x));
  std::vector<float> kc(c.ring * row, 0.0f), vc(c.ring * row, 0.0f);
  for (int32_t p = 0; p <= max_pos; ++p) {
    std::copy_n(keys.begin() + p * row, row, kc.begin() + (p % c.ring) * row);
    std::copy_n(vals.begin() + p * row, row, vc.begin() + (p % c.ring) * row);
  }
  auto q = random_floats(size_t{T} * c.n_head * c.hd, seed + 2, -1.0f, 1.0f);
  auto device_cache = [&](const std::vector<float>& v) {
    if (!f16) return to_device(v);
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = fp32_to_fp16(v[i]);
    return to_device(h);
  };
  Buffer kb = device_cache(kc), vb = device_cache(vc), qb = to_device(q), pb = to_device(c.pos);
  Buffer ob = zeros<float>(size_t{T} * c.n_head * c.hd);
  const uint64_t sbytes = ops.scratch_bytes(T, c.n_head, c.hd, c.ring, 0);
  Buffer scratch(device(), std::max<uint64_t>(sbytes, 256), MemoryUsage::Device);
  ops.set_scratch(c.scratch ? BufferRange(scratch, 0, scratch.size()) : BufferRange{});
  run([&](CommandList& cl) {
    ops.attention(cl, qb, kb, vb, pb, ob, T, c.n_head, c.n_kv, c.hd, c.ring, c.window, c.scale);
  });
  ops.set_scratch(BufferRange{});
  std::vector<float> want(size_t{T} * c.n_head * c.hd);
  ref::attention(q.data(), kc.data(), vc.data(), c.pos.data(), want.data(), T, c.n_head, c.n_kv, c.hd, c.ring,
                 c.window, c.scale);
  auto got = from_device<float>(ob, want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(double(got[i]) - want[i]);
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

std::vector<int32_t> iota_pos(int32_t first, int32_t n) {
  std::vector<int32_t> p(n);
  for (int32_t i = 0; i < n; ++i) p[i] = first + i;
  return p;
}

} // namespace

TEST_CASE("attention decode: windows, GQA 1/2/8, head dims 256/512/96, ring wrap, F16/F32 cache, all modes") {
  ValidationGuard guard;
  for (auto mode : {ForcedCaps::Native, ForcedCaps::NoStorage16, ForcedCaps::NoSubgroupNoFp16, ForcedCaps::SmallLimits}) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    // F16 caches need no 16-bit storage (NoStorage16 still gets one); F32 with and without subgroups.
    CHECK(ops.kv_type() == KvType::F16);
    if (mode == ForcedCaps::Native || mode == ForcedCaps::SmallLimits) ops.set_kv_type(KvType::F32);
    CAPTURE(ops.kv_type() == KvType::F16);
    uint32_t seed = 10;
    const std::vector<AttnCase> cases = {
        // sliding window smaller than the sequence, ring of `window` slots wrapped several times
        {8, 1, 256, 16, 16, {70}, 1.0f / 16},
        // window larger than the sequence; GQA 2
        {4, 2, 256, 128, 100, {40}, 1.0f / 16},
        // full attention, GQA 8, head dim 512, long cache split in chunks (flash-decoding) + merge
        {8, 1, 512, 1024, 0, {900}, 1.0f / 22.6f},
        // same without scratch: single-pass fallback
        {8, 1, 512, 1024, 0, {900}, 1.0f / 22.6f, false},
        // GQA 1 (no sharing), generic head dim 96, scale 1.0 (Gemma: q, k already normed)
        {3, 3, 96, 64, 0, {50}, 0.125f},
        // decode-sized batch T = 3 with a window (speculative / multi-token decode)
        {8, 1, 256, 40, 32, {100, 101, 102}, 1.0f / 16},  // ring >= window + T - 1
    };
    for (const auto& c : cases) {
      CAPTURE(c.n_head);
      CAPTURE(c.n_kv);
      CAPTURE(c.hd);
      CAPTURE(c.ring);
      CAPTURE(c.window);
      CAPTURE(c.scratch);
      CHECK(run_attention(ops, c, seed++) <= 2e-5);
    }
  }
}

TEST_CASE("attention prefill: tiles with online softmax, causal and sliding, GQA 8 and 2") {
  ValidationGuard guard;
  for (auto mode : {ForcedCaps::Native, ForcedCaps::SmallLimits}) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    uint32_t seed = 50;
    const std::vector<AttnCase> cases = {
        {8, 1, 256, 64, 0, iota_pos(0, 37), 1.0f / 16},          // causal from position 0
        {8, 1, 256, 32, 12, iota_pos(30, 20), 1.0f / 16},        // window 12, ring 32 >= window + T - 1, wraps
        {4, 2, 512, 80, 0, iota_pos(40, 21), 1.0f / 22.6f},      // GQA 2, head dim 512, continuing a sequence
    };
    for (const auto& c : cases) {
      CAPTURE(c.n_head);
      CAPTURE(c.hd);
      CAPTURE(c.window);
      CHECK(run_attention(ops, c, seed++) <= 2e-5);
    }
  }
}

TEST_CASE("attention over more than 65535 keys (lavapipe's per-invocation loop budget): decode and prefill") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  // Full attention, 70000 cached positions; T = 1 (decode chunks) and T = 9 (prefill, still split).
  AttnCase c{2, 1, 128, 70000, 0, {69999}, 0.09f};
  CHECK(run_attention(ops, c, 77) <= 2e-5);
  c.pos = iota_pos(69991, 9);
  CHECK(run_attention(ops, c, 78) <= 2e-5);
}
