// Weight block formats (ggml-common.h layouts), read from a uniform texel buffer of
// R32G32B32A32_UINT texels. Included by kernels that read weights; the includer defines
//   WTYPE                       ggml type id (0 F32, 1 F16, 30 BF16, 2 Q4_0, 3 Q4_1, 6 Q5_0,
//                               7 Q5_1, 8 Q8_0, 10 Q2_K, 11 Q3_K, 12 Q4_K, 13 Q5_K, 14 Q6_K,
//                               20 IQ4_NL, 23 IQ4_XS; the list is runtime/weight_types.def)
//   uvec4 wtexel(uint i)        the i-th 16-byte texel of the weights (clamped by the includer)
//
// A block is handled as BLK_WORDS little-endian 32-bit words relative to the block start
// (blocks start at any even byte offset: Q8_0 is 34 bytes, Q6_K 210). load_block() gathers
// them from texels; decoders take the word array.
//
//   deq4(W, e4)    elements 4*e4 .. 4*e4+3 of the block as floats, bit-exact with ggml's
//                  dequantize_row_* (see host/quant.h: all products are exact, only the final
//                  add of the types with a min rounds, as it does in ggml).
//   qv4(W, e4)     the same four elements as the block's integer levels q (float), such that
//                  value = q * gscale(W, g) + gmin(W, g) for the scale group g = e4 / (SG_ELEMS/4).
//                  Matrix kernels use it as scale * sum(q*x) + min * sum(x), through the cheaper
//                  qv4s / xscale4 pair (below).

#include "half.glsl"

#define TY_F32 0
#define TY_F16 1
#define TY_Q4_0 2
#define TY_Q4_1 3
#define TY_Q5_0 6
#define TY_Q5_1 7
#define TY_Q8_0 8
#define TY_Q2_K 10
#define TY_Q3_K 11
#define TY_Q4_K 12
#define TY_Q5_K 13
#define TY_Q6_K 14
#define TY_IQ4_NL 20
#define TY_IQ4_XS 23
#define TY_BF16 30

#if WTYPE == TY_F32
#define BLK_ELEMS 32
#define BLK_BYTES 128
#define BLK_WORDS 32
#define SG_ELEMS 32
#elif WTYPE == TY_F16 || WTYPE == TY_BF16
#define BLK_ELEMS 32
#define BLK_BYTES 64
#define BLK_WORDS 16
#define SG_ELEMS 32
#elif WTYPE == TY_Q4_0
#define BLK_ELEMS 32
#define BLK_BYTES 18
#define BLK_WORDS 5
#define SG_ELEMS 32
#elif WTYPE == TY_Q4_1
#define BLK_ELEMS 32
#define BLK_BYTES 20
#define BLK_WORDS 5
#define SG_ELEMS 32
#elif WTYPE == TY_Q5_0
#define BLK_ELEMS 32
#define BLK_BYTES 22
#define BLK_WORDS 6
#define SG_ELEMS 32
#elif WTYPE == TY_Q5_1
#define BLK_ELEMS 32
#define BLK_BYTES 24
#define BLK_WORDS 6
#define SG_ELEMS 32
#elif WTYPE == TY_Q8_0
#define BLK_ELEMS 32
#define BLK_BYTES 34
#define BLK_WORDS 9
#define SG_ELEMS 32
#elif WTYPE == TY_IQ4_NL
#define BLK_ELEMS 32
#define BLK_BYTES 18
#define BLK_WORDS 5
#define SG_ELEMS 32
#elif WTYPE == TY_Q2_K
#define BLK_ELEMS 256
#define BLK_BYTES 84
#define BLK_WORDS 21
#define SG_ELEMS 16
#elif WTYPE == TY_Q3_K
#define BLK_ELEMS 256
#define BLK_BYTES 110
#define BLK_WORDS 28
#define SG_ELEMS 16
#elif WTYPE == TY_IQ4_XS
#define BLK_ELEMS 256
#define BLK_BYTES 136
#define BLK_WORDS 34
#define SG_ELEMS 32
#elif WTYPE == TY_Q4_K
#define BLK_ELEMS 256
#define BLK_BYTES 144
#define BLK_WORDS 36
#define SG_ELEMS 32
#elif WTYPE == TY_Q5_K
#define BLK_ELEMS 256
#define BLK_BYTES 176
#define BLK_WORDS 44
#define SG_ELEMS 32
#elif WTYPE == TY_Q6_K
#define BLK_ELEMS 256
#define BLK_BYTES 210
#define BLK_WORDS 53
#define SG_ELEMS 16
#else
#error "unsupported WTYPE"
#endif

