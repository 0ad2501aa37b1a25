#version 450
// Matrix x matrix for prefill: Y[t, y_row0 + r] (+)= sum_k W[r, k] * X[t, k].
//
// Tile per workgroup: R weight rows x (WG * TV) tokens. Invocations are tokens (TV each, strided
// by WG); the weight rows are the same for all invocations (uniform texel fetches) and each
// decoded block is used for every token of the tile, while each invocation's X values are read
// once per block and reused for the R rows. Accumulation as in matvec.comp:
//   gscale * sum(q * x) + gmin * sum(x)   per scale group.
// No barriers or shared memory.
//
// Define: WTYPE. Spec constants: 0 workgroup size, 1 R most rows per workgroup (pc.nr), 2 TV
// tokens per invocation.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#include "fetch.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint R = 8;
layout(constant_id = 2) const uint TV = 4;

TEXELS(0, WtB, Wt)
TEXELS(1, XtB, Xt)
layout(std430, binding = 2) buffer Yb { float y[]; };

layout(push_constant) uniform Push {
  uint K, n_rows, row_bytes, w_texels, w_base, x_t0, y_row0, y_stride, T, accumulate;
  uint nr;  // rows per workgroup (<= R); a push constant so the row loop stays a loop
} pc;

uvec4 wtexel(uint i) { return FETCH(Wt, min(i, pc.w_texels - 1u)); }
#include "wtypes.glsl"

float acc[R * TV];  // indexed by the row loop (not unrolled: code size stays one block)

void main() {
  uint row0 = gl_WorkGroupID.x * pc.nr;
  uint tok0 = gl_WorkGroupID.y * gl_WorkGroupSize.x * TV + gl_LocalInvocationID.x;
  if (tok0 >= pc.T) return;  // no barriers: idle invocations leave
  uint xrow[TV];
  [[unroll]] for (uint j = 0u; j < TV; ++j)
    xrow[j] = pc.x_t0 + min(tok0 + j * gl_WorkGroupSize.x, pc.T - 1u) * (pc.K >> 2);
  for (uint i = 0u; i < pc.nr * TV; ++i) acc[i] = 0.0;

  uint nblk = pc.K / BLK_ELEMS;
  for (uint b = 0u; b < nblk; ++b) {
    uint e0 = (b * BLK_ELEMS) >> 2;  // texel (vec4) index of the block in an X row
    vec4 xv[TV][BLK_E4];
    float xs[TV][BLK_SG];
    [[unroll]] for (uint j = 0u; j < TV; ++j) {
      [[unroll]] for (uint g = 0u; g < BLK_SG; ++g) {
        vec4 s4 = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < SG_E4; ++c) {
          vec4 x = uintBitsToFloat(FETCH(Xt, xrow[j] + e0 + g * SG_E4 + c));
          s4 += x;
          xv[j][g * SG_E4 + c] = x * xscale4(g * SG_E4 + c);  // pre-scaled for qv4s
        }
        xs[j][g] = (s4.x + s4.y) + (s4.z + s4.w);
      }
    }
    for (uint r = 0u; r < pc.nr; ++r) {
      uint W[BLK_WORDS];
      load_block(pc.w_base + min(row0 + r, pc.n_rows - 1u) * pc.row_bytes + b * BLK_BYTES, W);
      float part[TV];
      [[unroll]] for (uint j = 0u; j < TV; ++j) part[j] = 0.0;
      [[unroll]] for (uint g = 0u; g < BLK_SG; ++g) {
        float sc = gscale(W, g), mn = gmin(W, g);
        vec4 q[SG_E4];
        [[unroll]] for (uint c = 0u; c < SG_E4; ++c) q[c] = qv4s(W, g * SG_E4 + c);
        [[unroll]] for (uint j = 0u; j < TV; ++j) {
          vec4 s4 = vec4(0.0);
          [[unroll]] for (uint c = 0u; c < SG_E4; ++c) s4 = fma(q[c], xv[j][g * SG_E4 + c], s4);
          part[j] = fma(sc, (s4.x + s4.y) + (s4.z + s4.w), fma(mn, xs[j][g], part[j]));
        }
      }
      [[unroll]] for (uint j = 0u; j < TV; ++j) acc[r * TV + j] += part[j];
    }
  }
  [[unroll]] for (uint j = 0u; j < TV; ++j) {
    uint t = tok0 + j * gl_WorkGroupSize.x;
    if (t < pc.T) {
      for (uint r = 0u; r < pc.nr; ++r) {
        if (row0 + r < pc.n_rows) {
          uint o = t * pc.y_stride + pc.y_row0 + row0 + r;
          y[o] = (pc.accumulate != 0u ? y[o] : 0.0) + acc[r * TV + j];
        }
      }
    }
  }
}
