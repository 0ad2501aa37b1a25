// Ops: kernel cache, scratch, weight upload, and the small element-wise ops. Matrix ops are in
// ops_matmul.cpp, attention in ops_attention.cpp, norms/rope in ops_norm.cpp, argmax/top-k
// in ops_select.cpp; variants in variants.cpp.
#include "ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "context.h"
#include "kernel.h"
#include "kernel_desc.h"
#include "ops_internal.h"
#include "ops_push.h"
#include "stream.h"

namespace vkg {
namespace ops_detail {

std::span<const WType> wtypes() {
  static const WType kTypes[] = {
#define VKG_WTYPE(name, id, block_elems, block_bytes, unit_blocks) {id, #name, block_elems, block_bytes, unit_blocks},
#include "weight_types.def"
#undef VKG_WTYPE
  };
  return kTypes;
}

const WType* wtype(WeightTypeId id) {
  for (const auto& t : wtypes())
    if (t.id == id) return &t;
  return nullptr;
}

TexelBinding read_binding(const Device& dev, const BufferRange& r, uint64_t bytes, bool texel, const char* what) {
  const auto& caps = dev.caps();
  const uint64_t align =
      std::max<uint64_t>(16, texel ? caps.min_texel_buffer_offset_alignment : caps.min_storage_buffer_offset_alignment);
  require(r.offset % 16 == 0, what, fmt::format("buffer offset {} is not a multiple of 16 bytes", r.offset));
  const uint64_t base = r.offset / align * align;
  TexelBinding tb;
  tb.texel0 = static_cast<uint32_t>((r.offset - base) / 16);
  const uint64_t view_bytes = round_up(r.offset - base + bytes, 16);
  tb.range = r;
  tb.range.offset = base;
  tb.range.range = view_bytes;
  tb.texels = static_cast<uint32_t>(view_bytes / 16);
  if (texel)
    require(tb.texels <= caps.max_texel_buffer_elements, what,
            fmt::format("{} bytes exceed the device's texel-buffer limit ({} texels of 16 bytes)", bytes,
                        caps.max_texel_buffer_elements),
            ErrorCode::unsupported);
  else
    require(view_bytes <= caps.max_storage_buffer_range, what,
            fmt::format("{} bytes exceed the device's maxStorageBufferRange of {} bytes", bytes,
                        caps.max_storage_buffer_range),
            ErrorCode::unsupported);
  return tb;
}

TexelBinding small_binding(const Device& dev, const BufferRange& r, uint64_t bytes, const char* what) {
  const auto& caps = dev.caps();
  const uint64_t align = std::max<uint64_t>(4, caps.min_texel_buffer_offset_alignment);
  require(r.offset % 4 == 0, what, fmt::format("buffer offset {} is not a multiple of 4 bytes", r.offset));
  const uint64_t base = r.offset / align * align;
  TexelBinding tb;
  tb.texel0 = static_cast<uint32_t>((r.offset - base) / 4);
  tb.range = r;
  tb.range.offset = base;
  tb.range.range = r.offset - base + bytes;
  tb.texels = static_cast<uint32_t>(tb.range.range / 4);
  require(tb.texels <= caps.max_texel_buffer_elements, what,
          fmt::format("{} bytes exceed the device's texel-buffer limit ({} texels of 4 bytes)", bytes,
                      caps.max_texel_buffer_elements),
          ErrorCode::unsupported);
  return tb;
}

} // namespace ops_detail

using namespace ops_detail;

Ops::Ops(Device& dev) : dev_(dev), v_(select_variants(dev.caps())) {}
Ops::Ops(Device& dev, const OpsVariants& variants) : dev_(dev), v_(variants) {}
Ops::~Ops() = default;

bool Ops::supports(WeightTypeId type) { return wtype(type) != nullptr; }

std::vector<WeightTypeId> Ops::supported_types() {
  std::vector<WeightTypeId> ids;
  for (const auto& t : wtypes()) ids.push_back(t.id);
  return ids;
}

const Kernel& Ops::kernel(const KernelDesc& desc) { return dev_.kernel(desc); }

void Ops::set_scratch(const BufferRange& scratch) { scratch_ = scratch; }

namespace {
constexpr uint32_t kEltWg = 64;  // as kernel_descs::eltwise
} // namespace

void Ops::gelu_mul(CommandList& cl, const BufferRange& a, const BufferRange& b, const BufferRange& out, uint32_t n,
                   uint32_t rows, uint32_t b_stride, uint32_t b_offset) {
  const uint64_t count = uint64_t{n} * rows;
  if (count == 0) return;
  require(count < (1ull << 32), "gelu_mul", "too many elements");
  const uint32_t wg = std::min(kEltWg, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::eltwise(v_, kernel_descs::Eltwise::gelu_mul));
  const Grid g = grid_for(ceil_div(count, wg));
  cl.dispatch(k, {a, b, out}, EltPush{n, static_cast<uint32_t>(count), b_stride, b_offset, 0.0f}, g.x, g.y);
}

void Ops::add_scale(CommandList& cl, const BufferRange& a, const BufferRange& b, const BufferRange& out, uint32_t n,
                    float scale) {
  if (n == 0) return;
  const uint32_t wg = std::min(kEltWg, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::eltwise(v_, kernel_descs::Eltwise::add_scale));
  const Grid g = grid_for(ceil_div(n, wg));
  cl.dispatch(k, {a, b, out}, EltPush{n, n, 0, 0, scale}, g.x, g.y);
}

void Ops::scale(CommandList& cl, const BufferRange& x, uint32_t n, float s) {
  if (n == 0) return;
  const uint32_t wg = std::min(kEltWg, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::eltwise(v_, kernel_descs::Eltwise::scale));
  const Grid g = grid_for(ceil_div(n, wg));
  cl.dispatch(k, {x}, EltPush{n, n, 0, 0, s}, g.x, g.y);
}

void Ops::row_select(CommandList& cl, const BufferRange& x, const BufferRange& src, const BufferRange& mask, uint32_t n,
                     uint32_t rows) {
  const uint64_t count = uint64_t{n} * rows;
  if (count == 0) return;
  require(count < (1ull << 32), "row_select", "too many elements");
  const uint32_t wg = std::min(kEltWg, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::eltwise(v_, kernel_descs::Eltwise::row_select));
  const Grid g = grid_for(ceil_div(count, wg));
  cl.dispatch(k, {x, src, mask}, EltPush{n, static_cast<uint32_t>(count), 0, 0, 0.0f}, g.x, g.y);
}

void Ops::softcap(CommandList& cl, const BufferRange& x, uint32_t n, float cap) {
  if (n == 0) return;
  require(cap > 0.0f, "softcap", "cap must be positive");
  const uint32_t wg = std::min(kEltWg, v_.max_workgroup_invocations);
  const Kernel& k = kernel(kernel_descs::eltwise(v_, kernel_descs::Eltwise::softcap));
  const Grid g = grid_for(ceil_div(n, wg));
  cl.dispatch(k, {x}, EltPush{n, n, 0, 0, cap}, g.x, g.y);
}

std::vector<MatrixPartLayout> matrix_parts(const DeviceCaps& caps, WeightTypeId type, uint32_t ne0, uint32_t n_rows,
                                           uint64_t row_bytes) {
  const WType* t = wtype(type);
  require(t != nullptr, "upload_matrix", fmt::format("weight type {} is not supported", type));
  require(ne0 % t->block_elems == 0 && row_bytes == uint64_t{ne0} / t->block_elems * t->block_bytes,
          "upload_matrix", fmt::format("{} elements per row / {} bytes do not fit type {}", ne0, row_bytes, t->name));
  const uint64_t limit = max_read_binding_bytes(caps) - kMatrixPad;
  require(row_bytes <= limit, "upload_matrix", fmt::format("a row of {} bytes exceeds one buffer binding", row_bytes),
          ErrorCode::unsupported);
  const uint32_t rows_per_part = static_cast<uint32_t>(std::min<uint64_t>(n_rows, limit / row_bytes));
  std::vector<MatrixPartLayout> parts;
  for (uint32_t r0 = 0; r0 < n_rows; r0 += rows_per_part) {
    const uint32_t nr = std::min(rows_per_part, n_rows - r0);
    parts.push_back({r0, nr, nr * row_bytes});
  }
  return parts;
}

DeviceMatrix upload_matrix(Device& dev, std::vector<Buffer>& buffers, WeightTypeId type, uint32_t ne0,
                           uint32_t n_rows, uint64_t row_bytes, const void* data) {
  DeviceMatrix m;
  m.type = type;
  m.ne0 = ne0;
  m.n_rows = n_rows;
  m.row_bytes = row_bytes;
  const auto* src = static_cast<const uint8_t*>(data);
  const std::vector<uint8_t> zeros(kMatrixPad, 0);
  for (const MatrixPartLayout& p : matrix_parts(dev.caps(), type, ne0, n_rows, row_bytes)) {
    buffers.emplace_back(dev, p.bytes + kMatrixPad, MemoryUsage::Device);
    Buffer& b = buffers.back();
    upload(dev, b, 0, src + p.first_row * row_bytes, p.bytes);
    upload(dev, b, p.bytes, zeros.data(), kMatrixPad);
    m.parts.push_back({BufferRange(b, 0, p.bytes), p.first_row, p.n_rows});
  }
  return m;
}

} // namespace vkg
