// Ops::gate_up_gelu (feed-forward gate/up with the rms norm of its input and gelu * up) against
// host/ref_ops on seeded random data: every weight type, with and without the norm, decode
// widths (the fused kernel, one and two 8-column chunks), prefill widths and matrices split into
// parts (the unfused fallback), and with subgroup/fp16 paths and limits forced off.
//
// Error bound: the fused kernel computes g = gate · xn and u = up · xn with the matmul bounds
// (tol(type) * sum_k |w_k xn_k|, see test_ops_matmul.cpp; xn carries a few ulp more since the
// 1 / rms factor is applied to the finished sums), so
//   |out - ref| <= tol' * (max|gelu'| * |u| * sum|gate xn| + |gelu(g)| * sum|up xn|) + 1e-6 |ref|
// with tol' = tol(type) + 1e-6 and max|gelu'| < 1.13 (1.2 used).
#include <cmath>

#include "ops_test.h"

using namespace vkg;
using namespace vkg::test;

namespace {


struct FfnCase {
  uint32_t K, N, T;
  bool norm;
  uint32_t split_rows;  // 0: upload_matrix (one part); else parts of this many rows
};

/// Max over outputs of |gpu - ref| / bound (<= 1 passes).
double run_ffn(Ops& ops, GgmlType type, const FfnCase& c, uint32_t seed) {
  HostMatrix g = random_matrix(type, c.K, c.N, seed), u = random_matrix(type, c.K, c.N, seed + 1);
  std::vector<float> x = random_floats(size_t{c.T} * c.K, seed + 2, -2.0f, 2.0f);
  std::vector<float> nw = random_floats(c.K, seed + 3, 0.5f, 1.5f);
  const float eps = 1e-6f;
  std::vector<Buffer> keep;
  DeviceMatrix dg = c.split_rows ? upload_split(g, keep, c.split_rows) : upload(g, keep);
  DeviceMatrix du = c.split_rows ? upload_split(u, keep, c.split_rows) : upload(u, keep);
  Buffer xb = to_device(x), nb = to_device(nw);
  Buffer out = to_device(random_floats(size_t{c.T} * c.N, seed + 4));  // overwritten
  Buffer sx = zeros<float>(size_t{c.T} * c.K), su = zeros<float>(size_t{c.T} * c.N);
  run([&](CommandList& cl) {
    ops.gate_up_gelu(cl, dg, du, xb, c.norm ? BufferRange(nb) : BufferRange{}, eps, out, c.T, sx, su);
  });
  std::vector<float> got = from_device<float>(out, size_t{c.T} * c.N);
  std::vector<float> want(got.size());
  ref::gate_up_gelu(type, g.data.data(), u.data.data(), c.K, c.N, x.data(), c.norm ? nw.data() : nullptr, eps,
                    want.data(), c.T);
  // Bound terms from the reference g, u and the magnitudes over xn.
  std::vector<float> xn = x;
  if (c.norm) ref::rms_norm(x.data(), nw.data(), xn.data(), c.K, c.T, eps);
  std::vector<float> gv(got.size()), uv(got.size()), mg(got.size()), mu(got.size());
  ref::matmul(type, g.data.data(), c.K, c.N, xn.data(), gv.data(), c.T);
  ref::matmul(type, u.data.data(), c.K, c.N, xn.data(), uv.data(), c.T);
  ref::matmul_abs(type, g.data.data(), c.K, c.N, xn.data(), mg.data(), c.T);
  ref::matmul_abs(type, u.data.data(), c.K, c.N, xn.data(), mu.data(), c.T);
  const double tol = matmul_tol(type) + 1e-6;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = tol * (1.2 * std::fabs(uv[i]) * mg[i] + std::fabs(ref::gelu_tanh(gv[i])) * mu[i]) +
                         1e-6 * std::fabs(want[i]) + 1e-30;
    const double e = std::fabs(double(got[i]) - want[i]) / bound;
    if (!(e <= worst)) worst = e;  // NaN propagates as failure
  }
  return worst;
}


} // namespace

TEST_CASE("gate_up_gelu matches ref: every type, norm on/off, decode widths (fused kernel)") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  uint32_t seed = 3100;
  // Forced split-K (@split-k on lavapipe, where its unrolled two-matrix kernels compile slowly):
  // the types of published files plus one of each other layout family, to keep the entry short.
  const std::vector<GgmlType> split_k_types = {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16,
                                               GgmlType::F32,  GgmlType::Q4_0, GgmlType::IQ4_XS};
  const bool split_k = matvec_split_k_forced().value_or(false);
  for (GgmlType t : split_k ? split_k_types : kTypes) {
    CAPTURE(ggml_type_info(t).name);
    const uint32_t be = block_elems(t);
    const uint32_t K = be == 256 ? 512 : 32 * 7;  // odd block count: misaligned rows
    for (FfnCase c : {FfnCase{K, 37, 1, true, 0}, FfnCase{K, 19, 3, false, 0}, FfnCase{256 * 3, 45, 9, true, 0}}) {
      CAPTURE(c.K);
      CAPTURE(c.N);
      CAPTURE(c.T);
      CAPTURE(c.norm);
      CHECK(run_ffn(ops, t, c, seed) <= 1.0);
      seed += 5;
    }
  }
}

TEST_CASE("gate_up_gelu fallback: prefill widths and matrices in parts") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  uint32_t seed = 3700;
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16}) {
    CAPTURE(ggml_type_info(t).name);
    CHECK(run_ffn(ops, t, FfnCase{512, 29, 20, true, 0}, seed++) <= 1.0);
    CHECK(run_ffn(ops, t, FfnCase{512, 29, 17, false, 0}, seed++) <= 1.0);
    CHECK(run_ffn(ops, t, FfnCase{512, 70, 2, true, 16}, seed++) <= 1.0);
  }
}

TEST_CASE("gate_up_gelu with subgroup arithmetic / fp16 forced off and small limits") {
  ValidationGuard guard;
  for (auto mode : {ForcedCaps::NoSubgroupNoFp16, ForcedCaps::SmallLimits}) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    uint32_t seed = 3900;
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0}) {
      CAPTURE(ggml_type_info(t).name);
      CHECK(run_ffn(ops, t, FfnCase{512, 21, 1, true, 0}, seed++) <= 1.0);
      CHECK(run_ffn(ops, t, FfnCase{512, 21, 20, true, 0}, seed++) <= 1.0);
    }
  }
}
