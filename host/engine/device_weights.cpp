#include "device_weights.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "context.h"
#include "quant.h"
#include "stream.h"
#include "error.h"

namespace vkg {
namespace {

class Uploader {
 public:
  Uploader(Device& dev, DeviceWeights& out, const Gemma4Model& m, const UploadProgress& progress,
           const GgufFile* file)
      : dev_(dev), out_(out), progress_(progress), file_(file) {
    gemma4_for_each_weight(m.weights, [&](const GgufTensorInfo& t, int, Residency r) {
      if (r == Residency::Device) total_ += t.n_bytes;
    });
    align_ = std::max<uint64_t>(dev.caps().min_storage_buffer_offset_alignment, 16);
  }

  DeviceMatrix matrix(const GgufTensorInfo* t) {
    if (!t) return {};
    const auto id = static_cast<WeightTypeId>(t->type);
    if (!Ops::supports(id))
      throw Error(ErrorCode::bad_model, fmt::format("tensor '{}' has weight type {}, which the GPU kernels do not support yet",
                                           t->name, ggml_type_name(id)));
    const uint64_t row_bytes = ggml_row_bytes(t->type, t->ne[0]);
    DeviceMatrix dm = upload_matrix(dev_, out_.buffers, id, static_cast<uint32_t>(t->ne[0]),
                                    static_cast<uint32_t>(t->n_rows()), row_bytes, t->data);
    // The device holds its own copy now: drop the mapped pages from our RSS right away, so the
    // peak stays near one copy of the weights.
    if (file_) file_->release_pages(t->data, t->n_bytes);
    advance(t->n_bytes);
    return dm;
  }

  /// A streamed matrix: uploaded per step by the session's LayerStreamer, not now.
  void skip(const GgufTensorInfo& t) { advance(t.n_bytes); }

  /// Reserve a float32 vector slot; filled by flush_vectors().
  BufferRange vector(const GgufTensorInfo* t) {
    if (!t) return {};
    Pending p{t, offset_};
    const uint64_t n = t->n_elements * 4;
    offset_ += (n + align_ - 1) / align_ * align_;
    pending_.push_back(p);
    return {};  // patched in flush_vectors
  }

  void flush_vectors(std::vector<BufferRange*> slots) {
    std::vector<float> host(offset_ / 4 + 1, 0.0f);
    for (const auto& p : pending_) {
      dequantize_row(p.t->type, p.t->data, host.data() + p.offset / 4, p.t->n_elements);
      advance(p.t->n_bytes);
    }
    out_.buffers.emplace_back(dev_, std::max<uint64_t>(offset_, 16), MemoryUsage::Device);
    Buffer& buf = out_.buffers.back();
    upload(dev_, buf, 0, host.data(), offset_);
    out_.bytes += offset_;
    for (size_t i = 0; i < pending_.size(); ++i)
      *slots[i] = BufferRange(buf, pending_[i].offset, pending_[i].t->n_elements * 4);
  }

 private:
  void advance(uint64_t n) {
    done_ += n;
    if (progress_ && !progress_(done_, total_)) throw std::runtime_error("model load cancelled");
  }
  struct Pending {
    const GgufTensorInfo* t;
    uint64_t offset;
  };
  Device& dev_;
  DeviceWeights& out_;
  const UploadProgress& progress_;
  const GgufFile* file_;
  uint64_t total_ = 0, done_ = 0, offset_ = 0, align_ = 16;
  std::vector<Pending> pending_;
};

} // namespace

DeviceWeights upload_weights(Device& dev, const Gemma4Model& m, const UploadProgress& progress,
                             const GgufFile* file, const ResidencyPlan* plan) {
  const auto& w = m.weights;
  // Fail before allocating anything if a type is unsupported.
  gemma4_for_each_weight(w, [&](const GgufTensorInfo& t, int, Residency r) {
    const bool vec = t.n_rows() == 1;
    if (r == Residency::Device && !vec && !Ops::supports(static_cast<WeightTypeId>(t.type)))
      throw Error(ErrorCode::bad_model, fmt::format("tensor '{}' has weight type {}, which the GPU kernels do not support yet",
                                           t.name, ggml_type_name(static_cast<uint32_t>(t.type))));
  });
  const MemoryRules rules = dev.allocator().rules();
  const ResidencyPlan chosen =
      plan ? *plan : plan_residency(dev.caps(), rules, m, {.available = dev.allocator().plannable_bytes()});
  // Exactly the planned blocks (residency.h: budgets are exact), allocated before any upload.
  const Arena arena(dev.allocator(), memory_layout(rules, weight_buffers(dev.caps(), m, chosen.n_resident_layers)));
  const ArenaScope scope(arena);
  DeviceWeights out;
  out.plan = chosen;
  Uploader up(dev, out, m, progress, file);
  std::vector<BufferRange*> slots;
  auto vec = [&](const GgufTensorInfo* t, BufferRange& dst) {
    if (!t) return;
    up.vector(t);
    slots.push_back(&dst);
  };
  out.token_embd = up.matrix(w.token_embd);
  out.lm_head = w.output ? up.matrix(w.output) : out.token_embd;
  out.per_layer_model_proj = up.matrix(w.per_layer_model_proj);
  vec(w.per_layer_proj_norm, out.per_layer_proj_norm);
  vec(w.output_norm, out.output_norm);
  vec(w.rope_freqs, out.rope_freqs);
  out.layers.resize(w.layers.size());
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const auto& s = w.layers[l];
    auto& d = out.layers[l];
    const bool resident = l < chosen.n_resident_layers;
    for_each_layer_matrix(d, s, [&](DeviceMatrix& dst, const GgufTensorInfo* t) {
      if (resident) {
        dst = up.matrix(t);
      } else if (t) {
        up.skip(*t);  // streamed: uploaded per step by the session's LayerStreamer
      }
    });
    vec(s.attn_norm, d.attn_norm);
    vec(s.attn_q_norm, d.attn_q_norm);
    vec(s.attn_k_norm, d.attn_k_norm);
    vec(s.post_attention_norm, d.post_attention_norm);
    vec(s.ffn_norm, d.ffn_norm);
    vec(s.post_ffw_norm, d.post_ffw_norm);
    vec(s.post_norm, d.post_norm);
    vec(s.layer_output_scale, d.layer_output_scale);
  }
  up.flush_vectors(slots);
  gemma4_for_each_weight(w, [&](const GgufTensorInfo& t, int layer, Residency r) {
    if (r == Residency::Device && t.n_rows() > 1 && (layer < 0 || !out.streamed(static_cast<uint32_t>(layer))))
      out.bytes += t.n_bytes;
  });
  return out;
}

} // namespace vkg
