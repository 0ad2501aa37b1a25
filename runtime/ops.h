// Compute ops on device buffers: the kernels of the forward pass, recorded into a CommandList.
// Generic tensor math only (runtime/ knows nothing of Gemma). All activations are float32,
// row-major: a "[T, N]" buffer holds T rows of N floats. Weights keep their ggml block format
// and are dequantized inside the kernels. Every op has a scalar twin in host/reference/ref_ops.h that
// tests compare against.
//
// Parameters that change from step to step (token ids, positions) are read from device
// buffers, never baked into push constants, so a recorded CommandList can be replayed for the
// next decode step after the host rewrites those buffers.
//
// Operand placement: weights (DeviceMatrix parts), matmul X, attention q / K cache / V cache and
// argmax/top_k inputs are read as 16-byte texels (shaders/fetch.glsl): through uniform texel
// buffers where OpsVariants::texel_reads (CPU drivers whose texel-view limit covers every
// binding), else through readonly storage buffers. Their BufferRange offsets must be multiples
// of 16 bytes (any multiple: the binding starts at the device's alignment below it). Attention
// positions are always a small texel view (offset a multiple of 16 bytes too). Other operands
// are storage buffers (offsets aligned to minStorageBufferOffsetAlignment as usual). No kernel
// binds more than 4 storage buffers in the storage-read variants (the Vulkan minimum of
// maxPerStageDescriptorStorageBuffers), except the fused gate_up_gelu, which falls back to
// separate ops on such devices.
//
// Scratch: attention over long caches (decode: always split in chunks for parallelism; any T,
// on drivers with a loop-iteration limit (OpsVariants::max_loop_iterations, lavapipe): more than
// 32768 keys) and top_k/argmax over long inputs use the buffer given to set_scratch(); without
// it they fall back to single-pass kernels, or throw VkError where none exists (attention over
// > 32768 keys, top_k with large k over long inputs, on such drivers). Ops that use the
// scratch insert their own barriers; two such ops must not run concurrently (a barrier between
// them, as data dependencies give anyway).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "memory.h"

