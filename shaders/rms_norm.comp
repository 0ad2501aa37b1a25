#version 450
// RMS norm, one workgroup per row of n floats (2-D grid for many rows):
//   plain: out[r, :] = in[r, :] / sqrt(mean(in[r, :]^2) + eps) * (use_weight ? w : 1)
//   ADD:   res[r, :] = (res[r, :] + in[r, :] / sqrt(mean(in^2) + eps) * (use_weight ? w : 1)) * s,
//          s = use_scale ? scale[0] : 1
// in == out is allowed (each invocation rewrites only the elements it read).
// Defines: ADD, SUBGROUP. Spec constant 0: workgroup size (power of two).
#extension GL_GOOGLE_include_directive : require
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) readonly buffer Wgt { float w[]; };
layout(std430, binding = 2) buffer Out { float o[]; };
#if ADD
layout(std430, binding = 3) readonly buffer Scale { float sc[]; };
#endif
layout(push_constant) uniform Push {
  uint n;
  uint rows;
  float eps;
  uint use_weight;
  uint use_scale;
} pc;
#include "reduce.glsl"

void main() {
  uint r = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (r >= pc.rows) return;  // uniform per workgroup
  uint base = r * pc.n;
  float ss = 0.0;
  for (uint i = gl_LocalInvocationID.x; i < pc.n; i += gl_WorkGroupSize.x) {
    float v = x[base + i];
    ss += v * v;
  }
  float inv = inversesqrt(wg_sum(ss) / float(pc.n) + pc.eps);
#if ADD
  float s = pc.use_scale != 0u ? sc[0] : 1.0;
#endif
  for (uint i = gl_LocalInvocationID.x; i < pc.n; i += gl_WorkGroupSize.x) {
    float v = x[base + i] * inv;
    if (pc.use_weight != 0u) v *= w[i];
#if ADD
    o[base + i] = (o[base + i] + v) * s;
#else
    o[base + i] = v;
#endif
  }
}
