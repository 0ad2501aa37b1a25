// Gemma 4 multimodal projector ("mmproj") description from a GGUF: the vision encoder (gemma4v)
// and the audio encoder (gemma4a), their hyperparameters and weight maps, every key and tensor
// checked (presence, exact shape, allowed type) before anything is allocated.
//
//   vkg::GgufFile f = vkg::GgufFile::open("mmproj-gemma-4-e2b.gguf");
//   vkg::MmprojModel mm = vkg::load_mmproj(f);        // throws ModelError / GgufError
//   check_mmproj_fits(mm, text_model.config);          // D_text == n_embd, else ModelError
//   mm.vision->layers[0].attn_q.w->data;               // into f's mapping: f must outlive mm
//
// Source: ../shared/MULTIMODAL.md §1 (keys §1.3, tensors §1.4, clippable linears §1.5), which
// follows llama.cpp's tools/mtmd/clip.cpp and Hugging Face's transformers/models/gemma4.
// Shapes are ggml's (ne[0] = contiguous row length first): a matrix [in, out] is `out` rows of
// `in` elements and computes y = W x.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gemma4_config.h"
#include "gguf.h"

namespace vkg {

/// The bounds of a "clippable linear" (MULTIMODAL.md §1.5): y = clamp(W clamp(x, in_min, in_max),
/// out_min, out_max). Absent scalars are -inf/+inf (no clamp).
struct ClipBounds {
  float in_min = -std::numeric_limits<float>::infinity();
  float in_max = std::numeric_limits<float>::infinity();
  float out_min = -std::numeric_limits<float>::infinity();
  float out_max = std::numeric_limits<float>::infinity();
  bool clamps_input() const { return in_min > -std::numeric_limits<float>::max() || in_max < std::numeric_limits<float>::max(); }
  bool clamps_output() const { return out_min > -std::numeric_limits<float>::max() || out_max < std::numeric_limits<float>::max(); }
};

/// A weight matrix with its clip bounds (`X.weight` and the optional `X.input_min` ... F32 [1]).
struct ClipLinear {
  const GgufTensorInfo* w = nullptr;  // [in, out]
  ClipBounds clip;
};

/// MLP activation of the vision encoder (MULTIMODAL.md §2.5.4).
enum class VisionActivation { GeluTanh, GeluQuick, Silu };
const char* vision_activation_name(VisionActivation a);

/// gemma4v hyperparameters (E2B values in comments).
struct VisionConfig {
  uint32_t n_embd = 0;      // clip.vision.embedding_length                768
  uint32_t n_ff = 0;        // ffn_gate ne[1]                              3072
  uint32_t n_layer = 0;     // clip.vision.block_count                     16
  uint32_t n_head = 0;      // clip.vision.attention.head_count            12
  uint32_t head_dim = 0;    // n_embd / n_head                             64 (a multiple of 4: two RoPE halves)
  uint32_t patch = 0;       // clip.vision.patch_size                      16
  uint32_t pool = 3;        // clip.vision.projector.scale_factor (absent: 3)
  uint32_t pos_size = 0;    // v.position_embd ne[1]: positions per axis   10240
  uint32_t n_embd_text = 0; // mm.input_projection ne[1] (D_text)          1536
  float eps = 1e-6f;        // clip.vision.attention.layer_norm_epsilon
  float rope_base = 100.0f; // hard-coded for gemma4v
  std::array<float, 3> mean{0, 0, 0};  // clip.vision.image_mean
  std::array<float, 3> std{1, 1, 1};   // clip.vision.image_std
  /// HF's activation: GELU_tanh unless clip.use_silu (HF's config: gelu_pytorch_tanh).
  VisionActivation act = VisionActivation::GeluTanh;
  /// llama.cpp's choice from the keys: use_gelu -> GELU_tanh, use_silu -> SiLU, neither -> GELU_quick.
  VisionActivation act_llamacpp = VisionActivation::GeluQuick;
  uint32_t align() const { return patch * pool; }  // pixels per soft token side (48)
};

struct VisionLayerWeights {
  const GgufTensorInfo* ln1 = nullptr;             // [n_embd]
  ClipLinear attn_q, attn_k, attn_v, attn_out;     // [n_embd, n_embd]
  const GgufTensorInfo* attn_q_norm = nullptr;     // [head_dim]
  const GgufTensorInfo* attn_k_norm = nullptr;     // [head_dim]
  const GgufTensorInfo* attn_post_norm = nullptr;  // [n_embd]
  const GgufTensorInfo* ln2 = nullptr;             // [n_embd]
  ClipLinear ffn_gate, ffn_up;                     // [n_embd, n_ff]
  ClipLinear ffn_down;                             // [n_ff, n_embd]
  const GgufTensorInfo* ffn_post_norm = nullptr;   // [n_embd]
  const GgufTensorInfo* out_scale = nullptr;       // [1] optional: scales the whole residual stream
};

struct VisionWeights {
  const GgufTensorInfo* patch_embd = nullptr;     // [patch, patch, 3, n_embd]: rows of 3*patch*patch (c, ky, kx)
  const GgufTensorInfo* position_embd = nullptr;  // [n_embd, pos_size, 2]: plane 0 = x table, 1 = y table
  const GgufTensorInfo* std_bias = nullptr;       // [n_embd] optional (26B/31B only)
  const GgufTensorInfo* std_scale = nullptr;      // [n_embd] optional
  ClipLinear input_projection;                    // mm.input_projection [n_embd, n_embd_text]
  std::vector<VisionLayerWeights> layers;
};

struct VisionModel {
  VisionConfig config;
  VisionWeights weights;
};

/// gemma4a hyperparameters (E2B values in comments). Hard-coded constants of MULTIMODAL.md §1.3.
struct AudioConfig {
  uint32_t n_embd = 0;       // clip.audio.embedding_length             1024
  uint32_t n_ff = 0;         // ffn_up ne[1]                            4096
  uint32_t n_layer = 0;      // clip.audio.block_count                  12
  uint32_t n_head = 0;       // clip.audio.attention.head_count         8
  uint32_t head_dim = 0;     // n_embd / n_head                         128
  uint32_t n_mel = 0;        // clip.audio.num_mel_bins                 128 (1..256)
  uint32_t conv0_ch = 0;     // a.conv1d.0.weight ne[3]                 128
  uint32_t conv1_ch = 0;     // a.conv1d.1.weight ne[3]                 32
  uint32_t n_out = 0;        // a.pre_encode.out ne[1]                  1536
  uint32_t n_embd_text = 0;  // mm.a.input_projection ne[1] (D_text)   1536
  float eps = 1e-6f;         // forced for gemma4a (the key is ignored, as llama.cpp does)
  uint32_t sample_rate = 16000, n_fft = 512, win_length = 320, hop = 160;
  uint32_t chunk = 12, left_context = 12;  // local attention: keys i-11 .. i
  float softcap = 50.0f;
  uint32_t conv_kernel = 5;                 // depthwise, causal
  uint32_t max_chunk_samples = 480000;      // 30 s per encoder call
  /// Frequency bins after the two stride-2 convolutions: ceil(ceil(n_mel / 2) / 2).
  uint32_t n_mel_sub() const { return ((n_mel + 1) / 2 + 1) / 2; }
};

struct AudioLayerWeights {
  const GgufTensorInfo* ffn_norm = nullptr;         // [n_embd]
  ClipLinear ffn_up;                                // [n_embd, n_ff]
  ClipLinear ffn_down;                              // [n_ff, n_embd]
  const GgufTensorInfo* ffn_post_norm = nullptr;    // [n_embd]
  const GgufTensorInfo* attn_pre_norm = nullptr;    // [n_embd]
  ClipLinear attn_q, attn_k, attn_v, attn_out;      // [n_embd, n_embd]
  const GgufTensorInfo* attn_k_rel = nullptr;       // [n_embd, n_embd] plain linear (no clamps)
  const GgufTensorInfo* per_dim_scale = nullptr;    // [head_dim] already softplus-ed
  const GgufTensorInfo* per_dim_k_scale = nullptr;  // [head_dim] optional
  const GgufTensorInfo* attn_post_norm = nullptr;   // [n_embd]
  const GgufTensorInfo* conv_norm = nullptr;        // [n_embd] the norm BEFORE conv_pw1 (name swap, §1.4.2)
  ClipLinear conv_pw1;                              // [n_embd, 2 * n_embd]
  const GgufTensorInfo* conv_dw = nullptr;          // [5, n_embd] F32
  const GgufTensorInfo* conv_dw_bias = nullptr;     // [n_embd] optional
  const GgufTensorInfo* norm_conv = nullptr;        // [n_embd] the norm AFTER the depthwise conv
  ClipLinear conv_pw2;                              // [n_embd, n_embd]
  const GgufTensorInfo* ffn_norm_1 = nullptr;       // [n_embd]
  ClipLinear ffn_up_1;                              // [n_embd, n_ff]
  ClipLinear ffn_down_1;                            // [n_ff, n_embd]
  const GgufTensorInfo* ffn_post_norm_1 = nullptr;  // [n_embd]
  const GgufTensorInfo* ln2 = nullptr;              // [n_embd] block output norm
  const GgufTensorInfo* attn_out_bias = nullptr;    // [n_embd] optional
};

struct AudioWeights {
  const GgufTensorInfo* conv0 = nullptr;       // [3, 3, 1, conv0_ch]  (ne: freq, time, cin, cout)
  const GgufTensorInfo* conv0_norm = nullptr;  // [conv0_ch]
  const GgufTensorInfo* conv0_bias = nullptr;  // [conv0_ch] optional
  const GgufTensorInfo* conv1 = nullptr;       // [3, 3, conv0_ch, conv1_ch]
  const GgufTensorInfo* conv1_norm = nullptr;  // [conv1_ch]
  const GgufTensorInfo* conv1_bias = nullptr;  // [conv1_ch] optional
  ClipLinear input_projection;                 // a.input_projection [conv1_ch * n_mel_sub, n_embd]
  std::vector<AudioLayerWeights> layers;
  const GgufTensorInfo* out = nullptr;         // a.pre_encode.out.weight [n_embd, n_out]
  const GgufTensorInfo* out_bias = nullptr;    // a.pre_encode.out.bias [n_out]
  const GgufTensorInfo* soft_emb_norm = nullptr;  // mm.a.soft_emb_norm [n_out] optional
  ClipLinear mm_input_projection;              // mm.a.input_projection [n_out, n_embd_text]
};

struct AudioModel {
  AudioConfig config;
  AudioWeights weights;
};

/// A loaded mmproj: one or both encoders. Pointers point into the GgufFile's table.
struct MmprojModel {
  std::string name;                  // general.name (may be empty)
  std::optional<VisionModel> vision;
  std::optional<AudioModel> audio;
  uint32_t n_embd_text = 0;          // the encoders' common output width
};

/// Every key and tensor of the file checked. Throws ModelError naming the problem: not an mmproj
/// (general.architecture != clip), a projector type other than gemma4v / gemma4a ("projector type
/// 'gemma4uv' is not supported (supported: gemma4v, gemma4a)"), neither encoder present, missing
/// keys or tensors, wrong shapes or types, tensors it does not know, encoders of different output
/// widths. GgufError for keys of the wrong type.
MmprojModel load_mmproj(const GgufFile& f);

/// The mmproj belongs to this text model: D_text == n_embd. Throws ModelError
/// ("mmproj 'x' projects to 2560 wide embeddings; the text model 'y' is 1536 wide").
void check_mmproj_fits(const MmprojModel& mm, const Gemma4Config& text, const std::string& mmproj_source);

/// Visit every tensor an encoder reads (each once), for byte accounting and upload.
void mmproj_for_each_vision_weight(const VisionWeights& w, const std::function<void(const GgufTensorInfo&)>& fn);
void mmproj_for_each_audio_weight(const AudioWeights& w, const std::function<void(const GgufTensorInfo&)>& fn);

/// Bytes and parameters of one encoder's tensors (as stored).
struct EncoderFootprint {
  uint64_t bytes = 0, params = 0;
};
EncoderFootprint vision_footprint(const VisionModel& v);
EncoderFootprint audio_footprint(const AudioModel& a);

}  // namespace vkg
