// CPU reference forward pass of Gemma 4 (see reference.h; the math is DESIGN.md §2).
#include "reference.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <numeric>
#include <thread>

#include <fmt/format.h>

#include "quant.h"
#include "ref_ops.h"

namespace vkg {

namespace {

// Below this many multiply-adds a matmul runs on the calling thread (thread start-up would cost
// more than it saves).
constexpr uint64_t kParallelWork = uint64_t{1} << 21;

/// A small tensor (norm weight, rope_freqs, layer_output_scale) as floats; empty when absent.
std::vector<float> to_float(const GgufTensorInfo* t) {
  if (!t) return {};
  std::vector<float> v(static_cast<size_t>(t->n_elements));
  dequantize_row(t->type, t->data, v.data(), v.size());
  return v;
}

}  // namespace

ReferenceModel::ReferenceModel(const Gemma4Model& model, unsigned n_threads) : model_(model) {
  const Gemma4Config& c = model_.config;
  const Gemma4Weights& w = model_.weights;
  n_threads_ = n_threads ? n_threads : std::max(1u, std::thread::hardware_concurrency());
  if (c.layers.size() != c.n_layer || w.layers.size() != c.n_layer)
    throw ReferenceError(fmt::format("reference: config has {} layer descriptions and {} layer weight sets for "
                                     "n_layer {}", c.layers.size(), w.layers.size(), c.n_layer));

  // The KV-sharing rule as the config states it; the reference only checks it can be followed.
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const Gemma4Layer& L = c.layers[l];
    if (L.n_head_kv == 0 || L.n_head % L.n_head_kv != 0)
      throw ReferenceError(fmt::format("reference: layer {}: n_head {} is not a multiple of n_head_kv {}", l,
                                       L.n_head, L.n_head_kv));
    if (L.owns_kv) {
      if (L.kv_source != l)
        throw ReferenceError(fmt::format("reference: layer {} owns a KV cache but its kv_source is {}", l,
                                         L.kv_source));
      if (!w.layers[l].attn_k || !w.layers[l].attn_k_norm)
        throw ReferenceError(fmt::format("reference: layer {} owns a KV cache but has no attn_k/attn_k_norm", l));
      continue;
    }
    const uint32_t s = L.kv_source;
    if (s >= l || !c.layers[s].owns_kv)
      throw ReferenceError(fmt::format("reference: layer {} shares KV with layer {}, which is not an earlier "
                                       "KV-owning layer", l, s));
    const Gemma4Layer& S = c.layers[s];
    if (S.head_dim != L.head_dim || S.n_head_kv != L.n_head_kv)
      throw ReferenceError(fmt::format("reference: layer {} (head_dim {}, n_head_kv {}) cannot read the KV cache "
                                       "of layer {} (head_dim {}, n_head_kv {})", l, L.head_dim, L.n_head_kv, s,
                                       S.head_dim, S.n_head_kv));
  }

  per_layer_proj_norm_ = to_float(w.per_layer_proj_norm);
  output_norm_ = to_float(w.output_norm);
  rope_freqs_ = to_float(w.rope_freqs);
  layer_vec_.resize(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const Gemma4LayerWeights& lw = w.layers[l];
    LayerVectors& v = layer_vec_[l];
    v.attn_norm = to_float(lw.attn_norm);
    v.q_norm = to_float(lw.attn_q_norm);
    v.k_norm = to_float(lw.attn_k_norm);
    v.post_attention_norm = to_float(lw.post_attention_norm);
    v.ffn_norm = to_float(lw.ffn_norm);
    v.post_ffw_norm = to_float(lw.post_ffw_norm);
    v.post_norm = to_float(lw.post_norm);
    if (lw.layer_output_scale) v.output_scale = to_float(lw.layer_output_scale).at(0);
  }
}

ReferenceState ReferenceModel::new_state(uint32_t n_ctx) const {
  if (n_ctx == 0) throw ReferenceError("reference: a state needs room for at least 1 position (n_ctx = 0)");
  const Gemma4Config& c = model_.config;
  ReferenceState st;
  st.n_ctx = n_ctx;
  st.k_cache.resize(c.n_layer);
  st.v_cache.resize(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    if (!c.layers[l].owns_kv) continue;
    const size_t n = static_cast<size_t>(n_ctx) * c.layers[l].n_head_kv * c.layers[l].head_dim;
    st.k_cache[l].assign(n, 0.0f);
    st.v_cache[l].assign(n, 0.0f);
  }
  return st;
}

