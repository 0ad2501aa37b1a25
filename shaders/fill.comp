#version 450
// Writes out[i] = value + i * step for i < n. A smoke-test kernel for the runtime.
layout(local_size_x_id = 0) in;
layout(std430, set = 0, binding = 0) writeonly buffer Out { uint data[]; } outb;
layout(push_constant) uniform Push { uint n; uint value; uint step_; } pc;
void main() {
  uint i = gl_GlobalInvocationID.x;
  if (i < pc.n) outb.data[i] = pc.value + i * pc.step_;
}
