// Kernel descriptions per op (kernel_desc.h); select_all() is in ops_select.cpp beside the
// selection logic it mirrors.
#include "kernel_desc.h"

#include <fmt/format.h>

#include <algorithm>

#include "ops_internal.h"
#include "ops_push.h"

namespace vkg::kernel_descs {
using namespace ops_detail;

namespace {

const WType& type_of(WeightTypeId type, const char* op) {
  const WType* t = wtype(type);
  require(t != nullptr, op, fmt::format("weight type {} is not supported", type));
  return *t;
}

/// Rows of whole texel-aligned units (the matvec *_a variants).
bool aligned_rows(const WType& t, uint32_t ne0) { return t.unit_blocks > 1 && ne0 % (t.unit_blocks * t.block_elems) == 0; }

std::string fetch_kind(const OpsVariants& v) { return v.texel_reads ? "texel reads" : "storage reads"; }

KernelDesc desc(std::string shader, uint32_t n_buffers, uint32_t push_bytes, std::vector<uint32_t> spec,
                uint32_t texel_bindings, std::string variant, uint32_t required_subgroup_size = 0,
                uint32_t r32_bindings = 0) {
  KernelDesc d;
  d.shader = std::move(shader);
  d.n_buffers = n_buffers;
  d.push_bytes = push_bytes;
  d.spec = std::move(spec);
  d.texel_bindings = texel_bindings;
  d.required_subgroup_size = required_subgroup_size;
  d.r32_bindings = r32_bindings;
  d.variant = std::move(variant);
  return d;
}

} // namespace

namespace {
/// The split-K kernels' workgroup: a power of two (the shared-memory tree).
uint32_t split_k_wg(const OpsVariants& v) { return pow2_floor(std::max<uint32_t>(1, v.matvec_wg)); }
std::string split_k_variant(const OpsVariants& v) {
  return fmt::format("split-K, {} sum, {}", v.subgroup_arith ? "subgroup" : "shared-memory", fetch_kind(v));
}
} // namespace

uint32_t max_columns(const OpsVariants& v) { return v.matvec_split_k ? 4 : kMaxColumns; }

uint32_t split_k_rows(const OpsVariants& v, uint32_t n_rows) {
  const uint32_t wg = split_k_wg(v);
  const uint32_t groups = v.subgroup_arith ? std::max<uint32_t>(1, wg / std::max<uint32_t>(1, v.subgroup_size)) : 1;
  return std::max<uint32_t>(2 * groups, ceil_div(n_rows, 65535));
}

KernelDesc matvec(const OpsVariants& v, WeightTypeId type, uint32_t ne0, uint32_t nc) {
  const WType& t = type_of(type, "matmul");
  require(nc >= 1 && nc <= max_columns(v), "matmul", fmt::format("{} columns per matrix-vector dispatch", nc));
  if (v.matvec_split_k)
    return desc(fetch_shader(v, fmt::format("matvec_gpu_{}{}", t.name, v.subgroup_arith ? "" : "_wg")), 3,
                sizeof(MatvecPush), {split_k_wg(v), 1, nc}, fetch_mask(v, 0b011), split_k_variant(v));
  const std::string shader = fmt::format("matvec_{}_{}", t.name, aligned_rows(t, ne0) ? "a" : "g");
  return desc(fetch_shader(v, shader), 3, sizeof(MatvecPush), {v.matvec_wg, 2 * v.matvec_rows, nc}, fetch_mask(v, 0b011),
              fmt::format("row per invocation, {}", fetch_kind(v)));
}

KernelDesc gate_up(const OpsVariants& v, WeightTypeId type, uint32_t ne0, uint32_t nc) {
  const WType& t = type_of(type, "gate_up_gelu");
  require(nc >= 1 && nc <= max_columns(v), "gate_up_gelu", fmt::format("{} columns per dispatch", nc));
  if (v.matvec_split_k)
    return desc(fetch_shader(v, fmt::format("matvec_gate_up_gpu_{}{}", t.name, v.subgroup_arith ? "" : "_wg")), 5,
                sizeof(GateUpPush), {split_k_wg(v), 1, nc}, fetch_mask(v, 0b10111), split_k_variant(v));
  const std::string shader = fmt::format("matvec_gate_up_{}_{}", t.name, aligned_rows(t, ne0) ? "a" : "g");
  return desc(fetch_shader(v, shader), 5, sizeof(GateUpPush), {v.matvec_wg, 2 * v.matvec_rows, nc},
              fetch_mask(v, 0b10111), fmt::format("row per invocation, {}", fetch_kind(v)));
}

KernelDesc matmul(const OpsVariants& v, WeightTypeId type, uint32_t T) {
  const WType& t = type_of(type, "matmul");
  const uint32_t wg = std::min<uint32_t>(v.matmul_wg, v.max_workgroup_invocations);
  const uint32_t tv = std::clamp<uint32_t>(ceil_div(T, wg), 1, v.matmul_tokens);  // no idle token slots
  return desc(fetch_shader(v, fmt::format("matmul_{}", t.name)), 3, sizeof(MatmulPush), {wg, v.matmul_rows, tv},
              fetch_mask(v, 0b011), fmt::format("token per invocation, {}", fetch_kind(v)));
}

KernelDesc get_rows(const OpsVariants& v, WeightTypeId type) {
  const WType& t = type_of(type, "get_rows");
  const uint32_t wg = std::min<uint32_t>(64, v.max_workgroup_invocations);
  return desc(fetch_shader(v, fmt::format("get_rows_{}", t.name)), 3, sizeof(GetRowsPush), {wg}, fetch_mask(v, 0b001),
              fetch_kind(v));
}

KernelDesc eltwise(const OpsVariants& v, Eltwise op) {
  const uint32_t wg = std::min<uint32_t>(64, v.max_workgroup_invocations);
  switch (op) {
    case Eltwise::gelu_mul: return desc("gelu_mul", 3, sizeof(EltPush), {wg}, 0, "");
    case Eltwise::add_scale: return desc("add_scale", 3, sizeof(EltPush), {wg}, 0, "");
    case Eltwise::scale: return desc("scale", 1, sizeof(EltPush), {wg}, 0, "");
    case Eltwise::softcap: return desc("softcap", 1, sizeof(EltPush), {wg}, 0, "");
    case Eltwise::row_select: return desc("row_select", 3, sizeof(EltPush), {wg}, 0, "");
  }
  throw VkError(ErrorCode::internal, "eltwise: unknown op");
}

KernelDesc rms_norm(const OpsVariants& v, bool add) {
  const uint32_t wg = pow2_floor(std::min<uint32_t>(64, v.max_workgroup_invocations));
  const std::string name = std::string(add ? "rms_norm_add" : "rms_norm") + (v.subgroup_arith ? "_sg" : "");
  return desc(name, add ? 4 : 3, sizeof(NormPush), {wg}, 0, v.subgroup_arith ? "subgroup sum" : "shared-memory sum");
}

KernelDesc rope(const OpsVariants& v) {
  return desc("rope_neox", 2, sizeof(RopePush), {std::min<uint32_t>(64, v.max_workgroup_invocations)}, 0, "");
}

KernelDesc kv_store(const OpsVariants& v, KvType kv) {
  return desc(kv == KvType::F16 ? "kv_store_f16" : "kv_store_f32", 3, sizeof(KvStorePush),
              {std::min<uint32_t>(64, v.max_workgroup_invocations)}, 0, "");
}

bool attn_decode_eligible(const OpsVariants& v, KvType kv, uint32_t T, uint32_t hd, uint32_t G) {
  const uint32_t per_lane = kv == KvType::F16 ? 8 : 4;
  return T <= kDecodeMaxT && v.attn_decode_subgroup && (hd == 128 || hd == 256 || hd == 512) &&
         hd % (per_lane * v.subgroup_size) == 0 && G <= 16;
}

KernelDesc attn_decode(const OpsVariants& v, KvType kv, uint32_t hd, uint32_t G) {
  const bool f16 = kv == KvType::F16;
  return desc(fetch_shader(v, fmt::format("attn_decode_h{}_{}", hd, f16 ? "f16" : "f32")), 5, sizeof(AttnPush),
              {v.subgroup_size, G}, fetch_mask(v, 0b00111, 0b01000),
              fmt::format("head dims over a subgroup, {}", fetch_kind(v)), v.attn_decode_required_subgroup, 0b01000);
}

AttnShape attn_shape(uint32_t T, uint32_t G, uint32_t max_inv) {
  AttnShape s;
  s.wg = pow2_floor(std::min<uint32_t>(64, max_inv));
  s.n_wgs = ceil_div(uint64_t{T} * G, s.wg);
  return s;
}

KernelDesc attention(const OpsVariants& v, KvType kv, uint32_t hd, uint32_t T, uint32_t G) {
  const bool f16 = kv == KvType::F16;
  const uint32_t hd_variant = hd <= 128 ? 128 : hd <= 256 ? 256 : 512;
  const AttnShape sh = attn_shape(T, G, v.max_workgroup_invocations);
  return desc(fetch_shader(v, fmt::format("attention_h{}_{}", hd_variant, f16 ? "f16" : "f32")), 5, sizeof(AttnPush),
              {sh.wg}, fetch_mask(v, 0b00111, 0b01000), fmt::format("query per invocation, {}", fetch_kind(v)), 0,
              0b01000);
}

KernelDesc attn_merge(const OpsVariants& v) {
  return desc("attn_merge", 2, sizeof(MergePush), {std::min<uint32_t>(64, v.max_workgroup_invocations)}, 0, "");
}

KernelDesc select(const OpsVariants& v, bool pairs, uint32_t wg) {
  const std::string name = std::string(pairs ? "select_p" : "select_x") + (v.subgroup_arith ? "_sg" : "");
  return desc(fetch_shader(v, name), 4, sizeof(SelectPush), {wg}, fetch_mask(v, 0b0001), fetch_kind(v));
}

} // namespace vkg::kernel_descs
