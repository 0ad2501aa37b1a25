// Element-wise ops, RMS norms, RoPE and KV-cache stores against host/ref_ops, each with the
// native variants and with subgroup arithmetic / fp16 / limits forced off.
#include <algorithm>
#include <cmath>
#include <utility>

#include <set>
#include <string>

#include "ops_internal.h"
#include "ops_test.h"
#include "shader_registry.h"
#include "rope_table.h"

using namespace vkg;
using namespace vkg::test;

namespace {

const ForcedCaps::Mode kModes[] = {ForcedCaps::Native, ForcedCaps::NoSubgroupNoFp16, ForcedCaps::SmallLimits};

/// max |got - want| / (|want| + abs_floor)
double max_rel(const std::vector<float>& got, const std::vector<float>& want, double abs_floor) {
  REQUIRE(got.size() == want.size());
  double m = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(double(got[i]) - want[i]) / (std::fabs(want[i]) + abs_floor);
    if (!(e <= m)) m = e;
  }
  return m;
}

} // namespace

TEST_CASE("element-wise ops: gelu_mul, add_scale, scale, softcap, row_select") {
  ValidationGuard guard;
  for (auto mode : kModes) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    const uint32_t n = 1000, rows = 3, b_stride = 2600, b_offset = 77;
    auto a = random_floats(n * rows, 1, -6.0f, 6.0f);
    auto b = random_floats(b_stride * rows, 2);
    Buffer ab = to_device(a), bb = to_device(b), ob = zeros<float>(n * rows);
    run([&](CommandList& cl) { ops.gelu_mul(cl, ab, bb, ob, n, rows, b_stride, b_offset); });
    std::vector<float> want(n * rows);
    ref::gelu_mul(a.data(), b.data(), want.data(), n, rows, b_stride, b_offset);
    CHECK(max_rel(from_device<float>(ob, n * rows), want, 1e-6) <= 2e-5);

    const uint32_t m = 70001;  // odd, several workgroups
    auto x = random_floats(m, 3, -100.0f, 100.0f), y = random_floats(m, 4);
    Buffer xb = to_device(x), yb = to_device(y), zb = zeros<float>(m);
    run([&](CommandList& cl) { ops.add_scale(cl, xb, yb, zb, m, 0.7071f); });
    std::vector<float> w(m);
    ref::add_scale(x.data(), y.data(), w.data(), m, 0.7071f);
    CHECK(max_rel(from_device<float>(zb, m), w, 0) == 0);

    run([&](CommandList& cl) { ops.scale(cl, xb, m, -3.5f); });
    auto xs = x;
    ref::scale(xs.data(), m, -3.5f);
    CHECK(max_rel(from_device<float>(xb, m), xs, 0) == 0);

    Buffer cb = to_device(x);
    run([&](CommandList& cl) { ops.softcap(cl, cb, m, 30.0f); });
    auto xc = x;
    ref::softcap(xc.data(), m, 30.0f);
    CHECK(max_rel(from_device<float>(cb, m), xc, 1e-6) <= 2e-6);

    // row_select: rows 1, 4 and 5 of 7 replaced (a soft-token span and a lone row).
    const uint32_t rn = 333, rr = 7;
    auto rx = random_floats(rn * rr, 5), rs = random_floats(rn * rr, 6);
    const std::vector<uint32_t> mask{0, 1, 0, 0, 7, 1, 0};
    Buffer rxb = to_device(rx), rsb = to_device(rs), rmb = to_device(mask);
    run([&](CommandList& cl) { ops.row_select(cl, rxb, rsb, rmb, rn, rr); });
    auto rw = rx;
    ref::row_select(rw.data(), rs.data(), mask.data(), rn, rr);
    CHECK(rw != rx);
    CHECK(from_device<float>(rxb, rn * rr) == rw);
  }
}

