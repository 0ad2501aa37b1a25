// Which parts of a Gemma 4 device set live on the device for the whole session and which are
// streamed (issue 8, DESIGN.md §4): when the weights, one session's KV cache and scratch do not
// fit the device memory budget, the leading transformer layers stay resident and the rest
// stream through a double-buffered window of two layer slots (layer i+1 uploading while layer i
// computes). Embeddings, the LM head, per_layer_model_proj and every norm vector stay resident.
//
// Budgets are exact (issue 14): every figure here is the device-local bytes the allocator takes
// for the buffers the plan creates (memory_layout() of their BufferRequests under the device's
// MemoryRules), and the weights and each session are allocated as an Arena of exactly those
// blocks. So a plan that fits `available` loads within it, and the minimum a refusal names runs.
#pragma once
#include <cstdint>
#include <vector>

#include "gemma4_config.h"
#include "memory.h"
#include "ops.h"

namespace vkg {

struct DeviceCaps;

/// Byte layout of one layer's weight matrices in a window slot: every part of every matrix
/// (matrix_parts) at a 256-byte aligned offset, followed by kMatrixPad zero bytes.
struct LayerLayout {
  struct Part {
    const GgufTensorInfo* tensor = nullptr;
    MatrixPartLayout part;
    uint64_t offset = 0;  // in the slot
  };
  std::vector<Part> parts;
  uint64_t bytes = 0;  // slot bytes this layer needs
  uint64_t weight_bytes = 0;  // tensor bytes it copies per upload (without padding)
};

/// The matrices of a layer in a fixed order (attn_q, attn_k, attn_v, attn_output, ffn_gate,
/// ffn_up, ffn_down, inp_gate, proj; absent ones skipped).
std::vector<const GgufTensorInfo*> layer_matrices(const Gemma4LayerWeights& w);
LayerLayout layer_layout(const DeviceCaps& caps, const Gemma4LayerWeights& w);

/// Bytes of one window slot when layers [first, n_layer) stream: the largest of their layouts
/// (at least 16).
uint64_t window_slot_bytes(const DeviceCaps& caps, const Gemma4Model& m, uint32_t first);

/// The buffers upload_weights() creates when layers [0, n_resident_layers) are resident, in its
/// order: every part of token_embd, output, per_layer_model_proj and of the resident layers'
/// matrices (part bytes + kMatrixPad), then the packed f32 vector buffer.
std::vector<BufferRequest> weight_buffers(const DeviceCaps& caps, const Gemma4Model& m, uint32_t n_resident_layers);

/// The buffers of a session's streaming window (LayerStreamer): two slots of `slot_bytes`, plus
/// two staging slots when `staging` (the window is not host-visible, or force_staging).
std::vector<BufferRequest> window_buffers(uint64_t slot_bytes, bool staging);

/// What a plan is made for.
struct ResidencyBudget {
  uint64_t available = 0;      // device-local bytes the model and one session may take
  uint64_t in_use = 0;         // device-local bytes already allocated beside them (for the refusal's figures)
  uint64_t session_bytes = 0;  // one session's device-local bytes without its window (Gemma4Forward::session_buffers)
  bool force_staging = false;  // the session streams through staging buffers even where the window is host-visible
};

struct ResidencyPlan {
  uint32_t n_layer = 0;
  uint32_t n_resident_layers = 0;  // layers [0, n) resident, [n, n_layer) streamed
  uint64_t global_bytes = 0;       // embeddings, LM head, per_layer_model_proj, all vectors
  uint64_t resident_layer_bytes = 0;
  uint64_t window_bytes = 0;       // the window's device-local bytes (two slots, staging where device-local); 0 when every layer is resident
  uint64_t session_bytes = 0;      // one session's device-local bytes without the window, as reserved
  uint64_t streamed_bytes = 0;     // weight bytes uploaded per forward step
  uint64_t available = 0;          // the budget the plan was made for
  uint64_t minimum_bytes = 0;      // the smallest budget any plan fits: globals + all-layer window + session
  bool streaming() const { return n_resident_layers < n_layer; }
  /// Device-local bytes the weights and one session take: exactly what the allocator reports.
  uint64_t device_bytes() const { return global_bytes + resident_layer_bytes + window_bytes + session_bytes; }
};

/// Plan residency for budget.available device-local bytes under `rules` (Allocator::rules()).
/// Every layer stays resident when all fits; otherwise the most leading layers k that fit beside
/// a two-slot window sized for the largest of layers k..n-1. Throws
/// VkError(VK_ERROR_OUT_OF_DEVICE_MEMORY, "... needs at least N MiB of device memory (have M MiB)
/// ...") when even embeddings + window + session cannot fit; N MiB (counting budget.in_use) is
/// then a budget that loads.
ResidencyPlan plan_residency(const DeviceCaps& caps, const MemoryRules& rules, const Gemma4Model& m,
                             const ResidencyBudget& budget);

/// Device bytes a resident matrix takes (its parts with padding, each a buffer_footprint()).
uint64_t resident_matrix_bytes(const DeviceCaps& caps, const MemoryRules& rules, const GgufTensorInfo& t);

} // namespace vkg