#define BLK_E4 (BLK_ELEMS / 4u)       // 4-element chunks per block
#define BLK_SG (BLK_ELEMS / SG_ELEMS)  // scale groups per block
#define SG_E4 (SG_ELEMS / 4u)          // 4-element chunks per scale group

// Texels covering one block at any even byte offset: words up to phase (<= 3) + BLK_WORDS
// (the funnel below reads one word past the block's last).
#define BLK_TEXELS ((uint(BLK_WORDS) + 3u) / 4u + 1u)

// Word j of the block from the flat texel words F: p = word phase (byte_off / 4 % 4), h = half-word
// phase (byte_off % 4 == 2). With constant p/h the selects fold away.
uint blk_word(uint F[BLK_TEXELS * 4u], uint j, uint p, bool h) {
  uint a = p == 0u ? F[j] : p == 1u ? F[j + 1u] : p == 2u ? F[j + 2u] : F[j + 3u];
  if (!h) return a;
  uint b = p == 0u ? F[j + 1u] : p == 1u ? F[j + 2u] : p == 2u ? F[j + 3u] : F[j + 4u];
  return (a >> 16) | (b << 16);
}

// Includers reading one weight view define wtexel(i); those reading several define
// WTYPES_MULTI_SOURCE and wtexel_src(src, i) (src: which view, a constant at every call site).
#ifndef WTYPES_MULTI_SOURCE
uvec4 wtexel_src(uint src, uint i) { return wtexel(i); }
#endif

/// The BLK_WORDS words of the block starting at byte byte_off of weight view src.
void load_block_src(uint src, uint byte_off, out uint W[BLK_WORDS]) {
#if (BLK_BYTES % 16) == 0
  // Always texel-aligned (F32, F16, BF16, Q4_K, Q5_K).
  uint t0 = byte_off >> 4;
  [[unroll]] for (uint i = 0u; i < BLK_BYTES / 16u; ++i) {
    uvec4 v = wtexel_src(src, t0 + i);
    W[4u * i] = v.x; W[4u * i + 1u] = v.y; W[4u * i + 2u] = v.z; W[4u * i + 3u] = v.w;
  }
#else
  uint t0 = byte_off >> 4;
  uint F[BLK_TEXELS * 4u];
  [[unroll]] for (uint i = 0u; i < BLK_TEXELS; ++i) {
    uvec4 v = wtexel_src(src, t0 + i);
    F[4u * i] = v.x; F[4u * i + 1u] = v.y; F[4u * i + 2u] = v.z; F[4u * i + 3u] = v.w;
  }
  uint p = (byte_off >> 2) & 3u;
  bool h = (byte_off & 2u) != 0u;
  [[unroll]] for (uint j = 0u; j < uint(BLK_WORDS); ++j) W[j] = blk_word(F, j, p, h);
#endif
}

/// The BLK_WORDS words of the block starting at byte byte_off of the (first) weight view.
void load_block(uint byte_off, out uint W[BLK_WORDS]) { load_block_src(0u, byte_off, W); }

// Aligned units: UNIT_BLOCKS consecutive blocks filling UNIT_TEXELS whole texels, used when a
// row is a whole number of units (the block phases inside a unit are then compile-time constants).
#if WTYPE == TY_Q4_0 || WTYPE == TY_Q8_0 || WTYPE == TY_Q5_0 || WTYPE == TY_IQ4_NL
#define UNIT_BLOCKS 8
#elif WTYPE == TY_Q4_1
#define UNIT_BLOCKS 4
#elif WTYPE == TY_Q5_1
#define UNIT_BLOCKS 2
#else
#define UNIT_BLOCKS 1
#endif
#define UNIT_TEXELS ((UNIT_BLOCKS * BLK_BYTES) / 16u)
#define UNIT_ELEMS (UNIT_BLOCKS * BLK_ELEMS)

