#include "forward.h"
#include "session_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "context.h"
#include "weight_convert.h"
#include "quant.h"
#include "rope_table.h"
#include "error.h"

namespace vkg {

/// Activation buffers for batches of up to T = max_batch tokens ("[T, N]" = T rows of N floats).
struct Gemma4Forward::Scratch {
  Buffer ids[PlePager::kSlots], pos[PlePager::kSlots];  // int32 [T], host-visible, per PLE slot
  // ForwardOptions::soft_tokens: f32 [T, n_embd] rows replacing the token embeddings where
  // soft_mask (uint32 [T]) is non-zero; host-visible, per PLE slot.
  Buffer soft[PlePager::kSlots], soft_mask[PlePager::kSlots];
  // RoPE cos/sin tables, f32 [T, n_rot/2, 2], host-visible, per PLE slot and rope kind (sliding,
  // full), rewritten with the positions before each step (runtime/rope_table.h).
  std::vector<Buffer> rope[PlePager::kSlots];
  std::vector<std::vector<double>> rope_inv_freq;  // per rope kind
  std::vector<uint32_t> rope_of_layer;             // rope kind of each layer
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
// Query indices of every segment's start/end timestamps (the profile uses 0, 1, 2, ...).
constexpr uint32_t kTsStart = CommandList::kMaxTimestamps - 2, kTsEnd = CommandList::kMaxTimestamps - 1;
}  // namespace

std::vector<BufferRequest> Gemma4Forward::session_buffers(Device& dev, const Gemma4Model& m, ForwardOptions opts,
                                                          uint64_t window_slot) {
  return session_buffer_requests(dev, m, opts, window_slot);
}

uint64_t Gemma4Forward::estimate_session_bytes(Device& dev, const Gemma4Model& m, ForwardOptions opts) {
  return session_device_bytes(dev, m, opts);
}

Gemma4Forward::Gemma4Forward(Device& dev, const Gemma4Model& model, const DeviceWeights& weights,
                             ForwardOptions opts)
    : dev_(dev), model_(model), w_(weights), opts_(opts), compute_(dev) {
  const auto& c = model.config;
  if (opts_.n_ctx == 0) throw Error(ErrorCode::bad_input, "context length must be at least 1");
  if (c.n_ctx_train && opts_.n_ctx > c.n_ctx_train)
    throw Error(ErrorCode::bad_input, fmt::format("context of {} tokens exceeds the model's maximum of {}", opts_.n_ctx,
                                         c.n_ctx_train));
  opts_ = clamp_session_options(opts_);
  OpsVariants variants = select_variants(dev.caps());
  if (opts_.matvec_split_k >= 0) variants.matvec_split_k = opts_.matvec_split_k != 0;
  ops_ = std::make_unique<Ops>(dev, variants);
  if (opts_.kv_f32) ops_->set_kv_type(KvType::F32);
  // Every buffer of the session in one arena of exactly the planned bytes (residency.h), allocated
  // before anything else: what Model::load reserved for a session with these options.
  const MemoryRules rules = dev.allocator().rules();
  const uint64_t window_slot =
      weights.plan.streaming() ? window_slot_bytes(dev.caps(), model, weights.plan.n_resident_layers) : 0;
  const MemoryLayout layout = memory_layout(rules, session_requests(model, opts_, *ops_, rules, window_slot));
  std::optional<Arena> arena;
  try {
    arena.emplace(dev.allocator(), layout);
  } catch (const VkError& e) {
    throw VkError(e.code(), fmt::format("a session with a context of {} tokens (batches of {}) needs {:.1f} MiB of device memory "
                              "for its KV cache, activations and PLE slots{}: {} (reduce the context with -c)",
                              opts_.n_ctx, opts_.max_batch, layout.device_local_bytes() / 1048576.0,
                              window_slot ? " and the layer-streaming window" : "", e.what()),
                  e.result);
  }
  const uint32_t T = opts_.max_batch, R = opts_.max_logit_rows;
  const ScratchSizes z = scratch_sizes(c, T, R, opts_.n_ctx, *ops_, opts_.soft_tokens);
  {
    const ArenaScope scope(*arena);
    kv_ = std::make_unique<KvCache>(dev, c, opts_.n_ctx, opts_.max_batch, ops_->kv_type());
    pager_ = std::make_unique<PlePager>(dev, *model.weights.per_layer_token_embd, opts_.max_batch, compute_,
                                        opts_.force_staging);
    if (weights.plan.streaming())
      streamer_ = std::make_unique<LayerStreamer>(dev, model, weights, compute_, opts_.force_staging);

    s_ = std::make_unique<Scratch>();
    auto dbuf = [&](uint64_t bytes) { return Buffer(dev, bytes, MemoryUsage::Device); };
    for (uint32_t i = 0; i < PlePager::kSlots; ++i) {
      s_->ids[i] = Buffer(dev, z.ids, MemoryUsage::Upload);
      s_->pos[i] = Buffer(dev, z.ids, MemoryUsage::Upload);
      for (uint64_t bytes : z.rope) s_->rope[i].emplace_back(dev, bytes, MemoryUsage::Upload);
      if (opts_.soft_tokens) {
        s_->soft[i] = Buffer(dev, z.soft, MemoryUsage::Upload);
        s_->soft_mask[i] = Buffer(dev, z.soft_mask, MemoryUsage::Upload);
      }
    }
    s_->iota = dbuf(z.iota);
    s_->x = dbuf(z.x);
    s_->h = dbuf(z.x);
    s_->o = dbuf(z.x);
    s_->q = dbuf(z.q);
    s_->k = dbuf(z.kv);
    s_->v = dbuf(z.kv);
    s_->attn = dbuf(z.q);
    s_->g = dbuf(z.g);
    s_->u = dbuf(z.g);
    s_->pt = dbuf(z.pt);
    s_->ple = dbuf(z.pt);
    s_->gp = dbuf(z.gp);
    s_->xl = dbuf(z.xl);
    s_->logits = Buffer(dev, z.logits, MemoryUsage::Readback);
    s_->topk_ids = Buffer(dev, z.topk, MemoryUsage::Readback);
    s_->topk_vals = Buffer(dev, z.topk, MemoryUsage::Readback);
    s_->ops = dbuf(z.ops);
  }  // the arena's scope: transient staging buffers (below) are not the session's
  const RopeKinds rk = rope_kinds(c);
  std::vector<float> freq_factors;
  if (const GgufTensorInfo* rf = model.weights.rope_freqs) {
    freq_factors.resize(static_cast<size_t>(rf->n_elements));
    dequantize_row(rf->type, rf->data, freq_factors.data(), freq_factors.size());
  }
  for (const auto& k : rk.kinds) {
    const bool ff = k.freq_factors && !freq_factors.empty();
    if (ff && freq_factors.size() != k.n_rot / 2)
      throw Error(ErrorCode::bad_model, fmt::format("rope_freqs has {} entries for {} rotated pairs", freq_factors.size(),
                                           k.n_rot / 2));
    s_->rope_inv_freq.push_back(rope_inv_freq(k.n_rot, k.base, ff ? std::span<const float>(freq_factors)
                                                                 : std::span<const float>{}));
  }
  s_->rope_of_layer = rk.of_layer;
  std::vector<int32_t> iota(T);
  std::iota(iota.begin(), iota.end(), 0);
  upload(dev, s_->iota, 0, iota.data(), T * 4);
  ops_->set_scratch(s_->ops);
  session_bytes_ = layout.device_local_bytes();
}

Gemma4Forward::~Gemma4Forward() {
  try {
    compute_.finish();
  } catch (...) {
  }
}

void Gemma4Forward::check_tokens(std::span<const int32_t> tokens, std::span<const float> soft) const {
  const auto& c = model_.config;
  if (tokens.empty()) throw Error(ErrorCode::bad_input, "nothing to evaluate: no tokens");
  if (uint64_t(n_past_) + tokens.size() > opts_.n_ctx)
    throw Error(ErrorCode::bad_input, fmt::format("{} tokens at position {} do not fit the context of {} tokens", tokens.size(),
                                         n_past_, opts_.n_ctx));
  uint64_t n_soft = 0;
  for (int32_t id : tokens) {
    if (id < 0) {
      ++n_soft;
      continue;
    }
    if (static_cast<uint32_t>(id) >= c.n_vocab)
      throw Error(ErrorCode::bad_input, fmt::format("token id {} is outside the vocabulary (n_vocab {})", id, c.n_vocab));
  }
  if (n_soft && !opts_.soft_tokens)
    throw Error(ErrorCode::bad_input, "the prompt has soft-token positions (image/audio) but the session was created "
                                      "without soft-token support (no mmproj loaded)");
  if (n_soft * c.n_embd != soft.size())
    throw Error(ErrorCode::bad_input, fmt::format("the prompt has {} soft-token positions but {} embedding rows of {} were "
                                                  "given", n_soft, soft.size() / std::max(1u, c.n_embd), c.n_embd));
}

namespace {
uint32_t count_soft(std::span<const int32_t> tokens) {
  return static_cast<uint32_t>(std::count_if(tokens.begin(), tokens.end(), [](int32_t id) { return id < 0; }));
}
}  // namespace

void Gemma4Forward::eval_top_k(std::span<const int32_t> tokens, uint32_t k, std::vector<int32_t>& ids,
                               std::vector<float>& vals, std::span<const float> soft) {
  check_tokens(tokens, soft);
  k = std::min(k, model_.config.n_vocab);
  if (k == 0 || k > kMaxTopK) throw Error(ErrorCode::bad_input, fmt::format("top-k of {} (1..{})", k, kMaxTopK));
  const uint32_t n = static_cast<uint32_t>(tokens.size());
  for (uint32_t done = 0; done < n; done += opts_.max_batch) {
    const uint32_t T = std::min(opts_.max_batch, n - done);
    const bool last = done + T == n;
    const auto part = tokens.subspan(done, T);
    step(part, n_past_ + done, last ? 1 : 0, nullptr, last ? k : 0, soft.data());
    soft = soft.subspan(size_t(count_soft(part)) * model_.config.n_embd);
  }
  n_past_ += n;
  compute_.finish();
  collect_timing(0);
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

void Gemma4Forward::eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits,
                         std::span<const float> soft) {
  const auto& c = model_.config;
  check_tokens(tokens, soft);
  const uint32_t n = static_cast<uint32_t>(tokens.size());
  logits.assign(size_t(all_logits ? n : 1) * c.n_vocab, 0.0f);
  const uint32_t chunk = all_logits ? opts_.max_logit_rows : opts_.max_batch;
  for (uint32_t done = 0; done < n; done += chunk) {
    const uint32_t T = std::min(chunk, n - done);
    const bool last = done + T == n;
    float* out = all_logits ? logits.data() + size_t(done) * c.n_vocab : (last ? logits.data() : nullptr);
    const auto part = tokens.subspan(done, T);
    step(part, n_past_ + done, all_logits ? T : (last ? 1 : 0), out, 0, soft.data());
    soft = soft.subspan(size_t(count_soft(part)) * c.n_embd);
  }
  n_past_ += n;
  compute_.finish();
  collect_timing(0);
}

bool Gemma4Forward::truncate(uint32_t n) {
  if (n > n_past_) return false;
  if (n_past_ - n > opts_.max_batch) return false;
  n_past_ = n;
  return true;
}

void Gemma4Forward::step(std::span<const int32_t> tokens, uint32_t pos0, uint32_t logit_rows, float* logits_out,
                         uint32_t top_k, const float* soft) {
  const uint32_t T = static_cast<uint32_t>(tokens.size());
  collect_timing(1);  // the lists and PLE slot of two steps ago are about to be reused
  // Soft-token positions (negative ids) read token 0's rows: its PLE row is the one Gemma 4 uses
  // there (MULTIMODAL.md 4.3), its embedding row is replaced by the soft row below.
  const bool has_soft = count_soft(tokens) > 0;
  std::vector<int32_t> ids_storage;
  if (has_soft) {
    ids_storage.assign(tokens.begin(), tokens.end());
    for (int32_t& id : ids_storage) id = std::max(id, 0);
  }
  const std::span<const int32_t> ids = has_soft ? std::span<const int32_t>(ids_storage) : tokens;
  PlePager::Ticket ticket = pager_->stage(ids);
  const uint32_t slot = ticket.slot;
  std::memcpy(s_->ids[slot].mapped(), ids.data(), T * 4);
  if (has_soft) {
    const uint32_t n_embd = model_.config.n_embd;
    auto* mask = reinterpret_cast<uint32_t*>(s_->soft_mask[slot].mapped());
    auto* rows = reinterpret_cast<float*>(s_->soft[slot].mapped());
    for (uint32_t t = 0; t < T; ++t) {
      mask[t] = tokens[t] < 0 ? 1u : 0u;
      if (tokens[t] < 0) {
        std::memcpy(rows + size_t(t) * n_embd, soft, size_t(n_embd) * 4);
        soft += n_embd;
      }
    }
    s_->soft_mask[slot].flush();
    s_->soft[slot].flush();
  }
  auto* pos = reinterpret_cast<int32_t*>(s_->pos[slot].mapped());
  for (uint32_t i = 0; i < T; ++i) pos[i] = static_cast<int32_t>(pos0 + i);
  s_->ids[slot].flush();
  s_->pos[slot].flush();
  for (size_t k = 0; k < s_->rope_inv_freq.size(); ++k) {
    rope_table({pos, T}, s_->rope_inv_freq[k], reinterpret_cast<float*>(s_->rope[slot][k].mapped()));
    s_->rope[slot][k].flush();
  }
  std::vector<Segment>& segments = recording(T, slot, logit_rows, top_k, has_soft);
  uint64_t v = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& seg = segments[i];
    std::vector<TimelineWait> waits;
    if (i == 0 && ticket.wait) waits.push_back(*ticket.wait);
    if (seg.layer >= 0)
      if (auto w = streamer_->acquire(static_cast<uint32_t>(seg.layer))) waits.push_back(*w);
    v = compute_.submit(*seg.cl, waits);
    if (seg.layer >= 0) streamer_->release(static_cast<uint32_t>(seg.layer), v);
    stats_.dispatches += seg.cl->dispatch_count();
  }
  pager_->mark_in_use(slot, v);  // ids/pos/PLE rows of the slot are read until the last segment
  pending_.push_back({&segments, v, slot, ticket.wait.has_value()});
  stats_.steps++;
  stats_.tokens += T;
  if (opts_.profile) {
    compute_.wait(v);
    for (const Segment& seg : segments) collect_profile(*seg.cl);
  }
  if (logit_rows && logits_out) {
    compute_.wait(v);
    const uint64_t bytes = f32(logit_rows, model_.config.n_vocab);
    s_->logits.invalidate();
    std::memcpy(logits_out, s_->logits.mapped(), bytes);
  }
}

