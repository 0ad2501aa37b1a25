// The built-in model: a tiny synthetic Gemma 4 (every E-model feature, random weights, a small
// synthetic vocabulary), generated on first use into the user cache directory so `vkgemma run`
// works with no download. Its output is noise; it demonstrates the pipeline and its statistics.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include "common.h"
#include "synth.h"

namespace vkg::cli {

std::filesystem::path builtin_model_path(bool quiet) {
  // Bump the tag when the generator or preset changes so old cache files are not reused.
  const auto path = user_cache_dir() / "builtin-tiny-q4_k_m-v1.gguf";
  if (std::filesystem::exists(path)) return path;
  std::filesystem::create_directories(path.parent_path());
  SynthOptions o = synth_preset("tiny");
  o.name = "vkgemma built-in tiny (random weights)";
  o.types = SynthTypes::parse("q4_k_m");
  o.n_vocab = 2048;
  o.seed = 42;
  if (!quiet) std::fprintf(stderr, "vkgemma: generating the built-in model into %s\n", path.c_str());
  auto tmp = path;
  tmp += fmt::format(".tmp{}", getpid());
  synth_write(synth_plan(o), tmp);
  std::filesystem::rename(tmp, path);
  return path;
}

}  // namespace vkg::cli
