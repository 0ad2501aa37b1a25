// host/ref_ops: the scalar twins of the GPU ops, checked on cases with known answers (the GPU
// tests then compare against them on random data).
#include <cmath>
#include <numeric>
#include <vector>

#include <doctest/doctest.h>

#include "quant.h"
#include "ref_ops.h"

using namespace vkg;

TEST_CASE("ref::matmul on a dequantized F16 matrix; accumulate; matmul_abs") {
  // W = [[1, 2, ..., 32], [-1, ..., -1]] (F16 exact), X = two columns
  std::vector<uint16_t> w(64);
  for (int i = 0; i < 32; ++i) {
    w[i] = fp32_to_fp16(float(i + 1));
    w[32 + i] = fp32_to_fp16(-1.0f);
  }
  std::vector<float> x(64, 0.0f);
  x[0] = 1.0f;             // column 0 picks W[:, 0]
  for (int i = 0; i < 32; ++i) x[32 + i] = 1.0f;  // column 1 sums rows
  std::vector<float> y(4, 100.0f);
  ref::matmul(GgmlType::F16, w.data(), 32, 2, x.data(), y.data(), 2);
  CHECK(y == std::vector<float>{1.0f, -1.0f, 528.0f, -32.0f});
  ref::matmul(GgmlType::F16, w.data(), 32, 2, x.data(), y.data(), 2, /*accumulate=*/true);
  CHECK(y == std::vector<float>{2.0f, -2.0f, 1056.0f, -64.0f});
  std::vector<float> a(4);
  ref::matmul_abs(GgmlType::F16, w.data(), 32, 2, x.data(), a.data(), 2);
  CHECK(a == std::vector<float>{1.0f, 1.0f, 528.0f, 32.0f});
}

TEST_CASE("ref::get_rows, rms_norm, rms_norm_add") {
  std::vector<float> w(64);
  std::iota(w.begin(), w.end(), 0.0f);
  std::vector<int32_t> ids = {1, 0};
  std::vector<float> out(64);
  ref::get_rows(GgmlType::F32, w.data(), 32, 2, ids.data(), 2, 2.0f, out.data());
  CHECK(out[0] == 64.0f);
  CHECK(out[32] == 0.0f);
  CHECK(out[33] == 2.0f);

  std::vector<float> v = {3.0f, 4.0f};  // rms = sqrt(12.5)
  std::vector<float> o(2);
  ref::rms_norm(v.data(), nullptr, o.data(), 2, 1, 0.0f);
  CHECK(o[0] == doctest::Approx(3.0 / std::sqrt(12.5)));
  std::vector<float> wt = {2.0f, 0.5f};
  ref::rms_norm(v.data(), wt.data(), o.data(), 2, 1, 0.0f);
  CHECK(o[1] == doctest::Approx(0.5 * 4.0 / std::sqrt(12.5)));
  std::vector<float> res = {1.0f, 1.0f};
  ref::rms_norm_add(v.data(), wt.data(), res.data(), 0.5f, 2, 1, 0.0f);
  CHECK(res[0] == doctest::Approx((1.0 + 2.0 * 3.0 / std::sqrt(12.5)) * 0.5));
}

