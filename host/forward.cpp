#include "forward.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "context.h"

namespace vkg {

/// Activation buffers for batches of up to T = max_batch tokens ("[T, N]" = T rows of N floats).
struct Gemma4Forward::Scratch {
  Buffer ids[PlePager::kSlots], pos[PlePager::kSlots];  // int32 [T], host-visible, per PLE slot
  Buffer iota;          // int32 [T]: 0, 1, 2, ... (row i of a PLE slot is token i)
  Buffer x;             // [T, n_embd]   residual stream
  Buffer h;             // [T, n_embd]   normed input of a sublayer
  Buffer o;             // [T, n_embd]   sublayer output before its post-norm
  Buffer q, k, v;       // [T, n_head * hd_max], [T, n_head_kv * hd_max] x2
  Buffer attn;          // [T, n_head * hd_max]
  Buffer g, u;          // [T, n_ff_max]
  Buffer pt, ple;       // [T, n_layer * n_ple]  token PLE rows; combined per-layer inputs
  Buffer gp;            // [T, n_ple]
  Buffer xl;            // [R, n_embd]   final-normed rows whose logits are wanted
  Buffer logits;        // [R, n_vocab]  host-readable
  Buffer topk_ids, topk_vals;  // int32 / f32 [kMaxTopK], host-readable
  Buffer ops;           // Ops scratch (attention partials, top-k)
};

namespace {
uint64_t f32(uint64_t rows, uint64_t n) { return rows * n * 4; }
}  // namespace

Gemma4Forward::Gemma4Forward(Device& dev, const Gemma4Model& model, const DeviceWeights& weights,
                             ForwardOptions opts)
    : dev_(dev), model_(model), w_(weights), opts_(opts), compute_(dev) {
  const auto& c = model.config;
  if (opts_.n_ctx == 0) throw std::runtime_error("context length must be at least 1");
  if (c.n_ctx_train && opts_.n_ctx > c.n_ctx_train)
    throw std::runtime_error(fmt::format("context of {} tokens exceeds the model's maximum of {}", opts_.n_ctx,
                                         c.n_ctx_train));
  opts_.max_batch = std::max(1u, std::min(opts_.max_batch, opts_.n_ctx));
  opts_.max_logit_rows = std::max(1u, std::min(opts_.max_logit_rows, opts_.max_batch));
  ops_ = std::make_unique<Ops>(dev);
  if (opts_.kv_f32) ops_->set_kv_type(KvType::F32);
  kv_ = std::make_unique<KvCache>(dev, c, opts_.n_ctx, opts_.max_batch, ops_->kv_type());
  pager_ = std::make_unique<PlePager>(dev, *model.weights.per_layer_token_embd, opts_.max_batch, compute_,
                                      opts_.force_staging);

  uint32_t hd_max = 0, n_head = 0, n_kv = 0, n_ff = 0;
  for (const auto& L : c.layers) {
    hd_max = std::max(hd_max, L.head_dim);
    n_head = std::max(n_head, L.n_head);
    n_kv = std::max(n_kv, L.n_head_kv);
    n_ff = std::max(n_ff, L.n_ff);
  }
  const uint32_t T = opts_.max_batch, R = opts_.max_logit_rows;
  const uint64_t n_ple_all = uint64_t(c.n_layer) * c.n_ple;
  s_ = std::make_unique<Scratch>();
  auto dbuf = [&](uint64_t bytes) { return Buffer(dev, std::max<uint64_t>(bytes, 16), MemoryUsage::Device); };
  for (uint32_t i = 0; i < PlePager::kSlots; ++i) {
    s_->ids[i] = Buffer(dev, T * 4, MemoryUsage::Upload);
    s_->pos[i] = Buffer(dev, T * 4, MemoryUsage::Upload);
  }
  s_->iota = dbuf(T * 4);
  std::vector<int32_t> iota(T);
  std::iota(iota.begin(), iota.end(), 0);
  upload(dev, s_->iota, 0, iota.data(), T * 4);
  s_->x = dbuf(f32(T, c.n_embd));
  s_->h = dbuf(f32(T, c.n_embd));
  s_->o = dbuf(f32(T, c.n_embd));
  s_->q = dbuf(f32(T, uint64_t(n_head) * hd_max));
  s_->k = dbuf(f32(T, uint64_t(n_kv) * hd_max));
  s_->v = dbuf(f32(T, uint64_t(n_kv) * hd_max));
  s_->attn = dbuf(f32(T, uint64_t(n_head) * hd_max));
  s_->g = dbuf(f32(T, n_ff));
  s_->u = dbuf(f32(T, n_ff));
  s_->pt = dbuf(f32(T, n_ple_all));
  s_->ple = dbuf(f32(T, n_ple_all));
  s_->gp = dbuf(f32(T, c.n_ple));
  s_->xl = dbuf(f32(R, c.n_embd));
  s_->logits = Buffer(dev, f32(R, c.n_vocab), MemoryUsage::Readback);
  s_->topk_ids = Buffer(dev, kMaxTopK * 4, MemoryUsage::Readback);
  s_->topk_vals = Buffer(dev, kMaxTopK * 4, MemoryUsage::Readback);
  s_->ops = dbuf(ops_->scratch_bytes(T, n_head, hd_max, opts_.n_ctx, c.n_vocab));
  ops_->set_scratch(s_->ops);
  for (const Buffer* b : {&s_->iota, &s_->x, &s_->h, &s_->o, &s_->q, &s_->k, &s_->v, &s_->attn, &s_->g, &s_->u,
                          &s_->pt, &s_->ple, &s_->gp, &s_->xl, &s_->logits, &s_->ops})
    session_bytes_ += b->size();
  for (uint32_t i = 0; i < PlePager::kSlots; ++i) session_bytes_ += s_->ids[i].size() + s_->pos[i].size();
  session_bytes_ += kv_->plan().total_bytes + pager_->bytes();
}

Gemma4Forward::~Gemma4Forward() {
  try {
    compute_.finish();
  } catch (...) {
  }
}

void Gemma4Forward::check_tokens(std::span<const int32_t> tokens) const {
  const auto& c = model_.config;
  if (tokens.empty()) throw std::runtime_error("nothing to evaluate: no tokens");
  if (uint64_t(n_past_) + tokens.size() > opts_.n_ctx)
    throw std::runtime_error(fmt::format("{} tokens at position {} do not fit the context of {} tokens", tokens.size(),
                                         n_past_, opts_.n_ctx));
  for (int32_t id : tokens)
    if (id < 0 || static_cast<uint32_t>(id) >= c.n_vocab)
      throw std::runtime_error(fmt::format("token id {} is outside the vocabulary (n_vocab {})", id, c.n_vocab));
}

void Gemma4Forward::eval_top_k(std::span<const int32_t> tokens, uint32_t k, std::vector<int32_t>& ids,
                               std::vector<float>& vals) {
  check_tokens(tokens);
  k = std::min(k, model_.config.n_vocab);
  if (k == 0 || k > kMaxTopK) throw std::runtime_error(fmt::format("top-k of {} (1..{})", k, kMaxTopK));
  const uint32_t n = static_cast<uint32_t>(tokens.size());
  for (uint32_t done = 0; done < n; done += opts_.max_batch) {
    const uint32_t T = std::min(opts_.max_batch, n - done);
    const bool last = done + T == n;
    step(tokens.subspan(done, T), n_past_ + done, last ? 1 : 0, nullptr, last ? k : 0);
  }
  n_past_ += n;
  compute_.finish();
  ids.resize(k);
  vals.resize(k);
  s_->topk_ids.invalidate();
  s_->topk_vals.invalidate();
  std::memcpy(ids.data(), s_->topk_ids.mapped(), k * 4);
  if (k == 1) {
    vals[0] = 0.0f;  // argmax returns no value
  } else {
    std::memcpy(vals.data(), s_->topk_vals.mapped(), k * 4);
  }
}

void Gemma4Forward::eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
  const auto& c = model_.config;
  check_tokens(tokens);
  const uint32_t n = static_cast<uint32_t>(tokens.size());
  logits.assign(size_t(all_logits ? n : 1) * c.n_vocab, 0.0f);
  const uint32_t chunk = all_logits ? opts_.max_logit_rows : opts_.max_batch;
  for (uint32_t done = 0; done < n; done += chunk) {
    const uint32_t T = std::min(chunk, n - done);
    const bool last = done + T == n;
    float* out = all_logits ? logits.data() + size_t(done) * c.n_vocab : (last ? logits.data() : nullptr);
    step(tokens.subspan(done, T), n_past_ + done, all_logits ? T : (last ? 1 : 0), out);
  }
  n_past_ += n;
  compute_.finish();
}

