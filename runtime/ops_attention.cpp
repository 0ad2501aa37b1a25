// KV-cache stores and attention (decode: keys split across workgroups and merged; prefill:
// query tiles with online softmax).
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
using kernel_descs::attn_shape;
using kernel_descs::AttnShape;

/// Key chunks per (workgroup of rows, KV head). Decode-sized T: enough chunks for every core
/// (flash-decoding). Any T, on drivers that end loops after 65535 iterations per invocation
/// (OpsVariants::max_loop_iterations: Mesa's lavapipe, LP_MAX_TGSI_LOOP_ITERATIONS): at most
/// max_chunk_keys() keys per chunk; elsewhere no limit.
constexpr uint32_t kMaxChunks = 64;
using kernel_descs::kDecodeMaxT;
constexpr uint32_t kLoopChunkKeys = 32768;  // keys per chunk under a 65535-iteration loop limit
uint32_t max_chunk_keys(const OpsVariants& v) {
  return v.max_loop_iterations ? std::min<uint32_t>(kLoopChunkKeys, v.max_loop_iterations / 2) : UINT32_MAX;
}
uint32_t attn_chunks(const OpsVariants& v, uint32_t T, uint32_t n_kv, uint32_t n_wgs, uint32_t ring_size,
                     uint32_t window) {
  const uint64_t keys = window ? std::min<uint64_t>(uint64_t{window} + T, uint64_t{ring_size} + T)
                               : uint64_t{ring_size} + T;
  const uint32_t by_limit = ceil_div(keys, max_chunk_keys(v));
  if (T > kDecodeMaxT) return by_limit;
  const uint32_t by_work = ceil_div(32, uint64_t{n_wgs} * n_kv);      // enough workgroups for every core
  const uint32_t by_keys = ceil_div(keys, 128);                       // at least ~128 keys per chunk
  return std::max(by_limit, std::min({by_work, by_keys, kMaxChunks}));
}

uint64_t attn_partial_bytes(uint32_t n_chunks, uint32_t T, uint32_t n_head, uint32_t hd) {
  return n_chunks > 1 ? uint64_t{n_chunks} * T * n_head * (hd / 4 + 1) * 16 : 0;
}
} // namespace

void Ops::kv_store(CommandList& cl, const BufferRange& src, const BufferRange& cache, const BufferRange& pos,
                   uint32_t T, uint32_t row, uint32_t ring_size) {
  if (T == 0) return;
  require(ring_size > 0 && row > 0 && row % 2 == 0, "kv_store", "row must be even and ring_size positive");
  require(T <= 65535, "kv_store", "T over 65535");
  const bool f16 = kv_type() == KvType::F16;
  const uint32_t wg = std::min<uint32_t>(64, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::kv_store(v_, kv_type()));
  cl.dispatch(k, {src, cache, pos}, KvStorePush{row, ring_size}, ceil_div(f16 ? row / 2 : row, wg), T);
}

