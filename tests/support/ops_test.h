// Helpers shared by the tests/test_ops_*.cpp files: buffers from host vectors, running a recorded
// op list, random data, quantized matrices, and Ops with capabilities forced lower.
#pragma once
#include <optional>
#include <stdexcept>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ggml_type.h"
#include "gpu.h"
#include "ops.h"
#include "quant.h"
#include "ref_ops.h"

namespace vkg::test {

/// A device buffer holding a copy of host data (padded to at least 16 bytes).
template <class T>
inline Buffer to_device(const std::vector<T>& v, uint64_t extra = 0) {
  const uint64_t bytes = std::max<uint64_t>(16, v.size() * sizeof(T) + extra);
  Buffer b(device(), bytes, MemoryUsage::Device);
  std::vector<uint8_t> zero(bytes, 0);
  upload(device(), b, 0, zero.data(), bytes);
  if (!v.empty()) upload(device(), b, 0, v.data(), v.size() * sizeof(T));
  return b;
}

/// A zero-filled device buffer of n elements of T.
template <class T>
inline Buffer zeros(size_t n) {
  return to_device(std::vector<T>(n, T{}));
}

template <class T>
inline std::vector<T> from_device(const Buffer& b, size_t n, uint64_t offset = 0) {
  std::vector<T> v(n);
  download(device(), b, offset, v.data(), n * sizeof(T));
  return v;
}

/// Record with f, submit, wait.
inline void run(const std::function<void(CommandList&)>& f) {
  CommandList cl(device());
  Stream s(device());
  cl.begin();
  f(cl);
  cl.end();
  s.wait(s.submit(cl));
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline std::vector<int32_t> random_ids(size_t n, uint32_t seed, int32_t max_exclusive) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(max_exclusive));
  return v;
}

/// A quantized matrix in host memory (ggml blocks, rows contiguous).
struct HostMatrix {
  GgmlType type;
  uint32_t ne0 = 0, n_rows = 0;
  size_t row_bytes = 0;
  std::vector<uint8_t> data;
  const uint8_t* row(uint32_t r) const { return data.data() + r * row_bytes; }
};

/// Byte offsets of the fp16 scale fields in a block of the types the project cannot quantize
/// (ggml-common.h layouts): random blocks get finite scales there.
inline std::vector<size_t> half_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K: return {80, 82};  // d, dmin
    case GgmlType::Q3_K: return {108};     // d
    case GgmlType::IQ4_NL: return {0};     // d
    case GgmlType::IQ4_XS: return {0};     // d
    default: return {};
  }
}

/// Random weights (uniform in [-1, 1] with a per-row scale varying over two decades) quantized to
/// type; for a type quantize_row lacks (Q2_K, Q3_K, IQ4_NL, IQ4_XS): random block bytes (every
/// level, scale and bit pattern) with random finite fp16 scales of the same per-row spread.
inline HostMatrix random_matrix(GgmlType type, uint32_t ne0, uint32_t n_rows, uint32_t seed) {
  HostMatrix m{type, ne0, n_rows, ggml_row_bytes(type, ne0), {}};
  m.data.resize(m.row_bytes * n_rows);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  if (!can_quantize(type)) {
    const auto& info = ggml_type_info(type);
    const std::vector<size_t> halves = half_fields(type);
    REQUIRE(!halves.empty());
    for (auto& b : m.data) b = static_cast<uint8_t>(rng());
    for (uint32_t r = 0; r < n_rows; ++r) {
      const float s = std::pow(10.0f, d(rng)) * 0.02f;
      for (size_t b = 0; b < m.row_bytes / info.block_bytes; ++b)
        for (size_t off : halves) {
          const uint16_t h = fp32_to_fp16(d(rng) * s);
          uint8_t* p = m.data.data() + r * m.row_bytes + b * info.block_bytes + off;
          p[0] = static_cast<uint8_t>(h), p[1] = static_cast<uint8_t>(h >> 8);
        }
    }
    return m;
  }
  std::vector<float> row(ne0);
  for (uint32_t r = 0; r < n_rows; ++r) {
    const float s = std::pow(10.0f, d(rng));
    for (auto& x : row) x = d(rng) * s;
    quantize_row(type, row.data(), m.data.data() + r * m.row_bytes, ne0);
  }
  return m;
}

/// Upload with upload_matrix (parts split at the device limits).
inline DeviceMatrix upload(const HostMatrix& m, std::vector<Buffer>& keep) {
  return upload_matrix(device(), keep, static_cast<WeightTypeId>(m.type), m.ne0, m.n_rows, m.row_bytes,
                       m.data.data());
}

