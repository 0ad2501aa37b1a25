#include "residency.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "caps.h"
#include "vk_check.h"

namespace vkg {
namespace {

constexpr uint64_t kAlign = 256;
uint64_t round_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }
uint64_t mib_up(uint64_t n) { return (n + 1048575) / 1048576; }

std::vector<MatrixPartLayout> parts_of(const DeviceCaps& caps, const GgufTensorInfo& t) {
  return matrix_parts(caps, static_cast<WeightTypeId>(t.type), static_cast<uint32_t>(t.ne[0]),
                      static_cast<uint32_t>(t.n_rows()), ggml_row_bytes(t.type, t.ne[0]));
}

void add_matrix(const DeviceCaps& caps, const GgufTensorInfo* t, std::vector<BufferRequest>& out) {
  if (!t) return;
  for (const MatrixPartLayout& p : parts_of(caps, *t)) out.push_back({p.bytes + kMatrixPad, MemoryUsage::Device});
}

/// Bytes of the packed f32 vector buffer (device_weights.cpp's Uploader: every vector at a
/// max(minStorageBufferOffsetAlignment, 16)-aligned offset, the buffer at least 16 bytes).
uint64_t vector_buffer_bytes(const DeviceCaps& caps, const Gemma4Weights& w) {
  const uint64_t align = std::max<uint64_t>(caps.min_storage_buffer_offset_alignment, 16);
  uint64_t n = 0;
  auto add = [&](const GgufTensorInfo* t) {
    if (t) n += round_up(t->n_elements * 4, align);
  };
  for (const GgufTensorInfo* t : {w.per_layer_proj_norm, w.output_norm, w.rope_freqs}) add(t);
  for (const Gemma4LayerWeights& l : w.layers)
    for (const GgufTensorInfo* t : {l.attn_norm, l.attn_q_norm, l.attn_k_norm, l.post_attention_norm, l.ffn_norm,
                                    l.post_ffw_norm, l.post_norm, l.layer_output_scale})
      add(t);
  return std::max<uint64_t>(n, 16);
}

}  // namespace

std::vector<const GgufTensorInfo*> layer_matrices(const Gemma4LayerWeights& w) {
  std::vector<const GgufTensorInfo*> out;
  for (const GgufTensorInfo* t :
       {w.attn_q, w.attn_k, w.attn_v, w.attn_output, w.ffn_gate, w.ffn_up, w.ffn_down, w.inp_gate, w.proj})
    if (t) out.push_back(t);
  return out;
}

LayerLayout layer_layout(const DeviceCaps& caps, const Gemma4LayerWeights& w) {
  LayerLayout L;
  for (const GgufTensorInfo* t : layer_matrices(w)) {
    for (const MatrixPartLayout& p : parts_of(caps, *t)) {
      L.parts.push_back({t, p, L.bytes});
      L.bytes += round_up(p.bytes + kMatrixPad, kAlign);
      L.weight_bytes += p.bytes;
    }
  }
  return L;
}

uint64_t window_slot_bytes(const DeviceCaps& caps, const Gemma4Model& m, uint32_t first) {
  uint64_t slot = 16;
  for (size_t l = first; l < m.weights.layers.size(); ++l)
    slot = std::max(slot, layer_layout(caps, m.weights.layers[l]).bytes);
  return slot;
}

std::vector<BufferRequest> weight_buffers(const DeviceCaps& caps, const Gemma4Model& m, uint32_t n_resident_layers) {
  const Gemma4Weights& w = m.weights;
  std::vector<BufferRequest> out;
  add_matrix(caps, w.token_embd, out);
  add_matrix(caps, w.output, out);
  add_matrix(caps, w.per_layer_model_proj, out);
  for (uint32_t l = 0; l < std::min<size_t>(n_resident_layers, w.layers.size()); ++l)
    for (const GgufTensorInfo* t : layer_matrices(w.layers[l])) add_matrix(caps, t, out);
  out.push_back({vector_buffer_bytes(caps, w), MemoryUsage::Device});
  return out;
}

