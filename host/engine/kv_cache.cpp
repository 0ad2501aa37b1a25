#include "kv_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "context.h"
#include "error.h"

namespace vkg {

KvPlan plan_kv_cache(const Gemma4Config& c, uint32_t n_ctx, uint32_t max_batch, uint32_t elem_bytes) {
  KvPlan p;
  p.layers.resize(c.layers.size());
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& L = c.layers[l];
    auto& kl = p.layers[l];
    if (!L.owns_kv) continue;
    kl.allocated = true;
    kl.row = L.n_head_kv * L.head_dim;
    kl.ring_size = L.is_sliding && c.sliding_window > 0 ? std::min(n_ctx, c.sliding_window + max_batch) : n_ctx;
    kl.bytes = 2ull * kl.ring_size * kl.row * elem_bytes;
    p.total_bytes += kl.bytes;
  }
  return p;
}

KvCache::KvCache(Device& dev, const Gemma4Config& c, uint32_t n_ctx, uint32_t max_batch, KvType type)
    : n_ctx_(n_ctx) {
  const uint32_t elem = type == KvType::F16 ? 2 : 4;
  plan_ = plan_kv_cache(c, n_ctx, max_batch, elem);
  // Whether it fits the device's memory is checked by the session's arena (forward.cpp).
  k_.resize(c.layers.size());
  v_.resize(c.layers.size());
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const auto& kl = plan_.layers[l];
    if (!kl.allocated) continue;
    const uint64_t bytes = kl.bytes / 2;
    // Attention binds a layer's K (V) cache whole, as a read-only operand (texel view or storage
    // buffer: max_read_binding_bytes); kv_store writes it as a storage buffer.
    const uint64_t limit = std::min(max_read_binding_bytes(dev.caps()), dev.caps().max_storage_buffer_range);
    if (bytes > limit)
      throw Error(ErrorCode::unsupported, fmt::format(
          "KV cache of layer {} needs {:.1f} MiB in one binding, over the device's limit of {:.1f} MiB per binding "
          "(reduce the context with -c)",
          l, bytes / 1048576.0, limit / 1048576.0));
    k_[l] = Buffer(dev, bytes, MemoryUsage::Device);
    v_[l] = Buffer(dev, bytes, MemoryUsage::Device);
  }
}

} // namespace vkg
