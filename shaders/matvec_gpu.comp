#version 450
// Matrix x vector(s) for decode on GPUs ("split-K"): Y[t, y_row0 + r] (+)= sum_k W[r, k] * X[t, k]
// for NC columns t, with K split across the lanes of a group instead of a row per lane.
//
// A lane group is a subgroup (SUBGROUP=1: partial sums added by subgroupAdd) or the whole
// workgroup (SUBGROUP=0, devices without subgroup arithmetic such as V3D: a shared-memory tree).
// A group computes one row at a time: lane i takes blocks i, i + L, i + 2L, ... of the row (L
// lanes), so the group's loads cover a contiguous run of L blocks and consecutive lanes read
// consecutive blocks. Each workgroup owns pc.nr consecutive rows, its groups taking rows g,
// g + n_groups, ...: the subgroup size may be anything the driver picks. Per invocation: one
// block's words (BLK_WORDS <= 53), the X values of one scale group, NC accumulators; no arrays
// of K floats (matvec.comp's xv / acc), so nothing spills.
//
// GATE_UP=1 (feed-forward), as matvec.comp: gate (binding 0) and up (binding 1) of one shape,
// Y[t, r] = gelu_tanh(gate[r] . xn[t]) * (up[r] . xn[t]), xn = X or rms_norm(X) * n (use_norm):
// X is multiplied by n as it is fetched, sum(X^2) is summed over the lanes like the dot
// products, and 1 / rms scales the finished sums.
//
// Defines: WTYPE, GATE_UP, SUBGROUP. Spec constants: 0 workgroup size (a power of two),
// 2 NC columns (1 is unused: the interface matches matvec.comp's push constants and bindings).
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#if SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "fetch.glsl"
#ifndef GATE_UP
#define GATE_UP 0
#endif

layout(local_size_x_id = 0) in;
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
  uint nr;         // rows per workgroup
#if GATE_UP
  uint u_texels;
  uint u_base;
  uint n_t0;
  uint use_norm;
  float eps;
#endif
} pc;

#if GATE_UP
#define WTYPES_MULTI_SOURCE
uvec4 wtexel_src(uint src, uint i) {
  return src == 0u ? FETCH(Wt, min(i, pc.w_texels - 1u)) : FETCH(Wu, min(i, pc.u_texels - 1u));
}
uvec4 wtexel(uint i) { return wtexel_src(0u, i); }
#include "common.glsl"
#else
uvec4 wtexel(uint i) { return FETCH(Wt, min(i, pc.w_texels - 1u)); }
#endif
#include "wtypes.glsl"

vec4 xfetch(uint t, uint i) { return uintBitsToFloat(FETCH(Xt, pc.x_t0 + (pc.t0 + t) * (pc.K >> 2) + i)); }

#if GATE_UP
const uint NM = 2u;  // matrices: gate, up
#else
const uint NM = 1u;
#endif
#define NS (NM * NC + (GATE_UP != 0 ? NC : 0u))  // sums per row: dot products (+ sum of X^2 per column)

#if SUBGROUP
#define LANES gl_SubgroupSize
#define LANE gl_SubgroupInvocationID
#define GROUP gl_SubgroupID
#define NGROUPS gl_NumSubgroups
#else
#define LANES gl_WorkGroupSize.x
#define LANE gl_LocalInvocationID.x
#define GROUP 0u
#define NGROUPS 1u
shared float red[gl_WorkGroupSize.x];
#endif

/// Sum of v over the lane group, valid in lane 0. SUBGROUP=0: contains barriers (uniform
/// control flow: every invocation of the workgroup walks the same rows).
float group_sum(float v) {
#if SUBGROUP
  return subgroupAdd(v);
#else
  uint l = gl_LocalInvocationID.x;
  red[l] = v;
  barrier();
  for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
    if (l < s) red[l] += red[l + s];
    barrier();
  }
  float t = red[0];
  barrier();
  return t;
#endif
}

float part[NS];  // this lane's partial sums of the current row

