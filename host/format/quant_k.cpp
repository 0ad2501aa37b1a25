// 256-element super-block types: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS (dequantize) and Q4_K,
// Q5_K, Q6_K (quantize). Byte layouts (ggml-common.h, QK_K = 256):
//   Q2_K   84 B: u8 scales[16] (lo nibble scale, hi nibble min) | u8 qs[64] | f16 d | f16 dmin
//   Q3_K  110 B: u8 hmask[32] | u8 qs[64] | u8 scales[12] (16 x 6 bit) | f16 d
//   Q4_K  144 B: f16 d | f16 dmin | u8 scales[12] (8 x (6-bit scale, 6-bit min)) | u8 qs[128]
//   Q5_K  176 B: f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]
//   Q6_K  210 B: u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d
//   IQ4_XS 136 B: f16 d | u16 scales_h | u8 scales_l[4] | u8 qs[128]
// Element order within a super-block and the float expressions follow ggml's dequantize_row_*:
//   Q2_K/Q4_K/Q5_K: (d*sc) * q - (dmin*m)     Q3_K: (d*(sc-32)) * (q - 4*!hbit)
//   Q6_K: (d*sc) * (q-32)                      IQ4_XS: (d*(ls-32)) * kvalues_iq4nl[q]
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant_impl.h"

