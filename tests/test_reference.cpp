// CPU reference forward pass (host/reference/reference.h) against the golden logits of ../shared/golden:
// tightly against the float64 reference (logits_ref.f32), loosely against llama.cpp
// (logits.f32); batch == token by token; the KV-sharing rule matters; context and id errors;
// the per-layer trace; greedy generation.
#include "reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gguf_fixture.h"
#include "ref_ops.h"
#include "test_util.h"

using namespace vkg;
namespace fs = std::filesystem;

namespace {

const char* const kCases[] = {"tiny_f32", "tiny_q8_0", "tiny_q4_k_m"};
constexpr unsigned kThreads = 2;

std::vector<float> read_f32(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << p);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

/// One golden case: model, tokens, and logits [n_tokens, n_vocab] of the two implementations.
struct Golden {
  std::string name;
  GgufFile file;
  Gemma4Model model;
  std::vector<int32_t> tokens;
  std::vector<float> ref;    // float64 reference, exact dequantization
  std::vector<float> llama;  // llama.cpp CPU, one batch
  uint32_t n_vocab = 0;
};

/// The case, or nullopt (with a message) when ../shared/golden/<name> is absent.
std::optional<Golden> load_golden(const std::string& name) {
  const fs::path dir = test::shared_dir() / "golden" / name;
  if (test::shared_dir().empty() || !fs::exists(dir / "model.gguf")) {
    test::skip(dir.string() + " is absent");
    return std::nullopt;
  }
  GgufFile f = GgufFile::open(dir / "model.gguf");
  Gemma4Model m = load_gemma4(f);
  std::ifstream tj(dir / "tokens.json");
  const nlohmann::json j = nlohmann::json::parse(tj);
  Golden g{name, std::move(f), std::move(m), j.at("tokens").get<std::vector<int32_t>>(), {}, {}, 0};
  g.n_vocab = g.model.config.n_vocab;
  g.ref = read_f32(dir / "logits_ref.f32");
  g.llama = read_f32(dir / "logits.f32");
  REQUIRE(g.ref.size() == g.tokens.size() * g.n_vocab);
  REQUIRE(g.llama.size() == g.tokens.size() * g.n_vocab);
  return g;
}

struct Diff {
  double max_abs = 0, mean_abs = 0;
  uint32_t argmax_mismatch = 0;
  double mean_top5_overlap = 0;  // |top5(a) ∩ top5(b)| / 5, averaged over positions
  uint32_t min_top5_overlap = 5;
};

Diff compare(const std::vector<float>& a, const std::vector<float>& b, uint32_t n_vocab) {
  REQUIRE(a.size() == b.size());
  Diff d;
  const uint32_t n = static_cast<uint32_t>(a.size() / n_vocab);
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(double{a[i]} - b[i]);
    d.max_abs = std::max(d.max_abs, e);
    d.mean_abs += e;
  }
  d.mean_abs /= static_cast<double>(a.size());
  for (uint32_t t = 0; t < n; ++t) {
    const float* ra = a.data() + size_t{t} * n_vocab;
    const float* rb = b.data() + size_t{t} * n_vocab;
    if (ref::argmax(ra, n_vocab) != ref::argmax(rb, n_vocab)) ++d.argmax_mismatch;
    int32_t ia[5], ib[5];
    float va[5], vb[5];
    ref::top_k(ra, n_vocab, 5, ia, va);
    ref::top_k(rb, n_vocab, 5, ib, vb);
    uint32_t common = 0;
    for (int32_t x : ia) common += std::count(ib, ib + 5, x) ? 1 : 0;
    d.mean_top5_overlap += common / 5.0;
    d.min_top5_overlap = std::min(d.min_top5_overlap, common);
  }
  d.mean_top5_overlap /= n;
  return d;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::fabs(double{x}));
  return m;
}

std::vector<float> eval_batch(const ReferenceModel& rm, std::span<const int32_t> tokens) {
  ReferenceState st = rm.new_state(static_cast<uint32_t>(tokens.size()));
  return rm.eval(st, tokens, true);
}

std::vector<float> eval_sequential(const ReferenceModel& rm, std::span<const int32_t> tokens) {
  ReferenceState st = rm.new_state(static_cast<uint32_t>(tokens.size()));
  std::vector<float> all;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::vector<float> l = rm.eval(st, tokens.subspan(i, 1), true);
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

}  // namespace

