// Gemma 4 "E" model description from a GGUF: hyperparameters (plain data, derived numbers
// commented), the weight map (every tensor the forward pass reads, checked for presence, exact
// shape and allowed type), and byte accounting (device set, host-paged PLE set, KV cache).
//
//   vkg::GgufFile f = vkg::GgufFile::open("gemma-4-e2b.gguf");
//   vkg::Gemma4Model m = vkg::load_gemma4(f);     // throws ModelError / GgufError
//   m.config.layers[20].kv_source;                // 13: reads layer 13's sliding-window cache
//   m.weights.layers[0].attn_q->data;             // into f's mapping: f must outlive m
//
// Shapes are ggml's (ne[0] = contiguous row length first); DESIGN.md §2-3 and llama.cpp's
// gemma4 loader agree on them.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include "gguf.h"
#include "error.h"

namespace vkg {

/// The GGUF is a valid container but not a usable Gemma 4 model (architecture, hyperparameters,
/// missing tensors, wrong shapes or types).
class ModelError : public Error {
 public:
  explicit ModelError(const std::string& what) : Error(ErrorCode::bad_model, what) {}
};

/// One transformer layer. E2B: layers 4, 9, ..., 34 are full attention, the rest sliding;
/// layers 0-14 own a KV cache, 15-34 read layer 13's (sliding) or 14's (full).
struct Gemma4Layer {
  bool is_sliding = false;  // attention.sliding_window_pattern[l]
  uint32_t head_dim = 0;    // K and V head size: key_length_swa (sliding) or key_length (full)
  uint32_t n_head = 0;      // attention.head_count (scalar or per layer)
  uint32_t n_head_kv = 0;   // attention.head_count_kv (scalar or per layer)
  uint32_t n_ff = 0;        // feed_forward_length (scalar or per layer; E2B 6144 / 12288)
  float rope_base = 0;      // rope.freq_base_swa (sliding, 1e4) or rope.freq_base (full, 1e6)
  uint32_t n_rot = 0;       // rope.dimension_count_swa or rope.dimension_count (NEOX pairs: n_rot/2)
  bool owns_kv = false;     // l < n_layer - shared_kv_layers
  uint32_t kv_source = 0;   // layer whose KV cache this layer attends to (== l when owns_kv): the
                            // last KV-owning layer of the same kind (sliding/full)
};

/// The file's recommended sampling (general.sampling.*; nullopt = absent). Real Gemma 4 files:
/// top_k 64, top_p 0.95, temp 1.0. Front ends use them when the user gives no value.
struct SamplingDefaults {
  std::optional<int32_t> top_k;  // general.sampling.top_k, 0..2^24
  std::optional<float> top_p;    // general.sampling.top_p, [0, 1]
  std::optional<float> temp;     // general.sampling.temp, [0, 1000]
};

/// rope.freq_base_swa when the key is absent (llama.cpp's gemma4 default).
inline constexpr float kDefaultRopeBaseSwa = 10000.0f;

/// Hyperparameters (keys of DESIGN.md §3, prefix "gemma4."). Every dimension is capped far above
/// any Gemma 4 (ModelError beyond), so products of dimensions never overflow 64 bits.
struct Gemma4Config {
  std::string name;                   // general.name (may be empty)
  uint32_t n_layer = 0;               // block_count                          E2B 35, E4B 42
  uint32_t n_embd = 0;                // embedding_length                     E2B 1536
  uint32_t n_ple = 0;                 // embedding_length_per_layer_input     E2B 256
  uint32_t n_vocab = 0;               // tokenizer.ggml.tokens length, else vocab_size, else token_embd ne[1]
  uint32_t n_ctx_train = 0;           // context_length                       E2B 131072
  uint32_t sliding_window = 0;        // attention.sliding_window             E2B 512
  uint32_t n_shared_kv_layers = 0;    // attention.shared_kv_layers (0 if absent)   E2B 20
  uint32_t n_kv_layers = 0;           // = n_layer - n_shared_kv_layers: layers [0, n_kv_layers) own KV
  uint32_t head_dim_full = 0;         // attention.key_length (== value_length)     E2B 512
  uint32_t head_dim_swa = 0;          // attention.key_length_swa (== value_length_swa) E2B 256
  uint32_t n_rot_full = 0;            // rope.dimension_count (default key_length)
  uint32_t n_rot_swa = 0;             // rope.dimension_count_swa (default key_length_swa)
  float rope_base_full = 0;           // rope.freq_base
  float rope_base_swa = 0;            // rope.freq_base_swa (absent: kDefaultRopeBaseSwa)
  float rms_eps = 0;                  // attention.layer_norm_rms_epsilon      1e-6
  float final_logit_softcap = 30.0f;  // final_logit_softcapping; absent = 30, 0 = off
  std::vector<Gemma4Layer> layers;    // [n_layer]
  SamplingDefaults sampling;          // general.sampling.*
};

/// Tensors of one layer (pointers into the GgufFile's table; nullptr = absent).
struct Gemma4LayerWeights {
  const GgufTensorInfo* attn_norm = nullptr;            // [n_embd]
  const GgufTensorInfo* attn_q = nullptr;               // [n_embd, n_head * hd]
  const GgufTensorInfo* attn_k = nullptr;               // [n_embd, n_head_kv * hd]  KV owners only
  const GgufTensorInfo* attn_v = nullptr;               // [n_embd, n_head_kv * hd]  optional: V = K when absent
  const GgufTensorInfo* attn_output = nullptr;          // [n_head * hd, n_embd]
  const GgufTensorInfo* attn_q_norm = nullptr;          // [hd]
  const GgufTensorInfo* attn_k_norm = nullptr;          // [hd]  KV owners only
  const GgufTensorInfo* post_attention_norm = nullptr;  // [n_embd]
  const GgufTensorInfo* ffn_norm = nullptr;             // [n_embd]
  const GgufTensorInfo* ffn_gate = nullptr;             // [n_embd, n_ff]
  const GgufTensorInfo* ffn_up = nullptr;               // [n_embd, n_ff]
  const GgufTensorInfo* ffn_down = nullptr;             // [n_ff, n_embd]
  const GgufTensorInfo* post_ffw_norm = nullptr;        // [n_embd]
  const GgufTensorInfo* inp_gate = nullptr;             // [n_embd, n_ple]
  const GgufTensorInfo* proj = nullptr;                 // [n_ple, n_embd]
  const GgufTensorInfo* post_norm = nullptr;            // [n_embd]
  const GgufTensorInfo* layer_output_scale = nullptr;   // [1]  optional
};

struct Gemma4Weights {
  const GgufTensorInfo* token_embd = nullptr;            // [n_embd, n_vocab]  also the LM head when output is absent
  const GgufTensorInfo* per_layer_token_embd = nullptr;  // [n_layer * n_ple, n_vocab]  host-resident, paged by rows
  const GgufTensorInfo* per_layer_model_proj = nullptr;  // [n_embd, n_layer * n_ple]
  const GgufTensorInfo* per_layer_proj_norm = nullptr;   // [n_ple]
  const GgufTensorInfo* output_norm = nullptr;           // [n_embd]
  const GgufTensorInfo* rope_freqs = nullptr;            // [head_dim_full / 2] (or [n_rot_full / 2]); nullptr if no full layer
  const GgufTensorInfo* output = nullptr;                // [n_embd, n_vocab]  optional (tied when absent)
  std::vector<Gemma4LayerWeights> layers;                // [n_layer]
  /// Tensors in the file the forward pass does not read: K/V of KV-sharing layers and the
  /// vision/audio tensors (v.*, a.*, mm.*). Any other tensor is refused at load.
  std::vector<const GgufTensorInfo*> unused;
};

struct Gemma4Model {
  Gemma4Config config;
  Gemma4Weights weights;
  /// Owns host re-encodings that weights may point to (convert_for_device, weight_convert.h).
  std::shared_ptr<const void> converted;
};

/// Hyperparameters from the keys (and n_vocab from tokenizer/token_embd). Throws ModelError
/// ("architecture 'llama' is not supported (supported: gemma4)", missing or inconsistent keys)
/// or GgufError (a key of the wrong type).
Gemma4Config gemma4_config_from_gguf(const GgufFile& f);
/// The weight map: presence, exact shape and allowed type of every expected tensor. Throws
/// ModelError naming them when the file holds tensors it does not know (v.*, a.*, mm.* are
/// allowed and ignored: Ollama blobs carry the vision/audio towers in the same file).
Gemma4Weights gemma4_weights_from_gguf(const GgufFile& f, const Gemma4Config& c);

/// True for the vision/audio tensor names (v.*, a.*, mm.*) a text model ignores.
bool gemma4_tensor_is_multimodal(std::string_view name);
/// Both.
Gemma4Model load_gemma4(const GgufFile& f);

/// Allowed tensor types. Matrices (and embeddings): every type the host can dequantize
/// (quant.h can_dequantize: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K,
/// Q6_K, IQ4_NL, IQ4_XS, MXFP4; those without a GPU kernel are re-encoded at load, see
/// weight_convert.h). Vectors (norms, rope_freqs, layer_output_scale): F32, F16, BF16.
bool gemma4_matrix_type_allowed(GgmlType t);
/// The names of the allowed matrix types, comma-separated (for error messages).
std::string gemma4_matrix_type_names();
bool gemma4_vector_type_allowed(GgmlType t);

enum class Residency { Device, HostPaged };
/// Visit every tensor the forward pass reads, each once (a tied LM head is token_embd, visited
/// once). layer is -1 for global tensors. per_layer_token_embd is HostPaged, the rest Device.
void gemma4_for_each_weight(const Gemma4Weights& w,
                            const std::function<void(const GgufTensorInfo&, int layer, Residency)>& fn);

/// Memory the model needs.
///
/// KV cache definition: only KV-owning layers store K and V, each n_head_kv * head_dim elements
/// of kv_elem_bytes per position. Full-attention layers keep every position of the context, so
/// they cost kv_full_bytes_per_1k per 1024 positions; sliding layers keep a ring of exactly
/// sliding_window positions, a fixed kv_sliding_ring_bytes once the context reaches the window
/// (a runtime that appends a batch before evicting needs window + batch - 1 slots: its business).
/// E2B, F16: 3 full owners x 2 x 512 x 2 B = 6 KiB/token (6 MiB per 1K); 12 sliding owners x
/// 2 x 256 x 2 B x 512 = 6 MiB ring.
struct Gemma4Footprint {
  uint64_t device_bytes = 0;   // every weight read by the forward pass except per_layer_token_embd
  uint64_t device_params = 0;  // their elements
  uint64_t host_bytes = 0;     // per_layer_token_embd (host-resident, paged to the device by rows)
  uint64_t host_params = 0;
  uint64_t unused_bytes = 0;   // tensors in the file the forward pass never reads
  uint32_t kv_elem_bytes = 0;  // 2 (F16) or 4 (F32)
  uint64_t kv_full_bytes_per_token = 0;     // sum over KV-owning full layers: 2 * n_head_kv * hd * elem
  uint64_t kv_full_bytes_per_1k = 0;        // = 1024 * kv_full_bytes_per_token
  uint64_t kv_sliding_bytes_per_token = 0;  // sum over KV-owning sliding layers
  uint64_t kv_sliding_ring_bytes = 0;       // = sliding_window * kv_sliding_bytes_per_token
};
Gemma4Footprint gemma4_footprint(const Gemma4Model& m, uint32_t kv_elem_bytes);
/// Exact KV bytes for a context of n_ctx positions:
/// n_ctx * kv_full_bytes_per_token + min(n_ctx, window) * kv_sliding_bytes_per_token.
uint64_t gemma4_kv_cache_bytes(const Gemma4Config& c, uint64_t n_ctx, uint32_t kv_elem_bytes);

}  // namespace vkg
