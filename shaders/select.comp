#version 450
// Top-k selection (argmax is k = 1). Each workgroup handles a slice of the input items and
// emits its k best (value descending, index ascending on ties) by k rounds of "best item below
// the previous pick" with a workgroup-wide reduction; NaN never wins.
//   PAIRS=0: items are floats x[i] read through a texel view, item id = i
//   PAIRS=1: items are (value bits, id) pairs written by a previous pass
//   final=0: write pairs to pairs[wg * k + j]; final=1: ids[j] (and vals[j] when has_vals)
// Defines: PAIRS, SUBGROUP. Spec constant 0: workgroup size (power of two).
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_GOOGLE_include_directive : require
#include "fetch.glsl"
layout(local_size_x_id = 0) in;
TEXELS(0, XtB, Xt)
layout(std430, binding = 1) buffer Pairs { uvec2 pairs[]; };  // PAIRS: read; final=0: written
layout(std430, binding = 2) writeonly buffer Ids { int ids[]; };
layout(std430, binding = 3) writeonly buffer Vals { float vals[]; };
layout(push_constant) uniform Push {
  uint n;          // items
  uint k;
  uint slice;      // items per workgroup
  uint final_pass;
  uint has_vals;
  uint x_t0;       // texel offset of x in its view
} pc;

#if SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
shared float red_v[gl_WorkGroupSize.x];
shared uint red_i[gl_WorkGroupSize.x];
#else
shared float red_v[gl_WorkGroupSize.x];
shared uint red_i[gl_WorkGroupSize.x];
#endif

#define NEG_INF uintBitsToFloat(0xff800000u)

// a ranks before b
bool better(float av, uint ai, float bv, uint bi) { return av > bv || (av == bv && ai < bi); }

void item(uint i, out float v, out uint id) {
#if PAIRS
  uvec2 p = pairs[i];
  v = uintBitsToFloat(p.x);
  id = p.y;
#else
  uvec4 w = FETCH(Xt, pc.x_t0 + (i >> 2));
  uint c = i & 3u;
  v = uintBitsToFloat(c == 0u ? w.x : c == 1u ? w.y : c == 2u ? w.z : w.w);
  id = i;
#endif
}

// Workgroup-wide best pair; result in every invocation.
void reduce_best(inout float v, inout uint id) {
  uint l = gl_LocalInvocationID.x;
#if SUBGROUP
  float m = subgroupMax(v);
  uint mi = subgroupMin(v == m ? id : 0xffffffffu);
  if (gl_SubgroupInvocationID == 0u) { red_v[gl_SubgroupID] = m; red_i[gl_SubgroupID] = mi; }
  barrier();
  v = red_v[0];
  id = red_i[0];
  for (uint s = 1u; s < gl_NumSubgroups; ++s)
    if (better(red_v[s], red_i[s], v, id)) { v = red_v[s]; id = red_i[s]; }
  barrier();
#else
  red_v[l] = v;
  red_i[l] = id;
  barrier();
  for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
    if (l < s && better(red_v[l + s], red_i[l + s], red_v[l], red_i[l])) {
      red_v[l] = red_v[l + s];
      red_i[l] = red_i[l + s];
    }
    barrier();
  }
  v = red_v[0];
  id = red_i[0];
  barrier();
#endif
}

void main() {
  uint wg = gl_WorkGroupID.x;
  uint begin = wg * pc.slice;
  uint end = min(pc.n, begin + pc.slice);
  float pv = uintBitsToFloat(0x7f800000u);  // previous pick: +inf, id 0 (everything ranks after)
  uint pi = 0u;
  bool first = true;
  for (uint j = 0u; j < pc.k; ++j) {
    float bv = NEG_INF;
    uint bi = 0xffffffffu;
    for (uint i = begin + gl_LocalInvocationID.x; i < end; i += gl_WorkGroupSize.x) {
      float v;
      uint id;
      item(i, v, id);
      if (isnan(v) || id == 0xffffffffu) continue;
      bool after_prev = first || better(pv, pi, v, id);
      if (after_prev && better(v, id, bv, bi)) { bv = v; bi = id; }
    }
    reduce_best(bv, bi);
    first = false;
    pv = bv;
    pi = bi;
    if (gl_LocalInvocationID.x == 0u) {
      if (pc.final_pass != 0u) {
        ids[j] = int(bi);
        if (pc.has_vals != 0u) vals[j] = bv;
      } else {
        pairs[wg * pc.k + j] = uvec2(floatBitsToUint(bv), bi);
      }
    }
  }
}
