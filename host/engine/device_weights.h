// The device-resident weight set of a Gemma 4 model: every tensor the forward pass reads except
// per_layer_token_embd (host-resident, paged by rows: see ple_pager.h). Matrices keep their ggml
// block format (dequantized inside the kernels) and are split by rows at the device's
// maxStorageBufferRange; vectors (norm weights, rope_freqs, layer_output_scale) are converted to
// float32 and packed into one buffer.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "gemma4_config.h"
#include "ops.h"
#include "residency.h"

namespace vkg {

class Device;

/// A layer's device weights. On streamed layers (l >= DeviceWeights::n_resident_layers) the
/// matrices are empty here and live in the session's streaming window (layer_streamer.h); the
/// vectors are always resident.
struct DeviceLayerWeights {
  DeviceMatrix attn_q, attn_k, attn_v, attn_output;  // attn_k/v empty on KV-sharing layers
  DeviceMatrix ffn_gate, ffn_up, ffn_down;
  DeviceMatrix inp_gate, proj;
  BufferRange attn_norm, attn_q_norm, attn_k_norm, post_attention_norm, ffn_norm, post_ffw_norm, post_norm;
  BufferRange layer_output_scale;  // [1] f32, or an empty range when the tensor is absent
};

/// Call fn(DeviceMatrix& dst, const GgufTensorInfo* src) for the nine matrices of a layer, in
/// the order of layer_matrices() (src may be null: absent tensors).
template <class F>
void for_each_layer_matrix(DeviceLayerWeights& d, const Gemma4LayerWeights& s, F&& fn) {
  fn(d.attn_q, s.attn_q);
  fn(d.attn_k, s.attn_k);
  fn(d.attn_v, s.attn_v);
  fn(d.attn_output, s.attn_output);
  fn(d.ffn_gate, s.ffn_gate);
  fn(d.ffn_up, s.ffn_up);
  fn(d.ffn_down, s.ffn_down);
  fn(d.inp_gate, s.inp_gate);
  fn(d.proj, s.proj);
}

struct DeviceWeights {
  DeviceMatrix token_embd;            // [n_vocab rows, n_embd]
  DeviceMatrix lm_head;               // `output` when present, else token_embd (tied)
  DeviceMatrix per_layer_model_proj;  // [n_layer * n_ple rows, n_embd]
  BufferRange per_layer_proj_norm, output_norm;
  BufferRange rope_freqs;             // [n_rot_full / 2] f32, or empty
  std::vector<DeviceLayerWeights> layers;
  std::vector<Buffer> buffers;        // owns the memory of everything above
  uint64_t bytes = 0;                 // bytes uploaded (matrices as stored + f32 vectors)
  ResidencyPlan plan;                 // which layers are resident (plan.n_resident_layers)
  bool streamed(uint32_t layer) const { return layer >= plan.n_resident_layers; }
};

/// Progress of a long upload: bytes done of total. Return false to cancel (throws
/// std::runtime_error("cancelled")).
using UploadProgress = std::function<bool(uint64_t done, uint64_t total)>;

/// Upload the device set of `m` (whose tensor data lives in the GGUF mapping) as `plan` says:
/// everything but the matrices of streamed layers. Without a plan: plan_residency() for the
/// allocator's plannable bytes with no session reserved. Checks every matrix type against
/// Ops::supports() first and fails with the tensor's name and type; fails before allocating
/// when the plan cannot fit ("needs at least N MiB of device memory (have M MiB)").
/// When file (the mapping m points into) is given, the uploaded tensors' pages are released
/// from the process's RSS afterwards (GgufFile::release_pages); streamed layers' pages stay
/// mapped (they are read again every step).
DeviceWeights upload_weights(Device& dev, const Gemma4Model& m, const UploadProgress& progress = {},
                             const GgufFile* file = nullptr, const ResidencyPlan* plan = nullptr);

} // namespace vkg
