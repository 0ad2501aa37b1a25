// Pieces shared by the model-running subcommands: device selection, model loading with a
// progress bar, generation options, statistics output.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "context.h"
#include "model.h"
#include "session.h"

namespace vkg::cli {

/// --device / --model / --ctx options of a subcommand.
struct ModelArgs {
  int device = -1;          // -1: VKGEMMA_DEVICE or automatic choice (read by load())
  std::string model;        // empty: the built-in tiny model
  std::string profile;      // device profile (pi5-v3d, ...); empty: VKGEMMA_DEVICE_PROFILE or none
  uint32_t n_ctx = 4096;
  uint32_t batch = 512;
  uint64_t gpu_mem = 0;     // device memory budget in bytes (0: the device's heap budget)
  bool quiet = false;
  bool verbose = false;     // details on stderr (the sampling seed)
  bool pipeline_cache = true;  // read/write the on-disk pipeline cache
  std::string matvec;          // --matvec rows / split-k; empty: VKGEMMA_MATVEC, else the device's choice
  /// The session options Model::load reserves memory for.
  ForwardOptions session() const;
};
void add_model_args(CLI::App* cmd, ModelArgs& a, bool with_ctx = true);

/// CLI11 check of a device profile name (runtime/profiles.h; the message lists the known names).
CLI::Validator profile_name_validator();

/// Instance + device + model, opened in that order (destroyed in reverse).
struct Loaded {
  std::unique_ptr<Instance> instance;
  std::unique_ptr<Device> device;
  std::unique_ptr<Model> model;
  bool builtin = false;     // the built-in random-weight model
};
/// Open the device and load the model (a progress bar on stderr when it is a TTY and !quiet).
/// Settings are checked before any device opens: VKGEMMA_DEVICE / VKGEMMA_DEVICE_PROFILE that
/// are not an index / a profile name are bad_input, a model file that cannot be opened names
/// the file (bad_model).
Loaded load(const ModelArgs& a);

/// Path of the built-in tiny model, generated into the user cache dir on first use.
std::filesystem::path builtin_model_path(bool quiet);
/// Path of a synthetic model (preset tiny/e2b/e4b, weight type e.g. q4_k_m), generated into the
/// user cache dir on first use.
std::filesystem::path synthetic_model_path(const std::string& preset, const std::string& type, bool quiet);

/// Sampling flags (--temp, --top-k, --top-p, --min-p, --repeat-penalty, --seed, -n).
struct SampleArgs {
  /// The sampling seed of this run: --seed N, or (no --seed, or --seed -1, llama.cpp's
  /// convention) one drawn from std::random_device on first use and kept for the run.
  uint64_t seed_value() const;
  int32_t n_predict = 128;
  /// The options as given. --temp / --top-k / --top-p not given on the command line take the
  /// model file's general.sampling.* values when it has them (else the defaults below).
  GenerateOptions gen(const Model& model) const;
  GenerateOptions gen() const;  // without file defaults
  float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat_penalty = 1.0f;
  int32_t top_k = 40;
  int64_t seed = -1;        // -1: random per run (seed_value())
  std::vector<std::string> stop;  // --stop: end the answer at the first of these strings (not shown)
  bool greedy = false;
  bool ignore_eos = false;  // --ignore-eos: generate past end-of-generation tokens
  mutable std::optional<uint64_t> drawn_seed;
  CLI::Option *temp_opt = nullptr, *top_k_opt = nullptr, *top_p_opt = nullptr;  // set by add_sample_args
};
void add_sample_args(CLI::App* cmd, SampleArgs& a);

/// The whole text of a file, or of stdin for "-" (run -f, like llama.cpp's -f). Throws
/// bad_input naming the file when it cannot be read.
std::string read_text_input(const std::string& path);

/// The final statistics line (stderr) or JSON object.
nlohmann::json stats_json(const Loaded& l, const Session& s);
std::string stats_line(const Loaded& l, const Session& s);

} // namespace vkg::cli
