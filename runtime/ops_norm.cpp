// RMS norms and RoPE.
#include <fmt/format.h>

#include <cmath>

#include "context.h"
#include "kernel.h"
#include "kernel_desc.h"
#include "ops.h"
#include "ops_internal.h"
#include "ops_push.h"
#include "rope_table.h"
#include "stream.h"

namespace vkg {
using namespace ops_detail;

namespace {
} // namespace

void Ops::rms_norm(CommandList& cl, const BufferRange& in, const BufferRange& weight, const BufferRange& out,
                   uint32_t n, uint32_t rows, float eps) {
  if (rows == 0) return;
  require(n > 0, "rms_norm", "empty rows");
  const Kernel& k = kernel(kernel_descs::rms_norm(v_, false));
  const Grid g = grid_for(rows);
  cl.dispatch(k, {in, empty(weight) ? in : weight, out}, NormPush{n, rows, eps, empty(weight) ? 0u : 1u, 0u}, g.x,
              g.y);
}

void Ops::rms_norm_add(CommandList& cl, const BufferRange& in, const BufferRange& weight, const BufferRange& residual,
                       const BufferRange& scale, uint32_t n, uint32_t rows, float eps) {
  if (rows == 0) return;
  require(n > 0, "rms_norm_add", "empty rows");
  const Kernel& k = kernel(kernel_descs::rms_norm(v_, true));
  const Grid g = grid_for(rows);
  cl.dispatch(k, {in, empty(weight) ? in : weight, residual, empty(scale) ? in : scale},
              NormPush{n, rows, eps, empty(weight) ? 0u : 1u, empty(scale) ? 0u : 1u}, g.x, g.y);
}

void Ops::rope_neox(CommandList& cl, const BufferRange& x, const BufferRange& cos_sin, uint32_t T, uint32_t n_heads,
                    uint32_t head_dim, uint32_t n_rot) {
  if (T == 0 || n_heads == 0) return;
  require(n_rot % 2 == 0 && n_rot <= head_dim && n_rot > 0, "rope_neox",
          fmt::format("n_rot {} must be even and at most head_dim {}", n_rot, head_dim));
  require(T <= 65535, "rope_neox", "T over 65535");
  require(cos_sin.range >= rope_table_bytes(T, n_rot), "rope_neox",
          fmt::format("cos/sin table of {} bytes for {} tokens of {} rotated dims", cos_sin.range, T, n_rot));
  const uint32_t wg = std::min<uint32_t>(64, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::rope(v_));
  cl.dispatch(k, {x, cos_sin}, RopePush{n_heads, head_dim, n_rot}, ceil_div(uint64_t{n_heads} * (n_rot / 2), wg), T);
}

} // namespace vkg
