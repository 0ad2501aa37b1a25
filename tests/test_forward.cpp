// The Vulkan forward pass against golden logits from independent implementations, and its
// cache paths against each other (one batch, chunks, token by token; PLE via staging + transfer).
#include <fmt/format.h>

#include "device_weights.h"
#include "forward.h"
#include "gemma4_config.h"
#include "golden.h"
#include "gpu.h"
#include "gguf.h"

using namespace vkg;
using vkg::test::device;

namespace {

struct Loaded {
  GgufFile file;
  Gemma4Model model;
  DeviceWeights weights;
};

std::unique_ptr<Loaded> load(const std::filesystem::path& path) {
  auto l = std::make_unique<Loaded>(Loaded{GgufFile::open(path), {}, {}});
  l->model = load_gemma4(l->file);
  l->weights = upload_weights(device(), l->model);
  return l;
}

std::vector<float> run(const Loaded& l, const std::vector<int32_t>& tokens, ForwardOptions opt, bool sequential) {
  Gemma4Forward fwd(device(), l.model, l.weights, opt);
  std::vector<float> all, one;
  if (!sequential) {
    fwd.eval(tokens, true, all);
    return all;
  }
  for (int32_t id : tokens) {
    fwd.eval(std::span<const int32_t>(&id, 1), true, one);
    all.insert(all.end(), one.begin(), one.end());
  }
  return all;
}

}  // namespace

TEST_CASE("Vulkan forward matches the golden float64 reference logits (F32 and F16 KV cache)") {
  VKG_REQUIRE_SHARED();
  for (const char* name : vkg::test::kGoldenCases) {
    CAPTURE(name);
    vkg::test::ValidationGuard guard;
    auto g = vkg::test::load_golden(name);
    auto l = load(g.dir / "model.gguf");
    REQUIRE(l->model.config.n_vocab == g.n_vocab);
    // F32 KV: only float accumulation order separates us from the float64 reference.
    auto got = run(*l, g.tokens, {.n_ctx = 256, .kv_f32 = true}, false);
    auto d = vkg::test::compare_logits(got, g.logits_ref, g.n_vocab);
    auto dl = vkg::test::compare_logits(got, g.logits_llama, g.n_vocab);
    MESSAGE(fmt::format("{} (F32 KV): vs reference max|diff| {:.2e} mean {:.2e} (max|logit| {:.2f}); vs llama.cpp "
                        "max {:.3f} mean {:.4f}, argmax mismatches {}",
                        name, d.max_abs, d.mean_abs, d.max_ref, dl.max_abs, dl.mean_abs, dl.argmax_mismatch));
    CHECK(d.max_abs <= 1e-3 * d.max_ref);
    CHECK(d.argmax_mismatch == 0);
    // F16 KV (the default on every device: packed halves, no 16-bit storage needed): K/V
    // rounded to 11 significant bits.
    {
      auto h = run(*l, g.tokens, {.n_ctx = 256}, false);
      auto dh = vkg::test::compare_logits(h, g.logits_ref, g.n_vocab);
      MESSAGE(fmt::format("{} (F16 KV): max|diff| {:.2e} mean {:.2e}, argmax mismatches {}", name, dh.max_abs,
                          dh.mean_abs, dh.argmax_mismatch));
      CHECK(dh.max_abs <= 3e-3 * dh.max_ref);
      CHECK(dh.mean_abs <= 2e-4 * dh.max_ref);
    }
  }
}

TEST_CASE("IQ4_XS golden (llama-quantize IQ4_XS matrices, Q6_K tables): reference logits, batch and token by token") {
  VKG_REQUIRE_SHARED();
  if (!std::filesystem::exists(vkg::test::shared_dir() / "golden/tiny_iq4_xs/logits_ref.f32")) {
    MESSAGE("SKIPPED: ../shared/golden/tiny_iq4_xs is absent (older golden set)");
    return;
  }
  vkg::test::ValidationGuard guard;
  auto g = vkg::test::load_golden("tiny_iq4_xs");
  auto l = load(g.dir / "model.gguf");
  REQUIRE(l->model.config.n_vocab == g.n_vocab);
  // The case is what it claims: the layer matrices are IQ4_XS (the GPU kernels read them as such).
  uint32_t n_iq4_xs = 0;
  for (const auto& lw : l->model.weights.layers)
    for (const GgufTensorInfo* t : {lw.attn_q, lw.ffn_gate, lw.ffn_up, lw.ffn_down})
      n_iq4_xs += t && t->type == GgmlType::IQ4_XS;
  CHECK(n_iq4_xs == 4 * l->model.weights.layers.size());
  CHECK(l->weights.layers[0].ffn_up.type == static_cast<WeightTypeId>(GgmlType::IQ4_XS));
  struct Run {
    const char* what;
    ForwardOptions opt;
    bool sequential;
  };
  for (const Run& r : {Run{"batch, F32 KV", {.n_ctx = 256, .kv_f32 = true}, false},
                       Run{"token by token, F32 KV", {.n_ctx = 256, .max_batch = 1, .kv_f32 = true}, true},
                       Run{"batch, default KV", {.n_ctx = 256}, false},
                       Run{"token by token, default KV", {.n_ctx = 256, .max_batch = 1}, true}}) {
    const std::string what = r.what;
    CAPTURE(what);
    auto got = run(*l, g.tokens, r.opt, r.sequential);
    auto d = vkg::test::compare_logits(got, g.logits_ref, g.n_vocab);
    auto dl = vkg::test::compare_logits(got, g.logits_llama, g.n_vocab);
    MESSAGE(fmt::format("tiny_iq4_xs ({}): vs reference max|diff| {:.2e} mean {:.2e} (max|logit| {:.2f}), argmax "
                        "mismatches {}; vs llama.cpp max {:.3f}, argmax mismatches {}",
                        r.what, d.max_abs, d.mean_abs, d.max_ref, d.argmax_mismatch, dl.max_abs, dl.argmax_mismatch));
    CHECK(d.max_abs <= 1e-2 * d.max_ref);
    CHECK(d.argmax_mismatch == 0);
    CHECK(dl.argmax_mismatch == 0);
  }
}

