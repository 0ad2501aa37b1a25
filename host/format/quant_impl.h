// Internal to quant*.cpp: byte access helpers, inline half/bfloat conversions and the per-type
// block kernels that dequantize_row / quantize_row dispatch to. Not part of the public API.
//
// Blocks are read and written byte by byte at the offsets of ggml-common.h (little-endian
// multi-byte fields), so no struct packing, alignment or host byte order is assumed.
//
// Bit-exactness with ggml: every dequantization expression is a product of the fp16 scale(s)
// (11 significant bits) with small integers, at most 23 significant bits in all (e.g. Q6_K:
// d * int8 scale * 6-bit q = 11 + 7 + 5), so each product is exact in float and
// the only rounding is the final `- dmin*m` / `+ m` of the types with a min. The result is
// therefore independent of product order and of FMA contraction; we still write ggml's order.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace vkg::quant_detail {

inline uint16_t rd_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t rd_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline void wr_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void wr_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

/// IEEE binary16 -> binary32; exact for every input (subnormals, inf, NaN payloads).
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24, exact in float
    const float mag = static_cast<float>(mant) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(mag));
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

/// binary32 -> binary16, round to nearest even; overflow to inf, NaN stays NaN (quiet).
inline uint16_t float_to_half(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u)  // NaN: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 (tie -> even = inf)
  if (a >= 0x38800000u) {                                             // normal half (>= 2^-14)
    uint32_t r = a - 0x38000000u;                                     // rebias exponent 127 -> 15
    r += 0xfffu + ((r >> 13) & 1u);                                   // round to nearest even
    return static_cast<uint16_t>(sign | (r >> 13));
  }
  // subnormal half: units of 2^-24
  const uint32_t e = a >> 23;
  if (e < 102) return sign;  // < 2^-25: rounds to zero (2^-25 itself is a tie -> even = 0)
  const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
  const uint32_t shift = 126u - e;  // 14..24
  uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t halfway = 1u << (shift - 1u);
  if (rem > halfway || (rem == halfway && (q & 1u))) ++q;  // may carry into the smallest normal
  return static_cast<uint16_t>(sign | q);
}

inline float bfloat_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

/// binary32 -> bfloat16, round to nearest even; NaN stays NaN (quiet bit forced).
inline uint16_t float_to_bfloat(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline float rd_half(const uint8_t* p) { return half_to_float(rd_u16(p)); }

/// Round to nearest int, ties to even, for |v| < 2^22 (adding 1.5 * 2^23 leaves the rounded
/// integer in the low mantissa bits).
inline int nearest_int(float v) {
  const float t = v + 12582912.f;  // 1.5 * 2^23
  return static_cast<int>(std::bit_cast<uint32_t>(t) & 0x007fffffu) - 0x00400000;
}

// One kernel per type: nb blocks from src (packed) to dst (nb * block_elems floats), and back.
void dequant_q4_0(const uint8_t* src, float* dst, size_t nb);
void dequant_q4_1(const uint8_t* src, float* dst, size_t nb);
void dequant_q5_0(const uint8_t* src, float* dst, size_t nb);
void dequant_q5_1(const uint8_t* src, float* dst, size_t nb);
void dequant_q8_0(const uint8_t* src, float* dst, size_t nb);
void dequant_iq4_nl(const uint8_t* src, float* dst, size_t nb);
void dequant_mxfp4(const uint8_t* src, float* dst, size_t nb);
void dequant_q2_k(const uint8_t* src, float* dst, size_t nb);
void dequant_q3_k(const uint8_t* src, float* dst, size_t nb);
void dequant_q4_k(const uint8_t* src, float* dst, size_t nb);
void dequant_q5_k(const uint8_t* src, float* dst, size_t nb);
void dequant_q6_k(const uint8_t* src, float* dst, size_t nb);
void dequant_iq4_xs(const uint8_t* src, float* dst, size_t nb);

void quant_q4_0(const float* src, uint8_t* dst, size_t nb);
void quant_q4_1(const float* src, uint8_t* dst, size_t nb);
void quant_q5_0(const float* src, uint8_t* dst, size_t nb);
void quant_q5_1(const float* src, uint8_t* dst, size_t nb);
void quant_q8_0(const float* src, uint8_t* dst, size_t nb);
void quant_mxfp4(const float* src, uint8_t* dst, size_t nb);
void quant_q4_k(const float* src, uint8_t* dst, size_t nb);
void quant_q5_k(const float* src, uint8_t* dst, size_t nb);
void quant_q6_k(const float* src, uint8_t* dst, size_t nb);

} // namespace vkg::quant_detail
