// Synthetic Gemma 4 "E" GGUF models: the exact tensor names, shapes and metadata keys of real
// files (DESIGN.md §2-3, the same keys as ../shared/golden/*/model.gguf) filled with seeded random
// weights that keep a forward pass sane (finite activations, logits of std ~4 at every depth).
//
//   vkg::SynthOptions o = vkg::synth_preset("e2b");
//   o.types = vkg::SynthTypes::parse("q4_k_m");
//   vkg::SynthModel m = vkg::synth_plan(o);      // tensor list, types, sizes: nothing written yet
//   vkg::synth_write(m, "/tmp/e2b.gguf");        // streams row chunks; memory stays ~tens of MB
//
// Two steps: synth_plan() turns options into a SynthModel (hyperparameters per layer, vocabulary,
// every tensor with its name, shape, type and how its values are drawn), which can be inspected
// and measured without writing anything; the writers then generate, encode and stream the data.
//
// Weights (a tensor's values depend only on the seed, its name and its row, never on threads):
//   matrices            N(0, 1/sqrt(ne0)): unit-RMS inputs give unit-RMS outputs
//   token_embd          N(0, logit_std/sqrt(n_embd)): the tied LM head then gives logits of std
//                       logit_std (the final RMSNorm output has unit RMS); x0 = embd*sqrt(n_embd)
//   per_layer_token_embd N(0, 1/sqrt(n_ple)): pt = row * sqrt(n_ple) has unit RMS
//   norm weights        1 + norm_noise * N(0,1) (used as stored: Gemma 4 files carry no +1)
//   attn_q/k_norm       c (1 + norm_noise N(0,1)), c = sqrt(attn_score_std / sqrt(head_dim)): q.k
//                       scores (scale 1.0) then have std ~attn_score_std
//   rope_freqs          1.0 for the first round(partial_rotary_full * n_rot/2) pairs, 1e30 after
//   layer_output_scale  uniform in [output_scale_lo, output_scale_hi)
// "N" is a fast approximation: the sum of four 16-bit uniforms (xoshiro256++), rescaled to the
// exact mean and variance; tails end at +-3.46 sigma. This matches how the golden models were made
// (../shared/golden/*/case.json "config").
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ggml_type.h"
#include "gguf_writer.h"
#include "vocab.h"
#include "error.h"

namespace vkg {

/// Invalid synthesis options (message names the option and the constraint).
class SynthError : public Error {
 public:
  explicit SynthError(const std::string& what) : Error(ErrorCode::bad_input, what) {}
};

/// The weight-type policy for matrices and embeddings (norms, rope_freqs and layer_output_scale
/// are always F32, as convert_hf_to_gguf.py and llama-quantize leave them).
struct SynthTypes {
  enum class Mix {
    Single,  ///< every matrix and embedding gets `type`
    Q4_K_M,  ///< llama-quantize Q4_K_M: Q4_K matrices; Q6_K for token_embd, per_layer_token_embd and
             ///< the attn_v / ffn_down tensors llama.cpp's use_more_bits() picks; per_layer_model_proj F16
  };
  Mix mix = Mix::Single;
  GgmlType type = GgmlType::F32;  // Single only

