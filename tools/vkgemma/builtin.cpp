// The built-in model: a tiny synthetic Gemma 4 (every E-model feature, random weights, a small
// synthetic vocabulary), generated on first use into the user cache directory so `vkgemma run`
// works with no download. Its output is noise; it demonstrates the pipeline and its statistics.
#include <fmt/format.h>

#include "environment.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "common.h"
#include "error.h"
#include "synth.h"

namespace vkg::cli {

namespace {
/// The cache directory cannot be written: say where it is and how to choose another.
[[noreturn]] void unwritable_cache(const std::filesystem::path& dir, const std::string& why) {
  throw Error(ErrorCode::internal,
              fmt::format("cannot write the cache directory {}: {} (set VKGEMMA_CACHE_DIR to a writable directory)",
                          dir.string(), why));
}

std::filesystem::path cached_synth(const std::string& file, SynthOptions o, bool quiet) {
  const auto path = user_cache_dir() / file;
  if (std::filesystem::exists(path)) return path;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) unwritable_cache(path.parent_path(), ec.message());
  if (!quiet) std::fprintf(stderr, "vkgemma: generating %s (random weights, true structure) into %s\n",
                           o.name.c_str(), path.c_str());
  auto tmp = path;
  tmp += fmt::format(".tmp{}", getpid());
  if (FILE* probe = std::fopen(tmp.c_str(), "wb")) {
    std::fclose(probe);
  } else {
    unwritable_cache(path.parent_path(), std::strerror(errno));
  }
  try {
    synth_write(synth_plan(std::move(o)), tmp);
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) unwritable_cache(path.parent_path(), ec.message());
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