#if UNIT_BLOCKS > 1
/// Word j of block i of a unit whose words are U (i, j constant after unrolling).
uint unit_word(uint U[UNIT_TEXELS * 4u], uint i, uint j) {
  uint off = i * BLK_BYTES + 4u * j;
  if ((off & 3u) == 0u) return U[off >> 2];
  uint hi = (off >> 2) + 1u < UNIT_TEXELS * 4u ? U[(off >> 2) + 1u] : 0u;
  return (U[off >> 2] >> 16) | (hi << 16);
}
#endif

// Bytes of a word as uvec4 (little-endian order).
uvec4 bytes4(uint w) { return uvec4(w & 0xFFu, (w >> 8) & 0xFFu, (w >> 16) & 0xFFu, w >> 24); }
// Signed bytes of a word.
ivec4 sbytes4(uint w) { return ivec4(int(w << 24) >> 24, int(w << 16) >> 24, int(w << 8) >> 24, int(w) >> 24); }
// 16-bit half at half-word index k of the block.
uint blk_u16(uint W[BLK_WORDS], uint k) { return (W[k >> 1] >> (16u * (k & 1u))) & 0xFFFFu; }
float blk_half(uint W[BLK_WORDS], uint k) { return unpack_half2(blk_u16(W, k)).x; }

#if WTYPE == TY_Q4_K || WTYPE == TY_Q5_K
// 6-bit scale (x) and min (y) of sub-block j (0..7); scales are bytes 4..15 = words 1..3.
uvec2 scale_min_k4(uint W[BLK_WORDS], uint j) {
  uint s_lo = (W[1] >> (8u * (j & 3u))) & 0xFFu;  // q[j] for j < 4, q[j-4] for j >= 4
  uint m_lo = (W[2] >> (8u * (j & 3u))) & 0xFFu;  // q[j+4] for j < 4, q[j] for j >= 4
  uint hi = (W[3] >> (8u * (j & 3u))) & 0xFFu;    // q[j+4] for j >= 4
  if (j < 4u) return uvec2(s_lo & 63u, m_lo & 63u);
  return uvec2((hi & 0xFu) | ((s_lo >> 6) << 4), (hi >> 4) | ((m_lo >> 6) << 4));
}
#endif

#if WTYPE == TY_Q3_K
// 6-bit scale of 16-element group g (0..15), still biased by 32. scales[12] at byte 96 (words
// 24..26): low nibble from byte g (g < 8) or the high nibble of byte g - 8, top 2 bits from
// byte 8 + g % 4 at bit 2 * (g / 4).
uint q3k_scale(uint W[BLK_WORDS], uint g) {
  uint k = g & 7u;
  uint lo = (W[24u + (k >> 2)] >> (8u * (k & 3u) + (g >= 8u ? 4u : 0u))) & 0xFu;
  uint hi = (W[26u] >> (8u * (g & 3u) + 2u * (g >> 2))) & 3u;
  return lo | (hi << 4);
}
#endif

#if WTYPE == TY_IQ4_NL || WTYPE == TY_IQ4_XS
// ggml's kvalues_iq4nl {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}
// as signed bytes, four per word (little-endian).
const uvec4 KV_IQ4NL = uvec4(0xBFAD9881u, 0xF6EADDCFu, 0x26190D01u, 0x71594535u);
// Levels of the four nibbles in the bytes of w (each byte < 16): the table word by two selects
// (bits 3 and 2 of the nibble; vectorizes, unlike a dynamic index), the byte by a shift.
vec4 iq4nl4(uint w) {
  uvec4 n = bytes4(w);
  bvec4 b2 = notEqual(n & 4u, uvec4(0u)), b3 = notEqual(n & 8u, uvec4(0u));
  uvec4 k = mix(mix(uvec4(KV_IQ4NL.x), uvec4(KV_IQ4NL.y), b2), mix(uvec4(KV_IQ4NL.z), uvec4(KV_IQ4NL.w), b2), b3);
  return vec4(ivec4(k << (24u - 8u * (n & 3u))) >> 24);
}
#endif

// Level extraction. qv4s(W, e4) returns the integer levels q of elements 4*e4 .. 4*e4+3 (as
// floats) multiplied by 1 / xscale4(e4), a compile-time power of two per component: each level
// is masked in place inside its 32-bit word (one AND) instead of being shifted down, and the
// matrix kernels multiply X by xscale4 once per X value instead (shared by all rows). Signed
// int -> float conversion is used throughout (one instruction on x86; unsigned is not).
// qv4(W, e4) = qv4s(W, e4) * xscale4(e4): the exact levels, for deq4.

