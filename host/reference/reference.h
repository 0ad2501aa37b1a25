// CPU reference forward pass of Gemma 4 "E" models: DESIGN.md §2 made executable, in plain
// float32 C++ (double accumulation inside the ops of ref_ops.h). It is the oracle the Vulkan
// forward pass is compared with, layer by layer if need be; it is not meant to be fast.
//
//   vkg::GgufFile f = vkg::GgufFile::open("model.gguf");
//   vkg::ReferenceModel model(vkg::load_gemma4(f));      // f must outlive model
//   vkg::ReferenceState st = model.new_state(256);       // room for 256 positions
//   std::vector<float> logits = model.eval(st, prompt, /*all_logits=*/true);  // [T, n_vocab]
//   vkg::ReferenceState st2 = model.new_state(256);
//   std::vector<int32_t> out = model.generate(st2, prompt, 16);     // greedy decoding
//
// Weights are read from the GGUF mapping and dequantized row by row on the fly (every type
// dequantize_row knows, bit-exactly as the GPU kernels see them); small vectors (norm weights,
// rope_freqs, layer_output_scale) are cached as float.
//
// KV cache: every KV-owning layer keeps K and V as float for all n_ctx positions of the state,
// sliding-window layers included (the window is applied by masking in attention, not by a
// ring): the simplest layout that is obviously right for any batch size. KV-sharing layers own
// no cache and attend to the cache of config.layers[l].kv_source.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <vector>

#include "gemma4_config.h"
#include "error.h"

namespace vkg {

/// A misuse of the reference model: context overflow, bad token id, inconsistent state or
/// KV-sharing configuration. The message says which limit and which values.
class ReferenceError : public Error {
 public:
  explicit ReferenceError(const std::string& what) : Error(ErrorCode::bad_input, what) {}
};

/// Per-sequence run state: KV caches and the next position. Made by ReferenceModel::new_state.
struct ReferenceState {
  uint32_t n_ctx = 0;   // positions the caches hold; eval() refuses to go past it
  uint32_t n_past = 0;  // positions already evaluated = position of the next token
  // Per layer; empty for layers that do not own KV. KV owner l: [n_ctx, n_head_kv * head_dim].
  std::vector<std::vector<float>> k_cache, v_cache;

  /// Forget the sequence (n_past = 0); the caches keep their size. Old entries are never read.
  void reset() { n_past = 0; }
};

/// Optional hooks into eval(), for comparing another implementation stage by stage. Each
/// receives row-major float arrays valid only during the call; T = tokens of this eval().
struct ReferenceTrace {
  /// x after token_embd[t] * sqrt(n_embd): [T, n_embd].
  std::function<void(const float* x, uint32_t T, uint32_t n_embd)> on_embed;
  /// Per-layer inputs ple = (rmsnorm(pp) + pt) / sqrt(2): [T, n_layer * n_ple] (layer-major rows).
  std::function<void(const float* ple, uint32_t T, uint32_t n_layer_x_n_ple)> on_ple;
  /// Hidden state after layer l (after layer_output_scale): [T, n_embd].
  std::function<void(uint32_t l, const float* x, uint32_t T, uint32_t n_embd)> on_layer;
};

/// The Gemma 4 forward pass on the CPU. Holds a copy of the model description (plain data and
/// pointers into the GgufFile's mapping: the GgufFile must outlive this object). Const methods
/// are thread-safe; one ReferenceState must not be used by two threads at once.
class ReferenceModel {
 public:
  /// Validates the KV-sharing description (each KV-sharing layer's kv_source is an earlier
  /// KV-owning layer with the same head_dim and n_head_kv; each owner is its own source) and
  /// caches the small vectors as float. n_threads: worker threads for large matmuls (0 = the
  /// hardware concurrency); small matmuls always run on the calling thread.
  /// Throws ReferenceError for an inconsistent description, std::invalid_argument for a
  /// vector tensor type that cannot be dequantized.
  explicit ReferenceModel(const Gemma4Model& model, unsigned n_threads = 0);

  const Gemma4Config& config() const { return model_.config; }

  /// A fresh state with room for n_ctx positions (1 <= n_ctx; float K/V for each KV-owning
  /// layer: n_ctx * 2 * n_head_kv * head_dim * 4 bytes). Throws ReferenceError for n_ctx == 0.
  ReferenceState new_state(uint32_t n_ctx) const;

  /// Evaluate tokens at positions st.n_past .. st.n_past + T - 1 (all of them in one batch:
  /// causal within the batch), append their K/V, advance st.n_past by T and return the logits
  /// after soft-cap: [T, n_vocab] when all_logits, else [1, n_vocab] for the last token.
  /// Throws ReferenceError, leaving st unchanged, when tokens is empty, a token id is not below
  /// n_vocab, st was not made by this model, or n_past + T > st.n_ctx ("context overflow").
  /// Soft tokens: a negative id takes the next row of soft ([n_negative, n_embd]) as its
  /// embedding, unscaled, and token 0's per-layer embedding (MULTIMODAL.md 4.2-4.3).
  std::vector<float> eval(ReferenceState& st, std::span<const int32_t> tokens, bool all_logits,
                          const ReferenceTrace* trace = nullptr, std::span<const float> soft = {}) const;

  /// Greedy decoding: eval(prompt), then n_new times: take the argmax of the last logits and
  /// append it to the output; stop after n_new tokens or a token in stop_ids (it is returned).
  /// Each generated token but the last is evaluated, so to continue a sequence pass the last
  /// returned token as the next prompt. Returns the generated tokens. Throws ReferenceError
  /// before any work when prompt is empty or the tokens to evaluate do not fit in st
  /// (n_past + prompt.size() + n_new - 1 > n_ctx); eval's errors otherwise.
  std::vector<int32_t> generate(ReferenceState& st, std::span<const int32_t> prompt, uint32_t n_new,
                                std::span<const int32_t> stop_ids = {}) const;

 private:
  struct LayerVectors {             // small per-layer weights, dequantized once
    std::vector<float> attn_norm;   // [n_embd]
    std::vector<float> q_norm;      // [head_dim]
    std::vector<float> k_norm;      // [head_dim]  KV owners only
    std::vector<float> post_attention_norm, ffn_norm, post_ffw_norm, post_norm;  // [n_embd]
    float output_scale = 1.0f;      // layer_output_scale, 1 when absent
  };

  /// Y[T, n_rows] = X[T, ne0] @ W^T for a GGUF weight W: [ne0, n_rows] (ggml shape), split by
  /// rows over the worker threads when large.
  void matmul(const GgufTensorInfo& W, const float* X, float* Y, uint32_t T) const;
  void check_state(const ReferenceState& st) const;

  Gemma4Model model_;
  unsigned n_threads_ = 1;
  std::vector<LayerVectors> layer_vec_;  // [n_layer]
  std::vector<float> per_layer_proj_norm_;  // [n_ple]
  std::vector<float> output_norm_;          // [n_embd]
  std::vector<float> rope_freqs_;           // [n_rot_full / 2], empty when absent
};

}  // namespace vkg
