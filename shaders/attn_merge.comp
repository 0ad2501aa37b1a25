#version 450
// Combine the per-chunk partial softmax results of attention.comp:
//   M = max_c m_c,  L = sum_c l_c e^(m_c - M),  out[t, h*hd + :] = sum_c o_c e^(m_c - M) / L.
// Workgroup per (h, t); invocations stride over the hd/4 vec4 of the row.
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Part { vec4 part4[]; };
layout(std430, binding = 1) writeonly buffer Out { vec4 out4[]; };
layout(push_constant) uniform Push {
  uint T, n_head, hd, n_chunks;
} pc;

void main() {
  uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
  uint nv = pc.hd / 4u;
  uint stride = pc.T * pc.n_head * (nv + 1u);
  uint base = (t * pc.n_head + h) * (nv + 1u);
  float M = -1e30;
  for (uint c = 0u; c < pc.n_chunks; ++c) M = max(M, part4[base + c * stride].x);
  float L = 0.0;
  for (uint c = 0u; c < pc.n_chunks; ++c) {
    vec4 ml = part4[base + c * stride];
    L += ml.y * exp(ml.x - M);
  }
  float inv = L > 0.0 ? 1.0 / L : 0.0;
  for (uint v = gl_LocalInvocationID.x; v < nv; v += gl_WorkGroupSize.x) {
    vec4 o = vec4(0.0);
    for (uint c = 0u; c < pc.n_chunks; ++c) {
      float w = exp(part4[base + c * stride].x - M);
      o += part4[base + c * stride + 1u + v] * w;
    }
    out4[(t * pc.n_head + h) * nv + v] = o * inv;
  }
}