#if GATE_UP
/// Adds block b of gate (words G) and up (words U) times X to part[t] and part[NC + t] for every
/// column t, and the sum of the raw X^2 to part[2 * NC + t]. The X values of a scale group are
/// fetched once and used for both matrices right away (fetching them per matrix lets the
/// compiler merge the fetches and keep a whole block of X live: it spilled).
void block_dot(uint G[BLK_WORDS], uint U[BLK_WORDS], uint b) {
  [[unroll]] for (uint g = 0u; g < BLK_SG; ++g) {
    float scg = gscale(G, g), mng = gmin(G, g), scu = gscale(U, g), mnu = gmin(U, g);
    [[unroll]] for (uint t = 0u; t < NC; ++t) {
      vec4 sg4 = vec4(0.0), su4 = vec4(0.0), x4 = vec4(0.0), q4 = vec4(0.0);
      [[unroll]] for (uint c = 0u; c < SG_E4; ++c) {
        uint e4 = g * SG_E4 + c;
        uint xi = (b * BLK_ELEMS >> 2) + e4;
        vec4 x = xfetch(t, xi);
        q4 = fma(x, x, q4);
        if (pc.use_norm != 0u) x *= uintBitsToFloat(FETCH(Nt, pc.n_t0 + xi));
        x4 += x;
        vec4 xs = x * xscale4(e4);
        sg4 = fma(qv4s(G, e4), xs, sg4);
        su4 = fma(qv4s(U, e4), xs, su4);
      }
      float xsum = (x4.x + x4.y) + (x4.z + x4.w);
      part[t] = fma(scg, (sg4.x + sg4.y) + (sg4.z + sg4.w), fma(mng, xsum, part[t]));
      part[NC + t] = fma(scu, (su4.x + su4.y) + (su4.z + su4.w), fma(mnu, xsum, part[NC + t]));
      part[2u * NC + t] += (q4.x + q4.y) + (q4.z + q4.w);
    }
  }
}
#else
/// Adds block b (words W) times X to part[t] for every column t.
void block_dot(uint W[BLK_WORDS], uint b) {
  [[unroll]] for (uint g = 0u; g < BLK_SG; ++g) {
    float sc = gscale(W, g);
    float mn = gmin(W, g);
    [[unroll]] for (uint t = 0u; t < NC; ++t) {
      vec4 s4 = vec4(0.0), x4 = vec4(0.0);
      [[unroll]] for (uint c = 0u; c < SG_E4; ++c) {
        uint e4 = g * SG_E4 + c;
        vec4 x = xfetch(t, (b * BLK_ELEMS >> 2) + e4);
        x4 += x;
        s4 = fma(qv4s(W, e4), x * xscale4(e4), s4);
      }
      part[t] = fma(sc, (s4.x + s4.y) + (s4.z + s4.w), fma(mn, (x4.x + x4.y) + (x4.z + x4.w), part[t]));
    }
  }
}
#endif

void main() {
  uint nblk = pc.K / BLK_ELEMS;
  uint row_first = gl_WorkGroupID.x * pc.nr;
  for (uint r = GROUP; r < pc.nr; r += NGROUPS) {
    uint row = row_first + r;
#if SUBGROUP
    if (row >= pc.n_rows) break;  // uniform over the subgroup
#else
    if (row >= pc.n_rows) break;  // uniform over the workgroup
#endif
    [[unroll]] for (uint i = 0u; i < NS; ++i) part[i] = 0.0;
    uint rb = row * pc.row_bytes;
    for (uint b = LANE; b < nblk; b += LANES) {
      uint W[BLK_WORDS];
      load_block_src(0u, pc.w_base + rb + b * BLK_BYTES, W);
#if GATE_UP
      uint U[BLK_WORDS];
      load_block_src(1u, pc.u_base + rb + b * BLK_BYTES, U);
      block_dot(W, U, b);
#else
      block_dot(W, b);
#endif
    }
    [[unroll]] for (uint i = 0u; i < NS; ++i) part[i] = group_sum(part[i]);
    if (LANE == 0u) {
      [[unroll]] for (uint t = 0u; t < NC; ++t) {
        uint o = (pc.t0 + t) * pc.y_stride + pc.y_row0 + row;
#if GATE_UP
        float inv = pc.use_norm != 0u ? inversesqrt(part[NM * NC + t] / float(pc.K) + pc.eps) : 1.0;
        y[o] = gelu_tanh(part[t] * inv) * (part[NC + t] * inv);
#else
        y[o] = (pc.accumulate != 0u ? y[o] : 0.0) + part[t];
#endif
      }
    }
  }
}