TEST_CASE("rms_norm: weighted, unweighted, per-head rows, in place; rms_norm_add with and without scale") {
  ValidationGuard guard;
  for (auto mode : kModes) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    for (uint32_t n : {1536u, 256u, 37u}) {
      const uint32_t rows = n == 256 ? 24 : 3;
      CAPTURE(n);
      auto x = random_floats(size_t{n} * rows, n, -3.0f, 3.0f);
      auto wt = random_floats(n, n + 1, 0.0f, 2.0f);
      Buffer xb = to_device(x), wb = to_device(wt), ob = zeros<float>(size_t{n} * rows);
      std::vector<float> want(size_t{n} * rows);
      run([&](CommandList& cl) { ops.rms_norm(cl, xb, wb, ob, n, rows, 1e-6f); });
      ref::rms_norm(x.data(), wt.data(), want.data(), n, rows, 1e-6f);
      CHECK(max_rel(from_device<float>(ob, want.size()), want, 1e-6) <= 1e-5);
      run([&](CommandList& cl) { ops.rms_norm(cl, xb, BufferRange{}, xb, n, rows, 1e-6f); });  // in place
      ref::rms_norm(x.data(), nullptr, want.data(), n, rows, 1e-6f);
      CHECK(max_rel(from_device<float>(xb, want.size()), want, 1e-6) <= 1e-5);

      auto res = random_floats(size_t{n} * rows, n + 2);
      Buffer inb = to_device(x), rb = to_device(res), sb = to_device(std::vector<float>{0.25f});
      run([&](CommandList& cl) { ops.rms_norm_add(cl, inb, wb, rb, sb, n, rows, 1e-6f); });
      auto rw = res;
      ref::rms_norm_add(x.data(), wt.data(), rw.data(), 0.25f, n, rows, 1e-6f);
      CHECK(max_rel(from_device<float>(rb, rw.size()), rw, 1.0) <= 1e-5);  // values O(1); the add may cancel
      run([&](CommandList& cl) { ops.rms_norm_add(cl, inb, BufferRange{}, rb, BufferRange{}, n, rows, 1e-6f); });
      ref::rms_norm_add(x.data(), nullptr, rw.data(), 1.0f, n, rows, 1e-6f);
      CHECK(max_rel(from_device<float>(rb, rw.size()), rw, 1.0) <= 1e-5);  // values O(1); the add may cancel
    }
  }
}

TEST_CASE("rope_neox: float64-accurate at positions up to 131071, both Gemma 4 variants, partial rotation") {
  // The angles come from a host table in double precision (rope_table), so the result must not
  // depend on the device's sin/cos nor on the position: error bound 5e-7 at every position
  // (table entries rounded to float, 2^-24 relative, plus the two float products and the sum
  // with |a|, |b| <= 1), where float angles would give ~pos * 2^-24 rad (8e-3 at 131071).
  ValidationGuard guard;
  for (auto mode : kModes) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    struct C { uint32_t heads, hd, n_rot; float base; bool ff; };
    // Sliding layers: base 1e4 over the whole head; full-attention layers: base 1e6 with
    // rope_freqs factors (Gemma 4 "proportional" partial RoPE: pairs >= 64 never rotate); a
    // partial rotation leaving dims >= n_rot alone.
    for (C c : {C{8, 256, 256, 10000.0f, false}, C{2, 512, 512, 1e6f, true}, C{3, 64, 32, 10000.0f, false}}) {
      CAPTURE(c.hd);
      CAPTURE(c.n_rot);
      const std::vector<int32_t> pos = {0, 1, 17, 4095, 4096, 4097, 65534, 65535, 65536, 131070, 131071};
      const uint32_t T = static_cast<uint32_t>(pos.size());
      auto x = random_floats(size_t{T} * c.heads * c.hd, c.hd);
      std::vector<float> ff(c.n_rot / 2, 1.0f);
      for (size_t i = 0; i < ff.size(); ++i) ff[i] = i < 64 ? 1.0f + 0.25f * float(i % 5) : 1e30f;
      std::vector<float> table(rope_table_bytes(T, c.n_rot) / 4);
      rope_table(pos, rope_inv_freq(c.n_rot, c.base, c.ff ? std::span<const float>(ff) : std::span<const float>{}),
                 table.data());
      Buffer xb = to_device(x), tb = to_device(table);
      run([&](CommandList& cl) { ops.rope_neox(cl, xb, tb, T, c.heads, c.hd, c.n_rot); });
      auto want = x;
      ref::rope_neox(want.data(), pos.data(), c.ff ? ff.data() : nullptr, T, c.heads, c.hd, c.n_rot, c.base);
      auto got = from_device<float>(xb, x.size());
      for (uint32_t t = 0; t < T; ++t) {
        double worst = 0;
        for (size_t i = 0; i < size_t{c.heads} * c.hd; ++i) {
          const size_t k = t * size_t{c.heads} * c.hd + i;
          worst = std::max(worst, std::fabs(double(got[k]) - want[k]));
        }
        CAPTURE(pos[t]);
        CHECK(worst <= 5e-7);
      }
      if (c.n_rot < c.hd)  // unrotated dims are untouched
        for (uint32_t t = 0; t < T; ++t)
          for (uint32_t h = 0; h < c.heads; ++h)
            for (uint32_t i = c.n_rot; i < c.hd; ++i) {
              const size_t k = (size_t{t} * c.heads + h) * c.hd + i;
              REQUIRE(got[k] == x[k]);
            }
    }
  }
}

