#include "common.h"
#include "environment.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <random>
#include <sys/stat.h>

#include "error.h"
#include "memory.h"
#include "profiles.h"

namespace vkg::cli {

CLI::Validator profile_name_validator() {
  return CLI::Validator(
      [](std::string& name) -> std::string {
        try {
          device_profile(name);
          return {};
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
      },
      "PROFILE");
}

namespace {
/// bad_model "PATH: cannot open: REASON" (or "not a regular file") unless path is a readable file.
void check_model_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::bad_model, fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) throw Error(ErrorCode::bad_model, fmt::format("{}: not a regular file", path.string()));
}
}  // namespace

void add_model_args(CLI::App* cmd, ModelArgs& a, bool with_ctx) {
  cmd->add_option("-m,--model", a.model, "GGUF model file (default: the built-in tiny random-weight model)");
  cmd->add_option("--device", a.device, "Vulkan device index (see `vkgemma devices`; -1: VKGEMMA_DEVICE or automatic)")
      ->check(CLI::Range(-1, INT_MAX));
  cmd->add_option("--device-profile", a.profile,
                  "Emulate a weaker device: pi5-v3d, mali-valhall, adreno-7xx, desktop, minimal")
      ->check(profile_name_validator());
  if (with_ctx) {
    cmd->add_option("-c,--ctx,--ctx-size", a.n_ctx, "Context length in tokens")->check(CLI::Range(1u, 1u << 20));
    cmd->add_option("-b,--batch", a.batch, "Prefill chunk (tokens per forward step)")->check(CLI::Range(1u, 4096u));
  }
  cmd->add_option("--gpu-mem", a.gpu_mem,
                  "Device memory budget (bytes, or with a unit: 1500M, 1.5G): layers that do not fit stream "
                  "through a two-layer window")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--matvec", a.matvec,
                  "Matrix-vector kernel: rows (a row per invocation, CPUs) or split-k (K across a subgroup, GPUs) "
                  "[default: VKGEMMA_MATVEC, else the device's choice]")
      ->check(CLI::IsMember({"rows", "split-k"}));
  cmd->add_flag("-q,--quiet", a.quiet, "No progress bar or notices");
  cmd->add_flag("-v,--verbose", a.verbose, "Details on stderr (the sampling seed)");
}

ForwardOptions ModelArgs::session() const {
  ForwardOptions o;
  o.n_ctx = n_ctx;
  o.max_batch = batch;
  if (matvec == "split-k") o.matvec_split_k = 1;
  else if (matvec == "rows") o.matvec_split_k = 0;
  else if (const auto env = read_environment().matvec_split_k) o.matvec_split_k = *env ? 1 : 0;
  return o;
}

namespace {
bool stderr_tty() { return isatty(fileno(stderr)) != 0; }

class ProgressBar {
 public:
  explicit ProgressBar(bool on, std::string label) : on_(on), label_(std::move(label)) {}
  bool operator()(uint64_t done, uint64_t total) {
    if (!on_ || total == 0) return true;
    const int pct = static_cast<int>(done * 100 / total);
    if (pct == last_) return true;
    last_ = pct;
    const int w = 30, fill = pct * w / 100;
    std::fprintf(stderr, "\r%s [%s%s] %3d%%", label_.c_str(), std::string(fill, '#').c_str(),
                 std::string(w - fill, ' ').c_str(), pct);
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
    return true;
  }

 private:
  bool on_;
  std::string label_;
  int last_ = -1;
};
}  // namespace