// Four nibble levels of w: low nibbles of the bytes (hi = false) or high nibbles, in place.
vec4 nib4s(uint w, bool hi) {
  return hi ? vec4(ivec4(w & 0xF0u, w & 0xF000u, w & 0xF00000u, w >> 28))
            : vec4(ivec4(w & 0xFu, w & 0xF00u, w & 0xF0000u, w & 0xF000000u));
}
const vec4 NIB_LO_SCALE = vec4(1.0, 1.0 / 256.0, 1.0 / 65536.0, 1.0 / 16777216.0);
const vec4 NIB_HI_SCALE = vec4(1.0 / 16.0, 1.0 / 4096.0, 1.0 / 1048576.0, 1.0);
// Four byte levels of v (each byte < 128), in place.
vec4 byte4s(uint v, uint mask) { return vec4(ivec4(v & mask, v & (mask << 8), v & (mask << 16), v & (mask << 24))); }
// Signed bytes of w, each as q * 2^24.
vec4 sbyte4s(uint w) {
  return vec4(ivec4(int(w << 24), int(w << 16) & int(0xFF000000u), int(w << 8) & int(0xFF000000u),
                    int(w & 0xFF000000u)));
}

/// Per-component factor that turns qv4s into levels (see above).
vec4 xscale4(uint e4) {
#if WTYPE == TY_Q4_0 || WTYPE == TY_Q4_1
  return e4 >= 4u ? NIB_HI_SCALE : NIB_LO_SCALE;
#elif WTYPE == TY_Q4_K
  return (e4 & 8u) != 0u ? NIB_HI_SCALE : NIB_LO_SCALE;
#elif WTYPE == TY_Q5_0 || WTYPE == TY_Q5_1 || WTYPE == TY_Q5_K || WTYPE == TY_Q6_K || WTYPE == TY_Q2_K || \
    WTYPE == TY_Q3_K
  return NIB_LO_SCALE;
#elif WTYPE == TY_Q8_0
  return vec4(1.0 / 16777216.0);
#else
  return vec4(1.0);
#endif
}