TEST_CASE("rope_table: cos/sin of the float64 angle, rounded once; bad shapes refused") {
  // Independent check of the table at the largest positions: angle reduction by hand in long
  // double (x87 80-bit on x86, 128-bit elsewhere) for the first pairs, which turn fastest.
  const std::vector<int32_t> pos = {131071, 65535, 4096};
  const auto inv = rope_inv_freq(256, 10000.0);
  CHECK(inv[0] == 1.0);
  CHECK(inv[64] == doctest::Approx(0.01).epsilon(1e-15));  // 1e4^(-128/256)
  std::vector<float> table(rope_table_bytes(3, 256) / 4);
  rope_table(pos, inv, table.data());
  for (size_t t = 0; t < pos.size(); ++t)
    for (size_t i = 0; i < 4; ++i) {
      const long double theta = static_cast<long double>(pos[t]) * powl(10000.0L, -2.0L * i / 256);
      CAPTURE(pos[t]);
      CAPTURE(i);
      CHECK(std::fabs(table[(t * 128 + i) * 2] - double(cosl(theta))) <= 6e-8);
      CHECK(std::fabs(table[(t * 128 + i) * 2 + 1] - double(sinl(theta))) <= 6e-8);
    }
  CHECK_THROWS_AS(rope_inv_freq(7, 1e4), std::invalid_argument);
  const std::vector<float> short_ff(3, 1.0f);
  CHECK_THROWS_AS(rope_inv_freq(16, 1e4, short_ff), std::invalid_argument);
}

TEST_CASE("kv_store: F16 and F32 caches, ring slots wrap") {
  ValidationGuard guard;
  // SmallLimits turns 16-bit storage off: the F16 cache is packed in 32-bit words and needs none.
  for (auto [mode, kv] : {std::pair{ForcedCaps::Native, KvType::F16}, std::pair{ForcedCaps::Native, KvType::F32},
                          std::pair{ForcedCaps::SmallLimits, KvType::F16}}) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    CHECK(ops.kv_type() == KvType::F16);  // the default on every device
    ops.set_kv_type(kv);
    const uint32_t row = 2 * 256, ring = 7;
    // Wraps around the ring of 7 (slots 5, 6, 0, 1, ...). The forward never stores more rows than
    // the ring holds (ring >= window + batch), so positions map to distinct slots: two rows for
    // one slot in a dispatch would race (SwiftShader runs the workgroups in parallel).
    std::vector<int32_t> pos = {12, 13, 14, 15, 16, 17, 18};
    const uint32_t T = static_cast<uint32_t>(pos.size());
    auto src = random_floats(size_t{T} * row, 5, -2.0f, 2.0f);
    const bool f16 = ops.kv_type() == KvType::F16;
    CHECK(f16 == (kv == KvType::F16));
    const size_t bytes = size_t{ring} * row * (f16 ? 2 : 4);
    Buffer cache = zeros<uint8_t>(bytes), sb = to_device(src), pb = to_device(pos);
    run([&](CommandList& cl) { ops.kv_store(cl, sb, cache, pb, T, row, ring); });
    std::vector<float> want(size_t{ring} * row, 0.0f);
    ref::kv_store(src.data(), want.data(), pos.data(), T, row, ring);
    std::vector<float> got(want.size());
    if (f16) {
      auto h = from_device<uint16_t>(cache, want.size());
      for (size_t i = 0; i < h.size(); ++i) got[i] = fp16_to_fp32(h[i]);
      for (auto& w : want) w = fp16_to_fp32(fp32_to_fp16(w));  // round to nearest even, as the host does
    } else {
      got = from_device<float>(cache, want.size());
    }
    CHECK(std::memcmp(got.data(), want.data(), got.size() * 4) == 0);
  }
}