TEST_CASE("ref::rope_neox: position 0 is the identity, quarter turn, unrotated dims") {
  std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  std::vector<int32_t> pos0 = {0};
  auto y = x;
  ref::rope_neox(y.data(), pos0.data(), nullptr, 1, 1, 6, 4, 10000.0f);
  CHECK(y == x);
  // pair (0, 2) at i = 0 rotates by pos radians; dims 4, 5 untouched (n_rot = 4)
  const float quarter = static_cast<float>(M_PI / 2);
  std::vector<float> ff = {1.0f / quarter, 1e30f};  // angle_0 = pos * 1 / ff = pos * pi/2
  std::vector<int32_t> pos1 = {1};
  y = x;
  ref::rope_neox(y.data(), pos1.data(), ff.data(), 1, 1, 6, 4, 10000.0f);
  CHECK(y[0] == doctest::Approx(-3.0).epsilon(1e-6));
  CHECK(y[2] == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(y[1] == 2.0f);  // factor 1e30: not rotated
  CHECK(y[3] == 4.0f);
  CHECK(y[4] == 5.0f);
  CHECK(y[5] == 6.0f);
}

TEST_CASE("ref::gelu_tanh, softcap, add_scale, scale, gelu_mul") {
  CHECK(ref::gelu_tanh(0.0f) == 0.0f);
  CHECK(ref::gelu_tanh(1.0f) == doctest::Approx(0.8411920));
  CHECK(ref::gelu_tanh(-10.0f) == doctest::Approx(0.0).epsilon(1e-6));
  std::vector<float> x = {300.0f, -300.0f, 0.0f};
  ref::softcap(x.data(), 3, 30.0f);
  CHECK(x[0] == doctest::Approx(30.0));
  CHECK(x[1] == doctest::Approx(-30.0));
  std::vector<float> a = {1.0f, 2.0f}, b = {3.0f, 4.0f}, o(2);
  ref::add_scale(a.data(), b.data(), o.data(), 2, 0.5f);
  CHECK(o == std::vector<float>{2.0f, 3.0f});
  ref::scale(o.data(), 2, 2.0f);
  CHECK(o == std::vector<float>{4.0f, 6.0f});
  std::vector<float> g = {1.0f, 1.0f}, bb = {0.0f, 2.0f, 3.0f};
  ref::gelu_mul(g.data(), bb.data(), o.data(), 2, 1, 3, 1);
  CHECK(o[0] == doctest::Approx(2 * 0.8411920));
}

TEST_CASE("ref::attention: single key, equal scores average V, window, GQA, ring slots") {
  // hd 2, 2 query heads over 1 KV head, ring of 4 slots, positions 0..5 stored (slot = pos % 4)
  const uint32_t hd = 2, ring = 4;
  std::vector<float> k(ring * hd, 0.0f), v(ring * hd);
  for (uint32_t s = 0; s < ring; ++s) {
    v[s * hd] = float(s);  // v = (slot, -slot)
    v[s * hd + 1] = -float(s);
  }
  std::vector<float> q(2 * hd, 1.0f);
  std::vector<int32_t> pos = {5};
  std::vector<float> out(2 * hd);
  // window 2: keys 4, 5 -> slots 0, 1; all scores 0 -> mean of slots 0 and 1 = (0.5, -0.5)
  ref::attention(q.data(), k.data(), v.data(), pos.data(), out.data(), 1, 2, 1, hd, ring, 2, 1.0f);
  CHECK(out == std::vector<float>{0.5f, -0.5f, 0.5f, -0.5f});
  // window 1: only the query's own position (slot 1)
  ref::attention(q.data(), k.data(), v.data(), pos.data(), out.data(), 1, 2, 1, hd, ring, 1, 1.0f);
  CHECK(out == std::vector<float>{1.0f, -1.0f, 1.0f, -1.0f});
}

TEST_CASE("ref::kv_store, argmax, top_k ties") {
  std::vector<float> src = {1, 2, 3, 4}, cache(6, 0.0f);
  std::vector<int32_t> pos = {4, 5};
  ref::kv_store(src.data(), cache.data(), pos.data(), 2, 2, 3);  // slots 1 and 2
  CHECK(cache == std::vector<float>{0, 0, 1, 2, 3, 4});
  std::vector<float> x = {1.0f, 5.0f, 3.0f, 5.0f, -2.0f};
  CHECK(ref::argmax(x.data(), 5) == 1);
  std::vector<int32_t> ids(3);
  std::vector<float> vals(3);
  ref::top_k(x.data(), 5, 3, ids.data(), vals.data());
  CHECK(ids == std::vector<int32_t>{1, 3, 2});
  CHECK(vals == std::vector<float>{5.0f, 5.0f, 3.0f});
}