std::vector<Gemma4Forward::Segment>& Gemma4Forward::recording(uint32_t T, uint32_t slot, uint32_t logit_rows,
                                                              uint32_t top_k, bool soft) {
  auto key = std::make_tuple(T, slot, logit_rows, top_k, soft);
  auto it = lists_.find(key);
  if (it != lists_.end()) return it->second;
  if (lists_.size() >= 16) {  // bound the cache (prefill tails of many sizes)
    compute_.finish();
    collect_timing(0);
    lists_.clear();
    labels_.clear();
  }
  // Resident part first (embeddings, resident layers), then one list per streamed layer; the
  // LM head goes with the last list.
  const uint32_t n_layer = model_.config.n_layer;
  const uint32_t first_streamed = w_.plan.n_resident_layers;
  std::vector<Segment> segments;
  auto open = [&](int32_t layer) {
    segments.push_back({std::make_unique<CommandList>(dev_), layer});
    segments.back().cl->begin();
    sync(*segments.back().cl, "start");  // order against the previous submission on this queue
    segments.back().cl->timestamp(kTsStart);
    return segments.back().cl.get();
  };
  CommandList* cl = open(-1);
  record_head(*cl, T, slot, soft);
  for (uint32_t l = 0; l < n_layer; ++l) {
    if (l >= first_streamed) {
      cl->timestamp(kTsEnd);
      cl->end();
      cl = open(static_cast<int32_t>(l));
    }
    record_layer(*cl, l, T, slot);
  }
  record_tail(*cl, T, logit_rows, top_k);
  cl->timestamp(kTsEnd);
  cl->end();
  stats_.recordings++;
  return lists_.emplace(key, std::move(segments)).first->second;
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

void Gemma4Forward::collect_timing(size_t keep) {
  if (!dev_.caps().timestamps) {
    pending_.clear();
    return;
  }
  while (pending_.size() > keep) {
    const Pending p = pending_.front();
    pending_.pop_front();
    compute_.wait(p.value);
    const std::vector<Segment>& segs = *p.segments;
    std::vector<std::pair<double, double>> t;  // start, end of each segment
    for (const Segment& seg : segs) {
      const auto ts = seg.cl->read_timestamps_ns(kTsStart, 2);
      if (ts.size() != 2) return;  // no timestamps on this device
      t.emplace_back(ts[0], ts[1]);
    }
    double stream_stall = 0;
    for (size_t i = 1; i < segs.size(); ++i)
      if (segs[i].layer >= 0) stream_stall += std::max(0.0, t[i].first - t[i - 1].second);
    if (streamer_) streamer_->add_stall_ms(stream_stall * 1e-6);
    if (p.ple_copy) {
      if (const auto c = pager_->copy_times_ns(p.ple_slot)) {
        const double ref = std::max(last_end_ns_, c->first);
        pager_->add_stall_ms(std::clamp(c->second - ref, 0.0, std::max(0.0, t[0].first - ref)) * 1e-6);
      }
    }
    last_end_ns_ = t.back().second;
  }
}

void Gemma4Forward::record_head(CommandList& cl, uint32_t T, uint32_t slot, bool soft) {
  const auto& c = model_.config;
  Ops& op = *ops_;
  const float eps = c.rms_eps;
  const uint32_t n_ple_all = c.n_layer * c.n_ple;

  // Token embedding: x = token_embd[t] * sqrt(n_embd).                        x: [T, n_embd]
  op.get_rows(cl, w_.token_embd, s_->ids[slot], s_->x, T, std::sqrt(float(c.n_embd)));
  // Per-layer inputs, once for all layers.                              pt, ple: [T, n_layer * n_ple]
  op.get_rows(cl, pager_->rows(slot), s_->iota, s_->pt, T, std::sqrt(float(c.n_ple)));
  sync(cl, "get_rows");
  if (soft) {  // image/audio embeddings as they are (no sqrt(n_embd) scale, MULTIMODAL.md 4.2)
    op.row_select(cl, s_->x, s_->soft[slot], s_->soft_mask[slot], c.n_embd, T);
    sync(cl, "row_select");
  }
  op.matmul(cl, w_.per_layer_model_proj, s_->x, s_->ple, T);
  sync(cl, "matmul.per_layer_model_proj");
  op.scale(cl, s_->ple, T * n_ple_all, 1.0f / std::sqrt(float(c.n_embd)));
  sync(cl, "scale");
  op.rms_norm(cl, s_->ple, w_.per_layer_proj_norm, s_->ple, c.n_ple, T * c.n_layer, eps);
  sync(cl, "rms_norm");
  op.add_scale(cl, s_->ple, s_->pt, s_->ple, T * n_ple_all, 1.0f / std::sqrt(2.0f));
  sync(cl, "add_scale");
}

void Gemma4Forward::record_tail(CommandList& cl, uint32_t T, uint32_t logit_rows, uint32_t top_k) {
  if (logit_rows == 0) return;
  const auto& c = model_.config;
  Ops& op = *ops_;
  // Final norm and LM head for the wanted rows (the last one, or all T).
  const uint64_t row = uint64_t(c.n_embd) * 4;
  const uint32_t first = T - logit_rows;
  cl.copy(s_->x, first * row, s_->xl, 0, logit_rows * row);
  sync(cl, "copy");
  op.rms_norm(cl, s_->xl, w_.output_norm, s_->xl, c.n_embd, logit_rows, c.rms_eps);
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
  const auto& W = w_.streamed(l) ? streamer_->layer(l) : w_.layers[l];
  Ops& op = *ops_;
  const float eps = c.rms_eps;
  const uint32_t hd = L.head_dim;
  const BufferRange pos = s_->pos[slot];
  const BufferRange rope = s_->rope[slot][s_->rope_of_layer[l]];

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
  op.rope_neox(cl, s_->q, rope, T, L.n_head, hd, L.n_rot);
  if (L.owns_kv) op.rope_neox(cl, s_->k, rope, T, L.n_head_kv, hd, L.n_rot);
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
