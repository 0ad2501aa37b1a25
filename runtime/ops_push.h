// Push-constant blocks of the op kernels, each pinned to its shader's layout (internal to
// runtime/ops*.cpp and kernel_desc.cpp, which sizes the pipelines' push ranges from them).
#pragma once
#include <cstdint>

namespace vkg::ops_detail {

struct EltPush {
  uint32_t n, count, b_stride, b_offset;
  float s;
};
static_assert(sizeof(EltPush) == 20, "must match eltwise.comp");

struct KvStorePush {
  uint32_t row, ring_size;
};
static_assert(sizeof(KvStorePush) == 8, "must match kv_store.comp");

struct AttnPush {
  uint32_t T, n_head, n_kv, hd, ring_size, window;
  float scale;
  uint32_t n_chunks, pos_t0, q_t0, k_t0, v_t0, pad;
};
static_assert(sizeof(AttnPush) == 52, "must match attention.comp");

struct MergePush {
  uint32_t T, n_head, hd, n_chunks;
};
static_assert(sizeof(MergePush) == 16, "must match attn_merge.comp");

struct MatvecPush {
  uint32_t K, n_rows, row_bytes, w_texels, w_base, x_t0, y_row0, y_stride, t0, accumulate, nr;
};
static_assert(sizeof(MatvecPush) == 44, "must match matvec.comp");

struct MatmulPush {
  uint32_t K, n_rows, row_bytes, w_texels, w_base, x_t0, y_row0, y_stride, T, accumulate, nr;
};
static_assert(sizeof(MatmulPush) == 44, "must match matmul.comp");

struct GateUpPush {
  MatvecPush mv;
  uint32_t u_texels, u_base, n_t0, use_norm;
  float eps;
};
static_assert(sizeof(GateUpPush) == 64, "must match matvec.comp (GATE_UP)");

struct GetRowsPush {
  uint32_t K, n_rows, first_row, row_bytes, w_texels, w_base;
  float scale;
  uint32_t pad;
};
static_assert(sizeof(GetRowsPush) == 32, "must match get_rows.comp");

struct NormPush {
  uint32_t n, rows;
  float eps;
  uint32_t use_weight, use_scale;
};
static_assert(sizeof(NormPush) == 20, "must match rms_norm.comp");

struct RopePush {
  uint32_t n_heads, head_dim, n_rot;
};
static_assert(sizeof(RopePush) == 12, "must match rope.comp");

struct SelectPush {
  uint32_t n, k, slice, final_pass, has_vals, x_t0;
};
static_assert(sizeof(SelectPush) == 24, "must match select.comp");

} // namespace vkg::ops_detail
