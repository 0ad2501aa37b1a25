// `vkgemma kernels`: compile every pipeline the forward pass would create on a device, with the
// driver's statistics (registers, spills, scratch, shared memory, occupancy), one row each.
// Works on devices without memory heaps (RADV's null device: RADV_FORCE_FAMILY=navi21 with
// VK_ICD_FILENAMES pointing at radeon_icd): nothing is allocated.
#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <unistd.h>

#include "commands.h"
#include "common.h"
#include "context.h"
#include "environment.h"
#include "forward_workload.h"
#include "gemma4_config.h"
#include "ggml_type.h"
#include "gguf.h"
#include "pipeline_set.h"
#include "synth.h"

namespace vkg::cli {
namespace {

struct KernelsArgs {
  int device = -1;
  std::string model;
  std::string preset;
  std::string profile;
  std::string types;          // comma list of ggml type names, or "all"
  std::string known_spills;   // file: one shader-variant key per line
  std::string matvec;         // rows / split-k: force the matrix-vector kernel
  uint32_t max_columns = 8;
  uint32_t batch = 512;
  bool json = false;
  bool fail_on_spill = false;
  bool no_prefill = false;
};

/// The model whose workload is listed: a GGUF (-m), else a synthetic preset (tensor table only:
/// a sparse file of zeros, removed again).
struct Source {
  std::optional<GgufFile> file;
  Gemma4Model model;
  std::string name;
};

std::unique_ptr<Source> open_source(const KernelsArgs& a) {
  auto s = std::make_unique<Source>();
  if (!a.model.empty()) {
    s->file.emplace(GgufFile::open(a.model));
    s->name = a.model;
  } else {
    const std::string preset = a.preset.empty() ? "e2b" : a.preset;
    SynthOptions o;
    try {
      o = synth_preset(preset);
      o.types = SynthTypes::parse("q4_k_m");
    } catch (const SynthError& e) {
      throw Error(ErrorCode::bad_input, fmt::format("--preset: {}", e.what()));
    }
    const SynthModel m = synth_plan(o);
    const auto path = std::filesystem::temp_directory_path() / fmt::format("vkgemma-kernels-{}.gguf", ::getpid());
    synth_write_sparse(m, path);
    try {
      s->file.emplace(GgufFile::open(path));
    } catch (...) {
      std::filesystem::remove(path);
      throw;
    }
    std::filesystem::remove(path);  // the mapping stays valid
    s->name = "preset " + preset + " (Q4_K_M)";
  }
  s->model = load_gemma4(*s->file);
  return s;
}

std::vector<WeightTypeId> parse_types(const std::string& list) {
  std::vector<WeightTypeId> out;
  if (list.empty()) return out;
  if (list == "all") return Ops::supported_types();
  size_t p = 0;
  while (p <= list.size()) {
    const size_t q = std::min(list.find(',', p), list.size());
    const std::string name = list.substr(p, q - p);
    const auto t = ggml_type_from_name(name);
    if (!t || !Ops::supports(static_cast<WeightTypeId>(*t)))
      throw Error(ErrorCode::bad_input, fmt::format("--types: '{}' is not a weight type the kernels read", name));
    out.push_back(static_cast<WeightTypeId>(*t));
    p = q + 1;
  }
  return out;
}

/// Keys of the pipelines allowed to spill on this device: lines "KEY" (any device) or "FAMILY KEY"
/// (devices whose name contains FAMILY, case-insensitive: "navi21", "vega10", "gfx1100"); '#'
/// starts a comment.
std::set<std::string> read_known_spills(const std::string& path, std::string device) {
  std::set<std::string> out;
  for (char& ch : device) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (path.empty()) return out;
  std::ifstream f(path);
  if (!f) throw Error(ErrorCode::bad_input, fmt::format("--known-spills: cannot read '{}'", path));
  std::string line;
  while (std::getline(f, line)) {
    if (const size_t h = line.find('#'); h != std::string::npos) line.resize(h);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    size_t b = 0;
    while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
    if (b >= line.size()) continue;
    line = line.substr(b);
    const size_t sp = line.find_first_of(" \t");
    if (sp == std::string::npos) {
      out.insert(line);
      continue;
    }
    std::string family = line.substr(0, sp);
    for (char& ch : family) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const size_t k = line.find_first_not_of(" \t", sp);
    if (device.find(family) != std::string::npos) out.insert(line.substr(k));
  }
  return out;
}

/// The statistics shown as table columns (RADV's names), then the rest in JSON only.
constexpr const char* kColumns[][2] = {{"SGPRs", "SGPR"},          {"VGPRs", "VGPR"},
                                       {"Spilled SGPRs", "spS"},   {"Spilled VGPRs", "spV"},
                                       {"Scratch size", "scratch"}, {"LDS size", "LDS"},
                                       {"Subgroups per SIMD", "occ"}, {"Code size", "code"}};

void run_kernels(const KernelsArgs& a) {
  const auto types = parse_types(a.types);
  if (a.max_columns < 1 || a.max_columns > 8) throw Error(ErrorCode::bad_input, "--max-columns must be 1..8");
  auto src = open_source(a);

  const EnvironmentSettings env = read_environment();  // bad VKGEMMA_* values: bad_input
  Instance instance(env.instance);
  DeviceOptions dopts = env.device_options();
  if (a.device >= 0) dopts.index = static_cast<uint32_t>(a.device);
  if (!a.profile.empty()) dopts.profile = a.profile;
  dopts.pipeline_cache = false;  // compile for real: statistics come from the compiler
  dopts.pipeline_statistics = true;
  Device dev(instance, dopts);
  OpsVariants v = select_variants(dev.caps());
  if (a.matvec == "split-k") v.matvec_split_k = true;
  if (a.matvec == "rows") v.matvec_split_k = false;
  const auto known = read_known_spills(a.known_spills, dev.caps().name);

  WorkloadOptions wo;
  wo.max_columns = a.max_columns;
  wo.max_batch = a.batch;
  wo.prefill = !a.no_prefill;
  wo.types = types;
  const auto work = forward_workload(src->model, v, wo);
  std::vector<KernelDesc> descs;
  for (const auto& k : work) descs.push_back(k.desc);
  const bool tty = !a.json && isatty(STDERR_FILENO);
  auto reports = compile_pipeline_set(dev, descs, tty ? +[](const KernelDesc& d, size_t i, size_t n) {
    std::fprintf(stderr, "\r[%zu/%zu] %-40s", i + 1, n, d.shader.c_str());
    std::fflush(stderr);
  } : nullptr);
  if (tty) std::fprintf(stderr, "\r%70s\r", "");

  size_t n_refused = 0, n_failed = 0, n_spill = 0, n_unknown_spill = 0;
  std::vector<std::string> unknown;
  for (const auto& r : reports) {
    n_refused += !r.refused.empty();
    n_failed += !r.error.empty();
    if (r.spills()) {
      ++n_spill;
      if (!known.count(r.desc.key())) {
        ++n_unknown_spill;
        unknown.push_back(r.desc.key());
      }
    }
  }
  const auto& c = dev.caps();
  if (a.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < reports.size(); ++i) {
      const auto& r = reports[i];
      nlohmann::json stats = nlohmann::json::object();
      for (const auto& s : r.stats) stats[s.name] = s.value;
      rows.push_back({{"op", work[i].op},
                      {"shader", r.desc.shader},
                      {"key", r.desc.key()},
                      {"variant", r.desc.variant},
                      {"spec", r.desc.spec},
                      {"weight_type", work[i].weight_type >= 0 ? nlohmann::json(ggml_type_name(
                                                                      static_cast<uint32_t>(work[i].weight_type)))
                                                                : nlohmann::json(nullptr)},
                      {"uses", work[i].uses},
                      {"workgroup_size", r.local_size},
                      {"refused", !r.refused.empty()},
                      {"refusal", r.refused},
                      {"error", r.error},
                      {"spills", r.spills()},
                      {"statistics", stats}});
    }
    const nlohmann::json out = {{"device", c.name},
                                {"driver", c.driver_name},
                                {"profile", c.profile},
                                {"model", src->name},
                                {"kernel_variants", v.describe()},
                                {"statistics_available", dev.pipeline_statistics()},
                                {"pipelines", rows},
                                {"refused", n_refused},
                                {"failed", n_failed},
                                {"spilling", n_spill},
                                {"unknown_spilling", unknown}};
    std::cout << out.dump(1) << "\n";
  } else {
    std::cout << fmt::format("{} ({}){}: {} pipelines for {}\nvariants: {}\n", c.name, c.driver_name,
                             c.profile.empty() ? "" : ", profile " + c.profile, reports.size(), src->name, v.describe());
    if (!dev.pipeline_statistics()) std::cout << "(the driver reports no pipeline statistics)\n";
    std::string head = fmt::format("{:<34} {:<14} {:>5}", "pipeline", "op", "wg");
    for (const auto& col : kColumns) head += fmt::format(" {:>7}", col[1]);
    std::cout << head << "  refused\n";
    for (size_t i = 0; i < reports.size(); ++i) {
      const auto& r = reports[i];
      std::string spec;
      for (size_t j = 1; j < r.desc.spec.size(); ++j) spec += fmt::format(":{}", r.desc.spec[j]);
      std::string row = fmt::format("{:<34} {:<14} {:>5}", r.desc.shader + spec, work[i].op, r.local_size[0]);
      for (const auto& col : kColumns) {
        const double s = r.stat(col[0]);
        row += s < 0 ? fmt::format(" {:>7}", "-") : fmt::format(" {:>7}", s);
      }
      row += r.refused.empty() ? (r.error.empty() ? "  no" : "  FAILED: " + r.error) : "  yes: " + r.refused;
      std::cout << row << "\n";
    }
    std::cout << fmt::format("{} pipelines, {} refused, {} failed, {} spilling ({} not in the known-spills list)\n",
                             reports.size(), n_refused, n_failed, n_spill, n_unknown_spill);
  }
  std::cout.flush();
  if (n_failed) throw Error(ErrorCode::internal, fmt::format("{} pipeline(s) failed to compile", n_failed));
  if (a.fail_on_spill && n_unknown_spill) {
    std::string list;
    for (const auto& u : unknown) list += (list.empty() ? "" : ", ") + u;
    throw Error(ErrorCode::internal, fmt::format("{} pipeline(s) spill registers and are not in the known-spills list: {}",
                                                 n_unknown_spill, list));
  }
}

void add_kernels(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "kernels", "Compile every pipeline the forward pass would create on a device and show the driver's statistics "
                 "(registers, spills, scratch, shared memory, occupancy); works on RADV's null device");
  auto a = std::make_shared<KernelsArgs>();
  cmd->add_option("--device", a->device, "Device index (default: VKGEMMA_DEVICE or the automatic choice)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-m,--model", a->model, "GGUF model whose weight types and shapes are listed");
  cmd->add_option("--preset", a->preset, "Synthetic model shapes instead (tiny, e2b, e4b; Q4_K_M mix) [default: e2b]")
      ->excludes("--model");
  cmd->add_option("--device-profile", a->profile, "Emulate a weaker device (pi5-v3d, mali-valhall, adreno-7xx, "
                                                  "desktop, minimal)")
      ->check(profile_name_validator());
  cmd->add_option("--types", a->types, "Matrix kernels of these weight types only (comma list, e.g. q4_k,q6_k,f32; "
                                       "'all': every type the kernels read)");
  cmd->add_option("--max-columns", a->max_columns, "Matrix-vector widths 1..N (decode is 1)");
  cmd->add_option("-b,--batch", a->batch, "Prefill chunk the tiled kernels are listed for");
  cmd->add_flag("--no-prefill", a->no_prefill, "Leave out the tiled (16+ token) matrix kernels");
  cmd->add_option("--matvec", a->matvec, "Force the matrix-vector kernel: rows or split-k [default: the device's choice]")
      ->check(CLI::IsMember({"rows", "split-k"}));
  cmd->add_flag("--json", a->json, "Machine-readable output");
  cmd->add_flag("--fail-on-spill", a->fail_on_spill,
                "Exit 1 when a pipeline spills registers or uses scratch and is not in the known-spills list");
  cmd->add_option("--known-spills", a->known_spills,
                  "File of pipeline keys (as in --json 'key') allowed to spill [default: VKGEMMA_KNOWN_SPILLS]");
  cmd->callback([a] {
    if (a->known_spills.empty())
      if (const char* v = std::getenv("VKGEMMA_KNOWN_SPILLS"); v && *v) a->known_spills = v;
    run_kernels(*a);
  });
}

VKG_CLI_COMMAND(add_kernels);

} // namespace
} // namespace vkg::cli