  /// "q4_k_m", or a type name quantize_row supports ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1",
  /// "q5_0", "q5_1", "q4_k", "q5_k", "q6_k", "mxfp4"), case-insensitive. Throws SynthError.
  static SynthTypes parse(std::string_view name);
  /// "Q4_K_M" or the type name ("Q8_0").
  std::string name() const;
};

/// Everything synth_plan() needs. Defaults are the `tiny` preset with F32 weights.
struct SynthOptions {
  std::string name = "vkgemma-synth-tiny";  // general.name
  // --- hyperparameters ---------------------------------------------------------------------------
  uint32_t n_layer = 5;
  uint32_t n_embd = 256;
  uint32_t n_head = 4;
  uint32_t n_head_kv = 2;
  uint32_t head_dim_swa = 64;    // sliding layers (attention.key_length_swa)
  uint32_t head_dim_full = 128;  // full-attention layers (attention.key_length)
  uint32_t n_ff = 256;           // FFN width of KV-owning layers
  bool double_wide = true;       // KV-sharing layers use 2 * n_ff ("double-wide MLP", E2B)
  uint32_t sliding_window = 8;
  uint32_t swa_period = 3;       // layer l is full attention when l % swa_period == swa_period - 1;
                                 // the last layer is always full attention
  uint32_t shared_kv_layers = 2; // the last N layers reuse the KV cache of earlier layers
  uint32_t n_ple = 256;          // embedding_length_per_layer_input
  uint32_t n_vocab = 512;        // synthetic vocabulary size (ignored when `vocab` is set)
  uint32_t n_ctx = 4096;         // context_length
  float rope_base_full = 1e6f;
  float rope_base_swa = 1e4f;
  float partial_rotary_full = 0.25f;  // share of the full layers' rope pairs that rotate
  float softcap = 30.0f;              // final_logit_softcapping (0 = off)
  float rms_eps = 1e-6f;
  bool layer_output_scale = true;     // write blk.N.layer_output_scale
  // --- weights -----------------------------------------------------------------------------------
  SynthTypes types;
  /// Per-tensor type overrides: (name, type). The name is a full tensor name
  /// ("blk.3.ffn_down.weight") or one without the layer prefix ("ffn_down.weight": every layer).
  /// Applied before the row-length fallback. A name matching no tensor is an error.
  std::vector<std::pair<std::string, GgmlType>> type_overrides;
  uint64_t seed = 1;
  float logit_std = 4.0f;       // see the header comment
  float attn_score_std = 3.0f;
  float norm_noise = 0.05f;
  float output_scale_lo = 0.5f;
  float output_scale_hi = 1.0f;
  // --- vocabulary and file -----------------------------------------------------------------------
  std::optional<Vocab> vocab;  // e.g. load_hf_tokenizer(...); nullopt: synth_vocab(n_vocab, seed)
  std::string chat_template;   // tokenizer.chat_template when non-empty (overrides the vocab's)
  uint32_t alignment = 32;     // general.alignment
};

/// Presets: "tiny" (every E feature at 4.3 M parameters, 3 MB as Q4_K_M; the shapes of the golden
/// tiny_q4_k_m model with a 512-token vocabulary, all rows multiples of 256 so K-quants need no
/// fallback), "e2b" (35 layers, 1536 wide,
/// 8/1 heads, head dim 256/512, window 512, full every 5th layer, 20 shared-KV layers, n_ff
/// 6144/12288, PLE 256, vocab 262144, ctx 131072), "e4b" (42 layers, 2560 wide, 8/2 heads, head
/// dim 256/512, window 512, full every 6th layer, 18 shared-KV layers, n_ff 10240 on all layers,
/// PLE 256, vocab 262144, ctx 131072). Throws SynthError for other names.
SynthOptions synth_preset(std::string_view name);
/// {"tiny", "e2b", "e4b"}.
std::span<const std::string_view> synth_preset_names();

/// A small, valid Gemma 4 BPE vocabulary of n_vocab tokens: <pad> 0, <eos> 1, <bos> 2, <unk> 3,
/// <|turn> 4, <turn|> 5 (end of generation), <0x00>..<0xFF> 6..261, "\n", "▁", letters, digits and
/// punctuation, then pieces made by merging two earlier tokens (each with its merge rule) until
/// n_vocab is reached. Deterministic in (n_vocab, seed). Throws SynthError if n_vocab is below
/// kSynthMinVocab (the fixed tokens plus one merged piece).
Vocab synth_vocab(uint32_t n_vocab, uint64_t seed);
inline constexpr uint32_t kSynthMinVocab = 338;

/// How a tensor's values are drawn (parameters a, b).
enum class SynthInit {
  Normal,      ///< N(0, a)
  NormWeight,  ///< a * (1 + b * N(0, 1))
  Uniform,     ///< uniform in [a, b)
  RopeFreqs,   ///< 1.0 for the first a entries, 1e30 for the rest
};

/// One tensor of the plan, in file order.
struct SynthTensor {
  std::string name;
  GgmlType type = GgmlType::F32;       // as written (after the fallback)
  GgmlType requested = GgmlType::F32;  // what the policy asked for
  uint32_t n_dims = 1;
  std::array<uint64_t, 4> ne{1, 1, 1, 1};  // ne[0] = row length
  int layer = -1;                          // -1 for global tensors
  bool host_paged = false;                 // per_layer_token_embd
  SynthInit init = SynthInit::Normal;
  float a = 0, b = 0;
  uint64_t seed = 0;                       // derived from SynthOptions::seed and the name
  uint64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  uint64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  uint64_t row_bytes() const { return ggml_row_bytes(type, ne[0]); }
  uint64_t n_bytes() const { return row_bytes() * n_rows(); }
};

/// A model ready to be written: resolved hyperparameters, vocabulary and tensor list.
struct SynthModel {
  SynthOptions options;             // as given (options.vocab is moved into `vocab`)
  Vocab vocab;
  std::vector<bool> sliding;        // per layer: true = sliding window
  std::vector<uint32_t> n_ff;       // per layer
  std::vector<SynthTensor> tensors; // in file order
  /// Row-length fallbacks taken, e.g. "blk.0.proj.weight: Q4_K -> Q5_0 (ne0 = 320 is not a
  /// multiple of 256)".
  std::vector<std::string> fallbacks;
  uint32_t file_type = 0;           // general.file_type (llama_ftype)

