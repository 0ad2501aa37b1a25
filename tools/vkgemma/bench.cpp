// `vkgemma bench`: prefill and decode speed, load time, memory, PLE paging and the decode
// roofline, llama-bench style (pp512 = prefill of 512 tokens, tg128 = 128 decoded tokens).
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>
#include <map>
#include <random>

#include "commands.h"
#include "common.h"

namespace vkg::cli {
namespace {

using Clock = std::chrono::steady_clock;
double ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

/// Host memcpy bandwidth (GB/s) over a buffer larger than the caches: the memory roofline of a
/// UMA device like lavapipe, where the GPU reads weights from the same DRAM.
double memcpy_gbps() {
  const size_t n = 256ull << 20;
  std::vector<uint8_t> a(n, 1), b(n, 2);
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    auto t0 = Clock::now();
    std::memcpy(b.data(), a.data(), n);
    auto t1 = Clock::now();
    best = std::max(best, double(n) / (ms(t0, t1) * 1e6));  // bytes copied per second (as perf/kernels_bench)
  }
  return best;
}

uint64_t current_rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

/// CPU seconds used by this process so far (all threads, user + system).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

/// Tokens per second had the process had all `cores` CPU cores to itself: tokens over
/// (CPU seconds / cores). On a shared machine this is steadier than wall time for CPU devices
/// (lavapipe), whose threads busy the cores only while they compute.
double cpu_equiv_tok_s(double tokens, double cpu_s) {
  const double cores = std::max(1l, sysconf(_SC_NPROCESSORS_ONLN));
  return cpu_s > 0 ? tokens / (cpu_s / cores) : 0.0;
}

struct Series {
  std::vector<double> v;
  nlohmann::json json() const {
    auto s = v;
    std::sort(s.begin(), s.end());
    if (s.empty()) return nullptr;
    return {{"min", s.front()}, {"median", s[s.size() / 2]}, {"max", s.back()}, {"n", s.size()}};
  }
  double median() const {
    auto s = v;
    std::sort(s.begin(), s.end());
    return s.empty() ? 0 : s[s.size() / 2];
  }
};

std::vector<int32_t> random_tokens(uint32_t n, uint32_t n_vocab, std::mt19937& rng) {
  // Skip the low ids (control tokens in Gemma vocabularies); BOS first as a real prompt has.
  std::uniform_int_distribution<int32_t> d(std::min<int32_t>(256, n_vocab - 1), int32_t(n_vocab) - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = d(rng);
  if (!t.empty()) t[0] = 2 < n_vocab ? 2 : 0;
  return t;
}

/// Time to be ready: open the device and load the model (load_ms), then evaluate a 16-token
/// prompt, which records the command lists and creates the pipelines (first_eval_ms). With the
/// on-disk pipeline cache off (cold) or on and filled by an earlier run (warm).
struct LoadTiming {
  double load_ms = 0, first_eval_ms = 0;
  bool cache_hit = false;
  nlohmann::json json() const {
    return {{"load_ms", load_ms}, {"first_eval_ms", first_eval_ms}, {"ready_ms", load_ms + first_eval_ms},
            {"pipeline_cache_hit", cache_hit}};
  }
};

LoadTiming measure_load(ModelArgs args, bool pipeline_cache) {
  args.pipeline_cache = pipeline_cache;
  args.quiet = true;
  args.n_ctx = 32;
  args.batch = 16;
  LoadTiming t;
  auto t0 = Clock::now();
  Loaded l = load(args);
  t.load_ms = ms(t0, Clock::now());
  t.cache_hit = l.device->pipeline_cache_loaded();
  Gemma4Forward fwd(*l.device, l.model->gemma(), l.model->weights(), args.session());
  std::mt19937 rng(7);
  std::vector<float> logits;
  t0 = Clock::now();
  fwd.eval(random_tokens(16, l.model->config().n_vocab, rng), false, logits);
  t.first_eval_ms = ms(t0, Clock::now());
  if (pipeline_cache) l.device->save_pipeline_cache();
  return t;
}

/// Options of `vkgemma bench` (llama-bench's: -p 0 runs no prefill test, -n 0 no decode test,
/// decode at depth 0 unless -d says otherwise).
struct BenchArgs {
  ModelArgs model;
  std::vector<uint32_t> pp = {128, 512};
  uint32_t tg = 32;
  std::vector<uint32_t> depths = {0};
  int reps = 3;
  bool json = false, profile = false, force_staging = false;
  std::string synthetic, synthetic_type = "q4_k_m";
};

/// The first prefill size that is a test (-p 0 is none), or 0.
uint32_t first_pp(const std::vector<uint32_t>& pp) {
  for (uint32_t p : pp)
    if (p) return p;
  return 0;
}

/// Load once and run the ppN / tgN@depth measurements; prints the human table (a row as each
/// test finishes) unless --json.
nlohmann::json bench_main(const BenchArgs& args, uint64_t rss0) {
  const BenchArgs* a = &args;
  auto t0 = Clock::now();
  Loaded l = load(a->model);
  const double load_ms = ms(t0, Clock::now());
  const bool warm_cache = l.device->pipeline_cache_loaded();
  const uint64_t rss_loaded = current_rss_bytes();
  const auto& cfg = l.model->config();
  const uint32_t n_ctx = a->model.n_ctx;
  Gemma4Forward fwd(*l.device, l.model->gemma(), l.model->weights(),
                    {.n_ctx = n_ctx, .max_batch = a->model.batch, .force_staging = a->force_staging, .profile = a->profile});
  std::mt19937 rng(1234);
  std::vector<float> logits;
  nlohmann::json results = nlohmann::json::array();
  double ttft_ms = -1;  // the first prefill test's first run; -1: no prefill test
  // The human table: header now, each row as its test finishes.
  if (!a->json) {
    std::cout << fmt::format("model: {}  device: {}\n", l.model->file().source(), l.device->caps().name);
    std::cout << fmt::format("| {:<14} | {:>10} | {:>10} | {:>10} | {:>12} |\n", "test", "min t/s", "median t/s",
                             "max t/s", "cpu-eq t/s");
    std::cout << "|----------------|------------|------------|------------|--------------|" << std::endl;
  }
  auto add_result = [&](const std::string& test, const Series& tps, const Series& cpu_tps) {
    nlohmann::json r = {{"test", test}, {"tok_s", tps.json()}, {"cpu_equiv_tok_s", cpu_tps.json()}};
    if (!a->json)
      std::cout << fmt::format("| {:<14} | {:>10.2f} | {:>10.2f} | {:>10.2f} | {:>12.2f} |", test,
                               r["tok_s"]["min"].get<double>(), r["tok_s"]["median"].get<double>(),
                               r["tok_s"]["max"].get<double>(), r["cpu_equiv_tok_s"]["median"].get<double>())
                << std::endl;
    results.push_back(std::move(r));
  };

  // Warm-up: records the command lists of both shapes and touches the weights once.
  // Both PLE slots of the decode shape too: lavapipe finishes compiling a pipeline at its first dispatch.
  fwd.eval(random_tokens(std::min(a->model.batch, n_ctx - 1), cfg.n_vocab, rng), false, logits);
  fwd.reset();
  for (int i = 0; i < 2; ++i) fwd.eval(random_tokens(1, cfg.n_vocab, rng), false, logits);
  fwd.reset();
  for (uint32_t p : a->pp) {
    if (p == 0) continue;  // -p 0: generation only
    Series tps, cpu_tps;
    for (int r = 0; r < a->reps; ++r) {
      fwd.reset();
      auto toks = random_tokens(p, cfg.n_vocab, rng);
      auto s = Clock::now();
      const double c0 = cpu_seconds();
      fwd.eval(toks, false, logits);
      const double t = ms(s, Clock::now());
      tps.v.push_back(p * 1000.0 / t);
      cpu_tps.v.push_back(cpu_equiv_tok_s(p, cpu_seconds() - c0));
      if (ttft_ms < 0) ttft_ms = t;
    }
    add_result(fmt::format("pp{}", p), tps, cpu_tps);
  }
  // PLE and profile figures cover the timed decode loops only (not the depth prefills).
  PleStats ple_dec;
  StreamStats stream_dec;
  std::map<std::string, double> prof_dec;
  uint64_t decoded = 0;
  double decode_ms_total = 0;
  for (uint32_t d : a->tg ? a->depths : std::vector<uint32_t>{}) {  // -n 0: no decode test
    Series tps, cpu_tps;
    for (int r = 0; r < a->reps; ++r) {
      fwd.reset();
      if (d > 0) fwd.eval(random_tokens(d, cfg.n_vocab, rng), false, logits);
      int32_t next = random_tokens(1, cfg.n_vocab, rng)[0];
      const auto ple_a = fwd.ple_stats();
      const auto stream_a = fwd.stream_stats();
      const auto prof_a = fwd.profile();
      auto s = Clock::now();
      const double c0 = cpu_seconds();
      for (uint32_t i = 0; i < a->tg; ++i) {
        fwd.eval(std::span<const int32_t>(&next, 1), false, logits);
        next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      }
      const double t = ms(s, Clock::now());
      const auto ple_b = fwd.ple_stats();
      ple_dec.rows += ple_b.rows - ple_a.rows;
      ple_dec.bytes += ple_b.bytes - ple_a.bytes;
      ple_dec.gather_ms += ple_b.gather_ms - ple_a.gather_ms;
      ple_dec.gpu_stall_ms += ple_b.gpu_stall_ms - ple_a.gpu_stall_ms;
      const auto stream_b = fwd.stream_stats();
      stream_dec.bytes += stream_b.bytes - stream_a.bytes;
      stream_dec.upload_ms += stream_b.upload_ms - stream_a.upload_ms;
      stream_dec.wait_ms += stream_b.wait_ms - stream_a.wait_ms;
      stream_dec.gpu_stall_ms += stream_b.gpu_stall_ms - stream_a.gpu_stall_ms;
      stream_dec.timed = stream_b.timed;
      for (const auto& [k, v] : fwd.profile()) prof_dec[k] += v - (prof_a.count(k) ? prof_a.at(k) : 0.0);
      tps.v.push_back(a->tg * 1000.0 / t);
      cpu_tps.v.push_back(cpu_equiv_tok_s(a->tg, cpu_seconds() - c0));
      decoded += a->tg;
      decode_ms_total += t;
    }
    add_result(fmt::format("tg{}@d{}", a->tg, d), tps, cpu_tps);
  }
  const uint64_t rss_end = current_rss_bytes(), rss_peak = peak_rss_bytes();
  const double bw = memcpy_gbps();  // last: its buffers must not count in the RSS figures
  const ResidencyPlan& plan = l.model->residency();
  // Decode reads every device-set weight once per token (the LM head included), streamed
  // layers too.
  const uint64_t weight_bytes = l.model->device_bytes() + plan.streamed_bytes;
  const double roofline_tok_s = bw * 1e9 / double(weight_bytes);
  const double decode_tok_s = decoded ? decoded * 1000.0 / decode_ms_total : 0;
  const auto mem = l.device->allocator().stats();
  nlohmann::json out = {
      {"model", l.model->file().source()},
      {"device", l.device->caps().name},
      {"n_layer", cfg.n_layer}, {"n_embd", cfg.n_embd}, {"n_vocab", cfg.n_vocab},
      {"load_ms", load_ms},
      {"pipeline_cache", warm_cache ? "warm" : "cold"},
      {"ttft_ms", ttft_ms >= 0 ? nlohmann::json(ttft_ms) : nlohmann::json(nullptr)},
      {"results", results},
      {"memcpy_gb_s", bw},
      {"device_weight_bytes", weight_bytes},
      {"host_paged_bytes", l.model->host_paged_bytes()},
      {"device_local_bytes", mem.device_local_allocated},
      {"kv_bytes", fwd.kv().plan().total_bytes},
      {"session_bytes", fwd.session_bytes()},
      {"peak_rss_bytes", rss_peak},
      {"rss_before_load_bytes", rss0},
      {"rss_after_load_bytes", rss_loaded},
      {"rss_end_bytes", rss_end},
      {"ple_rows_per_token", decoded ? double(ple_dec.rows) / decoded : 0.0},
      {"ple_bytes_per_token", decoded ? double(ple_dec.bytes) / decoded : 0.0},
      {"ple_gather_ms_per_token", decoded ? ple_dec.gather_ms / decoded : 0.0},
      {"ple_gpu_stall_ms_per_token", decoded ? ple_dec.gpu_stall_ms / decoded : 0.0},
      {"ple_gpu_stall_share_of_decode", decode_ms_total > 0 ? ple_dec.gpu_stall_ms / decode_ms_total : 0.0},
      {"resident_layers", plan.n_resident_layers},
      {"streamed_bytes_per_token", decoded ? double(stream_dec.bytes) / decoded : 0.0},
      {"stream_upload_ms_per_token", decoded ? stream_dec.upload_ms / decoded : 0.0},
      {"stream_gpu_stall_ms_per_token", decoded ? (stream_dec.timed ? stream_dec.gpu_stall_ms : stream_dec.wait_ms) / decoded : 0.0},
      {"stream_upload_hidden_share", stream_dec.hidden_share()},
      {"decode_roofline_tok_s", roofline_tok_s},
      {"decode_fraction_of_roofline", roofline_tok_s > 0 ? decode_tok_s / roofline_tok_s : 0.0},
  };
  if (a->profile && decoded) {
    std::vector<std::pair<double, std::string>> ops;
    double total = 0;
    for (const auto& [k, v] : prof_dec) {
      ops.emplace_back(v / decoded, k);
      total += v / decoded;
    }
    std::sort(ops.rbegin(), ops.rend());
    nlohmann::json pj = nlohmann::json::object();
    for (const auto& [ms_tok, k] : ops) pj[k] = ms_tok;
    out["decode_profile_ms_per_token"] = pj;
    if (!a->json) {
      std::cout << fmt::format("decode GPU time per token by op ({:.1f} ms total):\n", total);
      for (const auto& [ms_tok, k] : ops)
        std::cout << fmt::format("  {:<28} {:8.2f} ms {:5.1f}%\n", k, ms_tok, 100 * ms_tok / total);
    }
  }
  if (a->json) return out;
  std::cout << fmt::format(
      "load {:.0f} ms ({} pipeline cache){}\n"
      "device-local {:.1f} MiB (weights {:.1f} MiB, KV {:.1f} MiB, session {:.1f} MiB), host-paged PLE {:.1f} MiB, "
      "RSS {:.1f} MiB after load, {:.1f} MiB at end, peak {:.1f} MiB\n"
      "PLE per decoded token: {:.1f} rows, {:.0f} bytes, {:.3f} ms gather, {:.3f} ms GPU stall\n"
      "memcpy {:.2f} GB/s -> decode roofline {:.2f} tok/s; measured {:.2f} tok/s = {:.0f}% of roofline\n",
      load_ms, warm_cache ? "warm" : "cold",
      ttft_ms >= 0 ? fmt::format(", TTFT {:.0f} ms (pp{})", ttft_ms, first_pp(a->pp)) : std::string(),
      mem.device_local_allocated / 1048576.0,
      weight_bytes / 1048576.0, fwd.kv().plan().total_bytes / 1048576.0, fwd.session_bytes() / 1048576.0,
      l.model->host_paged_bytes() / 1048576.0, rss_loaded / 1048576.0, rss_end / 1048576.0, rss_peak / 1048576.0,
      out["ple_rows_per_token"].get<double>(), out["ple_bytes_per_token"].get<double>(),
      out["ple_gather_ms_per_token"].get<double>(), out["ple_gpu_stall_ms_per_token"].get<double>(), bw, roofline_tok_s, decode_tok_s,
      100.0 * out["decode_fraction_of_roofline"].get<double>());
  if (plan.streaming())
    std::cout << fmt::format("layers: {} of {} resident; streamed per decoded token {:.1f} MiB, upload {:.1f} ms, "
                             "{:.0f}% of it hidden behind compute\n",
                             plan.n_resident_layers, plan.n_layer, out["streamed_bytes_per_token"].get<double>() / 1048576.0,
                             out["stream_upload_ms_per_token"].get<double>(), 100 * stream_dec.hidden_share());
  return out;
}

void add_bench(CLI::App& app) {

  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure prefill/decode speed, load time and memory");
  add_model_args(cmd, a->model, false);
  cmd->add_option("-p,--n-prompt", a->pp, "Prefill sizes (ppN; 0: no prefill test)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", a->tg, "Decoded tokens per decode run (tgN; 0: no decode test)")
      ->capture_default_str();
  cmd->add_option("-d,--depth", a->depths, "Context depths (tokens already in the KV cache) for decode")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", a->reps, "Repetitions (min/median/max reported)")->check(CLI::Range(1, 100));
  cmd->add_option("-b,--batch", a->model.batch, "Prefill chunk (tokens per forward step)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  cmd->add_option("--synthetic", a->synthetic, "Benchmark a synthetic model of this preset (tiny, e2b, e4b), "
                                              "generated once into the cache dir")
      ->excludes(cmd->get_option("--model"));
  cmd->add_option("--synthetic-type", a->synthetic_type, "Weight type of --synthetic (q4_k_m, q8_0, ...)");
  cmd->add_flag("--json", a->json, "Machine-readable output");
  cmd->add_flag("--staging", a->force_staging,
                "PLE rows and streamed layers through staging buffers + transfer queue even on UMA devices");
  cmd->add_flag("--profile", a->profile, "GPU time per op kind during decode (timestamps after every op)");
  cmd->callback([a] {
    if (!a->synthetic.empty()) a->model.model = synthetic_model_path(a->synthetic, a->synthetic_type, a->model.quiet);
    uint32_t max_pp = 0, max_depth = 0;
    for (auto p : a->pp) max_pp = std::max(max_pp, p);
    for (auto d : a->depths) max_depth = std::max(max_depth, d);
    // At least 2: the warm-up decodes two tokens.
    const uint32_t n_ctx = std::max({max_pp, a->tg ? max_depth + a->tg : 0u, 1u}) + 1;
    a->model.n_ctx = n_ctx;  // the session Model::load reserves memory for
    const uint64_t rss0 = current_rss_bytes();
    // Cold start (no pipeline cache) first; the warm one after the main run has filled the cache.
    const LoadTiming cold = measure_load(a->model, false);
    nlohmann::json out = bench_main(*a, rss0);
    const LoadTiming warm = measure_load(a->model, true);
    out["load_cold"] = cold.json();
    out["load_warm"] = warm.json();
    if (a->json) {
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::cout << fmt::format("ready (device + load + first 16-token eval): cold pipeline cache {:.0f} + {:.0f} ms, "
                             "warm {:.0f} + {:.0f} ms\n",
                             cold.load_ms, cold.first_eval_ms, warm.load_ms, warm.first_eval_ms);
  });
}
VKG_CLI_COMMAND(add_bench);

}  // namespace
}  // namespace vkg::cli