namespace vkg {

class Device;
class Kernel;
class CommandList;

/// ggml type id of a weight (same numbering as host/format/ggml_type.h; runtime keeps a plain integer).
using WeightTypeId = uint32_t;

/// A weight matrix on the device: n_rows rows of ne0 elements in ggml type `type`, stored in
/// one or more parts, each a contiguous run of whole rows within one buffer binding of at most
/// max_read_binding_bytes() (large matrices are split by rows transparently).
struct DeviceMatrix {
  struct Part {
    BufferRange range;     // bytes of rows [first_row, first_row + n_rows)
    uint32_t first_row = 0;
    uint32_t n_rows = 0;
  };
  WeightTypeId type = 0;
  uint32_t ne0 = 0;        // elements per row (K)
  uint32_t n_rows = 0;     // rows (N)
  uint64_t row_bytes = 0;  // bytes per row
  std::vector<Part> parts;
};

/// KV cache element type. F16 caches hold packHalf2x16 pairs in 32-bit words, so they need no
/// 16-bit storage feature.
enum class KvType { F32, F16 };

/// Which variants ops use; filled from the device's capability record by select_variants().
/// Tests may change fields (e.g. force texel_reads off) and pass the record to Ops.
struct OpsVariants {
  bool subgroup_arith = false;   // use subgroupAdd etc.
  bool fp16_arith = false;
  bool storage16 = false;        // 16-bit storage feature (no kernel needs it today)
  bool storage8 = false;
  // Read-only operands (shaders/fetch.glsl) through uniform texel buffers (true) or readonly
  // storage buffers (false: shader variants NAME_sb). Texel views where they pay off (CPU
  // drivers: lavapipe turns texel fetches into plain vector loads) and the device's texel-view
  // limit covers every binding a plan may make (maxTexelBufferElements * 16 >=
  // maxStorageBufferRange); storage buffers otherwise (GPUs, SwiftShader's 1 MiB texel views).
  bool texel_reads = false;
  // Most loop iterations one invocation may run in all, 0 when unlimited. Mesa llvmpipe (lavapipe)
  // ends every loop nest of an invocation after 65535 iterations (LP_MAX_TGSI_LOOP_ITERATIONS);
  // attention chunks and top_k passes are sized below it there, and only there.
  uint32_t max_loop_iterations = 0;
  bool soft_half = false;        // half -> float with integer ops (driver workaround; set by Kernel)
  uint32_t subgroup_size = 1;
  uint32_t max_workgroup_invocations = 128;
  uint32_t max_shared_memory = 16384;
  // Derived tuning (also chosen in select_variants):
  // Matrix-vector (T < 16) kernel: false = a row per invocation (matvec.comp: CPUs, where an
  // invocation is a SIMD lane with a large cache), true = "split-K" (matvec_gpu.comp: K split
  // across the lanes of a subgroup, or of the workgroup without subgroup arithmetic; GPUs).
  bool matvec_split_k = false;
  uint32_t matvec_wg = 32;       // matrix-vector: invocations per workgroup (one row each ...)
  uint32_t matvec_rows = 4;      // ... times this many rows per invocation (divided by T, doubled for tall matrices)
  uint32_t matmul_wg = 32;       // matrix-matrix (T >= 16): invocations (tokens) per workgroup,
  uint32_t matmul_rows = 32;     // weight rows per workgroup,
  uint32_t matmul_tokens = 4;    // tokens per invocation
  bool attn_decode_subgroup = false;  // decode attention splits head dims over one fixed-size subgroup
  // Subgroup size attn_decode requires at pipeline creation (VK_EXT_subgroup_size_control /
  // Vulkan 1.3), 0 where the device's size is fixed (min == max subgroup size).
  uint32_t attn_decode_required_subgroup = 0;
  std::string describe() const;  // one line for `vkgemma devices`
};

/// The one place where kernel variants are chosen from capabilities.
OpsVariants select_variants(const struct DeviceCaps& caps);

/// Largest byte range one binding of a read-only operand (weights part, KV cache of a layer, PLE
/// slot) may span on this device: maxStorageBufferRange, and where select_variants() picks texel
/// reads also maxTexelBufferElements * 16 bytes (so forcing storage reads never breaks a plan).
/// Planning (matrix_parts, KV cache, PLE slots) checks against this.
uint64_t max_read_binding_bytes(const struct DeviceCaps& caps);

/// Records compute ops. Pipelines are created lazily, once per device (Device::kernel), from the
/// descriptions of runtime/kernel_desc.h.
/// Errors: VkError naming the op for a shape/type it does not support.
class Ops {
 public:
  explicit Ops(Device& dev);
  /// Ops with the given variants (tests: e.g. select_variants(caps) with texel_reads forced off).
  Ops(Device& dev, const OpsVariants& variants);
  ~Ops();
  Ops(const Ops&) = delete;
  Ops& operator=(const Ops&) = delete;

  Device& device() const { return dev_; }
  const OpsVariants& variants() const { return v_; }
  /// KV cache element type: F16 (packed in 32-bit words: any device) unless set_kv_type(F32).
  KvType kv_type() const { return kv_f32_ ? KvType::F32 : KvType::F16; }
  /// Choose the KV element type. Affects kv_store/attention recorded afterwards.
  void set_kv_type(KvType t) { kv_f32_ = t == KvType::F32; }
  /// Weight types matmul/get_rows/gate_up_gelu accept: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
  /// Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS (the list is runtime/weight_types.def).
  static bool supports(WeightTypeId type);
  /// The ggml type ids of supports(), in the order of runtime/weight_types.def.
  static std::vector<WeightTypeId> supported_types();

  /// Y[t, r] = sum_k W[r, k] * X[t, k] for t < T, r < W.n_rows.  X: [T, W.ne0], Y: [T, W.n_rows].
  /// Matrix-vector kernels for T < 16 (up to 8 columns per dispatch), tiled matrix-matrix for
  /// T >= 16. f32 accumulation; error bounds per type in tests/test_ops_matmul.cpp.
  /// When accumulate is true, Y += (result) instead of Y = result.
  void matmul(CommandList& cl, const DeviceMatrix& W, const BufferRange& X, const BufferRange& Y, uint32_t T,
              bool accumulate = false);

