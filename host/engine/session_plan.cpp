#include "session_plan.h"

#include <algorithm>

#include "context.h"
#include "kv_cache.h"
#include "residency.h"
#include "rope_table.h"
#include "weight_convert.h"

namespace vkg {

namespace {
uint64_t f32(uint64_t rows, uint64_t n) { return rows * n * 4; }
}  // namespace

RopeKinds rope_kinds(const Gemma4Config& c) {
  RopeKinds r;
  for (const auto& L : c.layers) {
    const RopeKinds::Kind k{L.n_rot, L.rope_base, !L.is_sliding};
    uint32_t i = 0;
    while (i < r.kinds.size() && !(r.kinds[i].n_rot == k.n_rot && r.kinds[i].base == k.base &&
                                   r.kinds[i].freq_factors == k.freq_factors))
      ++i;
    if (i == r.kinds.size()) r.kinds.push_back(k);
    r.of_layer.push_back(i);
  }
  return r;
}

ScratchSizes scratch_sizes(const Gemma4Config& c, uint32_t T, uint32_t R, uint32_t n_ctx, const Ops& ops,
                           bool soft_tokens) {
  uint32_t hd_max = 0, n_head = 0, n_kv = 0, n_ff = 0;
  for (const auto& L : c.layers) {
    hd_max = std::max(hd_max, L.head_dim);
    n_head = std::max(n_head, L.n_head);
    n_kv = std::max(n_kv, L.n_head_kv);
    n_ff = std::max(n_ff, L.n_ff);
  }
  auto at_least16 = [](uint64_t n) { return std::max<uint64_t>(n, 16); };
  ScratchSizes z;
  z.ids = T * 4ull;
  z.iota = at_least16(T * 4ull);
  z.x = at_least16(f32(T, c.n_embd));
  z.q = at_least16(f32(T, uint64_t(n_head) * hd_max));
  z.kv = at_least16(f32(T, uint64_t(n_kv) * hd_max));
  z.g = at_least16(f32(T, n_ff));
  z.pt = at_least16(f32(T, uint64_t(c.n_layer) * c.n_ple));
  z.gp = at_least16(f32(T, c.n_ple));
  z.xl = at_least16(f32(R, c.n_embd));
  z.logits = f32(R, c.n_vocab);
  z.topk = kMaxDeviceTopK * 4;
  z.ops = at_least16(ops.scratch_bytes(T, n_head, hd_max, n_ctx, c.n_vocab));
  for (const auto& k : rope_kinds(c).kinds) z.rope.push_back(at_least16(rope_table_bytes(T, k.n_rot)));
  if (soft_tokens) {
    z.soft = z.x;
    z.soft_mask = at_least16(T * 4ull);
  }
  return z;
}

ForwardOptions clamp_session_options(ForwardOptions o) {
  o.max_batch = std::max(1u, std::min(o.max_batch, o.n_ctx));
  o.max_logit_rows = std::max(1u, std::min(o.max_logit_rows, o.max_batch));
  return o;
}

std::vector<BufferRequest> session_requests(const Gemma4Model& m, const ForwardOptions& opts, const Ops& ops,
                                            const MemoryRules& rules, uint64_t window_slot) {
  const Gemma4Config& c = m.config;
  std::vector<BufferRequest> out;
  auto add = [&](uint32_t n, uint64_t size, MemoryUsage u) { out.insert(out.end(), n, BufferRequest{size, u}); };
  const uint32_t elem = ops.kv_type() == KvType::F16 ? 2 : 4;
  for (const KvLayerPlan& l : plan_kv_cache(c, opts.n_ctx, opts.max_batch, elem).layers)
    if (l.allocated) add(2, l.bytes / 2, MemoryUsage::Device);  // K, V
  const bool staging = opts.force_staging || !rules.device.host_visible;
  const GgufTensorInfo& table = *m.weights.per_layer_token_embd;
  const uint64_t ple_slot = (device_row_bytes(table) * opts.max_batch + 255) / 256 * 256;
  add(PlePager::kSlots, ple_slot, MemoryUsage::Device);
  if (staging) add(PlePager::kSlots, ple_slot, MemoryUsage::Upload);
  if (window_slot) {
    const std::vector<BufferRequest> w = window_buffers(window_slot, staging);
    out.insert(out.end(), w.begin(), w.end());
  }
  const ScratchSizes z = scratch_sizes(c, opts.max_batch, opts.max_logit_rows, opts.n_ctx, ops, opts.soft_tokens);
  for (uint32_t i = 0; i < PlePager::kSlots; ++i) {
    add(2, z.ids, MemoryUsage::Upload);                           // ids, pos
    for (uint64_t bytes : z.rope) add(1, bytes, MemoryUsage::Upload);  // RoPE cos/sin tables per kind
    if (opts.soft_tokens) {
      add(1, z.soft, MemoryUsage::Upload);                        // soft-token rows
      add(1, z.soft_mask, MemoryUsage::Upload);                   // which rows are soft
    }
  }
  add(1, z.iota, MemoryUsage::Device);
  add(3, z.x, MemoryUsage::Device);                               // x, h, o
  add(1, z.q, MemoryUsage::Device);
  add(2, z.kv, MemoryUsage::Device);
  add(1, z.q, MemoryUsage::Device);                               // attn
  add(2, z.g, MemoryUsage::Device);                               // g, u
  add(2, z.pt, MemoryUsage::Device);                              // pt, ple
  add(1, z.gp, MemoryUsage::Device);
  add(1, z.xl, MemoryUsage::Device);
  add(1, z.logits, MemoryUsage::Readback);
  add(2, z.topk, MemoryUsage::Readback);
  add(1, z.ops, MemoryUsage::Device);
  return out;
}

std::vector<BufferRequest> session_buffer_requests(Device& dev, const Gemma4Model& m, ForwardOptions opts,
                                                   uint64_t window_slot) {
  opts = clamp_session_options(opts);
  Ops ops(dev);
  if (opts.kv_f32) ops.set_kv_type(KvType::F32);
  return session_requests(m, opts, ops, dev.allocator().rules(), window_slot);
}

uint64_t session_device_bytes(Device& dev, const Gemma4Model& m, const ForwardOptions& opts) {
  return device_local_bytes(dev.allocator().rules(), session_buffer_requests(dev, m, opts, 0));
}

}  // namespace vkg
