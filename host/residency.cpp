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

uint64_t resident_matrix_bytes(const DeviceCaps& caps, const GgufTensorInfo& t) {
  uint64_t n = 0;
  for (const MatrixPartLayout& p : parts_of(caps, t)) n += round_up(p.bytes + kMatrixPad, kAlign);
  return n;
}

ResidencyPlan plan_residency(const DeviceCaps& caps, const Gemma4Model& m, uint64_t available,
                             uint64_t session_bytes) {
  const auto& w = m.weights;
  ResidencyPlan plan;
  plan.n_layer = static_cast<uint32_t>(w.layers.size());
  plan.session_bytes = session_bytes;
  plan.available = available;
  // Globals: matrices outside the layers, and every f32 vector (one packed buffer).
  uint64_t vectors = 0;
  gemma4_for_each_weight(w, [&](const GgufTensorInfo& t, int layer, Residency r) {
    if (r != Residency::Device) return;
    if (t.n_rows() == 1)
      vectors += round_up(t.n_elements * 4, kAlign);
    else if (layer < 0)
      plan.global_bytes += resident_matrix_bytes(caps, t);
  });
  plan.global_bytes += round_up(vectors, kAlign);

  std::vector<uint64_t> layer_bytes(plan.n_layer), slot_bytes(plan.n_layer), weight_bytes(plan.n_layer);
  for (uint32_t l = 0; l < plan.n_layer; ++l) {
    for (const GgufTensorInfo* t : layer_matrices(w.layers[l])) layer_bytes[l] += resident_matrix_bytes(caps, *t);
    const LayerLayout L = layer_layout(caps, w.layers[l]);
    slot_bytes[l] = L.bytes;
    weight_bytes[l] = L.weight_bytes;
  }
  // window(k): two slots for the largest of layers k..n-1.
  std::vector<uint64_t> max_slot(plan.n_layer + 1, 0);
  for (uint32_t l = plan.n_layer; l-- > 0;) max_slot[l] = std::max(max_slot[l + 1], slot_bytes[l]);

  const uint64_t fixed = plan.global_bytes + session_bytes;
  uint64_t all_layers = 0;
  for (uint64_t b : layer_bytes) all_layers += b;
  if (fixed + all_layers <= available) {
    plan.n_resident_layers = plan.n_layer;
    plan.resident_layer_bytes = all_layers;
    return plan;
  }
  const uint64_t minimum = fixed + 2 * max_slot[0];
  if (minimum > available || plan.n_layer == 0)
    throw VkError(fmt::format(
        "the model needs at least {} MiB of device memory (have {} MiB): {} MiB of embeddings, LM head and norms, "
        "{} MiB for a two-layer streaming window and {} MiB for the session's KV cache and activations; "
        "per_layer_token_embd already stays on the host",
        mib_up(minimum), available / 1048576, mib_up(plan.global_bytes), mib_up(2 * max_slot[0]),
        mib_up(session_bytes)),
        VK_ERROR_OUT_OF_DEVICE_MEMORY);
  // The most leading layers that fit beside the window of the rest.
  uint32_t k = 0;
  uint64_t resident = 0;
  while (k + 1 < plan.n_layer && fixed + resident + layer_bytes[k] + 2 * max_slot[k + 1] <= available)
    resident += layer_bytes[k++];
  plan.n_resident_layers = k;
  plan.resident_layer_bytes = resident;
  plan.window_bytes = 2 * max_slot[k];
  for (uint32_t l = k; l < plan.n_layer; ++l) plan.streamed_bytes += weight_bytes[l];
  return plan;
}

} // namespace vkg