  /// Feed-forward gate/up: out[t, :] = gelu_tanh(gate · xn[t]) * (up · xn[t]) for t < T, where
  /// xn[t] = rms_norm(x[t]) * norm_weight (as rms_norm, with eps), or xn = x when norm_weight is
  /// empty. gate, up: the same type and shape [n_ff rows, K]; x: [T, K]; out: [T, n_ff].
  /// Decode widths (T < 16) with single-part matrices run one kernel per 8 columns that fetches
  /// x once for both matrices, normalizes on the fly and writes out directly (no intermediate
  /// buffers, no barriers). Otherwise (or when the operands do not allow it) the op records
  /// rms_norm into scratch_x, the two matmuls into out and scratch_u, and gelu_mul, with the
  /// barriers between them. scratch_x: [T, K] f32 (unused without a norm), scratch_u: [T, n_ff]
  /// f32; neither may alias x or out. Error bounds as matmul (tests/test_ops_matmul.cpp).
  void gate_up_gelu(CommandList& cl, const DeviceMatrix& gate, const DeviceMatrix& up, const BufferRange& x,
                    const BufferRange& norm_weight, float eps, const BufferRange& out, uint32_t T,
                    const BufferRange& scratch_x, const BufferRange& scratch_u);

  /// out[t, :] = dequant(W[ids[t], :]) * scale for t < T. ids: int32 [T], out: [T, W.ne0].
  void get_rows(CommandList& cl, const DeviceMatrix& W, const BufferRange& ids, const BufferRange& out, uint32_t T,
                float scale);

  /// out[r, :] = in[r, :] / sqrt(mean(in[r, :]^2) + eps) * (weight ? weight[:] : 1), rows of n.
  /// in == out is allowed. weight: [n] f32 or an empty range for the unweighted norm.
  void rms_norm(CommandList& cl, const BufferRange& in, const BufferRange& weight, const BufferRange& out,
                uint32_t n, uint32_t rows, float eps);

  /// residual[r, :] = (residual[r, :] + rms_norm(in[r, :]) * weight) * s, rows of n, where s is
  /// scale[0] when scale is a non-empty range (a [1] f32 buffer), else 1.
  void rms_norm_add(CommandList& cl, const BufferRange& in, const BufferRange& weight, const BufferRange& residual,
                    const BufferRange& scale, uint32_t n, uint32_t rows, float eps);

  /// NEOX RoPE in place on x: [T, n_heads, head_dim]. Pairs (i, i + n_rot/2) for i < n_rot/2 are
  /// rotated by the angle whose (cos, sin) is cos_sin[t, i]: f32 [T, n_rot/2, 2] made on the host
  /// by rope_table() (runtime/rope_table.h) from the positions, base and frequency factors. Dims
  /// >= n_rot are left as they are.
  void rope_neox(CommandList& cl, const BufferRange& x, const BufferRange& cos_sin, uint32_t T, uint32_t n_heads,
                 uint32_t head_dim, uint32_t n_rot);

  /// out[r, i] = gelu_tanh(a[r, i]) * b[r * b_stride + b_offset + i] for r < rows, i < n.
  void gelu_mul(CommandList& cl, const BufferRange& a, const BufferRange& b, const BufferRange& out, uint32_t n,
                uint32_t rows, uint32_t b_stride, uint32_t b_offset);

  /// out[i] = (a[i] + b[i]) * scale for i < n.
  void add_scale(CommandList& cl, const BufferRange& a, const BufferRange& b, const BufferRange& out, uint32_t n,
                 float scale);
  /// x[i] *= scale for i < n.
  void scale(CommandList& cl, const BufferRange& x, uint32_t n, float scale);
  /// x[i] = cap * tanh(x[i] / cap) for i < n (logit soft-cap).
  void softcap(CommandList& cl, const BufferRange& x, uint32_t n, float cap);
  /// x[r, :] = src[r, :] for the rows r < rows whose mask[r] (uint32) is non-zero; other rows
  /// unchanged. x, src: [rows, n] f32. (Soft tokens: image/audio embeddings replace the token
  /// embeddings of their positions.)
  void row_select(CommandList& cl, const BufferRange& x, const BufferRange& src, const BufferRange& mask, uint32_t n,
                  uint32_t rows);

