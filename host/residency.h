// Which parts of a Gemma 4 device set live on the device for the whole session and which are
// streamed (issue 8, DESIGN.md §4): when the weights, one session's KV cache and scratch do not
// fit the device memory budget, the leading transformer layers stay resident and the rest
// stream through a double-buffered window of two layer slots (layer i+1 uploading while layer i
// computes). Embeddings, the LM head, per_layer_model_proj and every norm vector stay resident.
#pragma once
#include <cstdint>
#include <vector>

#include "gemma4_config.h"
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

struct ResidencyPlan {
  uint32_t n_layer = 0;
  uint32_t n_resident_layers = 0;  // layers [0, n) resident, [n, n_layer) streamed
  uint64_t global_bytes = 0;       // embeddings, LM head, per_layer_model_proj, all vectors
  uint64_t resident_layer_bytes = 0;
  uint64_t window_bytes = 0;       // two slots; 0 when every layer is resident
  uint64_t session_bytes = 0;      // one session's KV cache + scratch, as reserved
  uint64_t streamed_bytes = 0;     // weight bytes uploaded per forward step
  uint64_t available = 0;          // the budget the plan was made for
  bool streaming() const { return n_resident_layers < n_layer; }
  uint64_t device_bytes() const { return global_bytes + resident_layer_bytes + window_bytes + session_bytes; }
};

/// Plan residency for `available` device bytes, reserving `session_bytes` for one session.
/// Every layer stays resident when all fits; otherwise the most leading layers that fit beside a
/// two-slot window sized for the largest streamed layer. Allocation granularity (256-byte
/// alignment, matrix padding) is counted. Throws VkError(VK_ERROR_OUT_OF_DEVICE_MEMORY, "... needs
/// at least N MiB of device memory (have M MiB) ...") when even embeddings + window + session
/// cannot fit.
ResidencyPlan plan_residency(const DeviceCaps& caps, const Gemma4Model& m, uint64_t available, uint64_t session_bytes);

/// Device bytes a resident matrix takes (its parts with padding, each rounded to 256 bytes).
uint64_t resident_matrix_bytes(const DeviceCaps& caps, const GgufTensorInfo& t);

} // namespace vkg
