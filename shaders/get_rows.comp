#version 450
// out[t, :] = dequant(W[ids[t] - first_row, :]) * scale for the tokens whose row lies in this part
// (rows of other parts are written by the dispatches of those parts). One invocation per block;
// dequantization is bit-exact with ggml (deq4 in wtypes.glsl), then one float multiply.
// Define: WTYPE. Spec constant 0: workgroup size.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#include "fetch.glsl"

layout(local_size_x_id = 0) in;
TEXELS(0, WtB, Wt)
layout(std430, binding = 1) readonly buffer Ids { int ids[]; };
layout(std430, binding = 2) writeonly buffer Out { vec4 o4[]; };

layout(push_constant) uniform Push {
  uint K;          // elements per row
  uint n_rows;     // rows in this part
  uint first_row;  // matrix row of the part's first row
  uint row_bytes;
  uint w_texels;
  uint w_base;     // byte offset of row 0 in the view
  float scale;
  uint pad;
} pc;

uvec4 wtexel(uint i) { return FETCH(Wt, min(i, pc.w_texels - 1u)); }
#include "wtypes.glsl"

void main() {
  uint b = gl_GlobalInvocationID.x;
  uint t = gl_GlobalInvocationID.y;
  if (b >= pc.K / BLK_ELEMS) return;
  int id = ids[t];
  uint r = uint(id) - pc.first_row;  // wraps for ids below the part
  if (id < 0 || r >= pc.n_rows) return;
  uint W[BLK_WORDS];
  load_block(pc.w_base + r * pc.row_bytes + b * BLK_BYTES, W);
  uint o = (t * pc.K + b * BLK_ELEMS) >> 2;
  [[unroll]] for (uint e = 0u; e < BLK_E4; ++e) o4[o + e] = deq4(W, e) * pc.scale;
}