TEST_CASE("one batch == chunks == token by token, and PLE through staging + transfer == direct") {
  VKG_REQUIRE_SHARED();
  vkg::test::ValidationGuard guard;
  auto g = vkg::test::load_golden("tiny_q8_0");
  auto l = load(g.dir / "model.gguf");
  // The window of these models is 8: chunks of 5 and 32+ tokens make the sliding ring wrap.
  auto batch = run(*l, g.tokens, {.n_ctx = 64}, false);
  auto chunks = run(*l, g.tokens, {.n_ctx = 64, .max_batch = 5, .max_logit_rows = 5}, false);
  auto seq = run(*l, g.tokens, {.n_ctx = 64, .max_batch = 1}, true);
  auto staged = run(*l, g.tokens, {.n_ctx = 64, .force_staging = true}, false);
  auto d1 = vkg::test::compare_logits(chunks, batch, g.n_vocab);
  auto d2 = vkg::test::compare_logits(seq, batch, g.n_vocab);
  auto d3 = vkg::test::compare_logits(staged, batch, g.n_vocab);
  MESSAGE(fmt::format("chunks {:.2e}, sequential {:.2e}, staged {:.2e}", d1.max_abs, d2.max_abs, d3.max_abs));
  CHECK(d1.max_abs <= 1e-4 * d1.max_ref);
  CHECK(d2.max_abs <= 1e-4 * d2.max_ref);
  CHECK(d3.max_abs == 0);
  CHECK(d1.argmax_mismatch + d2.argmax_mismatch == 0);
}

TEST_CASE("KV-sharing layers read the cache of the source layer the config derives") {
  VKG_REQUIRE_SHARED();
  vkg::test::ValidationGuard guard;
  auto g = vkg::test::load_golden("tiny_f32");
  auto l = load(g.dir / "model.gguf");
  // Point the first sharing layer at the other kind's source: the logits must move far away.
  auto& layers = l->model.config.layers;
  uint32_t sharing = 0, other = 0;
  for (uint32_t i = 0; i < layers.size(); ++i)
    if (!layers[i].owns_kv) {
      sharing = i;
      break;
    }
  for (uint32_t i = 0; i < layers.size(); ++i)
    if (layers[i].owns_kv && layers[i].is_sliding != layers[sharing].is_sliding) other = i;
  REQUIRE(sharing > 0);
  if (layers[other].head_dim != layers[sharing].head_dim) {
    // Different head dims: choose another owner of the same kind instead (an earlier layer).
    for (uint32_t i = 0; i < layers.size(); ++i)
      if (layers[i].owns_kv && layers[i].is_sliding == layers[sharing].is_sliding && i != layers[sharing].kv_source)
        other = i;
  }
  REQUIRE(other != layers[sharing].kv_source);
  layers[sharing].kv_source = other;
  auto got = run(*l, g.tokens, {.n_ctx = 64}, false);
  auto d = vkg::test::compare_logits(got, g.logits_ref, g.n_vocab);
  MESSAGE(fmt::format("wrong source layer {} for layer {}: max|diff| {:.3f}", other, sharing, d.max_abs));
  CHECK(d.max_abs > 0.05 * d.max_ref);
}

TEST_CASE("a prompt longer than the context is a clear error, not a crash") {
  VKG_REQUIRE_SHARED();
  vkg::test::ValidationGuard guard;
  auto g = vkg::test::load_golden("tiny_f32");
  auto l = load(g.dir / "model.gguf");
  Gemma4Forward fwd(device(), l->model, l->weights, {.n_ctx = 16});
  std::vector<float> logits;
  CHECK_THROWS_WITH(fwd.eval(g.tokens, false, logits), doctest::Contains("do not fit the context of 16"));
  CHECK(fwd.n_past() == 0);
  std::vector<int32_t> bad = {2, 999999};
  CHECK_THROWS_WITH(fwd.eval(bad, false, logits), doctest::Contains("outside the vocabulary"));
}

TEST_CASE("device-local bytes stay within weights + KV + scratch") {
  VKG_REQUIRE_SHARED();
  vkg::test::ValidationGuard guard;
  auto g = vkg::test::load_golden("tiny_q4_k_m");
  const auto before = device().allocator().stats();
  auto l = load(g.dir / "model.gguf");
  Gemma4Forward fwd(device(), l->model, l->weights, {.n_ctx = 128});
  const auto after = device().allocator().stats();
  // Guard mode (under ctest) adds a canary after every buffer: not part of what we measure.
  const auto used = after.device_local_used - before.device_local_used -
                    (after.buffers - before.buffers) * buffer_guard_bytes();
  const auto fp = gemma4_footprint(l->model, 4);
  MESSAGE(fmt::format("device-local used {} B; weights {} B (device set {} B), session {} B", used,
                      l->weights.bytes, fp.device_bytes, fwd.session_bytes()));
  // Matrices are stored as in the file; vectors become f32 (at most 2x their F16/BF16 size).
  CHECK(l->weights.bytes <= fp.device_bytes * 2);
  CHECK(used <= l->weights.bytes + fwd.session_bytes() + 64 * 1024);
  CHECK(used >= fp.device_bytes);
}