/// Scaled integer levels of elements 4*e4 .. 4*e4+3 (see above).
vec4 qv4s(uint W[BLK_WORDS], uint e4) {
#if WTYPE == TY_F32
  return uintBitsToFloat(uvec4(W[4u * (e4 & 7u)], W[4u * (e4 & 7u) + 1u], W[4u * (e4 & 7u) + 2u], W[4u * (e4 & 7u) + 3u]));
#elif WTYPE == TY_F16
  return vec4(unpack_half2(W[2u * e4]), unpack_half2(W[2u * e4 + 1u]));
#elif WTYPE == TY_BF16
  uint a = W[2u * e4], b = W[2u * e4 + 1u];
  return uintBitsToFloat(uvec4(a << 16, a & 0xFFFF0000u, b << 16, b & 0xFFFF0000u));
#elif WTYPE == TY_Q4_0 || WTYPE == TY_Q4_1
  // qs at byte 2 (Q4_0) / 4 (Q4_1): element j < 16 low nibble of qs[j], j >= 16 high nibble of qs[j-16].
  uint off = (WTYPE == TY_Q4_0 ? 2u : 4u) + 4u * (e4 & 3u);  // byte offset of qs[4 * (e4 & 3)]
  uint w = (off & 3u) == 0u ? W[off >> 2] : (W[off >> 2] >> 16) | (W[(off >> 2) + 1u] << 16);
  return nib4s(w, e4 >= 4u);
#elif WTYPE == TY_Q5_0 || WTYPE == TY_Q5_1
  uint qh_b = WTYPE == TY_Q5_0 ? 2u : 4u;
  uint qh = (qh_b & 3u) == 0u ? W[qh_b >> 2] : (W[qh_b >> 2] >> 16) | (W[(qh_b >> 2) + 1u] << 16);
  uint off = qh_b + 4u + 4u * (e4 & 3u);
  uint w = (off & 3u) == 0u ? W[off >> 2] : (W[off >> 2] >> 16) | (W[(off >> 2) + 1u] << 16);
  w = (e4 >= 4u) ? (w >> 4) : w;
  uint hb = (qh >> (4u * e4)) & 0xFu;  // 5th bits of elements 4*e4 .. +3, to bit 4 of each byte
  uint h = ((hb & 1u) << 4) | ((hb & 2u) << 11) | ((hb & 4u) << 18) | ((hb & 8u) << 25);
  return byte4s((w & 0x0F0F0F0Fu) | h, 0x1Fu);
#elif WTYPE == TY_Q8_0
  uint off = 2u + 4u * e4;  // qs[4*e4] at byte 2 + 4*e4: always half-word aligned
  return sbyte4s((W[off >> 2] >> 16) | (W[(off >> 2) + 1u] << 16));
#elif WTYPE == TY_Q4_K
  uint g = e4 >> 4;            // 64-element group
  uint l4 = e4 & 7u;           // word within the group's 32 qs bytes
  return nib4s(W[4u + 8u * g + l4], (e4 & 8u) != 0u);
#elif WTYPE == TY_Q5_K
  uint g = e4 >> 4;
  uint l4 = e4 & 7u;
  uint hi = (e4 & 8u) != 0u ? 1u : 0u;
  uint w = W[12u + 8u * g + l4];             // ql at byte 48
  w = hi != 0u ? (w >> 4) : w;
  uint h = W[4u + l4] >> (2u * g + hi);      // qh at byte 16, bit 2g (+1 for the high half)
  return byte4s((w & 0x0F0F0F0Fu) | ((h & 0x01010101u) << 4), 0x1Fu);
#elif WTYPE == TY_Q2_K || WTYPE == TY_Q3_K
  // Element e = 128n + 32j + 16h + l: 2-bit field j of qs[32n + 16h + l] (Q3_K: plus bit 4n + j
  // of hmask[16h + l] as the third bit; level 0..7, offset -4 in gmin).
  uint n = e4 >> 5, j = (e4 >> 3) & 3u, hl4 = e4 & 7u;  // hl4 = (16h + l) / 4
#if WTYPE == TY_Q2_K
  return byte4s(W[4u + 8u * n + hl4] >> (2u * j), 0x03u);        // qs at byte 16
#else
  uint lo = (W[8u + 8u * n + hl4] >> (2u * j)) & 0x03030303u;    // qs at byte 32
  uint hb = (W[hl4] >> (4u * n + j)) & 0x01010101u;              // hmask at byte 0
  return byte4s(lo | (hb << 2), 0x07u);
#endif
#elif WTYPE == TY_IQ4_NL
  // As Q4_0 (qs at byte 2), each nibble mapped through kvalues_iq4nl.
  uint off = 2u + 4u * (e4 & 3u);
  uint w = (W[off >> 2] >> 16) | (W[(off >> 2) + 1u] << 16);
  return iq4nl4(((e4 >= 4u) ? (w >> 4) : w) & 0x0F0F0F0Fu);
#elif WTYPE == TY_IQ4_XS
  // Element e = 32ib + 16hi + l: nibble hi of qs[16ib + l] (qs at byte 8).
  uint w = W[2u + 4u * (e4 >> 3) + (e4 & 3u)];
  return iq4nl4((((e4 & 4u) != 0u) ? (w >> 4) : w) & 0x0F0F0F0Fu);
#elif WTYPE == TY_Q6_K
  uint n = e4 >> 5;              // 128-element half
  uint q = (e4 >> 3) & 3u;       // quarter within the half
  uint l4 = e4 & 7u;             // l / 4
  uint wl = W[16u * n + 8u * (q & 1u) + l4];      // ql[64n + 32(q&1) + l]
  uint wh = W[32u + 8u * n + l4];                 // qh[128 + 32n + l]
  uint lo = ((q & 2u) != 0u ? (wl >> 4) : wl) & 0x0F0F0F0Fu;
  return byte4s(lo | (((wh >> (2u * q)) & 0x03030303u) << 4), 0x3Fu);  // raw level 0..63 (offset in gmin)
#endif
}

/// Exact integer levels.
vec4 qv4(uint W[BLK_WORDS], uint e4) { return qv4s(W, e4) * xscale4(e4); }