/// Upload split into parts of at most rows_per_part rows by hand, each part in its own buffer at
/// a 256-byte offset (as a caller placing parts inside a bigger buffer would).
inline DeviceMatrix upload_split(const HostMatrix& m, std::vector<Buffer>& keep, uint32_t rows_per_part) {
  DeviceMatrix dm;
  dm.type = static_cast<WeightTypeId>(m.type);
  dm.ne0 = m.ne0;
  dm.n_rows = m.n_rows;
  dm.row_bytes = m.row_bytes;
  for (uint32_t r0 = 0; r0 < m.n_rows; r0 += rows_per_part) {
    const uint32_t nr = std::min(rows_per_part, m.n_rows - r0);
    const uint64_t bytes = uint64_t{nr} * m.row_bytes;
    keep.emplace_back(device(), 256 + bytes + 256, MemoryUsage::Device);
    std::vector<uint8_t> junk(256 + bytes + 256, 0xA5);  // surrounding junk must not be read
    std::memcpy(junk.data() + 256, m.row(r0), bytes);
    vkg::upload(device(), keep.back(), 0, junk.data(), junk.size());
    dm.parts.push_back({BufferRange(keep.back(), 256, bytes), r0, nr});
  }
  return dm;
}

/// Variants for the ops under test: select_variants() of the test device's capabilities as they
/// are now (after any ForcedCaps), with texel reads forced off when VKGEMMA_TEST_STORAGE_READS=1
/// (tests/ops.cmake runs every ops test a second time so, as test_ops_*@storage-reads): the
/// storage-buffer variants of the fetch.glsl kernels then run on lavapipe too.
inline bool storage_reads_forced() {
  const char* v = std::getenv("VKGEMMA_TEST_STORAGE_READS");
  return v && std::string(v) == "1";
}
/// VKGEMMA_TEST_MATVEC=split-k / rows forces the matrix-vector kernel (OpsVariants::
/// matvec_split_k; tests/ops.cmake runs the matrix tests once more as @split-k on lavapipe, which
/// picks the row kernel itself). Any other value is a test setup error.
inline std::optional<bool> matvec_split_k_forced() {
  const char* v = std::getenv("VKGEMMA_TEST_MATVEC");
  if (!v || !*v) return std::nullopt;
  if (std::string(v) == "split-k") return true;
  if (std::string(v) == "rows") return false;
  throw std::invalid_argument("VKGEMMA_TEST_MATVEC must be split-k or rows");
}
inline OpsVariants test_variants() {
  OpsVariants v = select_variants(device().caps());
  if (storage_reads_forced()) v.texel_reads = false;
  if (const auto s = matvec_split_k_forced()) v.matvec_split_k = *s;
  return v;
}

/// Lowers the test device's capabilities for its lifetime (restored on destruction), so that
/// a fresh Ops picks the fallback variants.
class ForcedCaps {
 public:
  enum Mode { Native, NoSubgroupNoFp16, SmallLimits, NoStorage16 };
  explicit ForcedCaps(Mode m) : saved_(device().caps()) {
    auto& c = device().mutable_caps();
    if (m == NoSubgroupNoFp16 || m == SmallLimits) {
      c.subgroup_ops &= ~static_cast<VkSubgroupFeatureFlags>(VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
      c.fp16_arith = false;
    }
    if (m == NoStorage16) c.storage16 = false;  // F32 KV cache, everything else native
    if (m == SmallLimits) {
      c.max_workgroup_invocations = 128;
      c.max_workgroup_size[0] = std::min<uint32_t>(c.max_workgroup_size[0], 128);
      c.max_shared_memory = 16384;
      c.storage16 = false;
    }
  }
  ~ForcedCaps() { device().mutable_caps() = saved_; }
  ForcedCaps(const ForcedCaps&) = delete;
  ForcedCaps& operator=(const ForcedCaps&) = delete;

 private:
  DeviceCaps saved_;
};

inline std::string mode_name(ForcedCaps::Mode m) {
  switch (m) {
    case ForcedCaps::Native: return "native";
    case ForcedCaps::NoSubgroupNoFp16: return "no-subgroup-no-fp16";
    case ForcedCaps::SmallLimits: return "small-limits";
    case ForcedCaps::NoStorage16: return "no-storage16";
  }
  return "?";
}

/// Every weight type the kernels support (runtime/weight_types.def, through Ops::supported_types;
/// test_ops_basic pins the list).
inline const std::vector<GgmlType> kTypes = [] {
  std::vector<GgmlType> v;
  for (WeightTypeId id : Ops::supported_types()) v.push_back(static_cast<GgmlType>(id));
  return v;
}();

/// Elements per weight block; 32 for the float types (tests keep K a multiple of it).
inline uint32_t block_elems(GgmlType t) {
  return ggml_type_info(t).block_elems == 1 ? 32 : ggml_type_info(t).block_elems;
}

/// Documented matmul tolerance relative to sum |w x| (test_ops_matmul.cpp explains it): float
/// accumulation order, and for types with an offset or min (Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
/// Q4_K, Q5_K) the cancellation of the offset term.
inline double matmul_tol(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
    case GgmlType::Q6_K:
    case GgmlType::IQ4_NL:
    case GgmlType::IQ4_XS: return 2e-6;
    default: return 1e-5;
  }
}

} // namespace vkg::test