TEST_CASE("golden: batch and token-by-token logits match the float64 reference and llama.cpp") {
  VKG_REQUIRE_SHARED();
  for (const std::string name : kCases) {
    CAPTURE(name);
    std::optional<Golden> g = load_golden(name);
    if (!g) continue;
    const ReferenceModel rm(g->model, kThreads);
    const double scale = max_abs(g->ref);

    const std::vector<float> batch = eval_batch(rm, g->tokens);
    const std::vector<float> seq = eval_sequential(rm, g->tokens);
    const Diff b_ref = compare(batch, g->ref, g->n_vocab);
    const Diff s_ref = compare(seq, g->ref, g->n_vocab);
    const Diff b_llama = compare(batch, g->llama, g->n_vocab);
    const Diff b_seq = compare(batch, seq, g->n_vocab);
    MESSAGE(fmt::format("{:12s} max|logit| {:.3f}\n"
                        "  vs logits_ref  batch: max {:.3g} mean {:.3g} (max/max|logit| {:.3g}) argmax mismatches {}\n"
                        "                 seq:   max {:.3g} mean {:.3g} argmax mismatches {}\n"
                        "  vs llama.cpp   batch: max {:.3g} mean {:.3g} argmax mismatches {}/{} top-5 overlap "
                        "mean {:.3f} min {}/5\n"
                        "  batch vs seq:  max {:.3g}",
                        name, scale, b_ref.max_abs, b_ref.mean_abs, b_ref.max_abs / scale, b_ref.argmax_mismatch,
                        s_ref.max_abs, s_ref.mean_abs, s_ref.argmax_mismatch, b_llama.max_abs, b_llama.mean_abs,
                        b_llama.argmax_mismatch, g->tokens.size(), b_llama.mean_top5_overlap,
                        b_llama.min_top5_overlap, b_seq.max_abs));

    // Exact dequantization on both sides: only float32-vs-float64 rounding separates us, for
    // the quantized models too. Measured: max|diff| <= 4e-7 x max|logit| on all three cases;
    // the bound leaves 25x headroom (the issue asks for <= 1e-3 x max|logit|).
    CHECK(b_ref.max_abs <= 1e-5 * scale);
    CHECK(s_ref.max_abs <= 1e-5 * scale);
    CHECK(b_ref.argmax_mismatch == 0);
    CHECK(s_ref.argmax_mismatch == 0);
    // llama.cpp quantizes activations to 8 bits for quantized weights: loose agreement only.
    CHECK(b_llama.argmax_mismatch <= 0.05 * g->tokens.size());
    CHECK(b_llama.mean_top5_overlap >= 0.8);
    CHECK(b_seq.max_abs <= 1e-4 * scale);
  }
}

TEST_CASE("golden: the KV-sharing rule decides the logits") {
  VKG_REQUIRE_SHARED();
  std::optional<Golden> g = load_golden("tiny_f32");
  if (!g) return;
  const Gemma4Config& c = g->model.config;
  const double scale = max_abs(g->ref);

  // Sharing layers of the sliding kind read the *last* sliding owner (layer 1 here). Point them
  // at the first one (layer 0) instead: same shapes, so it runs, but the logits must move far.
  Gemma4Model wrong = g->model;
  uint32_t first_sliding_owner = c.n_layer, moved = 0;
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    Gemma4Layer& L = wrong.config.layers[l];
    if (L.owns_kv && L.is_sliding && first_sliding_owner == c.n_layer) first_sliding_owner = l;
    if (!L.owns_kv && L.is_sliding) {
      REQUIRE(L.kv_source != first_sliding_owner);
      L.kv_source = first_sliding_owner;
      ++moved;
    }
  }
  REQUIRE(moved > 0);
  const Diff d = compare(eval_batch(ReferenceModel(wrong, kThreads), g->tokens), g->ref, g->n_vocab);
  MESSAGE(fmt::format("wrong kv_source: max|diff| {:.3g} ({:.3g} of max|logit|), argmax mismatches {}/{}",
                      d.max_abs, d.max_abs / scale, d.argmax_mismatch, g->tokens.size()));
  CHECK(d.max_abs > 0.1 * scale);
  CHECK(d.argmax_mismatch > 0);

  // Impossible descriptions are refused with a message naming the layers.
  Gemma4Model bad = g->model;
  uint32_t full_sharer = c.n_layer, sliding_owner = c.n_layer;
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    if (!c.layers[l].owns_kv && !c.layers[l].is_sliding) full_sharer = l;
    if (c.layers[l].owns_kv && c.layers[l].is_sliding) sliding_owner = l;
  }
  REQUIRE(full_sharer < c.n_layer);
  REQUIRE(c.layers[full_sharer].head_dim != c.layers[sliding_owner].head_dim);
  bad.config.layers[full_sharer].kv_source = sliding_owner;
  CHECK_THROWS_WITH_AS(ReferenceModel(bad, 1), doctest::Contains("cannot read the KV cache of layer"), ReferenceError);
  bad = g->model;
  bad.config.layers[full_sharer].kv_source = full_sharer;
  CHECK_THROWS_WITH_AS(ReferenceModel(bad, 1), doctest::Contains("not an earlier KV-owning layer"), ReferenceError);
}

