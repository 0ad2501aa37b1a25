#version 450
// NEOX RoPE in place on x[T, n_heads, head_dim]: pairs (i, i + n_rot/2), i < n_rot/2, rotated by
// the angle of token t and pair i, whose cos and sin come from a host-computed table
// cs[T, n_rot/2, 2] (runtime/rope_table.h: double precision, so the result does not depend on
// the device's sin/cos accuracy or on float angle rounding at large positions).
// One invocation per pair; grid (pairs of all heads, T).
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer CosSin { vec2 cs[]; };
layout(push_constant) uniform Push {
  uint n_heads;
  uint head_dim;
  uint n_rot;
} pc;

void main() {
  uint half_rot = pc.n_rot / 2u;
  uint j = gl_GlobalInvocationID.x;
  uint t = gl_WorkGroupID.y;
  if (j >= pc.n_heads * half_rot) return;
  uint h = j / half_rot, i = j - h * half_rot;
  vec2 r = cs[t * half_rot + i];
  uint base = (t * pc.n_heads + h) * pc.head_dim + i;
  float a = x[base], b = x[base + half_rot];
  x[base] = a * r.x - b * r.y;
  x[base + half_rot] = a * r.y + b * r.x;
}
