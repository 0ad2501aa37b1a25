#version 450
// NEOX RoPE in place on x[T, n_heads, head_dim]: pairs (i, i + n_rot/2), i < n_rot/2, rotated by
// theta = pos[t] * base^(-2i/n_rot) / ff[i] (ff = 1 unless use_ff). One invocation per pair;
// grid (pairs of all heads, T). The angle is reduced modulo 2*pi in two steps (Cody-Waite) so
// that sin/cos see a small argument.
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Pos { int pos[]; };
layout(std430, binding = 2) readonly buffer FF { float ff[]; };
layout(push_constant) uniform Push {
  uint n_heads;
  uint head_dim;
  uint n_rot;
  float log2_base;
  uint use_ff;
} pc;

void main() {
  uint half_rot = pc.n_rot / 2u;
  uint j = gl_GlobalInvocationID.x;
  uint t = gl_WorkGroupID.y;
  if (j >= pc.n_heads * half_rot) return;
  uint h = j / half_rot, i = j - h * half_rot;
  float inv_freq = exp2(-float(2u * i) / float(pc.n_rot) * pc.log2_base);
  float theta = float(pos[t]) * inv_freq;
  if (pc.use_ff != 0u) theta /= ff[i];
  const float two_pi_hi = 6.28125;                     // 8 significant bits: k * hi is exact
  const float two_pi_lo = 0.0019353071795864769253;    // 2*pi - two_pi_hi
  float k = round(theta * 0.15915494309189535);
  float r = fma(-k, two_pi_hi, theta);
  r = fma(-k, two_pi_lo, r);
  float c = cos(r), s = sin(r);
  uint base = (t * pc.n_heads + h) * pc.head_dim + i;
  float a = x[base], b = x[base + half_rot];
  x[base] = a * c - b * s;
  x[base + half_rot] = a * s + b * c;
}