namespace vkg::quant_detail {
namespace {
constexpr int kQK = 256;
constexpr int8_t kValuesIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of Q4_K / Q5_K:
/// j < 4: low 6 bits of q[j] and q[j+4]; j >= 4: nibbles of q[j+4], top 2 bits from the top
/// bits of q[j-4] (scale) and q[j] (min).
inline void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

inline void pack_scale_min_k4(int j, uint8_t sc, uint8_t m, uint8_t* q) {
  if (j < 4) {
    q[j] = static_cast<uint8_t>((q[j] & 0xc0) | sc);
    q[j + 4] = static_cast<uint8_t>((q[j + 4] & 0xc0) | m);
  } else {
    q[j + 4] = static_cast<uint8_t>((sc & 0x0f) | ((m & 0x0f) << 4));
    q[j - 4] = static_cast<uint8_t>(q[j - 4] | ((sc >> 4) << 6));
    q[j] = static_cast<uint8_t>(q[j] | ((m >> 4) << 6));
  }
}

/// The 16 6-bit Q3_K scales (still biased by 32): low nibbles in bytes 0..7 (j < 8 low nibble,
/// j >= 8 high nibble of byte j-8), top 2 bits in bytes 8..11 (byte 8 + j%4, bits 2*(j/4)).
inline void unpack_q3_scales(const uint8_t* s, int* out) {
  for (int j = 0; j < 16; ++j) {
    const int lo = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
    const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = lo | (hi << 4);
  }
}

/// Smallest half >= v (v finite, >= 0).
inline uint16_t half_round_up(float v) {
  uint16_t h = float_to_half(v);
  if (half_to_float(h) < v) ++h;
  return h;
}
} // namespace

// ---------------------------------------------------------------- dequantization

void dequant_q2_k(const uint8_t* src, float* y, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 84) {
    const uint8_t* scales = src;
    const uint8_t* q = src + 16;
    const float d = rd_half(src + 80);
    const float dmin = rd_half(src + 82);
    int is = 0;
    for (int n = 0; n < kQK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = scales[is++];
          const float dl = d * static_cast<float>(sc & 0x0f);
          const float ml = dmin * static_cast<float>(sc >> 4);
          const uint8_t* qq = q + 16 * half;
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((qq[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void dequant_q3_k(const uint8_t* src, float* y, size_t nb) {
  int sc[16];
  for (size_t i = 0; i < nb; ++i, src += 110) {
    const uint8_t* hm = src;
    const uint8_t* q = src + 32;
    unpack_q3_scales(src + 96, sc);
    const float d_all = rd_half(src + 108);
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < kQK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * static_cast<float>(sc[is++] - 32);
          const uint8_t* qq = q + 16 * half;
          const uint8_t* hh = hm + 16 * half;
          for (int l = 0; l < 16; ++l) {
            const int v = ((qq[l] >> shift) & 3) - ((hh[l] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

void dequant_q4_k(const uint8_t* src, float* y, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 144) {
    const float d = rd_half(src);
    const float dmin = rd_half(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    for (int j = 0; j < 8; j += 2, q += 32) {
      uint8_t sc, m;
      scale_min_k4(j, scales, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(j + 1, scales, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequant_q5_k(const uint8_t* src, float* y, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 176) {
    const float d = rd_half(src);
    const float dmin = rd_half(src + 2);
    const uint8_t* scales = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* ql = src + 48;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < 8; j += 2, ql += 32) {
      uint8_t sc, m;
      scale_min_k4(j, scales, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(j + 1, scales, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0x0f) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

void dequant_q6_k(const uint8_t* src, float* y, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 210) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = rd_half(src + 208);
    for (int n = 0; n < kQK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // ggml: d * sc * q, i.e. (d * sc) * q
        y[l + 0] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequant_iq4_xs(const uint8_t* src, float* y, size_t nb) {
  for (size_t i = 0; i < nb; ++i, src += 136) {
    const float d = rd_half(src);
    const uint16_t scales_h = rd_u16(src + 2);
    const uint8_t* scales_l = src + 4;
    const uint8_t* qs = src + 8;
    for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
      const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kValuesIq4nl[qs[j] & 0x0f]);
        y[j + 16] = dl * static_cast<float>(kValuesIq4nl[qs[j] >> 4]);
      }
    }
  }
}

// ---------------------------------------------------------------- quantization
//
// Q4_K / Q5_K ("x = d*sc*q - dmin*m", q in [0, NMAX]): per 32-element sub-block j let
// lo_j = max(0, -min x) and hi_j = max x. The 6-bit mins are rounded *up* (m_j = ceil(lo_j/dmin))
// and then the 6-bit scales rounded up so that NMAX steps cover hi_j + dmin*m_j; the fp16 super
// scales are rounded up too. Every element then lies inside its sub-block's grid and is rounded
// to the nearest level, so |error| <= step/2 with no clamping; see quant.h for the bound.

namespace {
/// Q4_K / Q5_K common part: fills d, dmin and the 12 scale bytes at blk and the levels L[256].
template <int NMAX>
void quant_k_scales_levels(const float* x, uint8_t* blk, uint8_t* L) {
  float lo[8], hi[8], off[8];
  float max_lo = 0.0f;
  for (int j = 0; j < 8; ++j) {
    float mn = x[32 * j], mx = x[32 * j];
    for (int l = 1; l < 32; ++l) {
      mn = std::min(mn, x[32 * j + l]);
      mx = std::max(mx, x[32 * j + l]);
    }
    lo[j] = std::max(0.0f, -mn);
    hi[j] = mx;
    max_lo = std::max(max_lo, lo[j]);
  }
  const uint16_t dmin_h = half_round_up(max_lo / 63.0f);
  const float dmin = half_to_float(dmin_h);
  uint8_t ms[8], scs[8];
  float need[8], max_need = 0.0f;
  for (int j = 0; j < 8; ++j) {
    int m = dmin > 0.0f ? static_cast<int>(std::ceil(lo[j] / dmin)) : 0;
    m = std::clamp(m, 0, 63);
    while (m < 63 && dmin * static_cast<float>(m) < lo[j]) ++m;
    ms[j] = static_cast<uint8_t>(m);
    off[j] = dmin * static_cast<float>(m);  // as the dequantizer computes it
    need[j] = std::max(0.0f, hi[j] + off[j]) / static_cast<float>(NMAX);
    max_need = std::max(max_need, need[j]);
  }
  const uint16_t d_h = half_round_up(max_need / 63.0f);
  const float d = half_to_float(d_h);
  for (int j = 0; j < 8; ++j) {
    int sc = d > 0.0f ? static_cast<int>(std::ceil(need[j] / d)) : 0;
    sc = std::clamp(sc, 0, 63);
    while (sc < 63 && d * static_cast<float>(sc) * static_cast<float>(NMAX) < hi[j] + off[j]) ++sc;
    scs[j] = static_cast<uint8_t>(sc);
  }
  wr_u16(blk, d_h);
  wr_u16(blk + 2, dmin_h);
  uint8_t* scales = blk + 4;
  std::memset(scales, 0, 12);
  for (int j = 0; j < 8; ++j) pack_scale_min_k4(j, scs[j], ms[j], scales);
  for (int j = 0; j < 8; ++j) {
    const float step = d * static_cast<float>(scs[j]);  // as the dequantizer computes it
    for (int l = 0; l < 32; ++l) {
      int q = 0;
      if (step > 0.0f)
        q = nearest_int(std::clamp((x[32 * j + l] + off[j]) / step, 0.0f, static_cast<float>(NMAX)));
      L[32 * j + l] = static_cast<uint8_t>(q);
    }
  }
}
} // namespace

void quant_q4_k(const float* src, uint8_t* dst, size_t nb) {
  uint8_t L[kQK];
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 144) {
    quant_k_scales_levels<15>(src, dst, L);
    uint8_t* qs = dst + 16;
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l)
        qs[32 * j + l] = static_cast<uint8_t>(L[64 * j + l] | (L[64 * j + 32 + l] << 4));
  }
}

void quant_q5_k(const float* src, uint8_t* dst, size_t nb) {
  uint8_t L[kQK];
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 176) {
    quant_k_scales_levels<31>(src, dst, L);
    uint8_t* qh = dst + 16;
    uint8_t* qs = dst + 48;
    std::memset(qh, 0, 32);
    for (int j = 0; j < 4; ++j) {
      for (int l = 0; l < 32; ++l) {
        const int a = L[64 * j + l], b = L[64 * j + 32 + l];
        qs[32 * j + l] = static_cast<uint8_t>((a & 0x0f) | ((b & 0x0f) << 4));
        qh[l] = static_cast<uint8_t>(qh[l] | ((a >> 4) << (2 * j)) | ((b >> 4) << (2 * j + 1)));
      }
    }
  }
}

// Q6_K ("x = d*sc*(q-32)", q-32 in [-32, 31], sc an int8): per 16-element sub-block the step must
// reach max(pos/31, neg/32); the fp16 d and the scales are rounded up so the grid covers every
// element, then each element is rounded to the nearest level.
void quant_q6_k(const float* src, uint8_t* dst, size_t nb) {
  uint8_t L[kQK];
  for (size_t i = 0; i < nb; ++i, src += kQK, dst += 210) {
    std::memset(dst, 0, 210);
    float pos[16], neg[16], need[16], max_need = 0.0f;
    for (int j = 0; j < 16; ++j) {
      float mn = 0.0f, mx = 0.0f;
      for (int l = 0; l < 16; ++l) {
        mn = std::min(mn, src[16 * j + l]);
        mx = std::max(mx, src[16 * j + l]);
      }
      pos[j] = mx;
      neg[j] = -mn;
      need[j] = std::max(pos[j] / 31.0f, neg[j] / 32.0f);
      max_need = std::max(max_need, need[j]);
    }
    const uint16_t d_h = half_round_up(max_need / 127.0f);
    const float d = half_to_float(d_h);
    int8_t* scales = reinterpret_cast<int8_t*>(dst + 192);
    for (int j = 0; j < 16; ++j) {
      int sc = d > 0.0f ? static_cast<int>(std::ceil(need[j] / d)) : 0;
      sc = std::clamp(sc, 0, 127);
      while (sc < 127 && (d * static_cast<float>(sc) * 31.0f < pos[j] || d * static_cast<float>(sc) * 32.0f < neg[j]))
        ++sc;
      scales[j] = static_cast<int8_t>(sc);
      const float step = d * static_cast<float>(sc);  // as the dequantizer computes it
      for (int l = 0; l < 16; ++l) {
        int q = 0;
        if (step > 0.0f) q = nearest_int(std::clamp(src[16 * j + l] / step, -32.0f, 31.0f));
        L[16 * j + l] = static_cast<uint8_t>(q + 32);
      }
    }
    wr_u16(dst + 208, d_h);
    uint8_t* ql = dst;
    uint8_t* qh = dst + 128;
    for (int n = 0; n < kQK; n += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const int a = L[n + l], b = L[n + l + 32], c = L[n + l + 64], e = L[n + l + 96];
        ql[l] = static_cast<uint8_t>((a & 0x0f) | ((c & 0x0f) << 4));
        ql[l + 32] = static_cast<uint8_t>((b & 0x0f) | ((e & 0x0f) << 4));
        qh[l] = static_cast<uint8_t>((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
      }
    }
  }
}

} // namespace vkg::quant_detail