Loaded load(const ModelArgs& a) {
  // Everything the user gave is checked before a device opens (seconds on some drivers).
  const EnvironmentSettings env = read_environment();  // bad VKGEMMA_* values: bad_input, exit 2
  DeviceOptions dopt = env.device_options();
  if (a.device >= 0) dopt.index = static_cast<uint32_t>(a.device);
  if (!a.profile.empty()) dopt.profile = a.profile;
  if (dopt.profile) {
    try {
      device_profile(*dopt.profile);
    } catch (const std::invalid_argument& e) {
      throw Error(ErrorCode::bad_input, a.profile.empty() ? fmt::format("VKGEMMA_DEVICE_PROFILE: {}", e.what()) : e.what());
    }
  }
  if (!a.model.empty()) check_model_file(a.model);
  Loaded l;
  l.instance = std::make_unique<Instance>(env.instance);
  dopt.pipeline_cache = a.pipeline_cache;
  l.device = std::make_unique<Device>(*l.instance, dopt);
  if (a.gpu_mem) l.device->allocator().set_budget(a.gpu_mem);
  std::filesystem::path path = a.model;
  if (path.empty()) {
    path = builtin_model_path(a.quiet);
    l.builtin = true;
    if (!a.quiet)
      std::fprintf(stderr, "vkgemma: no -m given: using the built-in tiny Gemma 4 model (%s). Its weights are "
                           "RANDOM: the text it writes is noise; it shows the whole pipeline working.\n",
                   path.c_str());
  }
  ProgressBar bar(!a.quiet && stderr_tty(), "loading");
  l.model = Model::load(*l.device, path, [&](uint64_t d, uint64_t t) { return bar(d, t); }, a.session());
  if (!a.quiet) {
    for (const std::string& n : l.model->notices()) std::fprintf(stderr, "vkgemma: %s\n", n.c_str());
    for (const std::string& n : vocab_notices(l.model->tokenizer().vocab())) std::fprintf(stderr, "vkgemma: %s\n", n.c_str());
  }
  const ResidencyPlan& plan = l.model->residency();
  if (plan.streaming() && !a.quiet)
    std::fprintf(stderr,
                 "vkgemma: %u of %u layers resident; layers %u..%u stream through a %.0f MiB window "
                 "(%.1f MiB per forward step) to fit %.0f MiB of device memory\n",
                 plan.n_resident_layers, plan.n_layer, plan.n_resident_layers, plan.n_layer - 1,
                 plan.window_bytes / 1048576.0, plan.streamed_bytes / 1048576.0, plan.available / 1048576.0);
  return l;
}

GenerateOptions SampleArgs::gen() const {
  GenerateOptions g;
  g.n_predict = n_predict;
  g.sampler.temperature = temp;
  g.sampler.top_k = top_k;
  g.sampler.top_p = top_p;
  g.sampler.min_p = min_p;
  g.sampler.repeat_penalty = repeat_penalty;
  g.sampler.seed = seed_value();
  g.sampler.greedy = greedy || temp <= 0;
  g.ignore_eos = ignore_eos;
  return g;
}

uint64_t SampleArgs::seed_value() const {
  if (seed >= 0) return static_cast<uint64_t>(seed);
  if (!drawn_seed) {
    std::random_device rd;
    drawn_seed = (uint64_t{rd()} << 32 | rd()) >> 1;  // printable as a non-negative --seed
  }
  return *drawn_seed;
}

GenerateOptions SampleArgs::gen(const Model& model) const {
  SampleArgs a = *this;
  const SamplingDefaults& d = model.config().sampling;
  auto given = [](const CLI::Option* o) { return o && o->count() > 0; };
  if (d.temp && !given(temp_opt)) a.temp = *d.temp;
  if (d.top_k && !given(top_k_opt)) a.top_k = *d.top_k;
  if (d.top_p && !given(top_p_opt)) a.top_p = *d.top_p;
  return a.gen();
}