  /// Append rows to a KV cache: cache[slot(pos[t]), :] = src[t, :] for t < T, with
  /// slot(p) = p % ring_size (ring_size = capacity for a linear cache). src: [T, row] f32;
  /// cache: [ring_size, row] in kv_type(). The positions of one call must take distinct slots
  /// (tokens are stored in parallel, in no particular order).
  void kv_store(CommandList& cl, const BufferRange& src, const BufferRange& cache, const BufferRange& pos,
                uint32_t T, uint32_t row, uint32_t ring_size);

  /// Causal attention with optional sliding window and GQA, scale applied to q·k.
  /// q: [T, n_head, hd] f32; k_cache, v_cache: [ring_size, n_head_kv, hd] in kv_type();
  /// pos: int32 [T], the absolute position of each query; the keys visible to query t are the
  /// positions pk with pk <= pos[t] and (window == 0 or pos[t] - pk < window), read from slot
  /// pk % ring_size (all of them must have been stored). Query head h reads KV head
  /// h / (n_head / n_head_kv). out: [T, n_head * hd] f32.
  /// Decode (T small) splits long key ranges across workgroups and merges (flash-decoding);
  /// prefill uses a tiled kernel with online softmax.
  void attention(CommandList& cl, const BufferRange& q, const BufferRange& k_cache, const BufferRange& v_cache,
                 const BufferRange& pos, const BufferRange& out, uint32_t T, uint32_t n_head, uint32_t n_head_kv,
                 uint32_t hd, uint32_t ring_size, uint32_t window, float scale);

  /// out[0] = index of the max of x[0..n) (lowest index on ties) as int32.
  void argmax(CommandList& cl, const BufferRange& x, uint32_t n, const BufferRange& out);
  /// The k largest of x[0..n): out_ids int32 [k], out_vals f32 [k], sorted descending (ties: lower id first).
  void top_k(CommandList& cl, const BufferRange& x, uint32_t n, uint32_t k, const BufferRange& out_ids,
             const BufferRange& out_vals);

  /// Scratch bytes the ops need for given sizes (e.g. attention partials); the caller
  /// provides one scratch buffer through set_scratch() at least this large.
  uint64_t scratch_bytes(uint32_t max_T, uint32_t max_heads, uint32_t max_hd, uint32_t max_ctx, uint32_t n_vocab) const;
  void set_scratch(const BufferRange& scratch);

 private:
  /// The device's shared pipeline for desc (Device::kernel).
  const Kernel& kernel(const struct KernelDesc& desc);
  /// Rows per invocation of the matrix-vector kernels for a part of n_rows rows and nc columns.
  uint32_t matvec_rows_for(uint32_t n_rows, uint32_t nc) const;
  void matvec_part(CommandList& cl, const DeviceMatrix& W, const DeviceMatrix::Part& part, const BufferRange& X,
                   const BufferRange& Y, uint32_t t0, uint32_t nc, bool accumulate);
  Device& dev_;
  OpsVariants v_;
  bool kv_f32_ = false;
  BufferRange scratch_;
};

/// How a weight matrix is split into parts (DeviceMatrix::Part): runs of whole rows, each at
/// most one buffer binding (max_read_binding_bytes) minus kMatrixPad.
/// Every part is followed by kMatrixPad zero bytes on the device (kernels may read up to one
/// texel past a row's end). Throws VkError if the type is unsupported or one row is too big.
struct MatrixPartLayout {
  uint32_t first_row = 0, n_rows = 0;
  uint64_t bytes = 0;  // n_rows * row_bytes (without the pad)
};
constexpr uint64_t kMatrixPad = 64;
std::vector<MatrixPartLayout> matrix_parts(const struct DeviceCaps& caps, WeightTypeId type, uint32_t ne0,
                                           uint32_t n_rows, uint64_t row_bytes);

/// Upload helper: lay out a weight matrix (host bytes, ggml blocks, n_rows rows of row_bytes)
/// into device buffers split by rows as matrix_parts() says, in `buffers` (appended; the
/// caller keeps them alive), and return its DeviceMatrix. On host-visible (UMA) memory the
/// bytes are written directly.
DeviceMatrix upload_matrix(Device& dev, std::vector<Buffer>& buffers, WeightTypeId type, uint32_t ne0,
                           uint32_t n_rows, uint64_t row_bytes, const void* data);

} // namespace vkg
