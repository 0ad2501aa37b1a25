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
// Spec constants: 0 workgroup size, 1 NR rows per invocation, 2 NC columns.
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
} pc;

uvec4 wtexel(uint i) { return texelFetch(Wt, int(min(i, pc.w_texels - 1u))); }
#include "wtypes.glsl"

vec4 xfetch(uint t, uint i) { return uintBitsToFloat(texelFetch(Xt, int(pc.x_t0 + (pc.t0 + t) * (pc.K >> 2) + i))); }

float acc[NR * NC];

// Accumulate one block of each row (W[r]) against X elements starting at element e0.
void block_dot(uint W[NR][BLK_WORDS], uint e0) {
  [[unroll]] for (uint g = 0u; g < BLK_SG; ++g) {
    vec4 xv[NC][SG_E4];
    float xs[NC];
    [[unroll]] for (uint t = 0u; t < NC; ++t) {
      vec4 s4 = vec4(0.0);
      [[unroll]] for (uint c = 0u; c < SG_E4; ++c) {
        vec4 x = xfetch(t, (e0 >> 2) + g * SG_E4 + c);
        s4 += x;
        xv[t][c] = x * xscale4(g * SG_E4 + c);  // pre-scaled for qv4s
      }
      xs[t] = (s4.x + s4.y) + (s4.z + s4.w);
    }
    [[unroll]] for (uint r = 0u; r < NR; ++r) {
      float sc = gscale(W[r], g);
      float mn = gmin(W[r], g);
      vec4 q[SG_E4];
      [[unroll]] for (uint c = 0u; c < SG_E4; ++c) q[c] = qv4s(W[r], g * SG_E4 + c);
      [[unroll]] for (uint t = 0u; t < NC; ++t) {
        vec4 s4 = vec4(0.0);
        [[unroll]] for (uint c = 0u; c < SG_E4; ++c) s4 += q[c] * xv[t][c];
        acc[r * NC + t] += sc * ((s4.x + s4.y) + (s4.z + s4.w)) + mn * xs[t];
      }
    }
  }
}

void main() {
  const uint wg = gl_WorkGroupSize.x;
  uint row0 = gl_WorkGroupID.x * wg * NR + gl_LocalInvocationID.x;
  uint rbyte[NR];
  [[unroll]] for (uint r = 0u; r < NR; ++r) {
    rbyte[r] = pc.w_base + min(row0 + r * wg, pc.n_rows - 1u) * pc.row_bytes;
    [[unroll]] for (uint t = 0u; t < NC; ++t) acc[r * NC + t] = 0.0;
  }
  const uint nblk = pc.K / BLK_ELEMS;
#if ALIGNED && UNIT_BLOCKS > 1
  for (uint b = 0u; b < nblk; b += UNIT_BLOCKS) {
    uint U[NR][UNIT_TEXELS * 4u];
    [[unroll]] for (uint r = 0u; r < NR; ++r) {
      uint t0 = (rbyte[r] + b * BLK_BYTES) >> 4;
      [[unroll]] for (uint i = 0u; i < UNIT_TEXELS; ++i) {
        uvec4 v = texelFetch(Wt, int(t0 + i));
        U[r][4u * i] = v.x; U[r][4u * i + 1u] = v.y; U[r][4u * i + 2u] = v.z; U[r][4u * i + 3u] = v.w;
      }
    }
    [[unroll]] for (uint i = 0u; i < UNIT_BLOCKS; ++i) {
      uint W[NR][BLK_WORDS];
      [[unroll]] for (uint r = 0u; r < NR; ++r)
        [[unroll]] for (uint j = 0u; j < uint(BLK_WORDS); ++j) W[r][j] = unit_word(U[r], i, j);
      block_dot(W, (b + i) * BLK_ELEMS);
    }
  }
#else
  for (uint b = 0u; b < nblk; ++b) {
    uint W[NR][BLK_WORDS];
    [[unroll]] for (uint r = 0u; r < NR; ++r) load_block(rbyte[r] + b * BLK_BYTES, W[r]);
    block_dot(W, b * BLK_ELEMS);
  }
#endif
  [[unroll]] for (uint r = 0u; r < NR; ++r) {
    uint row = row0 + r * wg;
    if (row < pc.n_rows) {
      [[unroll]] for (uint t = 0u; t < NC; ++t) {
        uint o = (pc.t0 + t) * pc.y_stride + pc.y_row0 + row;
        y[o] = (pc.accumulate != 0u ? y[o] : 0.0) + acc[r * NC + t];
      }
    }
  }
}
