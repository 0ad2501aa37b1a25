// The golden cases of ../shared/golden: a tiny real-structure model, its input tokens and the
// logits of independent implementations.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace vkg::test {

struct GoldenCase {
  std::filesystem::path dir;
  std::vector<int32_t> tokens;
  std::vector<float> logits_ref;  // float64 reference with exactly dequantized weights
  std::vector<float> logits_llama;  // llama.cpp CPU, one batch
  uint32_t n_vocab = 0;
};

inline std::vector<float> read_f32(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::vector<float> v(std::filesystem::file_size(p) / 4);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

inline GoldenCase load_golden(const std::string& name) {
  GoldenCase g;
  g.dir = shared_dir() / "golden" / name;
  auto tj = nlohmann::json::parse(std::ifstream(g.dir / "tokens.json"));
  if (tj.is_object()) tj = tj.at("tokens");
  g.tokens = tj.get<std::vector<int32_t>>();
  g.logits_ref = read_f32(g.dir / "logits_ref.f32");
  g.logits_llama = read_f32(g.dir / "logits.f32");
  g.n_vocab = static_cast<uint32_t>(g.logits_ref.size() / g.tokens.size());
  return g;
}

/// max |a - b|, mean |a - b|, max |b| and the number of rows whose argmax differs.
struct Diff {
  double max_abs = 0, mean_abs = 0, max_ref = 0;
  uint32_t argmax_mismatch = 0;
};
inline Diff compare_logits(const std::vector<float>& a, const std::vector<float>& b, uint32_t n_vocab) {
  Diff d;
  const size_t rows = b.size() / n_vocab;
  for (size_t r = 0; r < rows; ++r) {
    size_t am = 0, bm = 0;
    for (size_t i = 0; i < n_vocab; ++i) {
      const size_t k = r * n_vocab + i;
      const double e = std::fabs(double(a[k]) - double(b[k]));
      d.max_abs = std::max(d.max_abs, e);
      d.mean_abs += e;
      d.max_ref = std::max(d.max_ref, std::fabs(double(b[k])));
      if (a[k] > a[r * n_vocab + am]) am = i;
      if (b[k] > b[r * n_vocab + bm]) bm = i;
    }
    d.argmax_mismatch += am != bm;
  }
  d.mean_abs /= double(b.size());
  return d;
}

inline const char* kGoldenCases[] = {"tiny_f32", "tiny_q8_0", "tiny_q4_k_m"};

} // namespace vkg::test
