#include "forward_workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "ggml_type.h"
#include "kernel_desc.h"
#include "weight_convert.h"

namespace vkg {
namespace kd = kernel_descs;

namespace {

struct Matrix {
  std::string role;  // "attn_q", ... (without the layer prefix)
  WeightTypeId type;
  uint32_t ne0;
};

class Collector {
 public:
  void add(const std::string& op, KernelDesc d, int64_t type, const std::string& uses) {
    const std::string key = d.key();
    auto it = index_.find(key);
    if (it != index_.end()) {
      auto& u = out_[it->second].uses;
      if (u.find(uses) == std::string::npos && u.size() < 160) u += "; " + uses;
      return;
    }
    index_.emplace(key, out_.size());
    out_.push_back({op, std::move(d), type, uses});
  }
  std::vector<WorkloadKernel> take() { return std::move(out_); }

 private:
  std::vector<WorkloadKernel> out_;
  std::map<std::string, size_t> index_;
};

WeightTypeId device_type(const GgufTensorInfo& t) {
  const auto dt = device_weight_type(t.type, t.ne[0]);
  if (!dt) throw ModelError(fmt::format("tensor '{}': no kernel reads type {}", t.name, ggml_type_name(static_cast<uint32_t>(t.type))));
  return static_cast<WeightTypeId>(*dt);
}

/// The matrix types to list for a matrix of type `own` with rows of ne0: its own type, or the
/// listed types (those whose block divides ne0).
std::vector<WeightTypeId> types_for(WeightTypeId own, uint32_t ne0, const WorkloadOptions& o) {
  if (o.types.empty()) return {own};
  std::vector<WeightTypeId> out;
  for (WeightTypeId t : o.types) {
    const auto info = ggml_type_info(t);
    const uint64_t blk = info ? std::max<uint64_t>(32, info->block_elems) : 0;  // the kernels' blocks
    if (Ops::supports(t) && blk && ne0 % blk == 0) out.push_back(t);
  }
  return out;
}

} // namespace

std::vector<WorkloadKernel> forward_workload(const Gemma4Model& m, const OpsVariants& v, const WorkloadOptions& o) {
  const auto& c = m.config;
  const auto& w = m.weights;
  const KvType kv = o.kv_f32 ? KvType::F32 : KvType::F16;
  const uint32_t max_cols = std::clamp<uint32_t>(o.max_columns, 1, kd::kMaxColumns);
  const uint32_t max_batch = std::max<uint32_t>(1, o.max_batch);
  Collector col;

  // Batch widths a step can have: 1..max_batch; the matrix kernels depend on it only through the
  // column count (T < 16) or the tokens per invocation (T >= 16).
  std::vector<uint32_t> widths;
  for (uint32_t t = 1; t <= std::min(max_cols, max_batch); ++t) widths.push_back(t);
  if (o.prefill)
    for (uint32_t t = kd::kMatmulMinT; t <= max_batch; ++t) widths.push_back(t);

  // Columns of the matrix-vector dispatches of a step of T < 16 tokens: chunks of max_columns(v)
  // and the remainder.
  const uint32_t chunk = kd::max_columns(v);
  auto columns = [&](uint32_t T) {
    std::vector<uint32_t> out{std::min(T, chunk)};
    if (T > chunk && T % chunk) out.push_back(T % chunk);
    return out;
  };
  auto matmul = [&](const std::string& role, const GgufTensorInfo* t, const char* op = "matmul") {
    if (!t) return;
    const uint32_t ne0 = static_cast<uint32_t>(t->ne[0]);
    for (WeightTypeId ty : types_for(device_type(*t), ne0, o))
      for (uint32_t T : widths) {
        if (T < kd::kMatmulMinT)
          for (uint32_t nc : columns(T))
            col.add(op, kd::matvec(v, ty, ne0, nc), ty, fmt::format("{} (K {}), {} col", role, ne0, nc));
        else
          col.add(op, kd::matmul(v, ty, T), ty, fmt::format("{} (K {}), T >= 16", role, ne0));
      }
  };
  auto get_rows = [&](const std::string& role, WeightTypeId own, uint32_t ne0) {
    for (WeightTypeId ty : types_for(own, ne0, o)) col.add("get_rows", kd::get_rows(v, ty), ty, role);
  };

  // Head: embeddings, per-layer inputs.
  get_rows("token_embd", device_type(*w.token_embd), static_cast<uint32_t>(w.token_embd->ne[0]));
  get_rows("per_layer_token_embd (paged rows)", device_type(*w.per_layer_token_embd),
           static_cast<uint32_t>(w.per_layer_token_embd->ne[0]));
  matmul("per_layer_model_proj", w.per_layer_model_proj);
  col.add("scale", kd::eltwise(v, kd::Eltwise::scale), -1, "per-layer inputs");
  col.add("rms_norm", kd::rms_norm(v, false), -1, "norms");
  col.add("add_scale", kd::eltwise(v, kd::Eltwise::add_scale), -1, "per-layer inputs");

  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const auto& L = c.layers[l];
    const auto& W = w.layers[l];
    matmul("attn_q", W.attn_q);
    if (L.owns_kv) {
      matmul("attn_k", W.attn_k);
      matmul("attn_v", W.attn_v ? W.attn_v : W.attn_k);
    }
    col.add("rope_neox", kd::rope(v), -1, "q, k");
    if (L.owns_kv) col.add("kv_store", kd::kv_store(v, kv), -1, "k, v");
    const uint32_t G = L.n_head / std::max(1u, L.n_head_kv);
    for (uint32_t T : widths) {
      if (T > kd::kDecodeMaxT + 1 && T != max_batch && T != kd::kMatmulMinT) continue;  // same kernel as T = 9
      if (kd::attn_decode_eligible(v, kv, T, L.head_dim, G))
        col.add("attention", kd::attn_decode(v, kv, L.head_dim, G), -1, fmt::format("decode, head dim {}", L.head_dim));
      else
        col.add("attention", kd::attention(v, kv, L.head_dim, T, G), -1, fmt::format("head dim {}", L.head_dim));
    }
    col.add("attn_merge", kd::attn_merge(v), -1, "split key ranges");
    matmul("attn_output", W.attn_output);
    col.add("rms_norm_add", kd::rms_norm(v, true), -1, "residual norms");
    // Feed-forward: the fused kernel at decode widths (single-part matrices), else two matmuls
    // and gelu_mul.
    {
      const auto* g = W.ffn_gate;
      const uint32_t ne0 = static_cast<uint32_t>(g->ne[0]);
      for (WeightTypeId ty : types_for(device_type(*g), ne0, o))
        for (uint32_t T : widths)
          if (T < kd::kMatmulMinT)
            for (uint32_t nc : columns(T))
              col.add("gate_up_gelu", kd::gate_up(v, ty, ne0, nc), ty, fmt::format("ffn_gate+up (K {}), {} col", ne0, nc));
      if (o.prefill && max_batch >= kd::kMatmulMinT) {
        matmul("ffn_gate", g);
        matmul("ffn_up", W.ffn_up);
        col.add("gelu_mul", kd::eltwise(v, kd::Eltwise::gelu_mul), -1, "ffn (prefill)");
      }
    }
    matmul("ffn_down", W.ffn_down);
    matmul("inp_gate", W.inp_gate);
    col.add("gelu_mul", kd::eltwise(v, kd::Eltwise::gelu_mul), -1, "per-layer gate");
    matmul("proj", W.proj);
  }

  // Tail: final norm, LM head (the last token's logits; up to max_logit_rows with all logits),
  // soft-cap, argmax / top-k on the device.
  matmul("lm_head", w.output ? w.output : w.token_embd);
  if (c.final_logit_softcap > 0) col.add("softcap", kd::eltwise(v, kd::Eltwise::softcap), -1, "logits");
  for (const KernelDesc& d : kd::select_all(v, c.n_vocab, true)) col.add("argmax/top_k", d, -1, "sampling");
  return col.take();
}

} // namespace vkg
