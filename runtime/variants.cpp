// select_variants(): the one place where kernel variants and tuning are chosen from the
// device's capability record (never from vendor names).
#include <fmt/format.h>

#include <algorithm>

#include "caps.h"
#include "ops.h"

namespace vkg {

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
    v.matvec_wg = std::min<uint32_t>(64, v.max_workgroup_invocations);
    v.matvec_rows = 2;
  }
  // Matrix-matrix: tokens across invocations, a tile of rows decoded once per block for all.
  v.matmul_wg = std::min<uint32_t>(32, v.max_workgroup_invocations);
  v.matmul_rows = 32;
  v.matmul_tokens = 4;
  // Decode attention with the head dims split over one subgroup: needs subgroup arithmetic and
  // a fixed subgroup size (a workgroup of subgroup_size invocations is then one subgroup).
  v.attn_decode_subgroup = v.subgroup_arith && v.subgroup_size <= 64 &&
                           caps.min_subgroup_size == caps.max_subgroup_size &&
                           caps.max_subgroup_size == v.subgroup_size;
  return v;
}

std::string OpsVariants::describe() const {
  return fmt::format(
      "subgroup {}{}, fp16 {}, storage16 {}, workgroup <= {}, shared {} KiB, matvec {}x{}, matmul {}x{}x{}",
      subgroup_size, subgroup_arith ? " (arithmetic)" : " (no arithmetic)", fp16_arith ? "yes" : "no",
      storage16 ? "yes" : "no", max_workgroup_invocations, max_shared_memory / 1024, matvec_wg, matvec_rows,
      matmul_wg, matmul_rows, matmul_tokens) + (soft_half ? ", soft half conversion" : "");
}

} // namespace vkg