bool Gemma4Forward::truncate(uint32_t n) {
  if (n > n_past_) return false;
  if (n_past_ - n > opts_.max_batch) return false;
  n_past_ = n;
  return true;
}

void Gemma4Forward::step(std::span<const int32_t> tokens, uint32_t pos0, uint32_t logit_rows, float* logits_out,
                         uint32_t top_k) {
  const uint32_t T = static_cast<uint32_t>(tokens.size());
  PlePager::Ticket ticket = pager_->stage(tokens);
  const uint32_t slot = ticket.slot;
  std::memcpy(s_->ids[slot].mapped(), tokens.data(), T * 4);
  auto* pos = reinterpret_cast<int32_t*>(s_->pos[slot].mapped());
  for (uint32_t i = 0; i < T; ++i) pos[i] = static_cast<int32_t>(pos0 + i);
  s_->ids[slot].flush();
  s_->pos[slot].flush();
  CommandList& cl = recording(T, slot, logit_rows, top_k);
  uint64_t v = ticket.wait ? compute_.submit(cl, {*ticket.wait}) : compute_.submit(cl);
  pager_->mark_in_use(slot, v);
  stats_.steps++;
  stats_.tokens += T;
  stats_.dispatches += cl.dispatch_count();
  if (opts_.profile) {
    compute_.wait(v);
    collect_profile(cl);
  }
  if (logit_rows && logits_out) {
    compute_.wait(v);
    const uint64_t bytes = f32(logit_rows, model_.config.n_vocab);
    s_->logits.invalidate();
    std::memcpy(logits_out, s_->logits.mapped(), bytes);
  }
}

