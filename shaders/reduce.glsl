// Workgroup-wide reductions. The includer declares `layout(local_size_x_id = 0) in;` with a
// power-of-two size and defines SUBGROUP (1: subgroup arithmetic available).
#if SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

shared float red_f[gl_WorkGroupSize.x];

/// Sum of v over the workgroup, returned to every invocation. Contains barriers: call from
/// uniform control flow.
float wg_sum(float v) {
#if SUBGROUP
  float s = subgroupAdd(v);
  if (gl_SubgroupInvocationID == 0u) red_f[gl_SubgroupID] = s;
  barrier();
  float t = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; ++i) t += red_f[i];
  barrier();
  return t;
#else
  uint l = gl_LocalInvocationID.x;
  red_f[l] = v;
  barrier();
  for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
    if (l < s) red_f[l] += red_f[l + s];
    barrier();
  }
  float t = red_f[0];
  barrier();
  return t;
#endif
}

/// Max of v over the workgroup, returned to every invocation.
float wg_max(float v) {
#if SUBGROUP
  float s = subgroupMax(v);
  if (gl_SubgroupInvocationID == 0u) red_f[gl_SubgroupID] = s;
  barrier();
  float t = red_f[0];
  for (uint i = 1u; i < gl_NumSubgroups; ++i) t = max(t, red_f[i]);
  barrier();
  return t;
#else
  uint l = gl_LocalInvocationID.x;
  red_f[l] = v;
  barrier();
  for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
    if (l < s) red_f[l] = max(red_f[l], red_f[l + s]);
    barrier();
  }
  float t = red_f[0];
  barrier();
  return t;
#endif
}