void Ops::attention(CommandList& cl, const BufferRange& q, const BufferRange& k_cache, const BufferRange& v_cache,
                    const BufferRange& pos, const BufferRange& out, uint32_t T, uint32_t n_head, uint32_t n_kv,
                    uint32_t hd, uint32_t ring_size, uint32_t window, float scale) {
  if (T == 0) return;
  require(n_kv > 0 && n_head % n_kv == 0, "attention", fmt::format("{} heads over {} KV heads", n_head, n_kv));
  require(hd % 32 == 0 && hd > 0 && hd <= 512, "attention", fmt::format("head dim {} (multiple of 32, <= 512)", hd));
  require(ring_size > 0, "attention", "empty cache");
  const uint32_t G = n_head / n_kv;
  const AttnShape sh = attn_shape(T, G, v_.max_workgroup_invocations);
  require(sh.n_wgs <= 65535 && n_kv <= 65535, "attention", "too many queries");
  uint32_t n_chunks = attn_chunks(v_, T, n_kv, sh.n_wgs, ring_size, window);
  const uint32_t min_chunks = attn_chunks(v_, kDecodeMaxT + 1, n_kv, sh.n_wgs, ring_size, window);
  const uint64_t max_binding = dev_.caps().max_storage_buffer_range;
  auto fits = [&](uint32_t c) {
    const uint64_t need = attn_partial_bytes(c, T, n_head, hd);
    return !empty(scratch_) && scratch_.range != VK_WHOLE_SIZE && scratch_.range >= need && need <= max_binding;
  };
  while (n_chunks > min_chunks && !fits(n_chunks)) n_chunks = std::max(min_chunks, n_chunks / 2);
  require(n_chunks == 1 || fits(n_chunks), "attention",
          fmt::format("{} keys need {} chunks: set a scratch buffer of Ops::scratch_bytes()", ring_size, n_chunks));
  const bool f16 = kv_type() == KvType::F16;
  const uint64_t kv_bytes = uint64_t{ring_size} * n_kv * hd * (f16 ? 2 : 4);
  const TexelBinding qb = read_binding(dev_, v_, q, uint64_t{T} * n_head * hd * 4, "attention (q)");
  const TexelBinding kb = read_binding(dev_, v_, k_cache, kv_bytes, "attention (k cache)");
  const TexelBinding vb = read_binding(dev_, v_, v_cache, kv_bytes, "attention (v cache)");
  // Positions: always a small R32 texel view (T <= 65535 fits the minimum texel limit), so the
  // storage-read variants bind 4 storage buffers (q, K, V, output), the Vulkan minimum.
  require(T <= 65535, "attention", "T over 65535");
  const TexelBinding pb = small_binding(dev_, pos, uint64_t{T} * 4, "attention (pos)");

  // Decode: head dims split over one subgroup (every K/V row read once per subgroup).
  if (kernel_descs::attn_decode_eligible(v_, kv_type(), T, hd, G)) {
    const uint64_t keys = window ? std::min<uint64_t>(window, ring_size) : ring_size;
    const uint32_t by_limit = ceil_div(keys, max_chunk_keys(v_));
    uint32_t n_chunks = std::max<uint32_t>(
        by_limit, std::min<uint32_t>({ceil_div(32, uint64_t{n_kv} * T), ceil_div(keys, 64), kMaxChunks}));
    while (n_chunks > 1 && !fits(n_chunks)) n_chunks /= 2;
    if (n_chunks >= by_limit) {
      const Kernel& k = kernel(kernel_descs::attn_decode(v_, kv_type(), hd, G));
      AttnPush p{T, n_head, n_kv, hd, ring_size, window, scale, n_chunks, pb.texel0, qb.texel0, kb.texel0, vb.texel0, 0};
      if (n_chunks == 1) {
        cl.dispatch(k, {qb.range, kb.range, vb.range, pb.range, out}, p, 1, n_kv, T);
        return;
      }
      const BufferRange part = sub_range(scratch_, 0, attn_partial_bytes(n_chunks, T, n_head, hd));
      cl.barrier();  // earlier users of the scratch buffer are done
      cl.dispatch(k, {qb.range, kb.range, vb.range, pb.range, part}, p, n_chunks, n_kv, T);
      cl.barrier();
      cl.dispatch(kernel(kernel_descs::attn_merge(v_)), {part, out}, MergePush{T, n_head, hd, n_chunks}, n_head, T);
      return;
    }
  }

  const Kernel& k = kernel(kernel_descs::attention(v_, kv_type(), hd, T, G));
  AttnPush p{T, n_head, n_kv, hd, ring_size, window, scale, n_chunks, pb.texel0, qb.texel0, kb.texel0, vb.texel0, 0};
  if (n_chunks == 1) {
    cl.dispatch(k, {qb.range, kb.range, vb.range, pb.range, out}, p, 1, n_kv, sh.n_wgs);
    return;
  }
  const BufferRange part = sub_range(scratch_, 0, attn_partial_bytes(n_chunks, T, n_head, hd));
  cl.barrier();  // earlier users of the scratch buffer are done
  cl.dispatch(k, {qb.range, kb.range, vb.range, pb.range, part}, p, n_chunks, n_kv, sh.n_wgs);
  cl.barrier();
  const Kernel& m = kernel(kernel_descs::attn_merge(v_));
  cl.dispatch(m, {part, out}, MergePush{T, n_head, hd, n_chunks}, n_head, T);
}

uint64_t Ops::scratch_bytes(uint32_t max_T, uint32_t max_heads, uint32_t max_hd, uint32_t max_ctx,
                            uint32_t n_vocab) const {
  // Attention partials: the most chunks a call can use (n_kv = 1, one workgroup of rows for
  // decode sizes; prefill only splits caches longer than max_chunk_keys()).
  uint64_t attn = 0;
  for (uint32_t t = 1; t <= std::min(max_T, kDecodeMaxT); ++t)
    attn = std::max(attn, attn_partial_bytes(attn_chunks(v_, t, 1, 1, max_ctx, 0), t, max_heads, max_hd));
  if (max_T > kDecodeMaxT)
    attn = std::max(attn, attn_partial_bytes(attn_chunks(v_, max_T, 1, 1, max_ctx, 0), max_T, max_heads, max_hd));
  // attention() never uses more partials than one storage binding holds.
  attn = std::min<uint64_t>(attn, dev_.caps().max_storage_buffer_range);
  return round_up(attn, 256) + select_scratch_bytes(n_vocab);
}

} // namespace vkg
