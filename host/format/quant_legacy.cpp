// 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (dequantize + quantize), IQ4_NL and MXFP4
// (dequantize). Byte layouts (ggml-common.h):
//   Q4_0   18 B: f16 d | u8 qs[16]           x[j] = (lo(qs[j]) - 8) * d, x[j+16] = (hi(qs[j]) - 8) * d
//   Q4_1   20 B: f16 d | f16 m | u8 qs[16]   x = q * d + m
//   Q5_0   22 B: f16 d | u32 qh | u8 qs[16]  5th bit of x[j] is qh bit j (j < 32); x = (q - 16) * d
//   Q5_1   24 B: f16 d | f16 m | u32 qh | u8 qs[16]   x = q * d + m
//   Q8_0   34 B: f16 d | i8 qs[32]           x = q * d
//   IQ4_NL 18 B: f16 d | u8 qs[16]           x = d * kvalues_iq4nl[nibble] (nibble order as Q4_0)
//   MXFP4  17 B: u8 e (E8M0) | u8 qs[16]     x = kvalues_mxfp4[nibble] * 2^(e - 128) (nibble order
//                                            as Q4_0; the table holds twice the E2M1 values, hence
//                                            ggml's GGML_E8M0_TO_FP32_HALF scale)
// Dequantization uses ggml's float operations (int converted to float, then `q*d` or `q*d + m`).
// The quantizers are the round-to-nearest references of ggml (quantize_row_*_ref): same scale
// choice, same reciprocal-multiply, same truncating round, so they reproduce llama-quantize's
// output for these types when run on the same floats (inputs must be finite).
// `x * id + 8.5f` and friends must round twice as in ggml's C source: no FMA contraction here
// (GCC does not contract in ISO C++ mode; clang needs the pragma).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant_impl.h"

namespace vkg::quant_detail {
namespace {
constexpr int kQK = 32;
constexpr int8_t kValuesIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// Value of largest magnitude (the first one on ties) and that magnitude.
inline void signed_absmax(const float* x, float& amax, float& max) {
  amax = 0.0f;
  max = 0.0f;
  for (int j = 0; j < kQK; ++j) {
    const float a = std::fabs(x[j]);
    if (amax < a) {
      amax = a;
      max = x[j];
    }
  }
}

inline void min_max(const float* x, float& mn, float& mx) {
  mn = FLT_MAX;
  mx = -FLT_MAX;
  for (int j = 0; j < kQK; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
  }
}
} // namespace

// ---------------------------------------------------------------- dequantization

void dequant_q4_0(const uint8_t* src, float* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 18, dst += kQK) {
    const float d = rd_half(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (qs[j] & 0x0f) - 8;
      const int hi = (qs[j] >> 4) - 8;
      dst[j] = static_cast<float>(lo) * d;
      dst[j + kQK / 2] = static_cast<float>(hi) * d;
    }
  }
}

