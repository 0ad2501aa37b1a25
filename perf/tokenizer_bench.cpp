// Tokenizer encode throughput on ~1 MB of English-like text, one core.
// Usage: tokenizer_bench [path/to/gemma-tokenizer.json(.xz)] [megabytes]
// Default path: $VKGEMMA_SHARED_DIR/data/gemma-tokenizer.json.xz, else ../shared/data/... from the
// current directory and its parents. Prints one JSON object: {"mb_per_s": ..., ...}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <nlohmann/json.hpp>
#include "hf_tokenizer.h"
#include "tokenizer.h"

namespace fs = std::filesystem;

static fs::path find_tokenizer() {
  if (const char* env = std::getenv("VKGEMMA_SHARED_DIR")) return fs::path(env) / "data" / "gemma-tokenizer.json.xz";
  for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
    const fs::path p = dir / ".." / "shared" / "data" / "gemma-tokenizer.json.xz";
    if (fs::exists(p)) return p;
    if (dir == dir.parent_path()) break;
  }
  return "/work/shared/data/gemma-tokenizer.json.xz";
}

// Deterministic English-like prose: common words, capitalised sentence starts, punctuation,
// numbers, paragraphs separated by blank lines.
static std::string make_text(size_t bytes) {
  static const char* kWords[] = {
      "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by",
      "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had",
      "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if",
      "more", "when", "will", "would", "who", "so", "no", "model", "language", "tokenizer", "through",
      "between", "government", "development", "information", "experience", "understanding",
      "particularly", "environmental", "responsibility", "computer", "science", "history", "people",
      "water", "system", "program", "question", "number", "world", "important", "different",
      "following", "without", "something", "children", "however", "because", "although"};
  constexpr size_t kN = sizeof(kWords) / sizeof(kWords[0]);
  std::mt19937 rng(42);
  std::string s;
  s.reserve(bytes + 64);
  bool start = true;
  int in_sentence = 0, sentences = 0;
  while (s.size() < bytes) {
    std::string w = kWords[rng() % kN];
    if (rng() % 40 == 0) w = std::to_string(rng() % 10000);
    if (start) {
      w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
      start = false;
    }
    s += w;
    ++in_sentence;
    if (in_sentence > 6 && rng() % 8 == 0) {
      s += (rng() % 10 == 0) ? "?" : ".";
      in_sentence = 0;
      start = true;
      if (++sentences % 6 == 0) s += "\n\n";
      else s += ' ';
    } else {
      if (rng() % 14 == 0) s += ',';
      s += ' ';
    }
  }
  return s;
}

int main(int argc, char** argv) {
  nlohmann::json out;
  try {
    const fs::path path = argc > 1 ? fs::path(argv[1]) : find_tokenizer();
    const double mb = argc > 2 ? std::atof(argv[2]) : 1.0;
    auto t0 = std::chrono::steady_clock::now();
    const vkg::Tokenizer tok(vkg::load_hf_tokenizer(path, {vkg::Gemma4Names::Turn}));
    auto t1 = std::chrono::steady_clock::now();
    const std::string text = make_text(static_cast<size_t>(mb * 1e6));
    tok.encode(text.substr(0, 10000), false, false);  // warm-up
    double best = 1e30;
    size_t n_tokens = 0;
    for (int rep = 0; rep < 3; ++rep) {
      auto a = std::chrono::steady_clock::now();
      const auto ids = tok.encode(text, false, false);
      auto b = std::chrono::steady_clock::now();
      best = std::min(best, std::chrono::duration<double>(b - a).count());
      n_tokens = ids.size();
    }
    out["mb_per_s"] = static_cast<double>(text.size()) / 1e6 / best;
    out["bytes"] = text.size();
    out["tokens"] = n_tokens;
    out["seconds"] = best;
    out["load_seconds"] = std::chrono::duration<double>(t1 - t0).count();
    out["tokenizer"] = path.string();
  } catch (const std::exception& e) {
    out["error"] = e.what();
    std::printf("%s\n", out.dump().c_str());
    return 1;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