void ReferenceModel::check_state(const ReferenceState& st) const {
  const Gemma4Config& c = model_.config;
  bool ok = st.k_cache.size() == c.n_layer && st.v_cache.size() == c.n_layer && st.n_past <= st.n_ctx;
  for (uint32_t l = 0; ok && l < c.n_layer; ++l) {
    const size_t n = c.layers[l].owns_kv ? size_t{st.n_ctx} * c.layers[l].n_head_kv * c.layers[l].head_dim : 0;
    ok = st.k_cache[l].size() == n && st.v_cache[l].size() == n;
  }
  if (!ok) throw ReferenceError("reference: the state was not made by this model's new_state (cache sizes differ)");
}

void ReferenceModel::matmul(const GgufTensorInfo& W, const float* X, float* Y, uint32_t T) const {
  const uint32_t ne0 = static_cast<uint32_t>(W.ne[0]), n_rows = static_cast<uint32_t>(W.n_rows());
  const uint64_t work = uint64_t{ne0} * n_rows * T;
  const unsigned n_parts = work < kParallelWork ? 1u : std::min<unsigned>(n_threads_, n_rows);
  if (n_parts <= 1) {
    ref::matmul(W.type, W.data, ne0, n_rows, X, Y, T);
    return;
  }
  // Part i computes rows [r0, r1) into its own [T, r1 - r0] block, scattered into Y afterwards.
  const size_t row_bytes = ggml_row_bytes(W.type, ne0);
  std::vector<std::vector<float>> part(n_parts);
  std::vector<std::exception_ptr> error(n_parts);
  auto rows_of = [&](unsigned i) { return std::pair<uint32_t, uint32_t>(uint64_t{n_rows} * i / n_parts,
                                                                         uint64_t{n_rows} * (i + 1) / n_parts); };
  auto run = [&](unsigned i) {
    try {
      const auto [r0, r1] = rows_of(i);
      part[i].resize(size_t{T} * (r1 - r0));
      ref::matmul(W.type, W.data + r0 * row_bytes, ne0, r1 - r0, X, part[i].data(), T);
    } catch (...) {
      error[i] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < n_parts; ++i) workers.emplace_back(run, i);
  run(0);
  for (auto& t : workers) t.join();
  for (auto& e : error)
    if (e) std::rethrow_exception(e);
  for (unsigned i = 0; i < n_parts; ++i) {
    const auto [r0, r1] = rows_of(i);
    for (uint32_t t = 0; t < T; ++t)
      std::copy_n(part[i].data() + size_t{t} * (r1 - r0), r1 - r0, Y + size_t{t} * n_rows + r0);
  }
}

std::vector<float> ReferenceModel::eval(ReferenceState& st, std::span<const int32_t> tokens, bool all_logits,
                                        const ReferenceTrace* trace, std::span<const float> soft) const {
  const Gemma4Config& c = model_.config;
  const Gemma4Weights& w = model_.weights;
  check_state(st);
  if (tokens.empty()) throw ReferenceError("reference eval: no tokens to evaluate");
  if (tokens.size() > st.n_ctx - st.n_past)
    throw ReferenceError(fmt::format("reference eval: context overflow: {} tokens at positions {}..{} do not fit "
                                     "in a context of {} positions ({} already used)", tokens.size(), st.n_past,
                                     st.n_past + tokens.size() - 1, st.n_ctx, st.n_past));
  size_t n_soft = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0) {
      ++n_soft;
      continue;
    }
    if (static_cast<uint32_t>(tokens[i]) >= c.n_vocab)
      throw ReferenceError(fmt::format("reference eval: token {} at index {} is outside the vocabulary [0, {})",
                                       tokens[i], i, c.n_vocab));
  }
  if (n_soft * c.n_embd != soft.size())
    throw ReferenceError(fmt::format("reference eval: {} soft positions but {} floats of soft rows", n_soft, soft.size()));
  // Soft positions (negative ids): token 0's PLE row, the soft row as the embedding (MULTIMODAL.md 4.2-4.3).
  std::vector<int32_t> ids(tokens.begin(), tokens.end());
  for (int32_t& id : ids) id = std::max(id, 0);

  const uint32_t T = static_cast<uint32_t>(tokens.size());
  const uint32_t E = c.n_embd, P = c.n_ple, NL = c.n_layer, PL = NL * P;
  const float eps = c.rms_eps;
  std::vector<int32_t> pos(T);  // [T] absolute positions
  std::iota(pos.begin(), pos.end(), static_cast<int32_t>(st.n_past));
  const size_t TE = size_t{T} * E;

  // ---- token embedding: x = token_embd[t] * sqrt(n_embd) -----------------------------------
  std::vector<float> x(TE);  // [T, n_embd]  the residual stream
  ref::get_rows(w.token_embd->type, w.token_embd->data, E, c.n_vocab, ids.data(), T,
                std::sqrt(static_cast<float>(E)), x.data());
  for (uint32_t t = 0, r = 0; t < T; ++t)
    if (tokens[t] < 0) std::copy_n(soft.data() + size_t(r++) * E, E, x.data() + size_t(t) * E);
  if (trace && trace->on_embed) trace->on_embed(x.data(), T, E);

  // ---- per-layer inputs (PLE), once per token for all layers --------------------------------
  std::vector<float> ple(size_t{T} * PL);  // [T, n_layer, n_ple]
  std::vector<float> pt(size_t{T} * PL);   // [T, n_layer, n_ple]
  // pt = per_layer_token_embd[t] * sqrt(n_ple)
  ref::get_rows(w.per_layer_token_embd->type, w.per_layer_token_embd->data, PL, c.n_vocab, ids.data(), T,
                std::sqrt(static_cast<float>(P)), pt.data());
  // pp = rmsnorm((per_layer_model_proj @ x) / sqrt(n_embd), per_layer_proj_norm), per n_ple row
  matmul(*w.per_layer_model_proj, x.data(), ple.data(), T);
  ref::scale(ple.data(), T * PL, 1.0f / std::sqrt(static_cast<float>(E)));
  ref::rms_norm(ple.data(), per_layer_proj_norm_.data(), ple.data(), P, T * NL, eps);
  // ple = (pp + pt) / sqrt(2)
  ref::add_scale(ple.data(), pt.data(), ple.data(), T * PL, 1.0f / std::sqrt(2.0f));
  if (trace && trace->on_ple) trace->on_ple(ple.data(), T, PL);

  // Scratch, sized for the largest layer.
  uint32_t max_qdim = 0, max_ff = 0;
  for (const Gemma4Layer& L : c.layers) {
    max_qdim = std::max(max_qdim, L.n_head * L.head_dim);
    max_ff = std::max(max_ff, L.n_ff);
  }
  std::vector<float> h(TE);                          // [T, n_embd]  normed input of a sublayer
  std::vector<float> q(size_t{T} * max_qdim);        // [T, n_head, head_dim]
  std::vector<float> k(size_t{T} * max_qdim);        // [T, n_head_kv, head_dim]
  std::vector<float> v(size_t{T} * max_qdim);        // [T, n_head_kv, head_dim]
  std::vector<float> att(size_t{T} * max_qdim);      // [T, n_head * head_dim]
  std::vector<float> gate(size_t{T} * max_ff);       // [T, n_ff]
  std::vector<float> up(size_t{T} * max_ff);         // [T, n_ff]
  std::vector<float> out(TE);                        // [T, n_embd]  a sublayer's output
  std::vector<float> g(size_t{T} * P);               // [T, n_ple]

  for (uint32_t l = 0; l < NL; ++l) {
    const Gemma4Layer& L = c.layers[l];
    const Gemma4LayerWeights& lw = w.layers[l];
    const LayerVectors& lv = layer_vec_[l];
    const uint32_t hd = L.head_dim, n_head = L.n_head, n_kv = L.n_head_kv, kv_dim = n_kv * hd;
    // Sliding layers: base rope_base_swa, n_rot_swa, no freq factors. Full: rope_freqs factors.
    const float* freq = (!L.is_sliding && !rope_freqs_.empty()) ? rope_freqs_.data() : nullptr;

    // ---- attention -------------------------------------------------------------------------
    ref::rms_norm(x.data(), lv.attn_norm.data(), h.data(), E, T, eps);        // h = rmsnorm(x, attn_norm)
    matmul(*lw.attn_q, h.data(), q.data(), T);                                // q = Wq h
    ref::rms_norm(q.data(), lv.q_norm.data(), q.data(), hd, T * n_head, eps);  // per head, weighted
    ref::rope_neox(q.data(), pos.data(), freq, T, n_head, hd, L.n_rot, L.rope_base);
    if (L.owns_kv) {
      matmul(*lw.attn_k, h.data(), k.data(), T);                              // k = Wk h
      ref::rms_norm(k.data(), lv.k_norm.data(), k.data(), hd, T * n_kv, eps);
      ref::rope_neox(k.data(), pos.data(), freq, T, n_kv, hd, L.n_rot, L.rope_base);
      matmul(lw.attn_v ? *lw.attn_v : *lw.attn_k, h.data(), v.data(), T);     // v = Wv h (Wk h without attn_v)
      ref::rms_norm(v.data(), nullptr, v.data(), hd, T * n_kv, eps);          // per head, no weight
      ref::kv_store(k.data(), st.k_cache[l].data(), pos.data(), T, kv_dim, st.n_ctx);
      ref::kv_store(v.data(), st.v_cache[l].data(), pos.data(), T, kv_dim, st.n_ctx);
    }
    // a = softmax(q.k^T * 1.0 + mask) . v over the cache of kv_source (== l for owners).
    // Causal; sliding layers also drop keys with p - p_k >= window. GQA: head h reads h / group.
    ref::attention(q.data(), st.k_cache[L.kv_source].data(), st.v_cache[L.kv_source].data(), pos.data(),
                   att.data(), T, n_head, n_kv, hd, st.n_ctx, L.is_sliding ? c.sliding_window : 0, 1.0f);
    matmul(*lw.attn_output, att.data(), out.data(), T);                       // Wo a: [T, n_embd]
    ref::rms_norm_add(out.data(), lv.post_attention_norm.data(), x.data(), 1.0f, E, T, eps);

    // ---- feed-forward: Wdown (gelu_tanh(Wgate h2) * (Wup h2)), h2 = rmsnorm(x, ffn_norm) -----
    const uint32_t n_ff = L.n_ff;
    ref::rms_norm(x.data(), lv.ffn_norm.data(), h.data(), E, T, eps);
    matmul(*lw.ffn_gate, h.data(), gate.data(), T);                           // [T, n_ff]
    matmul(*lw.ffn_up, h.data(), up.data(), T);                               // [T, n_ff]
    ref::gelu_mul(gate.data(), up.data(), gate.data(), n_ff, T, n_ff, 0);
    matmul(*lw.ffn_down, gate.data(), out.data(), T);                         // [T, n_embd]
    ref::rms_norm_add(out.data(), lv.post_ffw_norm.data(), x.data(), 1.0f, E, T, eps);

    // ---- per-layer input gate: x = (x + rmsnorm(proj (gelu(inp_gate x) * ple[l]))) * scale ----
    matmul(*lw.inp_gate, x.data(), g.data(), T);                              // [T, n_ple]
    ref::gelu_mul(g.data(), ple.data(), g.data(), P, T, PL, l * P);           // * ple[t, l, :]
    matmul(*lw.proj, g.data(), out.data(), T);                                // [T, n_embd]
    ref::rms_norm_add(out.data(), lv.post_norm.data(), x.data(), lv.output_scale, E, T, eps);

    if (trace && trace->on_layer) trace->on_layer(l, x.data(), T, E);
  }

  // ---- output: logits = softcap(lm_head . rmsnorm(x, output_norm)) --------------------------
  const uint32_t rows = all_logits ? T : 1;
  const float* x_out = x.data() + size_t{T - rows} * E;  // the last `rows` tokens
  ref::rms_norm(x_out, output_norm_.data(), h.data(), E, rows, eps);
  const GgufTensorInfo& head = w.output ? *w.output : *w.token_embd;  // tied unless `output` exists
  std::vector<float> logits(size_t{rows} * c.n_vocab);                // [rows, n_vocab]
  matmul(head, h.data(), logits.data(), rows);
  if (c.final_logit_softcap > 0) ref::softcap(logits.data(), rows * c.n_vocab, c.final_logit_softcap);

  st.n_past += T;
  return logits;
}

std::vector<int32_t> ReferenceModel::generate(ReferenceState& st, std::span<const int32_t> prompt, uint32_t n_new,
                                              std::span<const int32_t> stop_ids) const {
  check_state(st);
  if (prompt.empty()) throw ReferenceError("reference generate: empty prompt");
  if (n_new == 0) return {};
  // Tokens evaluated: the prompt, then every generated token but the last.
  const uint64_t need = prompt.size() + uint64_t{n_new} - 1;
  if (need > st.n_ctx - st.n_past)
    throw ReferenceError(fmt::format("reference generate: context overflow: {} prompt tokens + {} new tokens need "
                                     "{} positions, {} of {} are free", prompt.size(), n_new, need,
                                     st.n_ctx - st.n_past, st.n_ctx));
  std::vector<float> logits = eval(st, prompt, false);  // [1, n_vocab]
  std::vector<int32_t> out;
  while (true) {
    const int32_t t = ref::argmax(logits.data(), model_.config.n_vocab);
    out.push_back(t);
    if (out.size() == n_new || std::find(stop_ids.begin(), stop_ids.end(), t) != stop_ids.end()) break;
    logits = eval(st, std::span<const int32_t>(&t, 1), false);
  }
  return out;
}

}  // namespace vkg