void dequant_q4_1(const uint8_t* src, float* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 20, dst += kQK) {
    const float d = rd_half(src);
    const float m = rd_half(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = qs[j] & 0x0f;
      const int hi = qs[j] >> 4;
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + kQK / 2] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequant_q5_0(const uint8_t* src, float* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 22, dst += kQK) {
    const float d = rd_half(src);
    const uint32_t qh = rd_u32(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = static_cast<int>((qs[j] & 0x0f) | (((qh >> j) & 1u) << 4)) - 16;
      const int hi = static_cast<int>((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
      dst[j] = static_cast<float>(lo) * d;
      dst[j + kQK / 2] = static_cast<float>(hi) * d;
    }
  }
}

void dequant_q5_1(const uint8_t* src, float* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 24, dst += kQK) {
    const float d = rd_half(src);
    const float m = rd_half(src + 2);
    const uint32_t qh = rd_u32(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = static_cast<int>((qs[j] & 0x0f) | (((qh >> j) & 1u) << 4));
      const int hi = static_cast<int>((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + kQK / 2] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequant_q8_0(const uint8_t* src, float* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 34, dst += kQK) {
    const float d = rd_half(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(qs[j])) * d;
  }
}

void dequant_iq4_nl(const uint8_t* src, float* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 18, dst += kQK) {
    const float d = rd_half(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * static_cast<float>(kValuesIq4nl[qs[j] & 0x0f]);
      dst[j + kQK / 2] = d * static_cast<float>(kValuesIq4nl[qs[j] >> 4]);
    }
  }
}

namespace {
constexpr int8_t kValuesMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
/// ggml's GGML_E8M0_TO_FP32_HALF: 2^(e - 128); e < 2 gives the float subnormals 2^-128, 2^-127.
inline float e8m0_half(uint32_t e) { return std::bit_cast<float>(e < 2 ? 0x00200000u << e : (e - 1) << 23); }
}  // namespace

void dequant_mxfp4(const uint8_t* src, float* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 17, dst += kQK) {
    const float d = e8m0_half(src[0]);
    const uint8_t* qs = src + 1;
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = static_cast<float>(kValuesMxfp4[qs[j] & 0x0f]) * d;
      dst[j + kQK / 2] = static_cast<float>(kValuesMxfp4[qs[j] >> 4]) * d;
    }
  }
}

// ---------------------------------------------------------------- quantization

void quant_q4_0(const float* src, uint8_t* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 18) {
    float amax, max;
    signed_absmax(src, amax, max);
    // The value of largest magnitude maps to level 0 (-8); the opposite end clamps at +7.
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_u16(dst, float_to_half(d));
    for (int j = 0; j < kQK / 2; ++j) {
      // truncation of (v + 8.5) == round half up of v + 8; v is in [-8, 8]
      const int lo = std::min(15, static_cast<int>(src[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(src[j + kQK / 2] * id + 8.5f));
      dst[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quant_q4_1(const float* src, uint8_t* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 20) {
    float mn, mx;
    min_max(src, mn, mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_u16(dst, float_to_half(d));
    wr_u16(dst + 2, float_to_half(mn));
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(15, static_cast<int>((src[j] - mn) * id + 0.5f));
      const int hi = std::min(15, static_cast<int>((src[j + kQK / 2] - mn) * id + 0.5f));
      dst[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quant_q5_0(const float* src, uint8_t* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 22) {
    float amax, max;
    signed_absmax(src, amax, max);
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_u16(dst, float_to_half(d));
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(31, static_cast<int>(src[j] * id + 16.5f));
      const int hi = std::min(31, static_cast<int>(src[j + kQK / 2] * id + 16.5f));
      dst[6 + j] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + 16);
    }
    wr_u32(dst + 2, qh);
  }
}

void quant_q5_1(const float* src, uint8_t* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 24) {
    float mn, mx;
    min_max(src, mn, mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_u16(dst, float_to_half(d));
    wr_u16(dst + 2, float_to_half(mn));
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = std::min(31, static_cast<int>((src[j] - mn) * id + 0.5f));
      const int hi = std::min(31, static_cast<int>((src[j + kQK / 2] - mn) * id + 0.5f));
      dst[8 + j] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + 16);
    }
    wr_u32(dst + 4, qh);
  }
}

void quant_q8_0(const float* src, uint8_t* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 34) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    wr_u16(dst, float_to_half(d));
    for (int j = 0; j < kQK; ++j) {
      // roundf: half away from zero, like ggml's reference
      dst[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(src[j] * id)));
    }
  }
}

// MXFP4 (ggml's quantize_row_mxfp4_ref): e = floor(log2(amax)) - 2 + 127, so the largest level
// (12 * 2^(e - 128) = 1.5 * 2^floor(log2 amax)) lies within [0.75, 1.5] amax; each element takes
// the level nearest to it (ties: the first in table order, as ggml's best_index_mxfp4).
void quant_mxfp4(const float* src, uint8_t* dst, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 17) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(src[j]));
    // (clamped at 0 for amax < 2^-125, where ggml's uint8_t conversion would wrap)
    const uint8_t e = amax > 0.0f ? static_cast<uint8_t>(std::max(0.0f, std::floor(std::log2(amax)) - 2 + 127)) : 0;
    const float d = e8m0_half(e);
    auto best = [&](float x) {
      int bi = 0;
      float be = std::fabs(static_cast<float>(kValuesMxfp4[0]) * d - x);
      for (int k = 1; k < 16; ++k) {
        const float err = std::fabs(static_cast<float>(kValuesMxfp4[k]) * d - x);
        if (err < be) bi = k, be = err;
      }
      return static_cast<uint8_t>(bi);
    };
    dst[0] = e;
    for (int j = 0; j < kQK / 2; ++j) dst[1 + j] = static_cast<uint8_t>(best(src[j]) | (best(src[j + kQK / 2]) << 4));
  }
}

} // namespace vkg::quant_detail