std::vector<BufferRequest> window_buffers(uint64_t slot_bytes, bool staging) {
  std::vector<BufferRequest> out(2, {slot_bytes, MemoryUsage::Device});
  if (staging) out.insert(out.end(), 2, {slot_bytes, MemoryUsage::Upload});
  return out;
}

uint64_t resident_matrix_bytes(const DeviceCaps& caps, const MemoryRules& rules, const GgufTensorInfo& t) {
  std::vector<BufferRequest> req;
  add_matrix(caps, &t, req);
  return device_local_bytes(rules, req);
}

ResidencyPlan plan_residency(const DeviceCaps& caps, const MemoryRules& rules, const Gemma4Model& m,
                             const ResidencyBudget& budget) {
  const auto& w = m.weights;
  ResidencyPlan plan;
  plan.n_layer = static_cast<uint32_t>(w.layers.size());
  plan.session_bytes = budget.session_bytes;
  plan.available = budget.available;
  // Globals: the weight buffers without any layer (matrices outside the layers, packed vectors).
  plan.global_bytes = device_local_bytes(rules, weight_buffers(caps, m, 0));
  std::vector<uint64_t> layer_bytes(plan.n_layer), slot_bytes(plan.n_layer), weight_bytes(plan.n_layer);
  for (uint32_t l = 0; l < plan.n_layer; ++l) {
    for (const GgufTensorInfo* t : layer_matrices(w.layers[l])) layer_bytes[l] += resident_matrix_bytes(caps, rules, *t);
    const LayerLayout L = layer_layout(caps, w.layers[l]);
    slot_bytes[l] = std::max<uint64_t>(L.bytes, 16);
    weight_bytes[l] = L.weight_bytes;
  }
  // window(k): two slots for the largest of layers k..n-1 (LayerStreamer), with staging where
  // the session will stage.
  const bool staging = budget.force_staging || !rules.device.host_visible;
  std::vector<uint64_t> window(plan.n_layer + 1, 0);
  uint64_t max_slot = 16;
  for (uint32_t l = plan.n_layer; l-- > 0;) {
    max_slot = std::max(max_slot, slot_bytes[l]);
    window[l] = device_local_bytes(rules, window_buffers(max_slot, staging));
  }

  const uint64_t fixed = plan.global_bytes + budget.session_bytes;
  std::vector<uint64_t> resident(plan.n_layer + 1, 0);  // bytes of layers [0, k)
  for (uint32_t l = 0; l < plan.n_layer; ++l) resident[l + 1] = resident[l] + layer_bytes[l];
  plan.minimum_bytes = fixed + window[0];
  if (fixed + resident[plan.n_layer] <= budget.available) {
    plan.n_resident_layers = plan.n_layer;
    plan.resident_layer_bytes = resident[plan.n_layer];
    return plan;
  }
  if (plan.minimum_bytes > budget.available || plan.n_layer == 0)
    throw VkError(fmt::format(
        "the model needs at least {} MiB of device memory (have {} MiB): {} MiB of embeddings, LM head and norms, "
        "{} MiB for a two-layer streaming window and {} MiB for the session's KV cache and activations{}; "
        "per_layer_token_embd already stays on the host",
        mib_up(plan.minimum_bytes + budget.in_use), (budget.available + budget.in_use) / 1048576,
        mib_up(plan.global_bytes), mib_up(window[0]), mib_up(budget.session_bytes),
        budget.in_use ? fmt::format(", beside {:.1f} MiB already in use", budget.in_use / 1048576.0) : ""),
        VK_ERROR_OUT_OF_DEVICE_MEMORY);
  // The most leading layers that fit beside the window of the rest (the window shrinks as
  // layers become resident, so every k is tried).
  uint32_t k = 0;
  for (uint32_t j = 1; j < plan.n_layer; ++j)
    if (fixed + resident[j] + window[j] <= budget.available) k = j;
  plan.n_resident_layers = k;
  plan.resident_layer_bytes = resident[k];
  plan.window_bytes = window[k];
  for (uint32_t l = k; l < plan.n_layer; ++l) plan.streamed_bytes += weight_bytes[l];
  return plan;
}

} // namespace vkg