void add_sample_args(CLI::App* cmd, SampleArgs& a) {
  cmd->add_option("-n,--n-predict", a.n_predict, "Maximum new tokens (-1: until end of generation)");
  a.temp_opt = cmd->add_option("--temp", a.temp, "Temperature (0: greedy; default: the file's general.sampling.temp, else 0.8)");
  a.top_k_opt = cmd->add_option("--top-k", a.top_k, "Top-k (0: off; default: the file's general.sampling.top_k, else 40)")
                    ->check(CLI::NonNegativeNumber);
  a.top_p_opt = cmd->add_option("--top-p", a.top_p, "Top-p (1: off; default: the file's general.sampling.top_p, else 0.95)")
                    ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--min-p", a.min_p, "Min-p (0: off)")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--repeat-penalty", a.repeat_penalty, "Repetition penalty over the last 64 tokens (1: off)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", a.seed, "Sampling seed: same seed, same output (-1: a random one per run, shown by --json "
                                    "and --verbose)")
      ->check(CLI::Range(int64_t{-1}, INT64_MAX));
  cmd->add_flag("--greedy", a.greedy, "Always take the most likely token");
  cmd->add_flag("--ignore-eos", a.ignore_eos,
                "Never stop at an end-of-generation token (their probability is set to 0): run to -n or the context's end");
  cmd->add_option("--stop", a.stop, "End the answer where it first contains STRING (not shown; repeatable)")
      ->allow_extra_args(false)
      ->default_str("")
      ->check(CLI::Validator([](std::string& s) { return s.empty() ? std::string("an empty stop string") : std::string(); },
                             "STRING"));
}

std::string read_text_input(const std::string& path) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
    if (std::cin.bad()) throw Error(ErrorCode::bad_input, "cannot read the prompt from stdin");
    return ss.str();
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::bad_input, fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  ss << f.rdbuf();
  if (f.bad()) throw Error(ErrorCode::bad_input, fmt::format("{}: read failed", path));
  return ss.str();
}

nlohmann::json stats_json(const Loaded& l, const Session& s) {
  const auto st = s.stats();
  const auto mem = l.device->allocator().stats();
  return {
      {"model", l.model->file().source()},
      {"builtin_random_weights", l.builtin},
      {"device", l.device->caps().name},
      {"load_ms", l.model->load_ms()},
      {"prompt_tokens", st.prompt_tokens},
      {"generated_tokens", st.generated_tokens},  // decode steps; `run --json` sets the tokens it generated
      {"decode_steps", st.generated_tokens},
      {"prefill_ms", st.prefill_ms},
      {"decode_ms", st.decode_ms},
      {"prefill_tok_s", st.prefill_tok_s()},
      {"decode_tok_s", st.decode_tok_s()},
      {"device_local_bytes", mem.device_local_allocated},
      {"device_weight_bytes", l.model->device_bytes()},
      {"host_paged_bytes", l.model->host_paged_bytes()},
      {"ple_rows_paged", st.ple.rows},
      {"ple_bytes_paged", st.ple.bytes},
      {"resident_layers", l.model->residency().n_resident_layers},
      {"streamed_bytes", st.stream.bytes},
      {"stream_hidden_share", st.stream.hidden_share()},
  };
}

std::string stats_line(const Loaded& l, const Session& s) {
  const auto st = s.stats();
  const auto mem = l.device->allocator().stats();
  return fmt::format(
      "load {:.0f} ms | prefill {} tok, {:.1f} tok/s | decode {} tok, {:.2f} tok/s | device-local {:.1f} MiB "
      "(weights {:.1f}) | host-paged PLE {:.1f} MiB, {} rows paged",
      l.model->load_ms(), st.prompt_tokens, st.prefill_tok_s(), st.generated_tokens, st.decode_tok_s(),
      mem.device_local_allocated / 1048576.0, l.model->device_bytes() / 1048576.0,
      l.model->host_paged_bytes() / 1048576.0, st.ple.rows) +
         (l.model->residency().streaming()
              ? fmt::format(" | streamed {:.1f} MiB, {:.0f}% of upload hidden", st.stream.bytes / 1048576.0,
                            100 * st.stream.hidden_share())
              : "");
}

} // namespace vkg::cli
