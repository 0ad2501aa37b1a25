#version 450
// Matrix x vector(s) for decode: Y[t, y_row0 + r] (+)= sum_k W[r, k] * X[t, k] for NC columns t.
//
// One invocation per row ("row per lane", NR rows per invocation, strided by the workgroup
// size): no barriers, no shared memory, no subgroup operations. Weights and X are read through
// uniform texel buffers (16-byte texels), which CPU drivers (lavapipe) turn into plain vector
// loads, unlike storage-buffer loads. X values are the same for every invocation and are fetched
// once per scale group and reused for the NR rows; each row accumulates
//   gscale * sum(q * x) + gmin * sum(x)       per scale group (see wtypes.glsl).
//
// GATE_UP=1 (feed-forward): two matrices of one shape, gate (binding 0) and up (binding 1);
// each invocation computes row r of both from the same X values and writes
//   Y[t, r] = gelu_tanh(gate[r] . xn[t]) * (up[r] . xn[t]),
// where xn[t] = X[t] (use_norm 0) or rms_norm(X[t]) * n (use_norm 1: n at binding 4). The norm
// costs no pass of its own: X is multiplied by n as it is fetched, sum(X^2) is accumulated on
// the way, and the 1 / rms factor (a scalar per column) is applied to the finished dot products.
//
// Defines: WTYPE (ggml type), ALIGNED (1: rows are whole units of UNIT_BLOCKS blocks starting
// at texel boundaries; 0: any even row_bytes, blocks gathered at run-time phase), GATE_UP.
// Spec constants: 0 workgroup size, 1 NR most accumulated rows per invocation (pc.nr, doubled
// with GATE_UP), 2 NC columns.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#include "fetch.glsl"
#ifndef GATE_UP
#define GATE_UP 0
#endif

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NR = 2;
layout(constant_id = 2) const uint NC = 1;

TEXELS(0, WtB, Wt)   // weight part (GATE_UP: gate)
#if GATE_UP
TEXELS(1, WuB, Wu)   // up
TEXELS(2, XtB, Xt)   // X [NC, K] f32
layout(std430, binding = 3) buffer Yb { float y[]; };
TEXELS(4, NtB, Nt)   // norm weight [K] f32 (use_norm)
#else
TEXELS(1, XtB, Xt)   // X [NC, K] f32
layout(std430, binding = 2) buffer Yb { float y[]; };
#endif

layout(push_constant) uniform Push {
  uint K;          // elements per row
  uint n_rows;     // rows in this part
  uint row_bytes;  // bytes per row
  uint w_texels;   // texels in the weight view (reads are clamped to it)
  uint w_base;     // byte offset of row 0 in the weight view (multiple of 16)
  uint x_t0;       // texel offset of X[0, 0] in its view
  uint y_row0;     // first output row of this part
  uint y_stride;   // floats per output row of Y (all rows of the matrix)
  uint t0;         // first column handled by this dispatch
  uint accumulate; // 1: Y += result
  uint nr;         // rows per invocation (<= NR); a push constant so the row loop stays a loop
#if GATE_UP
  uint u_texels;   // texels in the up view
  uint u_base;     // byte offset of row 0 of up in its view
  uint n_t0;       // texel offset of the norm weight in its view
  uint use_norm;   // 1: normalize X (see above)
  float eps;       // rms_norm epsilon
#endif
} pc;

#if GATE_UP
#define WTYPES_MULTI_SOURCE
uvec4 wtexel_src(uint src, uint i) {
  return src == 0u ? FETCH(Wt, min(i, pc.w_texels - 1u)) : FETCH(Wu, min(i, pc.u_texels - 1u));
}
uvec4 wtexel(uint i) { return wtexel_src(0u, i); }
uvec4 wraw(uint src, uint i) { return src == 0u ? FETCH(Wt, i) : FETCH(Wu, i); }
#include "common.glsl"
#else
uvec4 wtexel(uint i) { return FETCH(Wt, min(i, pc.w_texels - 1u)); }
uvec4 wtexel_src(uint src, uint i) { return wtexel(i); }
uvec4 wraw(uint src, uint i) { return FETCH(Wt, i); }
#define WTYPES_MULTI_SOURCE
#endif
#include "wtypes.glsl"

vec4 xfetch(uint t, uint i) { return uintBitsToFloat(FETCH(Xt, pc.x_t0 + (pc.t0 + t) * (pc.K >> 2) + i)); }

#if ALIGNED && UNIT_BLOCKS > 1
#define MV_BLOCKS UNIT_BLOCKS
#else
#define MV_BLOCKS 1
#endif
#define MV_E4 (MV_BLOCKS * BLK_E4)   // vec4 of X per unit
#define MV_SG (MV_BLOCKS * BLK_SG)   // scale groups per unit

float acc[NR * NC];        // indexed by the row loop (not unrolled: code size stays one block)
vec4 xv[NC][MV_E4];        // X of the current unit, pre-scaled for qv4s (xscale4)
float xs[NC][MV_SG];       // X sums per scale group
#if GATE_UP
float ss[NC];              // sum of X^2 per column (use_norm)
#endif

// Partial dot products of block i of the unit (words W) with the unit's X, per column.
void block_dot(uint W[BLK_WORDS], uint i, inout float part[NC]) {
  [[unroll]] for (uint g = 0u; g < BLK_SG; ++g) {
    float sc = gscale(W, g);
    float mn = gmin(W, g);
    vec4 q[SG_E4];
    [[unroll]] for (uint c = 0u; c < SG_E4; ++c) q[c] = qv4s(W, g * SG_E4 + c);
    [[unroll]] for (uint t = 0u; t < NC; ++t) {
      vec4 s4 = vec4(0.0);
      [[unroll]] for (uint c = 0u; c < SG_E4; ++c) s4 = fma(q[c], xv[t][i * BLK_E4 + g * SG_E4 + c], s4);
      part[t] = fma(sc, (s4.x + s4.y) + (s4.z + s4.w), fma(mn, xs[t][i * BLK_SG + g], part[t]));
    }
  }
}

