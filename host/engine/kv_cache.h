// The KV cache of a Gemma 4 session (DESIGN.md §4): only KV-owning layers allocate one.
// Sliding layers keep a ring of window + max_batch positions (a batch is appended before its
// queries attend, so the ring must also hold the batch); full layers keep n_ctx positions.
// Position p lives in slot p % ring_size. Elements are F16 (packed pairs in 32-bit words, any
// device) unless the session asks for F32. One layer's K (V) cache is one binding: it must fit
// max_read_binding_bytes().
#pragma once
#include <cstdint>
#include <vector>

#include "gemma4_config.h"
#include "memory.h"
#include "ops.h"

namespace vkg {

class Device;

/// Sizes of one layer's cache, a pure function of the config (tested without a device).
struct KvLayerPlan {
  bool allocated = false;    // owns its KV
  uint32_t ring_size = 0;    // positions held
  uint32_t row = 0;          // n_head_kv * head_dim elements per position (K or V)
  uint64_t bytes = 0;        // K + V
};

struct KvPlan {
  std::vector<KvLayerPlan> layers;
  uint64_t total_bytes = 0;
};

/// Plan the cache for a context of n_ctx positions and batches of up to max_batch tokens.
KvPlan plan_kv_cache(const Gemma4Config& c, uint32_t n_ctx, uint32_t max_batch, uint32_t elem_bytes);

class KvCache {
 public:
  /// Allocates the planned buffers (the session's arena has checked that they fit the device's
  /// memory). Throws std::runtime_error when a layer's cache exceeds one binding.
  KvCache(Device& dev, const Gemma4Config& c, uint32_t n_ctx, uint32_t max_batch, KvType type);
  const KvPlan& plan() const { return plan_; }
  /// K / V cache of the layer that owns it (l must own KV).
  const Buffer& k(uint32_t l) const { return k_.at(l); }
  const Buffer& v(uint32_t l) const { return v_.at(l); }
  uint32_t n_ctx() const { return n_ctx_; }

 private:
  KvPlan plan_;
  uint32_t n_ctx_;
  std::vector<Buffer> k_, v_;
};

} // namespace vkg
