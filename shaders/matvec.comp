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
// Defines: WTYPE (ggml type), ALIGNED (1: rows are whole units of UNIT_BLOCKS blocks starting
// at texel boundaries; 0: any even row_bytes, blocks gathered at run-time phase).
// Spec constants: 0 workgroup size, 1 NR most rows per invocation (pc.nr), 2 NC columns.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NR = 2;
layout(constant_id = 2) const uint NC = 1;

layout(binding = 0) uniform utextureBuffer Wt;   // weight part
layout(binding = 1) uniform utextureBuffer Xt;   // X [NC, K] f32
layout(std430, binding = 2) buffer Yb { float y[]; };

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
} pc;

uvec4 wtexel(uint i) { return texelFetch(Wt, int(min(i, pc.w_texels - 1u))); }
#include "wtypes.glsl"

vec4 xfetch(uint t, uint i) { return uintBitsToFloat(texelFetch(Xt, int(pc.x_t0 + (pc.t0 + t) * (pc.K >> 2) + i))); }

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
  for (uint r = 0u; r < pc.nr; ++r)
    [[unroll]] for (uint t = 0u; t < NC; ++t) acc[r * NC + t] = 0.0;
  uint nblk = pc.K / BLK_ELEMS;
  for (uint b = 0u; b < nblk; b += MV_BLOCKS) {
    // X of the unit: fetched once, used for the NR rows of every invocation.
    [[unroll]] for (uint t = 0u; t < NC; ++t) {
      [[unroll]] for (uint g = 0u; g < MV_SG; ++g) {
        vec4 s4 = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < SG_E4; ++c) {
          uint e4 = g * SG_E4 + c;
          vec4 x = xfetch(t, (b * BLK_ELEMS >> 2) + e4);
          s4 += x;
          xv[t][e4] = x * xscale4(e4 % BLK_E4);
        }
        xs[t][g] = (s4.x + s4.y) + (s4.z + s4.w);
      }
    }
    for (uint r = 0u; r < pc.nr; ++r) {
      uint rb = pc.w_base + min(row0 + r * rstep, pc.n_rows - 1u) * pc.row_bytes + b * BLK_BYTES;
      float part[NC];
      [[unroll]] for (uint t = 0u; t < NC; ++t) part[t] = 0.0;
#if MV_BLOCKS > 1
      uint U[UNIT_TEXELS * 4u];
      [[unroll]] for (uint i = 0u; i < UNIT_TEXELS; ++i) {
        uvec4 v = texelFetch(Wt, int((rb >> 4) + i));
        U[4u * i] = v.x; U[4u * i + 1u] = v.y; U[4u * i + 2u] = v.z; U[4u * i + 3u] = v.w;
      }
      [[unroll]] for (uint i = 0u; i < UNIT_BLOCKS; ++i) {
        uint W[BLK_WORDS];
        [[unroll]] for (uint j = 0u; j < uint(BLK_WORDS); ++j) W[j] = unit_word(U, i, j);
        block_dot(W, i, part);
      }
#else
      uint W[BLK_WORDS];
      load_block(rb, W);
      block_dot(W, 0u, part);
#endif
      [[unroll]] for (uint t = 0u; t < NC; ++t) acc[r * NC + t] += part[t];
    }
  }
  for (uint r = 0u; r < pc.nr; ++r) {
    uint row = row0 + r * rstep;
    if (row < pc.n_rows) {
      [[unroll]] for (uint t = 0u; t < NC; ++t) {
        uint o = (pc.t0 + t) * pc.y_stride + pc.y_row0 + row;
        y[o] = (pc.accumulate != 0u ? y[o] : 0.0) + acc[r * NC + t];
      }
    }
  }
}
