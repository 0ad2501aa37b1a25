// Internal to runtime/ops*.cpp: weight-type table, texel-view helpers, small utilities.
#pragma once
#include <cstdint>
#include <algorithm>
#include <span>
#include <string>

#include "memory.h"
#include "ops.h"
#include "vk_check.h"

namespace vkg::ops_detail {

/// Layout of a weight type the kernels read (runtime keeps its own table: no host/ dependency).
struct WType {
  WeightTypeId id;
  const char* name;         // lower-case shader-name part ("q4_k")
  uint32_t block_elems;     // elements per block
  uint32_t block_bytes;     // bytes per block
  uint32_t unit_blocks;     // blocks per texel-aligned unit (matvec_*_a variant when > 1)
};

/// Every supported type, in the order of runtime/weight_types.def.
std::span<const WType> wtypes();
/// Table entry for a supported type, or nullptr.
const WType* wtype(WeightTypeId id);

inline uint32_t ceil_div(uint64_t a, uint64_t b) { return static_cast<uint32_t>((a + b - 1) / b); }
inline uint64_t round_up(uint64_t a, uint64_t b) { return (a + b - 1) / b * b; }

/// The binding of a read-only operand (shaders/fetch.glsl) of `bytes` bytes starting at
/// r.offset: a uniform texel view (texel = true) or a storage-buffer range. It starts at the
/// offset rounded down to the device's minimum offset alignment for the kind, and `texel0` is
/// where the data starts in it (in 16-byte texels). Throws VkError naming `what` when r.offset
/// is not a multiple of 16 or the binding exceeds the kind's limit (maxTexelBufferElements
/// texels; maxStorageBufferRange bytes).
struct TexelBinding {
  BufferRange range;
  uint32_t texel0 = 0;
  uint32_t texels = 0;  // texels in the binding
};
TexelBinding read_binding(const Device& dev, const BufferRange& r, uint64_t bytes, bool texel, const char* what);
/// read_binding in the access kind the variants pick.
inline TexelBinding read_binding(const Device& dev, const OpsVariants& v, const BufferRange& r, uint64_t bytes,
                                 const char* what) {
  return read_binding(dev, r, bytes, v.texel_reads, what);
}
/// A binding of a small int32 / uint32 operand (fetch.glsl SMALL_TEXELS: attention positions) as
/// an R32_UINT texel view, whatever the variants: `bytes` bytes from r.offset (a multiple of 4);
/// texel0 counts 4-byte texels. Throws VkError naming `what` over maxTexelBufferElements texels.
TexelBinding small_binding(const Device& dev, const BufferRange& r, uint64_t bytes, const char* what);
/// Shader variant of a fetch.glsl kernel: `name` (texel views) or `name_sb` (storage buffers).
inline std::string fetch_shader(const OpsVariants& v, const std::string& name) {
  return v.texel_reads ? name : name + "_sb";
}
/// KernelDesc::texel_bindings of a fetch.glsl kernel: `fetched` (its TEXELS bindings) when the
/// variants read through texel views, plus `small` (its SMALL_TEXELS bindings) always.
inline uint32_t fetch_mask(const OpsVariants& v, uint32_t fetched, uint32_t small = 0) {
  return (v.texel_reads ? fetched : 0u) | small;
}

/// A sub-range of r (offset/size in bytes relative to r).
inline BufferRange sub_range(const BufferRange& r, uint64_t off, uint64_t size) {
  BufferRange s = r;
  s.offset = r.offset + off;
  s.range = size;
  return s;
}

/// Byte size of r; VK_WHOLE_SIZE is returned as is.
inline uint64_t range_bytes(const BufferRange& r) { return r.range; }

/// 2-D grid covering n_groups workgroups (x at most 65535); shaders rebuild the flat index.
struct Grid {
  uint32_t x = 1, y = 1;
};
inline Grid grid_for(uint64_t n_groups) {
  Grid g;
  if (n_groups == 0) n_groups = 1;
  g.x = static_cast<uint32_t>(std::min<uint64_t>(n_groups, 65535));
  g.y = ceil_div(n_groups, g.x);
  return g;
}

/// Largest power of two <= v (v >= 1).
inline uint32_t pow2_floor(uint32_t v) {
  uint32_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

inline bool empty(const BufferRange& r) { return r.buffer == VK_NULL_HANDLE; }

/// Scratch bytes argmax/top_k need for n items (ops_select.cpp).
uint64_t select_scratch_bytes(uint32_t n);

/// Throws VkError("op: message") when cond is false; code: internal for a caller's misuse,
/// unsupported for a device limit the op cannot work around.
inline void require(bool cond, const char* op, const std::string& msg, ErrorCode code = ErrorCode::internal) {
  if (!cond) throw VkError(code, std::string(op) + ": " + msg);
}

} // namespace vkg::ops_detail
