// End to end: greedy generation on the device equals greedy generation by the CPU reference, on
// synthetic models (F32, F16; a real-vocabulary model through the CLI), and the session's
// context handling.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "gpu.h"
#include "hf_tokenizer.h"
#include "model.h"
#include "reference.h"
#include "session.h"
#include "synth.h"
#include "test_util.h"

using namespace vkg;
using vkg::test::device;

namespace {

/// Stdout of a shell command that must exit 0.
std::string run_cli(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  REQUIRE(pclose(p) == 0);
  return out;
}

std::filesystem::path write_model(const std::string& name, SynthOptions o) {
  auto path = vkg::test::scratch_dir("generate") / (name + ".gguf");
  synth_write(synth_plan(std::move(o)), path);
  return path;
}

/// Greedy tokens from the device session and from the CPU reference for the same prompt.
std::pair<std::vector<int32_t>, std::vector<int32_t>> both(const Model& m, const std::vector<int32_t>& prompt,
                                                           uint32_t n) {
  Session s(m, {.n_ctx = 256, .max_batch = 16});
  GenerateOptions g;
  g.n_predict = static_cast<int32_t>(n);
  g.sampler.greedy = true;
  auto r = s.generate(prompt, g, nullptr);
  ReferenceModel ref(m.gemma());
  auto st = ref.new_state(256);
  std::vector<int32_t> stop;
  for (int32_t id = 0; id < static_cast<int32_t>(m.config().n_vocab); ++id)
    if (m.tokenizer().is_eog(id)) stop.push_back(id);
  auto want = ref.generate(st, prompt, n, stop);
  if (!want.empty() && m.tokenizer().is_eog(want.back())) want.pop_back();
  return {r.tokens, want};
}

}  // namespace

TEST_CASE("greedy continuation of 64 tokens equals the CPU reference (F32 and F16 weights)") {
  for (const char* type : {"f32", "f16"}) {
    CAPTURE(type);
    vkg::test::ValidationGuard guard;
    SynthOptions o = synth_preset("tiny");
    o.types = SynthTypes::parse(type);
    o.seed = 7;
    auto m = Model::load(device(), write_model(type, o));
    // A prompt of 20 tokens (window 8: the sliding ring wraps during prefill and decode).
    std::vector<int32_t> prompt = {2};
    for (int i = 0; i < 19; ++i) prompt.push_back(300 + (i * 37) % 200);
    auto [got, want] = both(*m, prompt, 64);
    MESSAGE(fmt::format("{}: device {} tokens, reference {} tokens", type, got.size(), want.size()));
    CHECK(got == want);
  }
}

TEST_CASE("a prompt longer than the context is refused with a clear error") {
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q8_0");
  auto m = Model::load(device(), write_model("ctx", o));
  Session s(*m, {.n_ctx = 8});
  std::vector<int32_t> prompt(12, 300);
  CHECK_THROWS_WITH(s.generate(prompt, {}, nullptr), doctest::Contains("does not fit the context of 8"));
  CHECK(s.n_past() == 0);
  // Generation stops when the context is full.
  GenerateOptions g;
  g.n_predict = 100;
  g.sampler.greedy = true;
  auto r = s.generate(std::vector<int32_t>(4, 300), g, nullptr);
  CHECK((r.stop == StopReason::ContextFull || r.stop == StopReason::EndOfGeneration));
  CHECK(s.n_past() <= 8);
}