TEST_CASE("golden: per-layer trace reproduces the logits") {
  VKG_REQUIRE_SHARED();
  std::optional<Golden> g = load_golden("tiny_q8_0");
  if (!g) return;
  const Gemma4Config& c = g->model.config;
  const ReferenceModel rm(g->model, kThreads);
  const uint32_t T = static_cast<uint32_t>(g->tokens.size());

  std::vector<uint32_t> layers_seen;
  std::vector<float> last_x, embed;
  uint32_t ple_width = 0;
  ReferenceTrace trace;
  trace.on_embed = [&](const float* x, uint32_t t, uint32_t n) { embed.assign(x, x + size_t{t} * n); };
  trace.on_ple = [&](const float*, uint32_t, uint32_t n) { ple_width = n; };
  trace.on_layer = [&](uint32_t l, const float* x, uint32_t t, uint32_t n) {
    CHECK(t == T);
    CHECK(n == c.n_embd);
    layers_seen.push_back(l);
    last_x.assign(x, x + size_t{t} * n);
  };
  ReferenceState st = rm.new_state(T);
  const std::vector<float> logits = rm.eval(st, g->tokens, true, &trace);
  REQUIRE(layers_seen.size() == c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) CHECK(layers_seen[l] == l);
  CHECK(ple_width == c.n_layer * c.n_ple);
  REQUIRE(embed.size() == size_t{T} * c.n_embd);

  // Embedding row = dequantized token_embd row * sqrt(n_embd).
  std::vector<float> row(c.n_embd);
  ref::get_rows(g->model.weights.token_embd->type, g->model.weights.token_embd->data, c.n_embd, c.n_vocab,
                &g->tokens[1], 1, std::sqrt(float(c.n_embd)), row.data());
  CHECK(std::equal(row.begin(), row.end(), embed.begin() + c.n_embd));

  // The last layer's hidden state through output_norm, the tied head and the soft-cap gives
  // exactly the returned logits.
  std::vector<float> xn(last_x.size()), mine(logits.size());
  std::vector<float> norm_w(c.n_embd);
  std::memcpy(norm_w.data(), g->model.weights.output_norm->data, c.n_embd * sizeof(float));
  REQUIRE(g->model.weights.output_norm->type == GgmlType::F32);
  ref::rms_norm(last_x.data(), norm_w.data(), xn.data(), c.n_embd, T, c.rms_eps);
  ref::matmul(g->model.weights.token_embd->type, g->model.weights.token_embd->data, c.n_embd, c.n_vocab, xn.data(),
              mine.data(), T);
  ref::softcap(mine.data(), static_cast<uint32_t>(mine.size()), c.final_logit_softcap);
  CHECK(mine == logits);
}

TEST_CASE("golden: row-split threaded matmuls give bit-identical logits") {
  VKG_REQUIRE_SHARED();
  // tiny_q4_k_m's batch has matmuls above the threading threshold (per_layer_model_proj:
  // 256 x 1280 x 40 multiply-adds), so 1 vs 3 threads exercises the row split.
  std::optional<Golden> g = load_golden("tiny_q4_k_m");
  if (!g) return;
  CHECK(eval_batch(ReferenceModel(g->model, 1), g->tokens) == eval_batch(ReferenceModel(g->model, 3), g->tokens));
}

