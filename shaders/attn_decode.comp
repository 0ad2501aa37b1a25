#version 450
// Decode attention: one subgroup per (key chunk c, KV head kh, query t), computing all G query
// heads of that KV head. Invocations split the head dimension (each holds hd / S dims of q and
// of the output accumulator for every head), so every key/value row is fetched once, spread
// over the lanes; q.k partial sums are combined with subgroupAdd. Keys are taken four at a time
// with an online softmax per head (max and sum are the same in all lanes).
//   n_chunks == 1: out[t, h*hd + :] = o / l;  n_chunks > 1: partial (m, l, o) for attn_merge.
// Visibility and slots as in attention.comp. Requires hd % (DPT * S) == 0 (DPT dims per texel)
// and a workgroup of exactly one subgroup.
//
// Defines: HD (compiled head dim: 128, 256, 512; the dims per lane), F16 (half cache).
// Spec constants: 0 workgroup size (= subgroup size S), 1 G (query heads per KV head).
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "fetch.glsl"

#include "half.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint G = 8;

TEXELS(0, QtB, Qt)
TEXELS(1, KtB, Kt)
TEXELS(2, VtB, Vt)
SMALL_TEXELS(3, Pt)  // pos [T] int32, an R32_UINT view (T <= 65535 fits the minimum texel-buffer limit)
layout(std430, binding = 4) writeonly buffer Dst { vec4 dst4[]; };  // out (n_chunks == 1) or partials

layout(push_constant) uniform Push {
  uint T, n_head, n_kv, hd;
  uint ring_size, window;
  float scale;
  uint n_chunks;
  uint pos_t0;  // element offset of pos[0] in its view
  uint q_t0, k_t0, v_t0;
  uint pad;
} pc;

int pos_at(uint t) { return int(SMALL_FETCH(Pt, pc.pos_t0 + t).x); }

#if F16
#define DPT 8u   // dims per texel
#else
#define DPT 4u
#endif
#define S gl_WorkGroupSize.x
#define TPL (uint(HD) / (DPT * S))   // texels per lane per row
#define VPL (TPL * DPT / 4u)         // vec4 per lane per row
#define KB 4u                        // keys per step

vec4 unpack_kv(uvec4 w, uint j) {
#if F16
  return j == 0u ? vec4(unpack_half2(w.x), unpack_half2(w.y)) : vec4(unpack_half2(w.z), unpack_half2(w.w));
#else
  return uintBitsToFloat(w);
#endif
}

int first_visible(int p) { return pc.window == 0u ? 0 : max(0, p - int(pc.window) + 1); }

vec4 qv[G][VPL];
vec4 ov[G][VPL];

void main() {
  uint c = gl_WorkGroupID.x, kh = gl_WorkGroupID.y, t = gl_WorkGroupID.z;
  uint lane = gl_LocalInvocationID.x;
  int p = pos_at(t);
  int f = first_visible(p);
  uint per = (uint(p - f + 1) + pc.n_chunks - 1u) / pc.n_chunks;
  int k0 = f + int(c * per);
  int k1 = min(p, k0 + int(per) - 1);

  // This lane's dims: texels lane*TPL .. +TPL-1 of a row (vec4 lane*VPL .. of q / out).
  [[unroll]] for (uint g = 0u; g < G; ++g) {
    uint qrow = pc.q_t0 + (t * pc.n_head + kh * G + g) * (pc.hd / 4u) + lane * VPL;
    [[unroll]] for (uint v = 0u; v < VPL; ++v) {
      qv[g][v] = uintBitsToFloat(FETCH(Qt, qrow + v)) * pc.scale;
      ov[g][v] = vec4(0.0);
    }
  }
  float m[G], l[G];
  [[unroll]] for (uint g = 0u; g < G; ++g) { m[g] = -1e30; l[g] = 0.0; }

  uint row_texels = pc.hd / DPT;
  for (int k = k0; k <= k1; k += int(KB)) {
    float s[KB][G];
    uint rows[KB];
    [[unroll]] for (uint j = 0u; j < KB; ++j) {
      int kk = min(k + int(j), k1);
      rows[j] = (uint(kk) % pc.ring_size * pc.n_kv + kh) * row_texels + lane * TPL;
      vec4 a[G];
      [[unroll]] for (uint g = 0u; g < G; ++g) a[g] = vec4(0.0);
      [[unroll]] for (uint i = 0u; i < TPL; ++i) {
        uvec4 kt = FETCH(Kt, pc.k_t0 + rows[j] + i);
        [[unroll]] for (uint h = 0u; h < DPT / 4u; ++h) {
          vec4 kv = unpack_kv(kt, h);
          [[unroll]] for (uint g = 0u; g < G; ++g) a[g] = fma(qv[g][i * (DPT / 4u) + h], kv, a[g]);
        }
      }
      bool vis = k + int(j) <= k1;
      [[unroll]] for (uint g = 0u; g < G; ++g) {
        float sg = subgroupAdd((a[g].x + a[g].y) + (a[g].z + a[g].w));
        s[j][g] = vis ? sg : -1e30;
      }
    }
    [[unroll]] for (uint g = 0u; g < G; ++g) {
      float mn = m[g];
      [[unroll]] for (uint j = 0u; j < KB; ++j) mn = max(mn, s[j][g]);
      float alpha = exp(m[g] - mn);
      float lsum = l[g] * alpha;
      [[unroll]] for (uint j = 0u; j < KB; ++j) {
        s[j][g] = s[j][g] > -1e29 ? exp(s[j][g] - mn) : 0.0;  // now the weight p
        lsum += s[j][g];
      }
      l[g] = lsum;
      m[g] = mn;
      [[unroll]] for (uint v = 0u; v < VPL; ++v) ov[g][v] *= alpha;
    }
    [[unroll]] for (uint j = 0u; j < KB; ++j) {
      [[unroll]] for (uint i = 0u; i < TPL; ++i) {
        uvec4 vt = FETCH(Vt, pc.v_t0 + rows[j] + i);
        [[unroll]] for (uint h = 0u; h < DPT / 4u; ++h) {
          vec4 vv = unpack_kv(vt, h);
          [[unroll]] for (uint g = 0u; g < G; ++g) ov[g][i * (DPT / 4u) + h] = fma(vec4(s[j][g]), vv, ov[g][i * (DPT / 4u) + h]);
        }
      }
    }
  }

  [[unroll]] for (uint g = 0u; g < G; ++g) {
    uint h = kh * G + g;
    if (pc.n_chunks == 1u) {
      float inv = l[g] > 0.0 ? 1.0 / l[g] : 0.0;
      uint o = (t * pc.n_head + h) * (pc.hd / 4u) + lane * VPL;
      [[unroll]] for (uint v = 0u; v < VPL; ++v) dst4[o + v] = ov[g][v] * inv;
    } else {
      uint o = ((c * pc.T + t) * pc.n_head + h) * (pc.hd / 4u + 1u);
      if (lane == 0u) dst4[o] = vec4(m[g], l[g], 0.0, 0.0);
      [[unroll]] for (uint v = 0u; v < VPL; ++v) dst4[o + 1u + lane * VPL + v] = ov[g][v];
    }
  }
}