TEST_CASE("vkgemma run on a real-vocabulary model reproduces the reference's greedy tokens") {
  VKG_REQUIRE_SHARED();
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.n_embd = 128, o.n_ple = 32, o.n_ff = 256;
  o.types = SynthTypes::parse("q8_0");
  o.seed = 11;
  o.vocab = load_hf_tokenizer(vkg::test::shared_dir() / "data" / "gemma-tokenizer.json.xz",
                              {.gemma4_names = Gemma4Names::Full});
  const auto path = write_model("realvocab", o);
  const std::string cmd = fmt::format("{}/tools/vkgemma run -m {} --raw -p 'The sky is blue because' -n 16 "
                                      "--greedy --json -q",
                                      VKG_BINARY_DIR, path.string());
  const std::string out = run_cli(cmd);
  auto j = nlohmann::json::parse(out);
  const auto prompt = j["prompt_ids"].get<std::vector<int32_t>>();
  const auto got = j["tokens"].get<std::vector<int32_t>>();
  // The prompt is the real Gemma tokenization: BOS, then "The" "▁sky" "▁is" "▁blue" "▁because".
  auto m = Model::load(device(), path);
  CHECK(prompt == m->tokenizer().encode("The sky is blue because", true, true));
  CHECK(prompt.size() == 6);
  ReferenceModel ref(m->gemma());
  auto st = ref.new_state(64);
  std::vector<int32_t> stop;
  for (int32_t id : {1, 106, 50}) stop.push_back(id);
  auto want = ref.generate(st, prompt, 16, stop);
  if (!want.empty() && m->tokenizer().is_eog(want.back())) want.pop_back();
  MESSAGE("generated: " << j["text"].get<std::string>());
  CHECK(got == want);
}

TEST_CASE("vkgemma perplexity equals the perplexity of the CPU reference's logits") {
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q8_0");
  o.seed = 3;
  const auto path = write_model("ppl", o);
  const auto txt = vkg::test::scratch_dir("ppl") / "text.txt";
  {
    std::ofstream f(txt);
    for (int i = 0; i < 60; ++i) f << "the quick brown fox " << i << " jumps over the lazy dog\n";
  }
  const uint32_t n_ctx = 32;
  const std::string cmd = fmt::format("{}/tools/vkgemma perplexity -m {} -f {} -c {} --chunks 2 --json -q",
                                      VKG_BINARY_DIR, path.string(), txt.string(), n_ctx);
  const std::string out = run_cli(cmd);
  const double got = nlohmann::json::parse(out)["perplexity"].get<double>();
  // The same definition, computed here from the reference's logits in double precision.
  auto m = Model::load(device(), path);
  std::ifstream f(txt);
  std::stringstream ss;
  ss << f.rdbuf();
  const auto ids = m->tokenizer().encode(ss.str(), false, false);
  ReferenceModel ref(m->gemma());
  double nll = 0;
  uint64_t n = 0;
  const uint32_t V = m->config().n_vocab;
  for (uint32_t c = 0; c < 2; ++c) {
    std::vector<int32_t> chunk = {m->tokenizer().bos_id()};
    chunk.insert(chunk.end(), ids.begin() + c * (n_ctx - 1), ids.begin() + (c + 1) * (n_ctx - 1));
    auto st = ref.new_state(n_ctx);
    auto logits = ref.eval(st, chunk, true);
    for (uint32_t i = n_ctx / 2; i + 1 < chunk.size(); ++i) {
      const float* row = logits.data() + size_t(i) * V;
      double sum = 0;
      for (uint32_t v = 0; v < V; ++v) sum += std::exp(double(row[v]));
      nll += std::log(sum) - row[chunk[i + 1]];
      ++n;
    }
  }
  const double want = std::exp(nll / n);
  MESSAGE("perplexity: cli " << got << ", reference " << want);
  CHECK(std::fabs(got - want) <= 1e-3 * want);
}

TEST_CASE("device-selected candidates sample the same tokens as full logits") {
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q8_0");
  o.seed = 21;
  auto m = Model::load(device(), write_model("topk", o));
  std::vector<int32_t> prompt = {2, 300, 301, 302, 303};
  for (int32_t top_k : {1, 40}) {
    CAPTURE(top_k);
    GenerateOptions g;
    g.n_predict = 24;
    g.sampler.seed = 1234;
    g.sampler.top_k = top_k;
    g.sampler.temperature = top_k == 1 ? 0.0f : 1.0f;
    g.sampler.min_p = 0.0f;
    Session a(*m, {.n_ctx = 64}), b(*m, {.n_ctx = 64});
    auto on_device = a.generate(prompt, g, nullptr);
    g.device_select = false;
    auto full = b.generate(prompt, g, nullptr);
    CHECK(on_device.tokens == full.tokens);
    CHECK(on_device.tokens.size() == 24);
  }
}