CommandList& Gemma4Forward::recording(uint32_t T, uint32_t slot, uint32_t logit_rows, uint32_t top_k) {
  auto key = std::make_tuple(T, slot, logit_rows, top_k);
  auto it = lists_.find(key);
  if (it != lists_.end()) return *it->second;
  if (lists_.size() >= 16) {  // bound the cache (prefill tails of many sizes)
    compute_.finish();
    lists_.clear();
    labels_.clear();
  }
  auto cl = std::make_unique<CommandList>(dev_);
  cl->begin();
  record(*cl, T, slot, logit_rows, top_k);
  cl->end();
  stats_.recordings++;
  return *lists_.emplace(key, std::move(cl)).first->second;
}

void Gemma4Forward::sync(CommandList& cl, const char* label) {
  cl.barrier();
  if (!opts_.profile) return;
  auto& labels = labels_[&cl];
  cl.timestamp(static_cast<uint32_t>(labels.size()));
  labels.push_back(label);
}

void Gemma4Forward::collect_profile(const CommandList& cl) {
  auto it = labels_.find(&cl);
  if (it == labels_.end() || it->second.size() < 2) return;
  const auto t = cl.read_timestamps_ns(static_cast<uint32_t>(it->second.size()));
  for (size_t i = 1; i < t.size(); ++i) profile_[it->second[i]] += (t[i] - t[i - 1]) * 1e-6;
}

void Gemma4Forward::record(CommandList& cl, uint32_t T, uint32_t slot, uint32_t logit_rows, uint32_t top_k) {
  const auto& c = model_.config;
  Ops& op = *ops_;
  const float eps = c.rms_eps;
  const uint32_t n_ple_all = c.n_layer * c.n_ple;
  sync(cl, "start");  // order against the previous submission on this queue

  // Token embedding: x = token_embd[t] * sqrt(n_embd).                        x: [T, n_embd]
  op.get_rows(cl, w_.token_embd, s_->ids[slot], s_->x, T, std::sqrt(float(c.n_embd)));
  // Per-layer inputs, once for all layers.                              pt, ple: [T, n_layer * n_ple]
  op.get_rows(cl, pager_->rows(slot), s_->iota, s_->pt, T, std::sqrt(float(c.n_ple)));
  sync(cl, "get_rows");
  op.matmul(cl, w_.per_layer_model_proj, s_->x, s_->ple, T);
  sync(cl, "matmul.per_layer_model_proj");
  op.scale(cl, s_->ple, T * n_ple_all, 1.0f / std::sqrt(float(c.n_embd)));
  sync(cl, "scale");
  op.rms_norm(cl, s_->ple, w_.per_layer_proj_norm, s_->ple, c.n_ple, T * c.n_layer, eps);
  sync(cl, "rms_norm");
  op.add_scale(cl, s_->ple, s_->pt, s_->ple, T * n_ple_all, 1.0f / std::sqrt(2.0f));
  sync(cl, "add_scale");

  for (uint32_t l = 0; l < c.n_layer; ++l) record_layer(cl, l, T, slot);

  if (logit_rows == 0) return;
  // Final norm and LM head for the wanted rows (the last one, or all T).
  const uint64_t row = uint64_t(c.n_embd) * 4;
  const uint32_t first = T - logit_rows;
  cl.copy(s_->x, first * row, s_->xl, 0, logit_rows * row);
  sync(cl, "copy");
  op.rms_norm(cl, s_->xl, w_.output_norm, s_->xl, c.n_embd, logit_rows, eps);
  sync(cl, "rms_norm");
  op.matmul(cl, w_.lm_head, s_->xl, s_->logits, logit_rows);
  if (c.final_logit_softcap > 0) {
    sync(cl, "matmul.lm_head");
    op.softcap(cl, s_->logits, logit_rows * c.n_vocab, c.final_logit_softcap);
  }
  sync(cl, "softcap");
  if (top_k == 1) {
    op.argmax(cl, s_->logits, c.n_vocab, s_->topk_ids);
    sync(cl, "argmax");
  } else if (top_k > 1) {
    op.top_k(cl, s_->logits, c.n_vocab, top_k, s_->topk_ids, s_->topk_vals);
    sync(cl, "top_k");
  }
}

