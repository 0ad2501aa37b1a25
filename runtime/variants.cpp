// select_variants(): the one place where kernel variants and tuning are chosen from the
// device's capability record (never from vendor names).
#include <fmt/format.h>

#include <algorithm>

#include "caps.h"
#include "ops.h"

namespace vkg {
namespace {
uint32_t pow2_floor_u32(uint32_t v) {
  uint32_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}
} // namespace

OpsVariants select_variants(const DeviceCaps& caps) {
  OpsVariants v;
  v.subgroup_size = std::max<uint32_t>(1, caps.subgroup_size);
  v.max_workgroup_invocations =
      std::min<uint32_t>({caps.max_workgroup_invocations, caps.max_workgroup_size[0], 1024u});
  v.max_shared_memory = caps.max_shared_memory;
  // Subgroup reductions need whole subgroups inside one workgroup of at most the limit, and
  // the kernels assume a power-of-two subgroup size of at least 4.
  v.subgroup_arith = caps.subgroup_arith() && v.subgroup_size >= 4 &&
                     (v.subgroup_size & (v.subgroup_size - 1)) == 0 &&
                     v.subgroup_size <= v.max_workgroup_invocations;
  v.fp16_arith = caps.fp16_arith;
  v.storage16 = caps.storage16;
  v.storage8 = caps.storage8;
  v.soft_half = caps.soft_half;
  // Texel views where they pay off (CPU drivers) and cover every binding a plan may make
  // (max_read_binding_bytes), with room for the texel bindings of the widest kernel.
  v.texel_reads = caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU &&
                  caps.max_texel_buffer_elements * 16 >= caps.max_storage_buffer_range &&
                  caps.max_texel_buffers_per_stage >= 4;
  // Driver workaround, by driver ID: llvmpipe ends loops after 65535 iterations per invocation.
  v.max_loop_iterations = caps.driver_id == VK_DRIVER_ID_MESA_LLVMPIPE ? 65535 : 0;
  // Matrix-vector: one row per invocation, several rows each so that the X values fetched for a
  // scale group serve many rows. On CPU devices (lavapipe: a subgroup is one SIMD register, a
  // texel fetch costs far more than arithmetic) one subgroup per workgroup with 16 rows per
  // invocation measured best; GPUs get wider workgroups and fewer rows per invocation.
  // 32 rows (each X value fetched serves 32 rows) beat 16 by 5-15% on Q4_K / Q6_K (lavapipe);
  // 64 was no better.
  if (caps.type == VK_PHYSICAL_DEVICE_TYPE_CPU) {
    v.matvec_wg = std::min<uint32_t>(std::max<uint32_t>(8, v.subgroup_size), v.max_workgroup_invocations);
    v.matvec_rows = 32;
  } else {
    // GPUs: K split across lanes (matvec_gpu.comp): neighbouring lanes read neighbouring blocks
    // and nothing per invocation scales with K (the row-per-invocation kernel spills there).
    v.matvec_split_k = true;
    v.matvec_wg = pow2_floor_u32(std::min<uint32_t>(64, v.max_workgroup_invocations));
    v.matvec_rows = 2;
  }
  // Matrix-matrix: tokens across invocations, a tile of rows decoded once per block for all.
  v.matmul_wg = std::min<uint32_t>(32, v.max_workgroup_invocations);
  v.matmul_rows = 32;
  v.matmul_tokens = 4;
  // Decode attention with the head dims split over one subgroup: needs subgroup arithmetic and
  // a workgroup of subgroup_size invocations that is exactly one subgroup: the device's size is
  // fixed (min == max), or the pipeline requires it (subgroup size control, full subgroups).
  const uint32_t S = v.subgroup_size;
  const bool fixed = caps.min_subgroup_size == caps.max_subgroup_size && caps.max_subgroup_size == S;
  const bool settable = caps.subgroup_size_control && caps.min_subgroup_size <= S && S <= caps.max_subgroup_size;
  v.attn_decode_subgroup = v.subgroup_arith && S <= 64 && (fixed || settable);
  v.attn_decode_required_subgroup = v.attn_decode_subgroup && !fixed ? S : 0;
  return v;
}

uint64_t max_read_binding_bytes(const DeviceCaps& caps) {
  const uint64_t storage = caps.max_storage_buffer_range;
  return select_variants(caps).texel_reads ? std::min(storage, caps.max_texel_buffer_elements * 16) : storage;
}

std::string OpsVariants::describe() const {
  return fmt::format(
      "subgroup {}{}, fp16 {}, storage16 {}, {} reads, workgroup <= {}, shared {} KiB, matvec {}x{}, matmul {}x{}x{}",
      subgroup_size, subgroup_arith ? " (arithmetic)" : " (no arithmetic)", fp16_arith ? "yes" : "no",
      storage16 ? "yes" : "no", texel_reads ? "texel-buffer" : "storage-buffer", max_workgroup_invocations,
      max_shared_memory / 1024, matvec_wg, matvec_rows, matmul_wg, matmul_rows, matmul_tokens) +
         (matvec_split_k ? ", split-K matvec" : "") +
         (attn_decode_subgroup ? fmt::format(", decode attention on subgroups of {}{}", subgroup_size,
                                             attn_decode_required_subgroup ? " (required)" : "")
                               : "") +
         (max_loop_iterations ? fmt::format(", loops <= {} iterations", max_loop_iterations) : "") +
         (soft_half ? ", soft half conversion" : "");
}

} // namespace vkg
