#version 450
// Causal attention with sliding window and GQA over a (ring) KV cache, online softmax.
//
// One invocation per query row (query t, head h): q and the output accumulator live in private
// arrays, so no cross-invocation reductions are needed; the key/value rows are the same for all
// rows of a workgroup (one KV head) and are read once per subgroup through uniform texel buffers.
// Rows of KV head kh are r = t * G + g (G = n_head / n_kv query heads per KV head); workgroup
// (c, kh, w) takes rows w*WG .. w*WG+WG-1 and the union of their queries' visible key ranges,
// split in n_chunks contiguous chunks (c):
//   n_chunks == 1: out[t, h*hd + :] = o / l                 (prefill: tiles with online softmax)
//   n_chunks > 1:  partial (m, l, o) to the same binding; attn_merge combines the chunks (decode: long
//                  caches split across workgroups, flash-decoding).
// Visible keys of query t: pk <= pos[t] and (window == 0 or pos[t] - pk < window), at slot
// pk % ring_size.
//
// Defines: HD (compiled head dim 128, 256 or 512; any multiple of 32 up to HD is handled with
// the dims above hd masked off), F16 (1: half cache). Spec constant 0: workgroup size.
#extension GL_EXT_samplerless_texture_functions : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_GOOGLE_include_directive : require
#include "fetch.glsl"

#include "half.glsl"

layout(local_size_x_id = 0) in;
TEXELS(0, QtB, Qt)  // q [T, n_head, hd] f32
TEXELS(1, KtB, Kt)  // k cache [ring, n_kv, hd]
TEXELS(2, VtB, Vt)  // v cache
SMALL_TEXELS(3, Pt)  // pos [T] int32, an R32_UINT view (T <= 65535 fits the minimum texel-buffer limit)
layout(std430, binding = 4) writeonly buffer Dst { vec4 dst4[]; };  // out (n_chunks == 1) or partials

layout(push_constant) uniform Push {
  uint T, n_head, n_kv, hd;
  uint ring_size, window;
  float scale;
  uint n_chunks;
  uint pos_t0;  // element offset of pos[0] in its view
  uint q_t0, k_t0, v_t0;  // texel offsets in the views
  uint pad;
} pc;

int pos_at(uint t) { return int(SMALL_FETCH(Pt, pc.pos_t0 + t).x); }

#define NV (HD / 4)
#define HDIM pc.hd

// Texels per cache row and vec4 per texel.
#if F16
#define ROW_TEXELS (HDIM / 8u)
#define VPT 2u
#else
#define ROW_TEXELS (HDIM / 4u)
#define VPT 1u
#endif

// vec4 j (0 .. VPT-1) of a fetched cache texel.
vec4 unpack_kv(uvec4 w, uint j) {
#if F16
  return j == 0u ? vec4(unpack_half2(w.x), unpack_half2(w.y)) : vec4(unpack_half2(w.z), unpack_half2(w.w));
#else
  return uintBitsToFloat(w);
#endif
}

int first_visible(int p) { return pc.window == 0u ? 0 : max(0, p - int(pc.window) + 1); }

void main() {
  uint c = gl_WorkGroupID.x, kh = gl_WorkGroupID.y, w = gl_WorkGroupID.z;
  uint G = pc.n_head / pc.n_kv;
  uint r0 = w * gl_WorkGroupSize.x;
  uint r = r0 + gl_LocalInvocationID.x;
  if (r >= pc.T * G) return;  // no barriers below: idle invocations leave at once
  uint t = r / G;
  uint h = kh * G + (r - t * G);
  uint t_begin = r0 / G;
  uint t_end = min(pc.T, (r0 + gl_WorkGroupSize.x + G - 1u) / G);

  // Key range of the tile, split into n_chunks chunks.
  int lo = 0x7fffffff, hi = -1;
  for (uint i = t_begin; i < t_end; ++i) {
    int p = pos_at(i);
    lo = min(lo, first_visible(p));
    hi = max(hi, p);
  }
  uint span = uint(hi - lo + 1);
  uint per = (span + pc.n_chunks - 1u) / pc.n_chunks;
  int k0 = lo + int(c * per);
  int k1 = min(hi, k0 + int(per) - 1);

  int p = pos_at(t);
  int f = first_visible(p);
  vec4 qv[NV], ov[NV];
  uint nv = pc.hd / 4u;
  uint qrow = (t * pc.n_head + h) * nv;
  [[unroll]] for (uint v = 0u; v < NV; ++v) {
    qv[v] = v < nv ? uintBitsToFloat(FETCH(Qt, pc.q_t0 + qrow + v)) * pc.scale : vec4(0.0);
    ov[v] = vec4(0.0);
  }
  float m = -1e30, lsum = 0.0;
  // The row loops run in blocks of 32 dims (8 vec4); blocks at or above hd are skipped.
  for (int k = k0; k <= k1; ++k) {
    uint row = (uint(k) % pc.ring_size * pc.n_kv + kh) * ROW_TEXELS;
    vec4 acc = vec4(0.0);
    [[unroll]] for (uint b = 0u; b < NV / 8u; ++b) {
      if (8u * b < nv) {
        [[unroll]] for (uint i = 0u; i < 8u / VPT; ++i) {
          uvec4 kt = FETCH(Kt, pc.k_t0 + row + (8u * b) / VPT + i);
          [[unroll]] for (uint j = 0u; j < VPT; ++j) acc = fma(qv[8u * b + VPT * i + j], unpack_kv(kt, j), acc);
        }
      }
    }
    float s = (acc.x + acc.y) + (acc.z + acc.w);
    bool vis = k >= f && k <= p;
    s = vis ? s : -1e30;
    float mn = max(m, s);
    float alpha = exp(m - mn);
    float pw = vis ? exp(s - mn) : 0.0;
    lsum = lsum * alpha + pw;
    m = mn;
    [[unroll]] for (uint b = 0u; b < NV / 8u; ++b) {
      if (8u * b < nv) {
        [[unroll]] for (uint i = 0u; i < 8u / VPT; ++i) {
          uvec4 vt = FETCH(Vt, pc.v_t0 + row + (8u * b) / VPT + i);
          [[unroll]] for (uint j = 0u; j < VPT; ++j) {
            uint v = 8u * b + VPT * i + j;
            ov[v] = fma(vec4(pw), unpack_kv(vt, j), ov[v] * alpha);
          }
        }
      }
    }
  }
  if (pc.n_chunks == 1u) {
    float inv = lsum > 0.0 ? 1.0 / lsum : 0.0;
    uint o = (t * pc.n_head + h) * nv;
    [[unroll]] for (uint v = 0u; v < NV; ++v)
      if (v < nv) dst4[o + v] = ov[v] * inv;
  } else {
    // partial record: [m, l, 0, 0] then o, per (chunk, t, h)
    uint o = ((c * pc.T + t) * pc.n_head + h) * (nv + 1u);
    dst4[o] = vec4(m, lsum, 0.0, 0.0);
    [[unroll]] for (uint v = 0u; v < NV; ++v)
      if (v < nv) dst4[o + 1u + v] = ov[v];
  }
}
