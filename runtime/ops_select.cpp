// argmax and top-k over long float vectors (logits): per-workgroup candidates in the scratch
// buffer, then one workgroup over the candidates.
#include <fmt/format.h>

#include <algorithm>
#include <functional>

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
constexpr uint32_t kMaxK = 256;       // top_k limit
constexpr uint32_t kMaxGroups = 64;   // first-pass workgroups
constexpr uint32_t kMinSlice = 2048;  // items per first-pass workgroup at least

uint32_t select_groups(uint32_t n) { return std::clamp<uint32_t>(ceil_div(n, kMinSlice), 1, kMaxGroups); }
} // namespace

namespace ops_detail {
uint64_t select_scratch_bytes(uint32_t n_vocab) {
  return n_vocab ? uint64_t{select_groups(n_vocab)} * kMaxK * 8 + 256 : 0;
}
} // namespace ops_detail

namespace {
// Where the driver stops any loop nest after a number of iterations per invocation
// (OpsVariants::max_loop_iterations; Mesa's llvmpipe/lavapipe: 65535, LP_MAX_TGSI_LOOP_ITERATIONS),
// a selection pass must stay below it: it runs k rounds over items/wg items each, plus the
// reduction loop of each round: wg / subgroup_size iterations with subgroup arithmetic (64 for
// 256 invocations on 4-wide subgroups, as arm64 lavapipe has), log2(wg) without. Budget: the
// limit less ~8% of slack. Other drivers have no such limit.
uint64_t loop_budget(const OpsVariants& v) {
  return v.max_loop_iterations ? uint64_t{v.max_loop_iterations} * 60000 / 65535 : UINT64_MAX;
}

uint64_t reduce_iterations(const OpsVariants& v, uint32_t wg) {
  if (v.subgroup_arith) return ceil_div(wg, std::max(1u, v.subgroup_size)) + 1;
  uint64_t n = 1;
  for (uint32_t s = wg; s > 1; s >>= 1) ++n;
  return n;
}

void record_select(Device& dev, const OpsVariants& v, const BufferRange& scratch,
                   const std::function<const Kernel&(bool, uint32_t)>& kern, CommandList& cl,
                   const BufferRange& x, uint32_t n, uint32_t k, const BufferRange& ids, const BufferRange& vals,
                   const char* op) {
  require(n > 0 && k > 0 && k <= n && k <= kMaxK, op, fmt::format("k = {} of n = {} (k <= {})", k, n, kMaxK));
  const uint32_t max_wg = pow2_floor(std::min<uint32_t>(256, v.max_workgroup_invocations));
  const uint32_t wg = std::min<uint32_t>(64, max_wg);
  const TexelBinding xb = read_binding(dev, v, x, uint64_t{n} * 4, op);
  uint32_t groups = select_groups(n);
  const uint64_t need = uint64_t{groups} * k * 8;
  if (empty(scratch) || scratch.range == VK_WHOLE_SIZE || scratch.range < need + 256) groups = 1;
  const BufferRange dummy = ids;
  const bool has_vals = !empty(vals);
  if (groups == 1) {
    // One workgroup over everything: as wide as the device allows.
    const uint32_t big = pow2_floor(std::min<uint32_t>(1024, v.max_workgroup_invocations));
    require((ceil_div(n, big) + reduce_iterations(v, big)) * k <= loop_budget(v), op,
            fmt::format("k = {} over {} items needs the scratch buffer (Ops::set_scratch)", k, n));
    cl.dispatch(kern(false, big), {xb.range, dummy, ids, has_vals ? vals : dummy},
                SelectPush{n, k, n, 1, has_vals ? 1u : 0u, xb.texel0}, 1);
    return;
  }
  // Candidates at the end of the scratch buffer (attention partials use its start).
  const uint64_t off = (scratch.range - need) / 256 * 256;
  const BufferRange cand = sub_range(scratch, off, need);
  const uint32_t slice = ceil_div(n, groups);
  require((ceil_div(slice, wg) + reduce_iterations(v, wg)) * k <= loop_budget(v) &&
              (ceil_div(groups * k, max_wg) + reduce_iterations(v, max_wg)) * k <= loop_budget(v),
          op, fmt::format("k = {} over {} items is too much work per invocation", k, n), ErrorCode::unsupported);
  cl.barrier();  // earlier users of the scratch buffer are done
  cl.dispatch(kern(false, wg), {xb.range, cand, ids, ids}, SelectPush{n, k, slice, 0, 0, xb.texel0},
              groups);
  cl.barrier();
  cl.dispatch(kern(true, max_wg), {xb.range, cand, ids, has_vals ? vals : dummy},
              SelectPush{groups * k, k, groups * k, 1, has_vals ? 1u : 0u, 0}, 1);
}
} // namespace

namespace kernel_descs {
std::vector<KernelDesc> select_all(const OpsVariants& v, uint32_t n, bool with_scratch) {
  // As record_select: two passes over a scratch buffer when there are several groups, else one
  // workgroup as wide as the device allows.
  const uint32_t max_wg = pow2_floor(std::min<uint32_t>(256, v.max_workgroup_invocations));
  if (with_scratch && select_groups(n) > 1)
    return {select(v, false, std::min<uint32_t>(64, max_wg)), select(v, true, max_wg)};
  return {select(v, false, pow2_floor(std::min<uint32_t>(1024, v.max_workgroup_invocations)))};
}
} // namespace kernel_descs

void Ops::argmax(CommandList& cl, const BufferRange& x, uint32_t n, const BufferRange& out) {
  auto kern = [&](bool pairs, uint32_t wg) -> const Kernel& { return kernel(kernel_descs::select(v_, pairs, wg)); };
  record_select(dev_, v_, scratch_, kern, cl, x, n, 1, out, BufferRange{}, "argmax");
}

void Ops::top_k(CommandList& cl, const BufferRange& x, uint32_t n, uint32_t k, const BufferRange& out_ids,
                const BufferRange& out_vals) {
  auto kern = [&](bool pairs, uint32_t wg) -> const Kernel& { return kernel(kernel_descs::select(v_, pairs, wg)); };
  record_select(dev_, v_, scratch_, kern, cl, x, n, k, out_ids, out_vals, "top_k");
}

} // namespace vkg
