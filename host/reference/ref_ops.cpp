// Scalar CPU twins of runtime/ops.h (see ref_ops.h).
#include "ref_ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "quant.h"

namespace vkg::ref {

namespace {
const uint8_t* row_ptr(GgmlType type, const void* W, uint32_t ne0, uint32_t r) {
  return static_cast<const uint8_t*>(W) + static_cast<size_t>(r) * ggml_row_bytes(type, ne0);
}
} // namespace

void matmul_f32(const float* W, uint32_t ne0, uint32_t n_rows, const float* X, float* Y, uint32_t T,
                bool accumulate) {
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t r = 0; r < n_rows; ++r) {
      double s = 0;
      const float* w = W + static_cast<size_t>(r) * ne0;
      const float* x = X + static_cast<size_t>(t) * ne0;
      for (uint32_t k = 0; k < ne0; ++k) s += static_cast<double>(w[k]) * x[k];
      float& y = Y[static_cast<size_t>(t) * n_rows + r];
      y = accumulate ? static_cast<float>(y + s) : static_cast<float>(s);
    }
}

void matmul(GgmlType type, const void* W, uint32_t ne0, uint32_t n_rows, const float* X, float* Y, uint32_t T,
            bool accumulate) {
  std::vector<float> w(ne0);
  for (uint32_t r = 0; r < n_rows; ++r) {
    dequantize_row(type, row_ptr(type, W, ne0, r), w.data(), ne0);
    for (uint32_t t = 0; t < T; ++t) {
      double s = 0;
      const float* x = X + static_cast<size_t>(t) * ne0;
      for (uint32_t k = 0; k < ne0; ++k) s += static_cast<double>(w[k]) * x[k];
      float& y = Y[static_cast<size_t>(t) * n_rows + r];
      y = accumulate ? static_cast<float>(y + s) : static_cast<float>(s);
    }
  }
}

void matmul_abs(GgmlType type, const void* W, uint32_t ne0, uint32_t n_rows, const float* X, float* A, uint32_t T) {
  std::vector<float> w(ne0);
  for (uint32_t r = 0; r < n_rows; ++r) {
    dequantize_row(type, row_ptr(type, W, ne0, r), w.data(), ne0);
    for (uint32_t t = 0; t < T; ++t) {
      double s = 0;
      const float* x = X + static_cast<size_t>(t) * ne0;
      for (uint32_t k = 0; k < ne0; ++k) s += std::fabs(static_cast<double>(w[k]) * x[k]);
      A[static_cast<size_t>(t) * n_rows + r] = static_cast<float>(s);
    }
  }
}

void get_rows(GgmlType type, const void* W, uint32_t ne0, uint32_t n_rows, const int32_t* ids, uint32_t T,
              float scale, float* out) {
  for (uint32_t t = 0; t < T; ++t) {
    if (ids[t] < 0 || static_cast<uint32_t>(ids[t]) >= n_rows) throw std::out_of_range("ref::get_rows: bad id");
    float* o = out + static_cast<size_t>(t) * ne0;
    dequantize_row(type, row_ptr(type, W, ne0, static_cast<uint32_t>(ids[t])), o, ne0);
    for (uint32_t k = 0; k < ne0; ++k) o[k] = o[k] * scale;  // float multiply, as on the GPU
  }
}

void rms_norm(const float* in, const float* weight, float* out, uint32_t n, uint32_t rows, float eps) {
  for (uint32_t r = 0; r < rows; ++r) {
    const float* x = in + static_cast<size_t>(r) * n;
    float* y = out + static_cast<size_t>(r) * n;
    double ss = 0;
    for (uint32_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const double inv = 1.0 / std::sqrt(ss / n + eps);
    for (uint32_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] * inv * (weight ? weight[i] : 1.0f));
  }
}

void rms_norm_add(const float* in, const float* weight, float* residual, float scale, uint32_t n, uint32_t rows,
                  float eps) {
  for (uint32_t r = 0; r < rows; ++r) {
    const float* x = in + static_cast<size_t>(r) * n;
    float* y = residual + static_cast<size_t>(r) * n;
    double ss = 0;
    for (uint32_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
    const double inv = 1.0 / std::sqrt(ss / n + eps);
    for (uint32_t i = 0; i < n; ++i)
      y[i] = static_cast<float>((y[i] + x[i] * inv * (weight ? weight[i] : 1.0f)) * scale);
  }
}

void rope_neox(float* x, const int32_t* pos, const float* freq_factors, uint32_t T, uint32_t n_heads,
               uint32_t head_dim, uint32_t n_rot, float base) {
  const uint32_t half = n_rot / 2;
  for (uint32_t t = 0; t < T; ++t)
    for (uint32_t h = 0; h < n_heads; ++h) {
      float* v = x + (static_cast<size_t>(t) * n_heads + h) * head_dim;
      for (uint32_t i = 0; i < half; ++i) {
        const double theta = pos[t] * std::pow(static_cast<double>(base), -2.0 * i / n_rot) /
                             (freq_factors ? freq_factors[i] : 1.0f);
        const double c = std::cos(theta), s = std::sin(theta);
        const double a = v[i], b = v[i + half];
        v[i] = static_cast<float>(a * c - b * s);
        v[i + half] = static_cast<float>(a * s + b * c);
      }
    }
}

float gelu_tanh(float x) {
  const double k = std::sqrt(2.0 / M_PI);
  const double xd = x;
  return static_cast<float>(0.5 * xd * (1.0 + std::tanh(k * (xd + 0.044715 * xd * xd * xd))));
}

void gelu_mul(const float* a, const float* b, float* out, uint32_t n, uint32_t rows, uint32_t b_stride,
              uint32_t b_offset) {
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t i = 0; i < n; ++i) {
      const size_t ai = static_cast<size_t>(r) * n + i;
      out[ai] = gelu_tanh(a[ai]) * b[static_cast<size_t>(r) * b_stride + b_offset + i];
    }
}