/// Scale of scale group g (elements g*SG_ELEMS ..).
float gscale(uint W[BLK_WORDS], uint g) {
#if WTYPE == TY_F32 || WTYPE == TY_F16 || WTYPE == TY_BF16
  return 1.0;
#elif WTYPE == TY_Q4_K || WTYPE == TY_Q5_K
  return blk_half(W, 0u) * float(scale_min_k4(W, g).x);
#elif WTYPE == TY_Q2_K
  return blk_half(W, 40u) * float((W[g >> 2] >> (8u * (g & 3u))) & 0xFu);   // d at byte 80, scales[g] low nibble
#elif WTYPE == TY_Q3_K
  return blk_half(W, 54u) * float(int(q3k_scale(W, g)) - 32);                 // d at byte 108
#elif WTYPE == TY_IQ4_XS
  // ls = 4 bits of scales_l (byte 4 + g / 2, nibble g % 2 = bits 4g of word 1) | 2 bits of scales_h << 4
  uint ls = ((W[1] >> (4u * g)) & 0xFu) | (((W[0] >> (16u + 2u * g)) & 3u) << 4);
  return blk_half(W, 0u) * float(int(ls) - 32);
#elif WTYPE == TY_Q6_K
  // group g of 16 elements: half n = g / 8, l-group is = g % 2, quarter q = (g / 2) % 4 -> sc[8n + is + 2q]
  uint si = 8u * (g >> 3) + (g & 1u) + 2u * ((g >> 1) & 3u);
  int sc = int(W[48u + (si >> 2)] << (24u - 8u * (si & 3u))) >> 24;  // scales at byte 192
  return blk_half(W, 104u) * float(sc);                               // d at byte 208
#else
  return blk_half(W, 0u);
#endif
}

/// Min (additive term) of scale group g.
float gmin(uint W[BLK_WORDS], uint g) {
#if WTYPE == TY_Q4_1 || WTYPE == TY_Q5_1
  return blk_half(W, 1u);
#elif WTYPE == TY_Q4_0
  return -8.0 * blk_half(W, 0u);
#elif WTYPE == TY_Q5_0
  return -16.0 * blk_half(W, 0u);
#elif WTYPE == TY_Q6_K
  return -32.0 * gscale(W, g);
#elif WTYPE == TY_Q3_K
  return -4.0 * gscale(W, g);
#elif WTYPE == TY_Q2_K
  return -(blk_half(W, 41u) * float((W[g >> 2] >> (8u * (g & 3u) + 4u)) & 0xFu));  // dmin at byte 82, high nibble
#elif WTYPE == TY_Q4_K || WTYPE == TY_Q5_K
  return -blk_half(W, 1u) * float(scale_min_k4(W, g).y);
#else
  return 0.0;
#endif
}

/// Elements 4*e4 .. 4*e4+3 as floats, bit-exact with ggml.
vec4 deq4(uint W[BLK_WORDS], uint e4) {
  vec4 q = qv4(W, e4);
#if WTYPE == TY_F32 || WTYPE == TY_F16 || WTYPE == TY_BF16
  return q;
#elif WTYPE == TY_Q4_0
  return (q - 8.0) * blk_half(W, 0u);
#elif WTYPE == TY_Q5_0
  return (q - 16.0) * blk_half(W, 0u);
#elif WTYPE == TY_Q8_0
  return q * blk_half(W, 0u);
#elif WTYPE == TY_Q4_1 || WTYPE == TY_Q5_1
  return q * blk_half(W, 0u) + blk_half(W, 1u);
#elif WTYPE == TY_Q4_K || WTYPE == TY_Q5_K
  uint j = e4 >> 3;  // 32-element sub-block
  uvec2 sm = scale_min_k4(W, j);
  float d1 = blk_half(W, 0u) * float(sm.x), m1 = blk_half(W, 1u) * float(sm.y);
  return d1 * q - m1;
#elif WTYPE == TY_Q6_K
  return gscale(W, e4 >> 2) * (q - 32.0);
#elif WTYPE == TY_Q2_K
  // ggml: (d * sc) * q - (dmin * m); the product is exact, only the subtraction rounds.
  return gscale(W, e4 >> 2) * q + gmin(W, e4 >> 2);
#elif WTYPE == TY_Q3_K
  return gscale(W, e4 >> 2) * (q - 4.0);
#elif WTYPE == TY_IQ4_NL || WTYPE == TY_IQ4_XS
  return gscale(W, e4 >> 3) * q;   // d (IQ4_XS: d * (ls - 32)) times the table level: exact
#endif
}
