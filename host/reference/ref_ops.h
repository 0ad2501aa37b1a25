// Scalar CPU twins of the GPU compute ops in runtime/ops.h: plain, readable float code (double
// accumulation) that tests compare the kernels against and the CPU reference forward pass builds
// on. Same layouts as ops.h: activations are float32 row-major, a "[T, N]" array holds T rows of
// N floats; weights are ggml blocks (n_rows rows of ggml_row_bytes(type, ne0) bytes each).
// Position-dependent inputs (ids, pos) are int32 arrays as on the device.
#pragma once
#include <cstdint>
#include <vector>

#include "ggml_type.h"

namespace vkg::ref {

/// Y[t, r] = sum_k W[r, k] * X[t, k] for t < T, r < n_rows, with W dequantized row by row through
/// dequantize_row (exactly the values the GPU sees). X: [T, ne0], Y: [T, n_rows].
/// accumulate: Y += result instead of Y = result.
void matmul(GgmlType type, const void* W, uint32_t ne0, uint32_t n_rows, const float* X, float* Y, uint32_t T,
            bool accumulate = false);
/// Same for an already dequantized float weight W: [n_rows, ne0].
void matmul_f32(const float* W, uint32_t ne0, uint32_t n_rows, const float* X, float* Y, uint32_t T,
                bool accumulate = false);
/// sum_k |W[r, k]| * |X[t, k]| into A: [T, n_rows] (the scale error bounds of matmul refer to).
void matmul_abs(GgmlType type, const void* W, uint32_t ne0, uint32_t n_rows, const float* X, float* A, uint32_t T);

/// out[t, :] = dequant(W[ids[t], :]) * scale for t < T. out: [T, ne0]. ids must be < n_rows.
void get_rows(GgmlType type, const void* W, uint32_t ne0, uint32_t n_rows, const int32_t* ids, uint32_t T,
              float scale, float* out);

/// out[r, :] = in[r, :] / sqrt(mean(in[r, :]^2) + eps) * (weight ? weight[:] : 1), rows of n.
/// in == out is allowed; weight may be nullptr (unweighted norm).
void rms_norm(const float* in, const float* weight, float* out, uint32_t n, uint32_t rows, float eps);

/// residual[r, :] = (residual[r, :] + rms_norm(in[r, :]) * weight) * scale, rows of n.
/// weight may be nullptr (1.0).
void rms_norm_add(const float* in, const float* weight, float* residual, float scale, uint32_t n, uint32_t rows,
                  float eps);

/// NEOX RoPE in place on x: [T, n_heads, head_dim]. Pairs (i, i + n_rot/2) for i < n_rot/2,
/// angle = pos[t] * base^(-2i/n_rot) / freq_factors[i] (freq_factors: [n_rot/2] or nullptr for
/// 1.0). Dims >= n_rot unchanged.
void rope_neox(float* x, const int32_t* pos, const float* freq_factors, uint32_t T, uint32_t n_heads,
               uint32_t head_dim, uint32_t n_rot, float base);

/// gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
float gelu_tanh(float x);
/// out[r, i] = gelu_tanh(a[r * n + i]) * b[r * b_stride + b_offset + i] for r < rows, i < n.
void gelu_mul(const float* a, const float* b, float* out, uint32_t n, uint32_t rows, uint32_t b_stride,
              uint32_t b_offset);

/// Feed-forward gate/up (Ops::gate_up_gelu): out[t, :] = gelu_tanh(gate · xn[t]) * (up · xn[t]) for
/// t < T, xn[t] = rms_norm(x[t]) * norm_weight (eps as rms_norm), or xn = x when norm_weight is
/// nullptr. gate, up: n_ff rows of ne0 elements in type; x: [T, ne0]; out: [T, n_ff].
void gate_up_gelu(GgmlType type, const void* gate, const void* up, uint32_t ne0, uint32_t n_ff, const float* x,
                  const float* norm_weight, float eps, float* out, uint32_t T);

/// out[i] = (a[i] + b[i]) * scale.
void add_scale(const float* a, const float* b, float* out, uint32_t n, float scale);
/// x[i] *= s.
void scale(float* x, uint32_t n, float s);
/// x[i] = cap * tanh(x[i] / cap).
void softcap(float* x, uint32_t n, float cap);
/// x[r, :] = src[r, :] for rows with mask[r] != 0 (x, src: [rows, n]).
void row_select(float* x, const float* src, const uint32_t* mask, uint32_t n, uint32_t rows);

/// cache[(pos[t] % ring_size) * row + :] = src[t, :] for t < T (float cache).
void kv_store(const float* src, float* cache, const int32_t* pos, uint32_t T, uint32_t row, uint32_t ring_size);

/// Causal attention with sliding window and GQA (see Ops::attention): q: [T, n_head, hd];
/// k_cache, v_cache: [ring_size, n_head_kv, hd] float; query t sees keys pk with pk <= pos[t]
/// and (window == 0 or pos[t] - pk < window), at slot pk % ring_size. Query head h reads KV head
/// h / (n_head / n_head_kv). out: [T, n_head * hd]. Softmax of scale * q.k in double.
void attention(const float* q, const float* k_cache, const float* v_cache, const int32_t* pos, float* out,
               uint32_t T, uint32_t n_head, uint32_t n_head_kv, uint32_t hd, uint32_t ring_size, uint32_t window,
               float scale);

/// Index of the max of x[0..n) (lowest index on ties).
int32_t argmax(const float* x, uint32_t n);
/// The k largest of x[0..n), sorted descending, ties: lower index first.
void top_k(const float* x, uint32_t n, uint32_t k, int32_t* out_ids, float* out_vals);

} // namespace vkg::ref
