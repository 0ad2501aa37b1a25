// Ops::matmul and Ops::get_rows against host/ref_ops on seeded random data, every weight type,
// odd shapes, matrices split across parts, and with subgroup/fp16 paths and limits forced off.
//
// Error bound of matmul (documented per type): |gpu - ref| <= tol(type) * sum_k |w_k x_k|,
// where ref is the double-precision product of the dequantized weights (the exact values the
// GPU decodes) and the GPU accumulates in f32:
//   F32, F16, BF16, Q8_0, Q6_K, IQ4_NL, IQ4_XS (scale only)      tol = 2e-6
//   Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K (offset/min)  tol = 1e-5
// The kernels compute scale * sum(q x) + min * sum(x) per scale group; for types with an offset
// the two terms may each exceed sum |w x| (by about the ratio of the offset to the weight
// magnitude), hence the looser bound. Measured today on lavapipe, random data, K = 6144
// (matvec) and K = 1536, T = 32 (tiled): worst 0.8e-8 .. 4.8e-8 for every type.
#include <cmath>
#include <cstring>

#include "ops_test.h"

using namespace vkg;
using namespace vkg::test;

namespace {



struct MatmulCase {
  uint32_t K, N, T;
  bool accumulate;
  uint32_t split_rows;  // 0: upload_matrix; else parts of this many rows built by hand
};

/// Returns the max of |gpu - ref| / (sum|w x|) over all outputs.
double run_matmul(Ops& ops, GgmlType type, const MatmulCase& c, uint32_t seed) {
  HostMatrix m = random_matrix(type, c.K, c.N, seed);
  std::vector<float> x = random_floats(size_t{c.T} * c.K, seed + 1);
  std::vector<float> y0 = random_floats(size_t{c.T} * c.N, seed + 2);
  std::vector<Buffer> keep;
  DeviceMatrix dm = c.split_rows ? upload_split(m, keep, c.split_rows) : upload(m, keep);
  Buffer xb = to_device(x), yb = to_device(y0);
  run([&](CommandList& cl) { ops.matmul(cl, dm, xb, yb, c.T, c.accumulate); });
  std::vector<float> got = from_device<float>(yb, y0.size());
  std::vector<float> want = c.accumulate ? y0 : std::vector<float>(y0.size());
  ref::matmul(type, m.data.data(), c.K, c.N, x.data(), want.data(), c.T, c.accumulate);
  std::vector<float> mag(y0.size());
  ref::matmul_abs(type, m.data.data(), c.K, c.N, x.data(), mag.data(), c.T);
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double base = c.accumulate ? std::fabs(y0[i]) + mag[i] : mag[i];
    const double e = std::fabs(double(got[i]) - want[i]) / (base + 1e-30);
    if (!(e <= worst)) worst = e;  // NaN propagates as failure
  }
  return worst;
}

} // namespace

TEST_CASE("matmul matches ref for every weight type (decode widths, odd shapes)") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  uint32_t seed = 100;
  for (GgmlType t : kTypes) {
    const uint32_t be = block_elems(t);
    // K: several blocks, odd block count for the 32-element types (misaligned rows).
    const uint32_t K = be == 256 ? 512 : 32 * 7;
    for (MatmulCase c : {MatmulCase{K, 37, 1, false, 0}, MatmulCase{K, 19, 3, true, 0}}) {
      CAPTURE(ggml_type_info(t).name);
      CAPTURE(c.K);
      CAPTURE(c.N);
      CAPTURE(c.T);
      CHECK(run_matmul(ops, t, c, seed++) <= matmul_tol(t));
    }
    // Texel-aligned rows (the _a variants of Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL) and wide T.
    MatmulCase c{256 * 3, 45, 8, false, 0};
    CAPTURE(ggml_type_info(t).name);
    CHECK(run_matmul(ops, t, c, seed++) <= matmul_tol(t));
  }
}

TEST_CASE("get_rows dequantizes bit-exactly (scale 1) and scales, every type, parts") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  uint32_t seed = 500;
  for (GgmlType t : kTypes) {
    CAPTURE(ggml_type_info(t).name);
    const uint32_t K = block_elems(t) == 256 ? 512 : 32 * 5;
    const uint32_t N = 23;
    HostMatrix m = random_matrix(t, K, N, seed++);
    std::vector<int32_t> ids = {0, 22, 5, 5, 13, 1, 21, 7, 8, 9, 11};
    for (int split = 0; split < 2; ++split) {
      std::vector<Buffer> keep;
      DeviceMatrix dm = split ? upload_split(m, keep, 5) : upload(m, keep);
      Buffer idb = to_device(ids);
      for (float scale : {1.0f, 0.37f}) {
        Buffer out = zeros<float>(ids.size() * K);
        run([&](CommandList& cl) { ops.get_rows(cl, dm, idb, out, static_cast<uint32_t>(ids.size()), scale); });
        std::vector<float> got = from_device<float>(out, ids.size() * K);
        std::vector<float> want(ids.size() * K);
        ref::get_rows(t, m.data.data(), K, N, ids.data(), static_cast<uint32_t>(ids.size()), scale, want.data());
        CAPTURE(split);
        CAPTURE(scale);
        CHECK(std::memcmp(got.data(), want.data(), got.size() * 4) == 0);
      }
    }
  }
}

TEST_CASE("matmul over a matrix split into parts (hand-made parts at offsets)") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  uint32_t seed = 900;
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16, GgmlType::Q5_0}) {
    CAPTURE(ggml_type_info(t).name);
    MatmulCase c{512, 70, 2, false, 16};
    CHECK(run_matmul(ops, t, c, seed++) <= matmul_tol(t));
    c = {512, 33, 1, true, 7};
    CHECK(run_matmul(ops, t, c, seed++) <= matmul_tol(t));
  }
}

TEST_CASE("matmul prefill widths (tiled kernel): every type, T = 16 / 45 / 130, odd rows, accumulate") {
  ValidationGuard guard;
  Ops ops(device(), test_variants());
  uint32_t seed = 1300;
  for (GgmlType t : kTypes) {
    CAPTURE(ggml_type_info(t).name);
    const uint32_t K = block_elems(t) == 256 ? 512 : 32 * 9;
    CHECK(run_matmul(ops, t, MatmulCase{K, 29, 16, false, 0}, seed++) <= matmul_tol(t));
    CHECK(run_matmul(ops, t, MatmulCase{K, 13, 45, true, 0}, seed++) <= matmul_tol(t));
  }
  // many tokens across tiles, split matrix
  CHECK(run_matmul(ops, GgmlType::Q4_K, MatmulCase{256, 40, 130, false, 11}, seed++) <= matmul_tol(GgmlType::Q4_K));
}

TEST_CASE("matmul with subgroup arithmetic / fp16 forced off and small limits") {
  ValidationGuard guard;
  for (auto mode : {ForcedCaps::NoSubgroupNoFp16, ForcedCaps::SmallLimits}) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    uint32_t seed = 1700;
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q8_0, GgmlType::F16, GgmlType::Q6_K}) {
      CAPTURE(ggml_type_info(t).name);
      CHECK(run_matmul(ops, t, MatmulCase{512, 21, 1, false, 0}, seed++) <= matmul_tol(t));
      CHECK(run_matmul(ops, t, MatmulCase{512, 21, 20, false, 0}, seed++) <= matmul_tol(t));
    }
  }
}
