// Synthetic weights are sane: the CPU reference forward pass (host/reference/reference.h) is
// first checked against the golden logits of an independent implementation, then run over
// synthetic models: activations stay finite and bounded at every layer and the logits have a std
// near logit_std (4) with varied argmaxes, for F32 and Q4_K_M weights and for a deep model.
#include <cmath>
#include <set>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gemma4_config.h"
#include "gguf.h"
#include "ref_ops.h"
#include "reference.h"
#include "synth.h"
#include "synth_rng.h"
#include "test_util.h"

using namespace vkg;

namespace {

struct Trace {
  std::vector<float> logits;         // [T, n_vocab]
  std::vector<double> residual_rms;  // after each layer
};

// Whole-prompt forward at positions 0..T-1 through the CPU reference, recording the RMS of the
// residual stream after every layer.
Trace forward(const Gemma4Model& m, const std::vector<int32_t>& ids) {
  ReferenceModel ref(m);
  auto st = ref.new_state(static_cast<uint32_t>(ids.size()));
  Trace tr;
  ReferenceTrace hooks;
  hooks.on_layer = [&](uint32_t, const float* x, uint32_t T, uint32_t n) {
    double s2 = 0;
    for (size_t i = 0; i < size_t(T) * n; ++i) s2 += double(x[i]) * x[i];
    tr.residual_rms.push_back(std::sqrt(s2 / (double(T) * n)));
  };
  tr.logits = ref.eval(st, ids, true, &hooks);
  return tr;
}

// The forward pass of a synthetic model over a random prompt is sane.
void check_sane(const SynthModel& sm, uint32_t T) {
  const auto bytes = synth_write_memory(sm);
  const GgufFile f = GgufFile::open_memory(bytes);
  const Gemma4Model m = load_gemma4(f);
  synth_detail::Rng rng(99);
  std::vector<int32_t> ids{m.config.n_layer > 0 ? 2 : 0};
  while (ids.size() < T) ids.push_back(static_cast<int32_t>(6 + rng.next() % (m.config.n_vocab - 6)));
  const Trace tr = forward(m, ids);
  for (size_t l = 0; l < tr.residual_rms.size(); ++l) {
    CAPTURE(l);
    CHECK(std::isfinite(tr.residual_rms[l]));
    CHECK(tr.residual_rms[l] > 0.5);
    CHECK(tr.residual_rms[l] < 50);
  }
  double s = 0, s2 = 0;
  std::set<int32_t> argmax;
  const uint32_t V = m.config.n_vocab;
  for (uint32_t t = 0; t < T; ++t) argmax.insert(ref::argmax(tr.logits.data() + size_t{t} * V, V));
  for (float v : tr.logits) {
    REQUIRE(std::isfinite(v));
    s += v, s2 += double(v) * v;
  }
  const double mean = s / tr.logits.size(), sd = std::sqrt(s2 / tr.logits.size() - mean * mean);
  MESSAGE(sm.options.name << " " << sm.options.types.name() << ": logit mean " << mean << " std " << sd
                          << ", distinct argmax " << argmax.size() << "/" << T << ", residual rms layer 0 "
                          << tr.residual_rms.front() << " last " << tr.residual_rms.back());
  CHECK(std::fabs(mean) < 1.0);
  CHECK(sd > 0.75 * sm.options.logit_std);
  CHECK(sd < 1.25 * sm.options.logit_std);
  CHECK(argmax.size() >= T / 2);
}

}  // namespace

TEST_CASE("the CPU reference used here matches the golden reference logits") {
  VKG_REQUIRE_SHARED();
  const auto dir = test::shared_dir() / "golden" / "tiny_f32";
  const GgufFile f = GgufFile::open(dir / "model.gguf");
  const Gemma4Model m = load_gemma4(f);
  std::ifstream js(dir / "tokens.json");
  const auto j = nlohmann::json::parse(js);
  const std::vector<int32_t> ids = j["tokens"].get<std::vector<int32_t>>();
  std::ifstream lf(dir / "logits_ref.f32", std::ios::binary);
  std::vector<float> want(ids.size() * m.config.n_vocab);
  lf.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(want.size() * sizeof(float)));
  REQUIRE(lf.gcount() == static_cast<std::streamsize>(want.size() * sizeof(float)));
  const Trace tr = forward(m, ids);
  double max_diff = 0, max_abs = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_diff = std::max(max_diff, double(std::fabs(tr.logits[i] - want[i])));
    max_abs = std::max(max_abs, double(std::fabs(want[i])));
  }
  MESSAGE("golden tiny_f32: max |diff| " << max_diff << ", max |logit| " << max_abs);
  CHECK(max_diff <= 1e-3 * max_abs);
}

TEST_CASE("synthetic tiny model: sane activations and logits (F32, Q4_K_M)") {
  for (const char* type : {"f32", "q4_k_m"}) {
    SynthOptions o = synth_preset("tiny");
    o.types = SynthTypes::parse(type);
    o.seed = 5;
    check_sane(synth_plan(o), 24);  // window 8 < 24: sliding masks are exercised
  }
}

TEST_CASE("synthetic deep model: the E2B layer scheme stays sane over 35 layers") {
  SynthOptions o = synth_preset("tiny");
  o.name = "deep";
  o.n_layer = 35, o.swa_period = 5, o.shared_kv_layers = 20, o.n_head = 8, o.n_head_kv = 1;
  o.head_dim_swa = 32, o.head_dim_full = 64, o.n_ff = 256, o.n_ple = 32, o.n_embd = 128;
  o.types = SynthTypes::parse("q8_0");
  check_sane(synth_plan(o), 16);
}
