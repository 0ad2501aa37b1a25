// Matrix products and row gathers over quantized weights.
#include <fmt/format.h>

#include <algorithm>

#include "context.h"
#include "kernel.h"
#include "kernel_desc.h"
#include "ops.h"
#include "ops_internal.h"
#include "ops_push.h"
#include "stream.h"

namespace vkg {
using namespace ops_detail;

namespace {

using kernel_descs::kMatmulMinT;  // T from which the tiled kernel is used

const WType& checked_type(const DeviceMatrix& W, const char* op) {
  const WType* t = wtype(W.type);
  require(t != nullptr, op, fmt::format("weight type {} is not supported", W.type));
  require(W.ne0 % t->block_elems == 0 && W.row_bytes == uint64_t{W.ne0} / t->block_elems * t->block_bytes, op,
          fmt::format("row of {} elements in {} bytes does not fit type {}", W.ne0, W.row_bytes, t->name));
  return *t;
}

} // namespace

uint32_t Ops::matvec_rows_for(uint32_t n_rows, uint32_t nc) const {
  uint32_t nr = std::max<uint32_t>(1, v_.matvec_rows / nc) * (n_rows >= 16384 ? 2 : 1);
  // Small matrices (k/v projections): keep at least kMinGroups workgroups for the device's threads.
  constexpr uint32_t kMinGroups = 4;
  while (nr > 1 && ceil_div(n_rows, uint64_t{v_.matvec_wg} * nr) < kMinGroups) nr /= 2;
  return nr;
}

void Ops::matvec_part(CommandList& cl, const DeviceMatrix& W, const DeviceMatrix::Part& part, const BufferRange& X,
                      const BufferRange& Y, uint32_t t0, uint32_t nc, bool accumulate) {
  checked_type(W, "matmul");
  // Rows per invocation shrink with the column count (X fetches grow with it, weights do not)
  // and double on tall matrices (enough workgroups either way). A push constant: one pipeline.
  const Kernel& k = kernel(kernel_descs::matvec(v_, W.type, W.ne0, nc));
  // Split-K: nr rows per workgroup; else wg invocations of nr rows each.
  const uint32_t wg = v_.matvec_split_k ? 1 : v_.matvec_wg;
  const uint32_t nr = v_.matvec_split_k ? kernel_descs::split_k_rows(v_, part.n_rows) : matvec_rows_for(part.n_rows, nc);
  const TexelBinding wb = read_binding(dev_, v_, part.range, uint64_t{part.n_rows} * W.row_bytes, "matmul (weights)");
  const TexelBinding xb = read_binding(dev_, v_, X, uint64_t{t0 + nc} * W.ne0 * 4, "matmul (X)");
  MatvecPush p{W.ne0, part.n_rows, static_cast<uint32_t>(W.row_bytes), wb.texels, wb.texel0 * 16u, xb.texel0,
               part.first_row, W.n_rows, t0, accumulate ? 1u : 0u, nr};
  cl.dispatch(k, {wb.range, xb.range, Y}, p, ceil_div(part.n_rows, uint64_t{wg} * nr));
}

void Ops::matmul(CommandList& cl, const DeviceMatrix& W, const BufferRange& X, const BufferRange& Y, uint32_t T,
                 bool accumulate) {
  checked_type(W, "matmul");
  require(T > 0, "matmul", "T must be positive");
  require(!W.parts.empty() || W.n_rows == 0, "matmul", "matrix has no parts");
  if (T >= kMatmulMinT) {
    // Tiled matrix x matrix: R rows x (wg * tv) tokens per workgroup.
    const Kernel& k = kernel(kernel_descs::matmul(v_, W.type, T));
    const uint32_t wg = k.desc().spec[0], r = k.desc().spec[1], tv = k.desc().spec[2];
    const TexelBinding xb = read_binding(dev_, v_, X, uint64_t{T} * W.ne0 * 4, "matmul (X)");
    const uint32_t tiles = ceil_div(T, uint64_t{wg} * tv);
    require(tiles <= 65535, "matmul", "T too large");
    for (const auto& part : W.parts) {
      const TexelBinding wb = read_binding(dev_, v_, part.range, uint64_t{part.n_rows} * W.row_bytes, "matmul (weights)");
      MatmulPush p{W.ne0, part.n_rows, static_cast<uint32_t>(W.row_bytes), wb.texels, wb.texel0 * 16u, xb.texel0,
                   part.first_row, W.n_rows, T, accumulate ? 1u : 0u, r};
      const Grid g = grid_for(ceil_div(part.n_rows, r));
      require(g.y == 1, "matmul", "too many rows in one part");
      cl.dispatch(k, {wb.range, xb.range, Y}, p, g.x, tiles);
    }
    return;
  }
  const uint32_t max_nc = kernel_descs::max_columns(v_);
  for (uint32_t t0 = 0; t0 < T; t0 += max_nc) {
    const uint32_t nc = std::min<uint32_t>(max_nc, T - t0);
    for (const auto& part : W.parts) matvec_part(cl, W, part, X, Y, t0, nc, accumulate);
  }
}

void Ops::gate_up_gelu(CommandList& cl, const DeviceMatrix& gate, const DeviceMatrix& up, const BufferRange& x,
                       const BufferRange& norm_weight, float eps, const BufferRange& out, uint32_t T,
                       const BufferRange& scratch_x, const BufferRange& scratch_u) {
  checked_type(gate, "gate_up_gelu");
  checked_type(up, "gate_up_gelu");
  require(gate.type == up.type && gate.ne0 == up.ne0 && gate.n_rows == up.n_rows, "gate_up_gelu",
          "gate and up differ in type or shape");
  require(T > 0, "gate_up_gelu", "T must be positive");
  const bool norm = !empty(norm_weight);
  // The fused kernel binds 5 buffers: storage buffers all with storage reads, over the Vulkan
  // minimum of 4 per stage that some devices have.
  const auto& caps = dev_.caps();
  const uint32_t fused_storage = v_.texel_reads ? 1 : 5;
  const bool fused = T < kMatmulMinT && gate.parts.size() == 1 && up.parts.size() == 1 &&
                     (!norm || norm_weight.offset % 16 == 0) && sizeof(GateUpPush) <= caps.max_push_constants &&
                     fused_storage <= caps.max_storage_buffers_per_stage;
  if (!fused) {
    BufferRange xn = x;
    if (norm) {
      rms_norm(cl, x, norm_weight, scratch_x, gate.ne0, T, eps);
      cl.barrier();
      xn = scratch_x;
    }
    matmul(cl, gate, xn, out, T);
    matmul(cl, up, xn, scratch_u, T);
    cl.barrier();
    gelu_mul(cl, out, scratch_u, out, gate.n_rows, T, gate.n_rows, 0);
    return;
  }
  const auto& pg = gate.parts[0];
  const auto& pu = up.parts[0];
  const uint32_t wg = v_.matvec_wg;
  const TexelBinding gb = read_binding(dev_, v_, pg.range, uint64_t{pg.n_rows} * gate.row_bytes, "gate_up_gelu (gate)");
  const TexelBinding ub = read_binding(dev_, v_, pu.range, uint64_t{pu.n_rows} * up.row_bytes, "gate_up_gelu (up)");
  const TexelBinding nb = norm ? read_binding(dev_, v_, norm_weight, uint64_t{gate.ne0} * 4, "gate_up_gelu (norm)")
                               : TexelBinding{};
  const uint32_t max_nc = kernel_descs::max_columns(v_);
  for (uint32_t t0 = 0; t0 < T; t0 += max_nc) {
    const uint32_t nc = std::min<uint32_t>(max_nc, T - t0);
    // Each invocation accumulates nr rows of both matrices: half the rows of a plain matvec.
    const uint32_t nr = v_.matvec_split_k ? kernel_descs::split_k_rows(v_, gate.n_rows)
                                          : std::max<uint32_t>(1, matvec_rows_for(gate.n_rows, nc) / 2);
    const Kernel& k = kernel(kernel_descs::gate_up(v_, gate.type, gate.ne0, nc));
    const TexelBinding xb = read_binding(dev_, v_, x, uint64_t{t0 + nc} * gate.ne0 * 4, "gate_up_gelu (x)");
    GateUpPush p{{gate.ne0, gate.n_rows, static_cast<uint32_t>(gate.row_bytes), gb.texels, gb.texel0 * 16u,
                  xb.texel0, 0, gate.n_rows, t0, 0, nr},
                 ub.texels, ub.texel0 * 16u, nb.texel0, norm ? 1u : 0u, eps};
    cl.dispatch(k, {gb.range, ub.range, xb.range, out, norm ? nb.range : xb.range}, p,
                ceil_div(gate.n_rows, uint64_t{v_.matvec_split_k ? 1 : wg} * nr));
  }
}

void Ops::get_rows(CommandList& cl, const DeviceMatrix& W, const BufferRange& ids, const BufferRange& out, uint32_t T,
                   float scale) {
  const WType& t = checked_type(W, "get_rows");
  if (T == 0) return;
  const uint32_t wg = std::min<uint32_t>(64, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::get_rows(v_, W.type));
  const uint32_t nblk = W.ne0 / t.block_elems;
  for (const auto& part : W.parts) {
    const TexelBinding wb = read_binding(dev_, v_, part.range, uint64_t{part.n_rows} * W.row_bytes, "get_rows");
    GetRowsPush p{W.ne0, part.n_rows, part.first_row, static_cast<uint32_t>(W.row_bytes), wb.texels,
                  wb.texel0 * 16u, scale, 0};
    cl.dispatch(k, {wb.range, ids, out}, p, ceil_div(nblk, wg), T);
  }
}

} // namespace vkg