TEST_CASE("ops report unsupported shapes and misaligned texel operands as VkError naming the op") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  CHECK(Ops::supports(12));   // Q4_K
  CHECK(!Ops::supports(16));  // IQ2_XXS: not a kernel type
  HostMatrix m = random_matrix(GgmlType::Q8_0, 64, 4, 1);
  std::vector<Buffer> keep;
  DeviceMatrix dm = upload(m, keep);
  Buffer x = zeros<float>(64 + 4), y = zeros<float>(4);
  CommandList cl(device());
  cl.begin();
  // X not at a multiple of 16 bytes: cannot be a texel view.
  CHECK_THROWS_WITH_AS(ops.matmul(cl, dm, BufferRange(x, 4, 256), y, 1), doctest::Contains("matmul"), VkError);
  DeviceMatrix bad = dm;
  bad.type = 16;
  CHECK_THROWS_WITH_AS(ops.matmul(cl, bad, x, y, 1), doctest::Contains("not supported"), VkError);
  CHECK_THROWS_AS(ops.attention(cl, x, x, x, x, y, 1, 3, 2, 64, 16, 0, 1.0f), VkError);  // 3 heads over 2
  CHECK_THROWS_AS(ops.top_k(cl, x, 10, 11, y, y), VkError);                              // k > n
  cl.end();
}

TEST_CASE("the weight-type list: runtime table, host layouts and the built shader variants agree") {
  // The list itself (runtime/weight_types.def), pinned here so that a type cannot drop out unnoticed.
  using T = GgmlType;
  std::vector<WeightTypeId> want;
  for (T t : {T::F32, T::F16, T::BF16, T::Q4_0, T::Q4_1, T::Q5_0, T::Q5_1, T::Q8_0, T::Q2_K, T::Q3_K, T::Q4_K,
              T::Q5_K, T::Q6_K, T::IQ4_NL, T::IQ4_XS})
    want.push_back(static_cast<WeightTypeId>(t));
  std::vector<WeightTypeId> got = Ops::supported_types();
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got == want);

  std::set<std::string> shaders;
  for (const auto& s : shaders::all()) shaders.insert(s.name);
  std::set<std::string> expected;
  for (const ops_detail::WType& w : ops_detail::wtypes()) {
    const std::string name = w.name;
    CAPTURE(name);
    // Name and block layout as the host (ggml-common.h) has them; the float types use 32-element blocks.
    const auto& info = ggml_type_info(static_cast<GgmlType>(w.id));
    std::string lower(info.name);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(lower == w.name);
    const uint32_t per = info.block_elems == 1 ? 32 : 1;
    CHECK(w.block_elems == info.block_elems * per);
    CHECK(w.block_bytes == info.block_bytes * per);
    CHECK((w.unit_blocks == 1 || (w.unit_blocks * w.block_bytes) % 16 == 0));  // units fill whole texels
    CHECK(can_dequantize(static_cast<GgmlType>(w.id)));  // the CPU twin exists
    // One variant set per type (shaders/shaders.cmake), texel-aligned matvec variants iff units > 1.
    std::vector<std::string> names = {"matvec_" + lower + "_g", "matmul_" + lower, "get_rows_" + lower,
                                      "matvec_gate_up_" + lower + "_g",
                                      // split-K (GPUs): subgroup sum, and the shared-memory sum (_wg)
                                      "matvec_gpu_" + lower, "matvec_gpu_" + lower + "_wg",
                                      "matvec_gate_up_gpu_" + lower, "matvec_gate_up_gpu_" + lower + "_wg"};
    if (w.unit_blocks > 1) names.insert(names.end(), {"matvec_" + lower + "_a", "matvec_gate_up_" + lower + "_a"});
    for (const auto& n : names) {
      CAPTURE(n);
      CHECK(shaders.count(n) == 1);
      expected.insert(n);
    }
  }
  // ... and no weight-type variant without a table entry.
  for (const auto& n : shaders) {
    const bool weight_kernel = n.rfind("matvec_", 0) == 0 || n.rfind("matmul_", 0) == 0 || n.rfind("get_rows_", 0) == 0;
    if (!weight_kernel) continue;
    // Storage-buffer twins (NAME_sb, devices whose texel-buffer limit is too small) of each variant.
    const bool sb = n.size() > 3 && n.compare(n.size() - 3, 3, "_sb") == 0;
    const std::string base = sb ? n.substr(0, n.size() - 3) : n;
    CAPTURE(n);
    CHECK(expected.count(base) == 1);
  }
  for (const auto& n : expected) {
    CAPTURE(n);
    CHECK(shaders.count(n + "_sb") == 1);
  }
}
