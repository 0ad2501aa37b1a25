// Synthetic weights are sane: a compact CPU forward pass (DESIGN §2, built from host/ref_ops) is
// first checked against the golden logits of an independent implementation, then run over
// synthetic models: activations stay finite and bounded at every layer and the logits have a std
// near logit_std (4) with varied argmaxes, for F32 and Q4_K_M weights and for a deep model.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gemma4_config.h"
#include "gguf.h"
#include "quant.h"
#include "ref_ops.h"
#include "synth.h"
#include "synth_rng.h"
#include "test_util.h"

using namespace vkg;

namespace {

std::vector<float> vec(const GgufTensorInfo* t) {
  std::vector<float> v(static_cast<size_t>(t->n_elements));
  dequantize_row(t->type, t->data, v.data(), v.size());
  return v;
}

void mm(const GgufTensorInfo* w, const float* x, float* y, uint32_t T) {
  ref::matmul(w->type, w->data, static_cast<uint32_t>(w->ne[0]), static_cast<uint32_t>(w->ne[1]), x, y, T);
}

struct Trace {
  std::vector<float> logits;         // [T, n_vocab]
  std::vector<double> residual_rms;  // after each layer
};

// Whole-prompt forward at positions 0..T-1 (float activations, F32 "KV cache").
Trace forward(const Gemma4Model& m, const std::vector<int32_t>& ids) {
  const Gemma4Config& c = m.config;
  const Gemma4Weights& w = m.weights;
  const uint32_t T = static_cast<uint32_t>(ids.size()), E = c.n_embd, P = c.n_ple, LP = c.n_layer * c.n_ple;
  std::vector<int32_t> pos(T);
  for (uint32_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>(t);
  auto rows = [](const GgufTensorInfo* t) { return static_cast<uint32_t>(t->ne[1]); };

  std::vector<float> x(size_t{T} * E), pt(size_t{T} * LP), pp(size_t{T} * LP), ple(size_t{T} * LP);
  ref::get_rows(w.token_embd->type, w.token_embd->data, E, rows(w.token_embd), ids.data(), T, std::sqrt(float(E)), x.data());
  ref::get_rows(w.per_layer_token_embd->type, w.per_layer_token_embd->data, LP, rows(w.per_layer_token_embd),
                ids.data(), T, std::sqrt(float(P)), pt.data());
  mm(w.per_layer_model_proj, x.data(), pp.data(), T);
  ref::scale(pp.data(), T * LP, 1.0f / std::sqrt(float(E)));
  const auto ple_norm = vec(w.per_layer_proj_norm);
  ref::rms_norm(pp.data(), ple_norm.data(), pp.data(), P, T * c.n_layer, c.rms_eps);
  ref::add_scale(pp.data(), pt.data(), ple.data(), T * LP, 1.0f / std::sqrt(2.0f));
  const std::vector<float> rope_ff = w.rope_freqs ? vec(w.rope_freqs) : std::vector<float>{};

  std::vector<std::vector<float>> kc(c.n_layer), vc(c.n_layer);
  Trace tr;
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const Gemma4Layer& L = c.layers[l];
    const Gemma4LayerWeights& lw = w.layers[l];
    const uint32_t hd = L.head_dim, nq = L.n_head * hd, nkv = L.n_head_kv * hd, ff = L.n_ff;
    const float* freq = L.is_sliding ? nullptr : rope_ff.data();
    std::vector<float> h(size_t{T} * E), q(size_t{T} * nq), att(size_t{T} * nq), o(size_t{T} * E);
    ref::rms_norm(x.data(), vec(lw.attn_norm).data(), h.data(), E, T, c.rms_eps);
    mm(lw.attn_q, h.data(), q.data(), T);
    ref::rms_norm(q.data(), vec(lw.attn_q_norm).data(), q.data(), hd, T * L.n_head, c.rms_eps);
    ref::rope_neox(q.data(), pos.data(), freq, T, L.n_head, hd, L.n_rot, L.rope_base);
    if (L.owns_kv) {
      kc[l].resize(size_t{T} * nkv), vc[l].resize(size_t{T} * nkv);
      mm(lw.attn_k, h.data(), kc[l].data(), T);
      mm(lw.attn_v ? lw.attn_v : lw.attn_k, h.data(), vc[l].data(), T);
      ref::rms_norm(kc[l].data(), vec(lw.attn_k_norm).data(), kc[l].data(), hd, T * L.n_head_kv, c.rms_eps);
      ref::rope_neox(kc[l].data(), pos.data(), freq, T, L.n_head_kv, hd, L.n_rot, L.rope_base);
      ref::rms_norm(vc[l].data(), nullptr, vc[l].data(), hd, T * L.n_head_kv, c.rms_eps);
    }
    ref::attention(q.data(), kc[L.kv_source].data(), vc[L.kv_source].data(), pos.data(), att.data(), T, L.n_head,
                   L.n_head_kv, hd, T, L.is_sliding ? c.sliding_window : 0, 1.0f);
    mm(lw.attn_output, att.data(), o.data(), T);
    ref::rms_norm_add(o.data(), vec(lw.post_attention_norm).data(), x.data(), 1.0f, E, T, c.rms_eps);

    std::vector<float> g(size_t{T} * ff), u(size_t{T} * ff), a(size_t{T} * ff);
    ref::rms_norm(x.data(), vec(lw.ffn_norm).data(), h.data(), E, T, c.rms_eps);
    mm(lw.ffn_gate, h.data(), g.data(), T);
    mm(lw.ffn_up, h.data(), u.data(), T);
    ref::gelu_mul(g.data(), u.data(), a.data(), ff, T, ff, 0);
    mm(lw.ffn_down, a.data(), o.data(), T);
    ref::rms_norm_add(o.data(), vec(lw.post_ffw_norm).data(), x.data(), 1.0f, E, T, c.rms_eps);

    std::vector<float> gp(size_t{T} * P), gq(size_t{T} * P);
    mm(lw.inp_gate, x.data(), gp.data(), T);
    ref::gelu_mul(gp.data(), ple.data(), gq.data(), P, T, LP, l * P);
    mm(lw.proj, gq.data(), o.data(), T);
    const float los = lw.layer_output_scale ? vec(lw.layer_output_scale)[0] : 1.0f;
    ref::rms_norm_add(o.data(), vec(lw.post_norm).data(), x.data(), los, E, T, c.rms_eps);
    double s2 = 0;
    for (float v : x) s2 += double(v) * v;
    tr.residual_rms.push_back(std::sqrt(s2 / x.size()));
  }
  std::vector<float> h(size_t{T} * E);
  ref::rms_norm(x.data(), vec(w.output_norm).data(), h.data(), E, T, c.rms_eps);
  const GgufTensorInfo* head = w.output ? w.output : w.token_embd;
  tr.logits.resize(size_t{T} * c.n_vocab);
  mm(head, h.data(), tr.logits.data(), T);
  if (c.final_logit_softcap > 0) ref::softcap(tr.logits.data(), T * c.n_vocab, c.final_logit_softcap);
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

TEST_CASE("the CPU forward used here matches the golden reference logits") {
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
