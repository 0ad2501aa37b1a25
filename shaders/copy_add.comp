#version 450
// out[i] = in[i] * mul + add for i < n. A smoke-test kernel that reads one buffer and writes another.
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) readonly buffer In { uint data[]; } inb;
layout(std430, set = 0, binding = 1) writeonly buffer Out { uint data[]; } outb;
layout(push_constant) uniform Push { uint n; uint mul; uint add; } pc;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < pc.n) outb.data[i] = inb.data[i] * pc.mul + pc.add;
}