void gate_up_gelu(GgmlType type, const void* gate, const void* up, uint32_t ne0, uint32_t n_ff, const float* x,
                  const float* norm_weight, float eps, float* out, uint32_t T) {
  std::vector<float> xn(x, x + size_t{T} * ne0), u(size_t{T} * n_ff);
  if (norm_weight) rms_norm(x, norm_weight, xn.data(), ne0, T, eps);
  matmul(type, gate, ne0, n_ff, xn.data(), out, T);
  matmul(type, up, ne0, n_ff, xn.data(), u.data(), T);
  gelu_mul(out, u.data(), out, n_ff, T, n_ff, 0);
}

void add_scale(const float* a, const float* b, float* out, uint32_t n, float scale) {
  for (uint32_t i = 0; i < n; ++i) out[i] = (a[i] + b[i]) * scale;
}

void scale(float* x, uint32_t n, float s) {
  for (uint32_t i = 0; i < n; ++i) x[i] *= s;
}

void softcap(float* x, uint32_t n, float cap) {
  for (uint32_t i = 0; i < n; ++i) x[i] = static_cast<float>(cap * std::tanh(static_cast<double>(x[i]) / cap));
}

void row_select(float* x, const float* src, const uint32_t* mask, uint32_t n, uint32_t rows) {
  for (uint32_t r = 0; r < rows; ++r)
    if (mask[r]) std::copy(src + size_t(r) * n, src + size_t(r + 1) * n, x + size_t(r) * n);
}

void kv_store(const float* src, float* cache, const int32_t* pos, uint32_t T, uint32_t row, uint32_t ring_size) {
  for (uint32_t t = 0; t < T; ++t) {
    const size_t slot = static_cast<uint32_t>(pos[t]) % ring_size;
    std::copy(src + static_cast<size_t>(t) * row, src + static_cast<size_t>(t + 1) * row, cache + slot * row);
  }
}

void attention(const float* q, const float* k_cache, const float* v_cache, const int32_t* pos, float* out,
               uint32_t T, uint32_t n_head, uint32_t n_head_kv, uint32_t hd, uint32_t ring_size, uint32_t window,
               float scale) {
  const uint32_t group = n_head / n_head_kv;
  const size_t kv_row = static_cast<size_t>(n_head_kv) * hd;
  std::vector<double> s, acc(hd);
  for (uint32_t t = 0; t < T; ++t) {
    const int64_t p = pos[t];
    const int64_t first = window ? std::max<int64_t>(0, p - window + 1) : 0;
    for (uint32_t h = 0; h < n_head; ++h) {
      const uint32_t kvh = h / group;
      const float* qv = q + (static_cast<size_t>(t) * n_head + h) * hd;
      s.assign(static_cast<size_t>(p - first + 1), 0.0);
      double mx = -INFINITY;
      for (int64_t pk = first; pk <= p; ++pk) {
        const float* kv = k_cache + (static_cast<size_t>(pk) % ring_size) * kv_row + static_cast<size_t>(kvh) * hd;
        double d = 0;
        for (uint32_t i = 0; i < hd; ++i) d += static_cast<double>(qv[i]) * kv[i];
        d *= scale;
        s[pk - first] = d;
        mx = std::max(mx, d);
      }
      double sum = 0;
      for (auto& e : s) sum += (e = std::exp(e - mx));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t pk = first; pk <= p; ++pk) {
        const float* vv = v_cache + (static_cast<size_t>(pk) % ring_size) * kv_row + static_cast<size_t>(kvh) * hd;
        const double w = s[pk - first] / sum;
        for (uint32_t i = 0; i < hd; ++i) acc[i] += w * vv[i];
      }
      float* o = out + (static_cast<size_t>(t) * n_head + h) * hd;
      for (uint32_t i = 0; i < hd; ++i) o[i] = static_cast<float>(acc[i]);
    }
  }
}

int32_t argmax(const float* x, uint32_t n) {
  uint32_t best = 0;
  for (uint32_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return static_cast<int32_t>(best);
}

void top_k(const float* x, uint32_t n, uint32_t k, int32_t* out_ids, float* out_vals) {
  k = std::min(k, n);
  std::vector<int32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return x[a] > x[b] || (x[a] == x[b] && a < b);
  });
  for (uint32_t i = 0; i < k; ++i) {
    out_ids[i] = idx[i];
    out_vals[i] = x[idx[i]];
  }
}

} // namespace vkg::ref
