// host/quant on real llama-quantize output: the golden tiny models in ../shared hold Q4_K/Q6_K
// (tiny_q4_k_m) and Q8_0 (tiny_q8_0) tensors quantized from random normal-ish F32 weights.
// A minimal test-local GGUF v3 reader (header, typed KVs skipped, tensor infos, aligned data)
// keeps this test independent of the project's GGUF reader.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "quant.h"
#include "test_util.h"

using vkg::GgmlType;

namespace {

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = 0;
  uint64_t offset = 0;
  uint64_t nelem() const {
    uint64_t n = 1;
    for (auto d : ne) n *= d;
    return n;
  }
};

struct MiniGguf {
  std::vector<uint8_t> bytes;
  std::vector<TensorInfo> tensors;
  size_t data_start = 0;

  const TensorInfo& find(const std::string& name) const {
    for (const auto& t : tensors)
      if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
  }
  const uint8_t* data(const TensorInfo& t) const {
    const size_t size = vkg::ggml_row_bytes(static_cast<GgmlType>(t.type), t.ne[0]) * (t.nelem() / t.ne[0]);
    if (data_start + t.offset + size > bytes.size()) throw std::runtime_error("tensor data past end: " + t.name);
    return bytes.data() + data_start + t.offset;
  }
};

class Cursor {
 public:
  explicit Cursor(const std::vector<uint8_t>& b) : b_(b) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));  // GGUF is little-endian, as are our hosts
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const uint64_t n = get<uint64_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void skip_value(uint32_t type) {
    switch (type) {
      case 0: case 1: case 7: skip(1); break;           // u8 i8 bool
      case 2: case 3: skip(2); break;                   // u16 i16
      case 4: case 5: case 6: skip(4); break;           // u32 i32 f32
      case 10: case 11: case 12: skip(8); break;        // u64 i64 f64
      case 8: str(); break;                             // string
      case 9: {                                         // array: elem type, count, elems
        const uint32_t et = get<uint32_t>();
        const uint64_t n = get<uint64_t>();
        for (uint64_t i = 0; i < n; ++i) skip_value(et);
        break;
      }
      default: throw std::runtime_error("bad GGUF value type " + std::to_string(type));
    }
  }
  size_t pos() const { return pos_; }

 private:
  void need(uint64_t n) const {
    if (n > b_.size() - pos_) throw std::runtime_error("GGUF truncated");
  }
  void skip(size_t n) {
    need(n);
    pos_ += n;
  }
  const std::vector<uint8_t>& b_;
  size_t pos_ = 0;
};

MiniGguf load_gguf(const std::filesystem::path& path) {
  MiniGguf g;
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  g.bytes.assign(std::istreambuf_iterator<char>(f), {});
  Cursor c(g.bytes);
  REQUIRE(c.get<uint32_t>() == 0x46554747u);  // "GGUF"
  REQUIRE(c.get<uint32_t>() == 3u);
  const uint64_t n_tensors = c.get<uint64_t>();
  const uint64_t n_kv = c.get<uint64_t>();
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = c.str();
    const uint32_t type = c.get<uint32_t>();
    if (key == "general.alignment" && type == 4) alignment = c.get<uint32_t>();
    else c.skip_value(type);
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = c.str();
    const uint32_t nd = c.get<uint32_t>();
    REQUIRE(nd >= 1);
    REQUIRE(nd <= 4);
    for (uint32_t d = 0; d < nd; ++d) t.ne.push_back(c.get<uint64_t>());
    t.type = c.get<uint32_t>();
    t.offset = c.get<uint64_t>();
    g.tensors.push_back(std::move(t));
  }
  g.data_start = (c.pos() + alignment - 1) / alignment * alignment;
  return g;
}

struct Stats {
  double mean = 0, std = 0, amax = 0;
  size_t nonfinite = 0;
};
Stats stats(const std::vector<float>& y) {
  Stats s;
  double sum = 0, sum2 = 0;
  for (float v : y) {
    if (!std::isfinite(v)) {
      ++s.nonfinite;
      continue;
    }
    sum += v, sum2 += double(v) * v;
    s.amax = std::max(s.amax, std::fabs(double(v)));
  }
  s.mean = sum / double(y.size());
  s.std = std::sqrt(std::max(0.0, sum2 / double(y.size()) - s.mean * s.mean));
  return s;
}

std::vector<float> dequant_tensor(const MiniGguf& g, const TensorInfo& t) {
  std::vector<float> y(t.nelem());
  const auto type = static_cast<GgmlType>(t.type);
  const size_t row_bytes = vkg::ggml_row_bytes(type, t.ne[0]);
  const uint8_t* p = g.data(t);
  for (size_t r = 0; r < t.nelem() / t.ne[0]; ++r)
    vkg::dequantize_row(type, p + r * row_bytes, y.data() + r * t.ne[0], t.ne[0]);
  return y;
}

} // namespace