TEST_CASE("golden: greedy generation follows the argmax of the reference") {
  VKG_REQUIRE_SHARED();
  std::optional<Golden> g = load_golden("tiny_q4_k_m");
  if (!g) return;
  const ReferenceModel rm(g->model, kThreads);
  const uint32_t n_prompt = 12, n_new = 10, V = g->n_vocab;
  const std::span<const int32_t> prompt(g->tokens.data(), n_prompt);

  ReferenceState st = rm.new_state(n_prompt + n_new - 1);
  const std::vector<int32_t> out = rm.generate(st, prompt, n_new);
  REQUIRE(out.size() == n_new);
  CHECK(st.n_past == n_prompt + n_new - 1);  // the last token is returned, not evaluated
  CHECK(out[0] == ref::argmax(g->ref.data() + size_t{n_prompt - 1} * V, V));

  // Re-evaluating prompt + output in one batch: each output token is the argmax before it.
  std::vector<int32_t> seq(prompt.begin(), prompt.end());
  seq.insert(seq.end(), out.begin(), out.end() - 1);
  const std::vector<float> all = eval_batch(rm, seq);
  for (uint32_t i = 0; i < n_new; ++i)
    CHECK(out[i] == ref::argmax(all.data() + size_t{n_prompt - 1 + i} * V, V));

  // Stop tokens end generation and are returned.
  ReferenceState st2 = rm.new_state(64);
  const std::vector<int32_t> stopped = rm.generate(st2, prompt, n_new, std::span<const int32_t>(&out[2], 1));
  CHECK(stopped.size() <= 3);
  CHECK(stopped.back() == out[2]);

  // Too long for the state: refused before any work.
  ReferenceState small = rm.new_state(n_prompt + n_new - 2);
  CHECK_THROWS_WITH_AS(rm.generate(small, prompt, n_new), doctest::Contains("context overflow"), ReferenceError);
  CHECK(small.n_past == 0);
}

TEST_CASE("context length, token ids and state errors") {
  // Random-byte weights: only the error paths are exercised, so no golden data is needed.
  test::TinyGemma4 tiny;
  const GgufFile f = GgufFile::open_memory(tiny.bytes(), "tiny.gguf");
  const ReferenceModel rm(load_gemma4(f), 1);
  const std::vector<int32_t> prompt(20, 5);

  CHECK_THROWS_WITH_AS(rm.new_state(0), doctest::Contains("n_ctx = 0"), ReferenceError);
  ReferenceState st = rm.new_state(16);
  CHECK_THROWS_WITH_AS(rm.eval(st, prompt, false),
                       "reference eval: context overflow: 20 tokens at positions 0..19 do not fit in a context of "
                       "16 positions (0 already used)",
                       ReferenceError);
  CHECK(st.n_past == 0);
  rm.eval(st, std::span(prompt).first(10), false);
  CHECK(st.n_past == 10);
  CHECK_THROWS_WITH_AS(rm.eval(st, std::span(prompt).first(7), false), doctest::Contains("context overflow"),
                       ReferenceError);
  CHECK(st.n_past == 10);
  CHECK(rm.eval(st, std::span(prompt).first(6), true).size() == 6u * rm.config().n_vocab);
  CHECK(st.n_past == 16);
  CHECK_THROWS_WITH_AS(rm.eval(st, std::span(prompt).first(1), false), doctest::Contains("context overflow"),
                       ReferenceError);
  st.reset();
  CHECK(st.n_past == 0);

  const int32_t bad[] = {2, static_cast<int32_t>(rm.config().n_vocab)};
  CHECK_THROWS_WITH_AS(rm.eval(st, bad, false),
                       doctest::Contains(fmt::format("token {} at index 1 is outside the vocabulary", bad[1]).c_str()),
                       ReferenceError);
  const int32_t negative[] = {-1};
  CHECK_THROWS_AS(rm.eval(st, negative, false), ReferenceError);
  CHECK_THROWS_WITH_AS(rm.eval(st, std::span<const int32_t>(), false), doctest::Contains("no tokens"),
                       ReferenceError);
  CHECK_THROWS_WITH_AS(rm.generate(st, std::span<const int32_t>(), 3), doctest::Contains("empty prompt"),
                       ReferenceError);
  CHECK(st.n_past == 0);

  ReferenceState foreign;
  foreign.n_ctx = 16;
  CHECK_THROWS_WITH_AS(rm.eval(foreign, std::span(prompt).first(1), false), doctest::Contains("not made by this model"),
                       ReferenceError);
}