void Gemma4Forward::record_layer(CommandList& cl, uint32_t l, uint32_t T, uint32_t slot) {
  const auto& c = model_.config;
  const auto& L = c.layers[l];
  const auto& W = w_.layers[l];
  Ops& op = *ops_;
  const float eps = c.rms_eps;
  const uint32_t hd = L.head_dim;
  const BufferRange pos = s_->pos[slot];
  const BufferRange freqs = L.is_sliding ? BufferRange{} : w_.rope_freqs;

  // Attention.                                           h: [T, n_embd]  q: [T, n_head, hd]
  op.rms_norm(cl, s_->x, W.attn_norm, s_->h, c.n_embd, T, eps);
  sync(cl, "rms_norm");
  op.matmul(cl, W.attn_q, s_->h, s_->q, T);
  if (L.owns_kv) {
    op.matmul(cl, W.attn_k, s_->h, s_->k, T);                                  // k: [T, n_head_kv, hd]
    op.matmul(cl, W.attn_v.parts.empty() ? W.attn_k : W.attn_v, s_->h, s_->v, T);  // V = K when attn_v is absent
  }
  sync(cl, "matmul.qkv");
  op.rms_norm(cl, s_->q, W.attn_q_norm, s_->q, hd, T * L.n_head, eps);
  if (L.owns_kv) {
    op.rms_norm(cl, s_->k, W.attn_k_norm, s_->k, hd, T * L.n_head_kv, eps);
    op.rms_norm(cl, s_->v, BufferRange{}, s_->v, hd, T * L.n_head_kv, eps);
  }
  sync(cl, "rms_norm");
  op.rope_neox(cl, s_->q, pos, freqs, T, L.n_head, hd, L.n_rot, L.rope_base);
  if (L.owns_kv) op.rope_neox(cl, s_->k, pos, freqs, T, L.n_head_kv, hd, L.n_rot, L.rope_base);
  sync(cl, "rope_neox");
  const uint32_t src = L.kv_source;
  const uint32_t ring = kv_->plan().layers[src].ring_size;
  if (L.owns_kv) {
    op.kv_store(cl, s_->k, kv_->k(l), pos, T, L.n_head_kv * hd, ring);
    op.kv_store(cl, s_->v, kv_->v(l), pos, T, L.n_head_kv * hd, ring);
    sync(cl, "kv_store");
  }
  op.attention(cl, s_->q, kv_->k(src), kv_->v(src), pos, s_->attn, T, L.n_head, L.n_head_kv, hd, ring,
               L.is_sliding ? c.sliding_window : 0, 1.0f);
  sync(cl, "attention");
  op.matmul(cl, W.attn_output, s_->attn, s_->o, T);
  sync(cl, "matmul.attn_output");
  op.rms_norm_add(cl, s_->o, W.post_attention_norm, s_->x, BufferRange{}, c.n_embd, T, eps);
  sync(cl, "rms_norm_add");

  // Feed-forward: x += post_ffw_norm(down(gelu(gate h2) * up h2)), h2 = ffn_norm(x).  g: [T, n_ff]
  // (decode: norm, gate, up and gelu in one pass over x; h and u are scratch for prefill)
  op.gate_up_gelu(cl, W.ffn_gate, W.ffn_up, s_->x, W.ffn_norm, eps, s_->g, T, s_->h, s_->u);
  sync(cl, "matmul.norm_gate_up_gelu");
  op.matmul(cl, W.ffn_down, s_->g, s_->o, T);
  sync(cl, "matmul.ffn_down");
  op.rms_norm_add(cl, s_->o, W.post_ffw_norm, s_->x, BufferRange{}, c.n_embd, T, eps);
  sync(cl, "rms_norm_add");

  // Per-layer embedding gate: x = (x + post_norm(proj(gelu(inp_gate x) * ple[l]))) * scale.
  op.matmul(cl, W.inp_gate, s_->x, s_->gp, T);                                  // gp: [T, n_ple]
  sync(cl, "matmul.inp_gate");
  op.gelu_mul(cl, s_->gp, s_->ple, s_->gp, c.n_ple, T, c.n_layer * c.n_ple, l * c.n_ple);
  sync(cl, "gelu_mul");
  op.matmul(cl, W.proj, s_->gp, s_->o, T);
  sync(cl, "matmul.proj");
  op.rms_norm_add(cl, s_->o, W.post_norm, s_->x, W.layer_output_scale, c.n_embd, T, eps);
  sync(cl, "rms_norm_add");
}

} // namespace vkg
