// A session's device memory, planned without creating one: the buffers a Gemma4Forward (one
// generation session: KV cache, PLE slots, the layer-streaming window, activations) allocates for
// given options, so Model::load can reserve room for a session and the C API can check a budget
// before a session exists. Gemma4Forward allocates exactly these requests in one arena
// (runtime/memory.h memory_layout); test_streaming checks the two agree byte for byte.
#pragma once
#include <cstdint>
#include <vector>

#include "gemma4_config.h"
#include "memory.h"
#include "ops.h"
#include "ple_pager.h"

namespace vkg {

class Device;

/// Options of a generation session (Gemma4Forward).
struct ForwardOptions {
  uint32_t n_ctx = 4096;          // context length (positions), <= the model's context_length
  uint32_t max_batch = 512;       // prefill chunk: tokens per forward step
  uint32_t max_logit_rows = 32;   // rows of logits one step can return (all_logits mode chunks by this)
  bool force_staging = false;     // PLE rows and streamed layers through staging + transfer even on UMA
  bool kv_f32 = false;            // F32 KV cache even where F16 storage exists (exactness tests, debugging)
  bool profile = false;           // GPU timestamps after every op; per-op totals in profile()
  // Matrix-vector kernel: -1 as the device's variants select (split-K on GPUs), 0 a row per
  // invocation, 1 split-K (OpsVariants::matvec_split_k; for comparisons and tests).
  int matvec_split_k = -1;
  // Soft tokens (image/audio embeddings in place of token embeddings, Gemma4Forward::eval's soft
  // rows): two host-visible buffers per PLE slot ([max_batch, n_embd] f32 rows and a [max_batch]
  // mask). Off for text-only sessions (eval then refuses soft rows).
  bool soft_tokens = false;
};

/// Most candidates the device's top-k selection returns (Gemma4Forward::eval_top_k).
inline constexpr uint32_t kMaxDeviceTopK = 256;

/// The distinct RoPE settings of the layers (Gemma 4: sliding layers base 1e4 on all dims,
/// full-attention layers base 1e6 with rope_freqs factors) and each layer's index into them.
struct RopeKinds {
  struct Kind {
    uint32_t n_rot;
    float base;
    bool freq_factors;
  };
  std::vector<Kind> kinds;
  std::vector<uint32_t> of_layer;
};
RopeKinds rope_kinds(const Gemma4Config& c);

/// Byte sizes of the Scratch buffers for batches of T tokens and R logit rows.
struct ScratchSizes {
  uint64_t ids, iota, x, q, kv, g, pt, gp, xl, logits, topk, ops;
  uint64_t soft = 0, soft_mask = 0;  // per PLE slot, host-visible; 0 without ForwardOptions::soft_tokens
  std::vector<uint64_t> rope;  // per rope kind
  /// Device bytes of all scratch buffers (ids/pos/rope tables per PLE slot, x/h/o, k/v, g/u, pt/ple ...).
  uint64_t total() const {
    uint64_t r = 0;
    for (uint64_t b : rope) r += b;
    return PlePager::kSlots * (2 * ids + r + soft + soft_mask) + iota + 3 * x + 2 * q + 2 * kv + 2 * g + 2 * pt + gp + xl + logits +
           2 * topk + ops;
  }
};

ScratchSizes scratch_sizes(const Gemma4Config& c, uint32_t T, uint32_t R, uint32_t n_ctx, const Ops& ops,
                           bool soft_tokens = false);

/// Options as a session uses them: max_batch in 1..n_ctx, max_logit_rows in 1..max_batch.
ForwardOptions clamp_session_options(ForwardOptions o);

/// The buffers Gemma4Forward's constructor creates, in its order (KvCache, PlePager, LayerStreamer when
/// window_slot > 0, Scratch): the session's arena. opts clamped. Keep in step with them: the
/// exactness tests (test_streaming) fail on any buffer missing here.
std::vector<BufferRequest> session_requests(const Gemma4Model& m, const ForwardOptions& opts, const Ops& ops,
                                            const MemoryRules& rules, uint64_t window_slot);

/// session_requests for a session on dev with opts (clamped; the KV element type opts asks for).
std::vector<BufferRequest> session_buffer_requests(Device& dev, const Gemma4Model& m, ForwardOptions opts,
                                                   uint64_t window_slot = 0);

/// Device-local bytes of a session with opts and no streaming window (what Model::load reserves).
uint64_t session_device_bytes(Device& dev, const Gemma4Model& m, const ForwardOptions& opts);

}  // namespace vkg