TEST_CASE("llama-quantize Q4_K_M tensors (Q4_K, Q6_K, F16) dequantize to plausible weights") {
  VKG_REQUIRE_SHARED();
  const auto path = vkg::test::shared_dir() / "golden/tiny_q4_k_m/model.gguf";
  REQUIRE(std::filesystem::exists(path));
  const MiniGguf g = load_gguf(path);
  CHECK(g.find("blk.0.attn_q.weight").type == uint32_t(GgmlType::Q4_K));
  CHECK(g.find("token_embd.weight").type == uint32_t(GgmlType::Q6_K));
  size_t n_checked = 0;
  for (const auto& t : g.tensors) {
    const auto type = static_cast<GgmlType>(t.type);
    if (type != GgmlType::Q4_K && type != GgmlType::Q6_K && type != GgmlType::F16) continue;
    CAPTURE(t.name);
    const auto y = dequant_tensor(g, t);
    const Stats s = stats(y);
    CHECK(s.nonfinite == 0);
    // random normal-ish weights: zero-centred, non-degenerate, no wild values
    CHECK(s.std > 0);
    CHECK(std::fabs(s.mean) < 0.1 * s.std);
    CHECK(s.amax < 10 * s.std);
    CHECK(s.amax > 2 * s.std);
    // the quantized grid is visible but not collapsed: many distinct values
    std::vector<float> sorted(y.begin(), y.begin() + std::min<size_t>(y.size(), 4096));
    std::sort(sorted.begin(), sorted.end());
    const size_t distinct = size_t(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
    CHECK(distinct > 64);
    if (t.name == "blk.0.attn_q.weight" || t.name == "token_embd.weight")
      MESSAGE(t.name << " " << vkg::ggml_type_name(t.type) << " [" << t.ne[0] << " x " << t.nelem() / t.ne[0]
                     << "] mean " << s.mean << " std " << s.std << " amax " << s.amax);
    ++n_checked;
  }
  CHECK(n_checked == 38 + 5 + 1);  // case.json: Q4_K 38, Q6_K 5, F16 1
}

TEST_CASE("Q4_K / Q6_K real data re-quantized by our quantizers round-trips closely") {
  VKG_REQUIRE_SHARED();
  const MiniGguf g = load_gguf(vkg::test::shared_dir() / "golden/tiny_q4_k_m/model.gguf");
  for (const std::string name : {"blk.0.attn_q.weight", "token_embd.weight"}) {
    CAPTURE(name);
    const auto& t = g.find(name);
    const auto type = static_cast<GgmlType>(t.type);
    const auto x = dequant_tensor(g, t);
    std::vector<uint8_t> q(vkg::ggml_row_bytes(type, x.size()));
    vkg::quantize_row(type, x.data(), q.data(), x.size());
    std::vector<float> y(x.size());
    vkg::dequantize_row(type, q.data(), y.data(), y.size());
    double err2 = 0, x2 = 0;
    for (size_t i = 0; i < x.size(); ++i) err2 += double(y[i] - x[i]) * (y[i] - x[i]), x2 += double(x[i]) * x[i];
    const double rel_rms = std::sqrt(err2 / x2);
    MESSAGE(name << " re-quantized relative RMS error " << rel_rms);
    CHECK(rel_rms < (type == GgmlType::Q4_K ? 0.12 : 0.03));
  }
}

TEST_CASE("llama-quantize Q8_0 tensors: re-quantizing the dequantized rows reproduces the file bytes") {
  VKG_REQUIRE_SHARED();
  const MiniGguf g = load_gguf(vkg::test::shared_dir() / "golden/tiny_q8_0/model.gguf");
  CHECK(g.find("blk.0.attn_q.weight").type == uint32_t(GgmlType::Q8_0));
  size_t n_tensors = 0, n_blocks = 0;
  for (const auto& t : g.tensors) {
    if (t.type != uint32_t(GgmlType::Q8_0)) continue;
    CAPTURE(t.name);
    const auto y = dequant_tensor(g, t);
    const Stats s = stats(y);
    CHECK(s.nonfinite == 0);
    CHECK(std::fabs(s.mean) < 0.1 * s.std);
    const size_t bytes = vkg::ggml_row_bytes(GgmlType::Q8_0, y.size());
    std::vector<uint8_t> q(bytes);
    vkg::quantize_row(GgmlType::Q8_0, y.data(), q.data(), y.size());
    const uint8_t* orig = g.data(t);
    size_t mismatched = 0;
    for (size_t b = 0; b < bytes / 34; ++b) mismatched += std::memcmp(q.data() + 34 * b, orig + 34 * b, 34) != 0;
    CHECK(mismatched == 0);
    n_blocks += bytes / 34;
    ++n_tensors;
  }
  CHECK(n_tensors == 50);  // case.json: Q8_0 50
  MESSAGE("re-quantized " << n_tensors << " Q8_0 tensors, " << n_blocks << " blocks, byte-identical");
}
