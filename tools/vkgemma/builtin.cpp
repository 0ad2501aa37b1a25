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

namespace {
std::filesystem::path cached_synth(const std::string& file, SynthOptions o, bool quiet) {
  const auto path = user_cache_dir() / file;
  if (std::filesystem::exists(path)) return path;
  std::filesystem::create_directories(path.parent_path());
  if (!quiet) std::fprintf(stderr, "vkgemma: generating %s (random weights, true structure) into %s\n",
                           o.name.c_str(), path.c_str());
  auto tmp = path;
  tmp += fmt::format(".tmp{}", getpid());
  try {
    synth_write(synth_plan(std::move(o)), tmp);
  } catch (...) {
    std::filesystem::remove(tmp);
    throw;
  }
  std::filesystem::rename(tmp, path);
  return path;
}
}  // namespace

std::filesystem::path builtin_model_path(bool quiet) {
  // Bump the tag when the generator or preset changes so old cache files are not reused.
  SynthOptions o = synth_preset("tiny");
  o.name = "vkgemma built-in tiny (random weights)";
  o.types = SynthTypes::parse("q4_k_m");
  o.n_vocab = 2048;
  o.seed = 42;
  return cached_synth("builtin-tiny-q4_k_m-v1.gguf", std::move(o), quiet);
}

std::filesystem::path synthetic_model_path(const std::string& preset, const std::string& type, bool quiet) {
  SynthOptions o = synth_preset(preset);
  o.types = SynthTypes::parse(type);
  o.name = fmt::format("synthetic {} {}", preset, o.types.name());
  return cached_synth(fmt::format("synthetic-{}-{}-v1.gguf", preset, type), std::move(o), quiet);
}

}  // namespace vkg::cli
