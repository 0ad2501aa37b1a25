// Soft tokens in the Vulkan forward pass: the golden image and audio prompts of
// ../shared/golden/mm (llama.cpp's token layout: <|image> soft rows <image|>), with the independent
// float64 reference's encoder output as the soft rows, against that reference's text logits
// (causal attention, PLE row of token 0 at soft positions, no sqrt(n_embd) scale).
#include <fmt/format.h>

#include "device_weights.h"
#include "forward.h"
#include "gemma4_config.h"
#include "golden.h"
#include "gpu.h"
#include "gguf.h"
#include "reference.h"

using namespace vkg;
using vkg::test::device;

namespace {

struct MediaCase {
  std::filesystem::path dir;
  std::vector<int32_t> tokens;  // -1 = soft token
  std::vector<float> soft;      // embd_ref.f32 [n_soft][n_embd]
  std::vector<float> logits_ref;
};

MediaCase load_case(const char* name) {
  MediaCase c;
  c.dir = vkg::test::shared_dir() / "golden" / "mm" / name;
  auto tj = nlohmann::json::parse(std::ifstream(c.dir / "tokens.json"));
  c.tokens = tj.at("tokens").get<std::vector<int32_t>>();
  c.soft = vkg::test::read_f32(c.dir / "embd_ref.f32");
  c.logits_ref = vkg::test::read_f32(c.dir / "logits_ref.f32");
  return c;
}

std::vector<float> run(const Gemma4Model& m, const DeviceWeights& w, const MediaCase& c, ForwardOptions o, bool by_token) {
  Gemma4Forward fwd(device(), m, w, o);
  std::vector<float> all, one;
  if (!by_token) {
    fwd.eval(c.tokens, true, all, c.soft);
    return all;
  }
  size_t row = 0;
  for (int32_t id : c.tokens) {
    std::span<const float> soft;
    if (id < 0) soft = std::span<const float>(c.soft).subspan(row++ * m.config.n_embd, m.config.n_embd);
    fwd.eval(std::span<const int32_t>(&id, 1), true, one, soft);
    all.insert(all.end(), one.begin(), one.end());
  }
  return all;
}

}  // namespace

TEST_CASE("soft tokens: golden image and audio prompts match the float64 reference logits") {
  VKG_REQUIRE_SHARED();
  for (const char* name : {"vision_gelu_tanh", "audio_1s"}) {
    CAPTURE(name);
    vkg::test::ValidationGuard guard;
    const MediaCase c = load_case(name);
    GgufFile f = GgufFile::open(c.dir / "model.gguf");
    const Gemma4Model m = load_gemma4(f);
    const DeviceWeights w = upload_weights(device(), m);
    const uint32_t nv = m.config.n_vocab;
    REQUIRE(c.logits_ref.size() == c.tokens.size() * nv);
    REQUIRE(c.soft.size() % m.config.n_embd == 0);

    const auto got = run(m, w, c, {.n_ctx = 256, .kv_f32 = true, .soft_tokens = true}, false);
    const auto d = vkg::test::compare_logits(got, c.logits_ref, nv);
    MESSAGE(fmt::format("{}: max|diff| {:.2e} mean {:.2e} (max|logit| {:.2f}), argmax mismatches {}", name, d.max_abs,
                        d.mean_abs, d.max_ref, d.argmax_mismatch));
    CHECK(d.max_abs <= 1e-3 * d.max_ref);  // MULTIMODAL golden README allows 1e-2; float32 lands far below
    CHECK(d.argmax_mismatch == 0);

    // Chunks that cut the soft span (batches of 5, logit rows of 3), token by token, F16 KV.
    const auto chunked = run(m, w, c, {.n_ctx = 256, .max_batch = 5, .max_logit_rows = 3, .kv_f32 = true, .soft_tokens = true}, false);
    CHECK(vkg::test::compare_logits(chunked, got, nv).max_abs <= 1e-4 * d.max_ref);
    const auto by_token = run(m, w, c, {.n_ctx = 256, .kv_f32 = true, .soft_tokens = true}, true);
    CHECK(vkg::test::compare_logits(by_token, got, nv).max_abs <= 1e-4 * d.max_ref);
    const auto f16 = run(m, w, c, {.n_ctx = 256, .soft_tokens = true}, false);
    CHECK(vkg::test::compare_logits(f16, c.logits_ref, nv).max_abs <= 3e-3 * d.max_ref);

    // The mistakes these logits catch (golden README): soft rows scaled by sqrt(n_embd).
    MediaCase scaled = c;
    for (float& v : scaled.soft) v *= std::sqrt(float(m.config.n_embd));
    const auto wrong = run(m, w, scaled, {.n_ctx = 256, .kv_f32 = true, .soft_tokens = true}, false);
    CHECK(vkg::test::compare_logits(wrong, c.logits_ref, nv).max_abs > 1.0);
  }
}

TEST_CASE("soft tokens: refused without soft-token support, or when rows and positions disagree") {
  VKG_REQUIRE_SHARED();
  vkg::test::ValidationGuard guard;
  const MediaCase c = load_case("vision_gelu_tanh");
  GgufFile f = GgufFile::open(c.dir / "model.gguf");
  const Gemma4Model m = load_gemma4(f);
  const DeviceWeights w = upload_weights(device(), m);
  std::vector<float> logits;
  {
    Gemma4Forward fwd(device(), m, w, {.n_ctx = 256});
    CHECK_THROWS_WITH_AS(fwd.eval(c.tokens, false, logits, c.soft), doctest::Contains("without soft-token support"), Error);
  }
  Gemma4Forward fwd(device(), m, w, {.n_ctx = 256, .soft_tokens = true});
  const std::span<const float> short_soft = std::span<const float>(c.soft).first(c.soft.size() - 64);
  CHECK_THROWS_WITH_AS(fwd.eval(c.tokens, false, logits, short_soft),
                       doctest::Contains("64 soft-token positions but 63 embedding rows of 64"), Error);
  CHECK(fwd.n_past() == 0);  // nothing evaluated
  CHECK_NOTHROW(fwd.eval(c.tokens, false, logits, c.soft));
  CHECK(fwd.n_past() == c.tokens.size());
}

TEST_CASE("soft tokens: the CPU reference twin matches the float64 reference logits") {
  VKG_REQUIRE_SHARED();
  const MediaCase c = load_case("vision_gelu_tanh");
  GgufFile f = GgufFile::open(c.dir / "model.gguf");
  const Gemma4Model m = load_gemma4(f);
  ReferenceModel ref(m);
  auto st = ref.new_state(256);
  const auto got = ref.eval(st, c.tokens, true, nullptr, c.soft);
  const auto d = vkg::test::compare_logits(got, c.logits_ref, m.config.n_vocab);
  MESSAGE(fmt::format("CPU reference: max|diff| {:.2e}", d.max_abs));
  CHECK(d.max_abs <= 1e-3 * d.max_ref);
  CHECK(d.argmax_mismatch == 0);
}
