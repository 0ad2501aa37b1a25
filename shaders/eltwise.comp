#version 450
// Element-wise ops (OP define):
//   OP_GELU_MUL  out[r, i] = gelu_tanh(a[r, i]) * b[r * b_stride + b_offset + i], i < n, r < rows
//   OP_ADD_SCALE out[i] = (a[i] + b[i]) * s
//   OP_SCALE     a[i] *= s
//   OP_SOFTCAP   a[i] = s * tanh(a[i] / s)
//   OP_ROW_SELECT a[r, i] = b[r, i] where mask[r] != 0 (else unchanged), i < n, r < rows
// 1-D over n * rows elements (2-D grid for large counts). Spec constant 0: workgroup size.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer A { float a[]; };
#if OP_GELU_MUL || OP_ADD_SCALE
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
#elif OP_ROW_SELECT
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) readonly buffer M { uint mask[]; };
#endif
layout(push_constant) uniform Push {
  uint n;         // elements per row
  uint count;     // total elements (n * rows)
  uint b_stride;
  uint b_offset;
  float s;
} pc;
#include "common.glsl"

void main() {
  uint i = flat_index();
  if (i >= pc.count) return;
#if OP_GELU_MUL
  uint r = i / pc.n, c = i - r * pc.n;
  o[i] = gelu_tanh(a[i]) * b[r * pc.b_stride + pc.b_offset + c];
#elif OP_ADD_SCALE
  o[i] = (a[i] + b[i]) * pc.s;
#elif OP_SCALE
  a[i] = a[i] * pc.s;
#elif OP_SOFTCAP
  a[i] = pc.s * tanh_stable(a[i] / pc.s);
#elif OP_ROW_SELECT
  if (mask[i / pc.n] != 0u) a[i] = b[i];
#endif
}
