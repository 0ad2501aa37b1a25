// Public (de)quantization entry points: half/bfloat conversions, the plain float types, and the
// dispatch to the block kernels in quant_legacy.cpp (32-element blocks) and quant_k.cpp
// (256-element super-blocks).
#include "quant.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "quant_impl.h"

namespace vkg {
namespace qd = quant_detail;

float fp16_to_fp32(uint16_t h) { return qd::half_to_float(h); }
uint16_t fp32_to_fp16(float f) { return qd::float_to_half(f); }
float bf16_to_fp32(uint16_t h) { return qd::bfloat_to_float(h); }
uint16_t fp32_to_bf16(float f) { return qd::float_to_bfloat(f); }

namespace {

using DequantFn = void (*)(const uint8_t*, float*, size_t);
using QuantFn = void (*)(const float*, uint8_t*, size_t);

void dequant_f32(const uint8_t* src, float* dst, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void dequant_f16(const uint8_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = qd::half_to_float(qd::rd_u16(src + 2 * i));
}
void dequant_bf16(const uint8_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = qd::bfloat_to_float(qd::rd_u16(src + 2 * i));
}
void quant_f32(const float* src, uint8_t* dst, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }
void quant_f16(const float* src, uint8_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) qd::wr_u16(dst + 2 * i, qd::float_to_half(src[i]));
}
void quant_bf16(const float* src, uint8_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) qd::wr_u16(dst + 2 * i, qd::float_to_bfloat(src[i]));
}

DequantFn dequant_fn(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return dequant_f32;
    case GgmlType::F16: return dequant_f16;
    case GgmlType::BF16: return dequant_bf16;
    case GgmlType::Q4_0: return qd::dequant_q4_0;
    case GgmlType::Q4_1: return qd::dequant_q4_1;
    case GgmlType::Q5_0: return qd::dequant_q5_0;
    case GgmlType::Q5_1: return qd::dequant_q5_1;
    case GgmlType::Q8_0: return qd::dequant_q8_0;
    case GgmlType::Q2_K: return qd::dequant_q2_k;
    case GgmlType::Q3_K: return qd::dequant_q3_k;
    case GgmlType::Q4_K: return qd::dequant_q4_k;
    case GgmlType::Q5_K: return qd::dequant_q5_k;
    case GgmlType::Q6_K: return qd::dequant_q6_k;
    case GgmlType::IQ4_NL: return qd::dequant_iq4_nl;
    case GgmlType::IQ4_XS: return qd::dequant_iq4_xs;
    case GgmlType::MXFP4: return qd::dequant_mxfp4;
    default: return nullptr;
  }
}

QuantFn quant_fn(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return quant_f32;
    case GgmlType::F16: return quant_f16;
    case GgmlType::BF16: return quant_bf16;
    case GgmlType::Q4_0: return qd::quant_q4_0;
    case GgmlType::Q4_1: return qd::quant_q4_1;
    case GgmlType::Q5_0: return qd::quant_q5_0;
    case GgmlType::Q5_1: return qd::quant_q5_1;
    case GgmlType::Q8_0: return qd::quant_q8_0;
    case GgmlType::Q4_K: return qd::quant_q4_k;
    case GgmlType::Q5_K: return qd::quant_q5_k;
    case GgmlType::Q6_K: return qd::quant_q6_k;
    case GgmlType::MXFP4: return qd::quant_mxfp4;
    default: return nullptr;
  }
}

std::string type_name(GgmlType t) { return ggml_type_name(static_cast<uint32_t>(t)); }

/// Number of blocks in n elements of t; throws if n is not a whole number of blocks.
size_t block_count(GgmlType t, size_t n, const char* what) {
  const auto info = ggml_type_info(static_cast<uint32_t>(t));
  if (!info) throw std::invalid_argument(std::string(what) + ": unknown ggml type " + type_name(t));
  if (n % info->block_elems != 0)
    throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) + " elements is not a multiple of the " +
                                type_name(t) + " block (" + std::to_string(info->block_elems) + ")");
  return n / info->block_elems;
}

} // namespace

bool can_dequantize(GgmlType t) { return dequant_fn(t) != nullptr; }
bool can_quantize(GgmlType t) { return quant_fn(t) != nullptr; }

void dequantize_row(GgmlType t, const void* src, float* dst, size_t n) {
  const DequantFn fn = dequant_fn(t);
  if (!fn) throw std::invalid_argument("dequantize_row: unsupported type " + type_name(t));
  const size_t nb = block_count(t, n, "dequantize_row");
  if (nb == 0) return;
  fn(static_cast<const uint8_t*>(src), dst, nb);
}

void quantize_row(GgmlType t, const float* src, void* dst, size_t n) {
  const QuantFn fn = quant_fn(t);
  if (!fn) throw std::invalid_argument("quantize_row: unsupported type " + type_name(t));
  const size_t nb = block_count(t, n, "quantize_row");
  if (nb == 0) return;
  fn(src, static_cast<uint8_t*>(dst), nb);
}

} // namespace vkg
