// KV-cache stores and attention (decode: keys split across workgroups and merged; prefill:
// query tiles with online softmax).
#include <fmt/format.h>

#include <algorithm>

#include "context.h"
#include "kernel.h"
#include "ops.h"
#include "ops_internal.h"
#include "stream.h"

namespace vkg {
using namespace ops_detail;

namespace {
struct KvStorePush {
  uint32_t row, ring_size;
};
static_assert(sizeof(KvStorePush) == 8, "must match kv_store.comp");
} // namespace

void Ops::kv_store(CommandList& cl, const BufferRange& src, const BufferRange& cache, const BufferRange& pos,
                   uint32_t T, uint32_t row, uint32_t ring_size) {
  if (T == 0) return;
  require(ring_size > 0 && row > 0 && row % 2 == 0, "kv_store", "row must be even and ring_size positive");
  require(T <= 65535, "kv_store", "T over 65535");
  const bool f16 = kv_type() == KvType::F16;
  const uint32_t wg = std::min<uint32_t>(64, v_.max_workgroup_invocations);
  const Kernel& k = kernel(f16 ? "kv_store_f16" : "kv_store_f32", 3, sizeof(KvStorePush), {wg});
  cl.dispatch(k, {src, cache, pos}, KvStorePush{row, ring_size}, ceil_div(f16 ? row / 2 : row, wg), T);
}

} // namespace vkg