// Partial dot products of the unit at byte rb of weight view src with the unit's X.
void unit_dot(uint src, uint rb, inout float part[NC]) {
#if MV_BLOCKS > 1
  uint U[UNIT_TEXELS * 4u];
  [[unroll]] for (uint i = 0u; i < UNIT_TEXELS; ++i) {
    uvec4 v = wraw(src, (rb >> 4) + i);  // whole units inside the view: no clamp
    U[4u * i] = v.x; U[4u * i + 1u] = v.y; U[4u * i + 2u] = v.z; U[4u * i + 3u] = v.w;
  }
  [[unroll]] for (uint i = 0u; i < UNIT_BLOCKS; ++i) {
    uint W[BLK_WORDS];
    [[unroll]] for (uint j = 0u; j < uint(BLK_WORDS); ++j) W[j] = unit_word(U, i, j);
    block_dot(W, i, part);
  }
#else
  uint W[BLK_WORDS];
  load_block_src(src, rb, W);
  block_dot(W, 0u, part);
#endif
}

void main() {
  uint wg = gl_WorkGroupSize.x;
  // Rows of an invocation: strided by the workgroup size for the quantized types; consecutive
  // for the float types (their wider rows otherwise alias in the L1 sets; measured).
#if WTYPE == TY_F32 || WTYPE == TY_F16 || WTYPE == TY_BF16
  uint row0 = (gl_WorkGroupID.x * wg + gl_LocalInvocationID.x) * pc.nr;
  uint rstep = 1u;
#else
  uint row0 = gl_WorkGroupID.x * wg * pc.nr + gl_LocalInvocationID.x;
  uint rstep = wg;
#endif
#if GATE_UP
  const uint NM = 2u;  // accumulated rows per row: gate, up
  [[unroll]] for (uint t = 0u; t < NC; ++t) ss[t] = 0.0;
#else
  const uint NM = 1u;
#endif
  for (uint r = 0u; r < NM * pc.nr; ++r)
    [[unroll]] for (uint t = 0u; t < NC; ++t) acc[r * NC + t] = 0.0;
  uint nblk = pc.K / BLK_ELEMS;
  for (uint b = 0u; b < nblk; b += MV_BLOCKS) {
    // X of the unit: fetched once, used for the NR rows of every invocation.
    [[unroll]] for (uint g = 0u; g < MV_SG; ++g) {
      [[unroll]] for (uint c = 0u; c < SG_E4; ++c) {
        uint e4 = g * SG_E4 + c;
#if GATE_UP
        vec4 nw = pc.use_norm != 0u ? uintBitsToFloat(FETCH(Nt, pc.n_t0 + (b * BLK_ELEMS >> 2) + e4))
                                    : vec4(1.0);
#endif
        [[unroll]] for (uint t = 0u; t < NC; ++t) {
          vec4 x = xfetch(t, (b * BLK_ELEMS >> 2) + e4);
#if GATE_UP
          ss[t] = fma(x.x, x.x, fma(x.y, x.y, fma(x.z, x.z, fma(x.w, x.w, ss[t]))));
          x *= nw;
#endif
          xv[t][e4] = x;
        }
      }
      [[unroll]] for (uint t = 0u; t < NC; ++t) {
        vec4 s4 = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < SG_E4; ++c) {
          uint e4 = g * SG_E4 + c;
          s4 += xv[t][e4];
          xv[t][e4] *= xscale4(e4 % BLK_E4);
        }
        xs[t][g] = (s4.x + s4.y) + (s4.z + s4.w);
      }
    }
    for (uint r = 0u; r < pc.nr; ++r) {
      uint ro = min(row0 + r * rstep, pc.n_rows - 1u) * pc.row_bytes + b * BLK_BYTES;
      float part[NC];
      [[unroll]] for (uint t = 0u; t < NC; ++t) part[t] = 0.0;
      unit_dot(0u, pc.w_base + ro, part);
      [[unroll]] for (uint t = 0u; t < NC; ++t) acc[NM * r * NC + t] += part[t];
#if GATE_UP
      [[unroll]] for (uint t = 0u; t < NC; ++t) part[t] = 0.0;
      unit_dot(1u, pc.u_base + ro, part);
      [[unroll]] for (uint t = 0u; t < NC; ++t) acc[(2u * r + 1u) * NC + t] += part[t];
#endif
    }
  }
#if GATE_UP
  float inv[NC];
  [[unroll]] for (uint t = 0u; t < NC; ++t)
    inv[t] = pc.use_norm != 0u ? inversesqrt(ss[t] / float(pc.K) + pc.eps) : 1.0;
#endif
  for (uint r = 0u; r < pc.nr; ++r) {
    uint row = row0 + r * rstep;
    if (row < pc.n_rows) {
      [[unroll]] for (uint t = 0u; t < NC; ++t) {
        uint o = (pc.t0 + t) * pc.y_stride + pc.y_row0 + row;
#if GATE_UP
        y[o] = gelu_tanh(acc[2u * r * NC + t] * inv[t]) * (acc[(2u * r + 1u) * NC + t] * inv[t]);
#else
        y[o] = (pc.accumulate != 0u ? y[o] : 0.0) + acc[r * NC + t];
#endif
      }
    }
  }
}