  uint32_t n_kv_layers() const { return options.n_layer - options.shared_kv_layers; }
  /// Sums over the tensors the forward pass reads: device-resident (everything but
  /// per_layer_token_embd) and host-paged.
  uint64_t device_params() const;
  uint64_t device_bytes() const;
  uint64_t host_params() const;
  uint64_t host_bytes() const;
  uint64_t n_params() const;        // every tensor in the file
  uint64_t data_bytes() const;      // every tensor's bytes (no padding)
  /// Index of a tensor by name; throws SynthError when absent.
  size_t index(std::string_view name) const;
};

/// Validate options and build the plan. Throws SynthError (bad dimensions, a KV-sharing layer with
/// no KV-owning layer of its kind, an unknown override, a type quantize_row cannot write, ...).
SynthModel synth_plan(SynthOptions o);

/// llama-quantize's fallback for rows that do not fit the block: t when ne0 % block(t) == 0; else
/// Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and F16 when even that block does not divide ne0
/// (legacy 32-blocks included).
GgmlType synth_fallback_type(GgmlType t, uint64_t ne0);

/// Declare the model's metadata (general.*, gemma4.*, tokenizer.*) and tensors on w, in the
/// order published files use. w must be fresh.
void synth_declare(const SynthModel& m, GgufWriter& w);

/// Float values of rows [row0, row0 + n_rows) of tensor i (before encoding) into out
/// (n_rows * ne0 floats).
void synth_tensor_values(const SynthModel& m, size_t i, uint64_t row0, uint64_t n_rows, float* out);
/// The same rows encoded in the tensor's type (n_rows * row_bytes() bytes). scratch is reused.
void synth_tensor_encode(const SynthModel& m, size_t i, uint64_t row0, uint64_t n_rows, uint8_t* out,
                         std::vector<float>& scratch);
/// A whole tensor's bytes (for tests and small tensors).
std::vector<uint8_t> synth_tensor_data(const SynthModel& m, size_t i);

/// Progress of a write, reported from the writing thread after each chunk.
struct SynthProgress {
  uint64_t bytes_done = 0;   // tensor data bytes written so far
  uint64_t bytes_total = 0;  // m.data_bytes()
  size_t tensor = 0;         // index of the tensor being written
  size_t n_tensors = 0;
  std::string_view name;     // its name
};

struct SynthWriteOptions {
  unsigned threads = 0;  // generator threads; 0 = std::thread::hardware_concurrency()
  std::function<void(const SynthProgress&)> progress;
};

/// Write the model to path: metadata first, then every tensor generated and encoded in row chunks
/// by worker threads and written in order by the calling thread (memory: a few chunks of ~4 MB per
/// thread). The bytes do not depend on the thread count. An incomplete file is removed on error.
/// Throws SynthError, GgufError (I/O).
void synth_write(const SynthModel& m, const std::filesystem::path& path, const SynthWriteOptions& wo = {});
/// The same file in memory (small models, tests).
std::vector<uint8_t> synth_write_memory(const SynthModel& m, const SynthWriteOptions& wo = {});
/// A valid GGUF with the model's metadata and tensor table whose data section is a hole of zeros
/// (a sparse file: no disk blocks, written instantly). Every weight reads as 0, so it serves for
/// layout, footprint and loader checks at full size, not for inference. Returns the file size.
uint64_t synth_write_sparse(const SynthModel& m, const std::filesystem::path& path);
/// The exact size in bytes of the file synth_write produces.
uint64_t synth_file_size(const SynthModel& m);

}  // namespace vkg
