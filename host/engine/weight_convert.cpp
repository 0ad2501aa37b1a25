#include "weight_convert.h"

#include <fmt/format.h>

#include <deque>
#include <map>
#include <memory>
#include <stdexcept>

#include "ops.h"
#include "quant.h"
#include "error.h"

namespace vkg {
namespace {

/// The re-encoded tensors of one convert_for_device call (plus whatever m.converted held before).
struct Converted {
  std::deque<GgufTensorInfo> infos;             // stable addresses
  std::deque<std::vector<uint8_t>> data;
  std::shared_ptr<const void> previous;
};

std::string type_name(GgmlType t) { return ggml_type_name(static_cast<uint32_t>(t)); }

[[noreturn]] void unreadable(const GgufTensorInfo& t) {
  throw Error(ErrorCode::bad_model, fmt::format(
      "tensor '{}' has type {}, which neither the GPU kernels nor the host can read (readable: {})", t.name,
      type_name(t.type), gemma4_matrix_type_names()));
}

} // namespace

std::optional<GgmlType> device_weight_type(GgmlType t, uint64_t ne0) {
  if (Ops::supports(static_cast<WeightTypeId>(t))) return t;
  if (!can_dequantize(t)) return std::nullopt;
  return ne0 % 32 == 0 ? GgmlType::Q8_0 : GgmlType::F16;
}

uint64_t device_row_bytes(const GgufTensorInfo& t) {
  const auto dt = device_weight_type(t.type, t.ne[0]);
  if (!dt) unreadable(t);
  return ggml_row_bytes(*dt, t.ne[0]);
}

void reencode_rows(GgmlType from, const uint8_t* src, GgmlType to, uint8_t* dst, uint64_t ne0, uint64_t n_rows) {
  const uint64_t in_row = ggml_row_bytes(from, ne0), out_row = ggml_row_bytes(to, ne0);
  std::vector<float> row(ne0);
  for (uint64_t r = 0; r < n_rows; ++r) {
    dequantize_row(from, src + r * in_row, row.data(), ne0);
    quantize_row(to, row.data(), dst + r * out_row, ne0);
  }
}

void check_device_shapes(const Gemma4Model& m) {
  gemma4_for_each_weight(m.weights, [](const GgufTensorInfo& t, int, Residency) {
    if (t.ne[1] > 1 && t.ne[0] % kKernelRowBlock != 0)
      throw Error(ErrorCode::bad_model, fmt::format("tensor '{}' has rows of {} elements; vkgemma's GPU kernels need "
                                                    "a multiple of {}", t.name, t.ne[0], kKernelRowBlock));
  });
}

std::vector<std::string> convert_for_device(Gemma4Model& m) {
  check_device_shapes(m);
  std::vector<std::string> notices;
  Gemma4Weights& w = m.weights;
  if (const GgufTensorInfo* ple = w.per_layer_token_embd) {
    const auto dt = device_weight_type(ple->type, ple->ne[0]);
    if (!dt) unreadable(*ple);
    if (*dt != ple->type)
      notices.push_back(fmt::format("per_layer_token_embd has type {} (no GPU kernel): its rows are converted to "
                                    "{} as they are paged",
                                    type_name(ple->type), type_name(*dt)));
  }

  auto store = std::make_shared<Converted>();
  std::map<const GgufTensorInfo*, const GgufTensorInfo*> done;  // a tensor in two slots: one copy
  std::map<std::pair<GgmlType, GgmlType>, uint32_t> count;
  uint64_t bytes = 0;
  auto convert = [&](const GgufTensorInfo*& slot) {
    if (!slot) return;
    const GgufTensorInfo& t = *slot;
    const auto dt = device_weight_type(t.type, t.ne[0]);
    if (!dt) unreadable(t);
    if (*dt == t.type) return;
    if (auto it = done.find(slot); it != done.end()) {
      slot = it->second;
      return;
    }
    GgufTensorInfo c = t;
    c.type = *dt;
    c.n_bytes = ggml_row_bytes(*dt, t.ne[0]) * t.n_rows();
    auto& buf = store->data.emplace_back(c.n_bytes);
    reencode_rows(t.type, t.data, *dt, buf.data(), t.ne[0], t.n_rows());
    c.data = buf.data();
    store->infos.push_back(std::move(c));
    done[slot] = &store->infos.back();
    count[{t.type, *dt}]++;
    bytes += store->infos.back().n_bytes;
    slot = &store->infos.back();
  };
  convert(w.token_embd);
  convert(w.output);
  convert(w.per_layer_model_proj);
  for (Gemma4LayerWeights& l : w.layers)
    for (const GgufTensorInfo** s : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up,
                                     &l.ffn_down, &l.inp_gate, &l.proj})
      convert(*s);
  if (store->infos.empty()) return notices;

  std::string what;
  uint32_t total = 0;
  for (const auto& [types, n] : count) {
    what += fmt::format("{}{} {} -> {}", what.empty() ? "" : ", ", n, type_name(types.first), type_name(types.second));
    total += n;
  }
  notices.insert(notices.begin(),
                 fmt::format("{} weight tensor{} of types without a GPU kernel converted at load ({}; {:.1f} MiB of "
                             "host memory)",
                             total, total == 1 ? "" : "s", what, bytes / 1048576.0));
  store->previous = std::move(m.converted);
  m.converted = std::move(store);
  return notices;
}

} // namespace vkg
