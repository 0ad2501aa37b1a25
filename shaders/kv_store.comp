#version 450
// cache[pos[t] % ring_size, :] = src[t, :] for t < T; rows of `row` floats. F16 caches hold
// packHalf2x16 pairs (row is even). Grid (ceil(row / (2 or 1) / wg), T).
// Define: F16 (1: half cache).
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Src { float src[]; };
#if F16
layout(std430, binding = 1) writeonly buffer Cache { uint c[]; };
#else
layout(std430, binding = 1) writeonly buffer Cache { float c[]; };
#endif
layout(std430, binding = 2) readonly buffer Pos { int pos[]; };
layout(push_constant) uniform Push {
  uint row;
  uint ring_size;
} pc;

void main() {
  uint j = gl_GlobalInvocationID.x;
  uint t = gl_WorkGroupID.y;
  uint slot = uint(pos[t]) % pc.ring_size;
#if F16
  if (j >= pc.row / 2u) return;
  uint s = t * pc.row + 2u * j;
  c[slot * (pc.row / 2u) + j] = packHalf2x16(vec2(src[s], src[s + 1u]));
#else
  if (j >= pc.row) return;
  c[slot * pc.row + j] = src[t * pc.row + j];
#endif
}
