// One kernel description per op: the shader variant, interface and specialization an op
// dispatches for a given operand shape, chosen from OpsVariants. The ops obtain their pipelines
// from these (through Device::kernel) and `vkgemma kernels` (host/forward_workload.h) lists the
// same descriptions, so the listing is what the forward pass compiles.
#pragma once
#include <cstdint>
#include <vector>

#include "kernel.h"
#include "ops.h"

namespace vkg::kernel_descs {

/// T from which Ops::matmul uses the tiled matrix-matrix kernel (below: matrix-vector kernels of
/// up to kMaxColumns columns per dispatch).
constexpr uint32_t kMatmulMinT = 16;
constexpr uint32_t kMaxColumns = 8;
/// Columns per matrix-vector dispatch: kMaxColumns, 4 for the split-K kernels (their columns are
/// unrolled: 8 would double code size and compile time for a width only prefill tails use).
uint32_t max_columns(const OpsVariants& v);

/// Decode attention sizes: T up to this splits the keys across workgroups (flash-decoding).
constexpr uint32_t kDecodeMaxT = 8;

/// Matrix x nc vectors (1 <= nc <= kMaxColumns) over rows of ne0 elements of `type`: a row per
/// invocation (matvec.comp), or split-K (matvec_gpu.comp) where v.matvec_split_k.
/// Throws VkError(internal) for a type Ops does not support.
KernelDesc matvec(const OpsVariants& v, WeightTypeId type, uint32_t ne0, uint32_t nc);
/// Rows per workgroup of the split-K kernels for a part of n_rows rows: two per lane group
/// (subgroups of v.subgroup_size, or the whole workgroup), more where the row count would
/// need over 65535 workgroups.
uint32_t split_k_rows(const OpsVariants& v, uint32_t n_rows);
/// The fused feed-forward gate/up kernel (Ops::gate_up_gelu at decode widths).
KernelDesc gate_up(const OpsVariants& v, WeightTypeId type, uint32_t ne0, uint32_t nc);
/// Tiled matrix x matrix for T >= kMatmulMinT tokens.
KernelDesc matmul(const OpsVariants& v, WeightTypeId type, uint32_t T);
/// Row gather with dequantization.
KernelDesc get_rows(const OpsVariants& v, WeightTypeId type);

/// Element-wise kernels (shaders/eltwise.comp).
enum class Eltwise { gelu_mul, add_scale, scale, softcap, row_select };
KernelDesc eltwise(const OpsVariants& v, Eltwise op);
/// rms_norm (add = false) or rms_norm_add.
KernelDesc rms_norm(const OpsVariants& v, bool add);
KernelDesc rope(const OpsVariants& v);
KernelDesc kv_store(const OpsVariants& v, KvType kv);

/// Whether decode attention of T queries runs on the subgroup kernel (attn_decode) for this
/// head dim and group size G = n_head / n_kv (else the tiled kernel, as prefill).
bool attn_decode_eligible(const OpsVariants& v, KvType kv, uint32_t T, uint32_t hd, uint32_t G);
KernelDesc attn_decode(const OpsVariants& v, KvType kv, uint32_t hd, uint32_t G);
/// The tiled attention kernel for T queries of head dim hd in groups of G per KV head.
KernelDesc attention(const OpsVariants& v, KvType kv, uint32_t hd, uint32_t T, uint32_t G);
KernelDesc attn_merge(const OpsVariants& v);
/// Workgroup size and workgroups per KV head of the tiled attention kernel.
struct AttnShape {
  uint32_t wg = 64, n_wgs = 1;
};
AttnShape attn_shape(uint32_t T, uint32_t G, uint32_t max_inv);

/// argmax / top-k passes: over floats (pairs = false) or candidate pairs, wg invocations.
KernelDesc select(const OpsVariants& v, bool pairs, uint32_t wg);
/// Every select kernel argmax/top_k over n floats would use, with a scratch buffer of
/// Ops::scratch_bytes() when with_scratch (the forward pass has one).
std::vector<KernelDesc> select_all(const OpsVariants& v, uint32_t n, bool with_scratch);

} // namespace vkg::kernel_descs
