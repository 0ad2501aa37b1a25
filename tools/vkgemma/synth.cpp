// `vkgemma synth`: write a synthetic Gemma 4 GGUF (real structure, seeded random weights).
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "commands.h"
#include "gemma4_config.h"
#include "weight_convert.h"
#include "gguf.h"
#include "gguf_vocab.h"
#include "hf_tokenizer.h"
#include "synth.h"

namespace vkg::cli {
namespace {

// --vocab: "synthetic", a GGUF (its tokenizer.ggml.* metadata) or a HF tokenizer.json[.xz].
std::optional<Vocab> load_vocab(const std::string& spec) {
  if (spec.empty() || spec == "synthetic") return std::nullopt;
  const std::filesystem::path p(spec);
  if (p.extension() == ".gguf") return read_vocab(GgufFile::open(p));
  return load_hf_tokenizer(p, {Gemma4Names::Full});
}

// A one-line progress bar on stderr, redrawn at most every 100 ms.
class ProgressBar {
 public:
  void operator()(const SynthProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool last = p.bytes_done == p.bytes_total;
    if (!last && now - drawn_ < std::chrono::milliseconds(100)) return;
    drawn_ = now;
    const double f = p.bytes_total ? static_cast<double>(p.bytes_done) / p.bytes_total : 1.0;
    const int width = 30, fill = static_cast<int>(f * width);
    std::fprintf(stderr, "\r[%s%s] %3.0f%% %7.2f / %.2f GB  %-40.40s", std::string(fill, '#').c_str(),
                 std::string(width - fill, ' ').c_str(), 100 * f, p.bytes_done / 1e9, p.bytes_total / 1e9,
                 std::string(p.name).c_str());
    if (last) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::chrono::steady_clock::time_point drawn_{};
};

struct SynthArgs {
  std::string preset = "tiny", type = "q4_k_m", vocab = "synthetic", chat_template, out, name;
  uint64_t seed = 1;
  unsigned threads = 0;
  bool sparse = false, no_layer_output_scale = false;
  std::vector<std::string> tensor_types;
  // Dimension overrides: applied only when given.
  uint32_t n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, hd_swa = 0, hd_full = 0, n_ff = 0, window = 0,
           period = 0, shared = 0, n_ple = 0, n_vocab = 0, ctx = 0;
  bool double_wide = true;
  float rope_base = 0, rope_base_swa = 0, partial = 0, softcap = 0;
};

/// Refuse (bad_input) a model the loader would refuse: its metadata and tensor table are written
/// to a sparse scratch file beside `out` (no data blocks, instant) and read back by the loader's
/// own checks (load_gemma4, check_device_shapes), so synth and the loader cannot disagree.
void refuse_unloadable(const SynthModel& m, const std::filesystem::path& out) {
  std::filesystem::path scratch = out;
  scratch += fmt::format(".check-{}.tmp", ::getpid());
  struct Remove {
    std::filesystem::path p;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  } remove{scratch};
  synth_write_sparse(m, scratch);
  try {
    const GgufFile f = GgufFile::open(scratch);
    check_device_shapes(load_gemma4(f));
  } catch (const Error& e) {
    std::string why = e.what();
    if (const size_t at = why.find(scratch.string() + ": "); at != std::string::npos)
      why.erase(at, scratch.string().size() + 2);  // the scratch file's name means nothing to the user
    throw SynthError(fmt::format("this shape would be refused by the loader: {}", why));
  }
}

void add_synth(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a synthetic Gemma 4 GGUF: real tensor names, shapes and metadata, "
                                          "seeded random weights");
  auto a = std::make_shared<SynthArgs>();
  cmd->add_option("--preset", a->preset, "Model shape: tiny, e2b or e4b")->capture_default_str();
  cmd->add_option("--type", a->type, "Weight types: q4_k_m, f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, "
                                     "q5_k, q6_k")->capture_default_str();
  cmd->add_option("--tensor-type", a->tensor_types, "Override one tensor's type: NAME=TYPE (NAME full or without "
                                                    "'blk.N.', e.g. ffn_down.weight=q8_0); repeatable");
  cmd->add_option("--vocab", a->vocab, "Vocabulary: 'synthetic', a HF tokenizer.json[.xz] (Gemma 4 special names) "
                                       "or a .gguf to copy it from")->capture_default_str();
  cmd->add_option("--chat-template", a->chat_template, "File whose text becomes tokenizer.chat_template");
  cmd->add_option("--seed", a->seed, "Random seed")->capture_default_str();
  cmd->add_option("--name", a->name, "general.name");
  cmd->add_option("--threads", a->threads, "Generator threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("--sparse", a->sparse, "Metadata and tensor table only; the data section is an all-zero hole "
                                       "(instant, no disk use; for layout and loader checks)");
  cmd->add_option("-o,--output", a->out, "Output GGUF file")->required();
  struct Dim { const char* flag; uint32_t SynthArgs::*field; uint32_t SynthOptions::*target; const char* help; };
  static const Dim dims[] = {
      {"--n-layer", &SynthArgs::n_layer, &SynthOptions::n_layer, "Layers"},
      {"--n-embd", &SynthArgs::n_embd, &SynthOptions::n_embd, "Model width"},
      {"--n-head", &SynthArgs::n_head, &SynthOptions::n_head, "Query heads"},
      {"--n-head-kv", &SynthArgs::n_head_kv, &SynthOptions::n_head_kv, "KV heads"},
      {"--head-dim-swa", &SynthArgs::hd_swa, &SynthOptions::head_dim_swa, "Head size of sliding layers"},
      {"--head-dim-full", &SynthArgs::hd_full, &SynthOptions::head_dim_full, "Head size of full-attention layers"},
      {"--n-ff", &SynthArgs::n_ff, &SynthOptions::n_ff, "FFN width (KV-owning layers)"},
      {"--sliding-window", &SynthArgs::window, &SynthOptions::sliding_window, "Sliding window (tokens)"},
      {"--swa-period", &SynthArgs::period, &SynthOptions::swa_period, "Every N-th layer is full attention"},
      {"--shared-kv-layers", &SynthArgs::shared, &SynthOptions::shared_kv_layers, "Last N layers share KV"},
      {"--n-ple", &SynthArgs::n_ple, &SynthOptions::n_ple, "Per-layer embedding width"},
      {"--n-vocab", &SynthArgs::n_vocab, &SynthOptions::n_vocab, "Synthetic vocabulary size"},
      {"--ctx", &SynthArgs::ctx, &SynthOptions::n_ctx, "context_length"},
  };
  std::vector<std::pair<CLI::Option*, const Dim*>> dim_opts;
  for (const Dim& d : dims) dim_opts.emplace_back(cmd->add_option(d.flag, (*a).*(d.field), d.help), &d);
  auto* o_dw = cmd->add_option("--double-wide", a->double_wide, "KV-sharing layers use 2 x n_ff (true/false)");
  auto* o_rb = cmd->add_option("--rope-base", a->rope_base, "RoPE base of full-attention layers");
  auto* o_rbs = cmd->add_option("--rope-base-swa", a->rope_base_swa, "RoPE base of sliding layers");
  auto* o_pr = cmd->add_option("--partial-rotary", a->partial, "Rotated share of full-layer rope pairs (0..1]");
  auto* o_sc = cmd->add_option("--softcap", a->softcap, "Final logit soft-cap (0 = off)");
  cmd->add_flag("--no-layer-output-scale", a->no_layer_output_scale, "Omit blk.N.layer_output_scale");

  cmd->callback([a, dim_opts, o_dw, o_rb, o_rbs, o_pr, o_sc] {
    const auto t0 = std::chrono::steady_clock::now();
    SynthOptions o = synth_preset(a->preset);
    o.types = SynthTypes::parse(a->type);
    o.seed = a->seed;
    if (!a->name.empty()) o.name = a->name;
    for (const auto& [opt, d] : dim_opts)
      if (opt->count()) o.*(d->target) = (*a).*(d->field);
    if (o_dw->count()) o.double_wide = a->double_wide;
    if (o_rb->count()) o.rope_base_full = a->rope_base;
    if (o_rbs->count()) o.rope_base_swa = a->rope_base_swa;
    if (o_pr->count()) o.partial_rotary_full = a->partial;
    if (o_sc->count()) o.softcap = a->softcap;
    if (a->no_layer_output_scale) o.layer_output_scale = false;
    for (const std::string& s : a->tensor_types) {
      const size_t eq = s.find('=');
      if (eq == std::string::npos || eq == 0)
        throw SynthError(fmt::format("--tensor-type '{}': expected NAME=TYPE", s));
      const SynthTypes t = SynthTypes::parse(s.substr(eq + 1));
      if (t.mix != SynthTypes::Mix::Single) throw SynthError(fmt::format("--tensor-type '{}': TYPE must be one type", s));
      o.type_overrides.emplace_back(s.substr(0, eq), t.type);
    }
    o.vocab = load_vocab(a->vocab);
    if (!a->chat_template.empty()) o.chat_template = read_file_maybe_xz(a->chat_template);

    const SynthModel m = synth_plan(o);
    refuse_unloadable(m, a->out);
    uint64_t size = 0;
    if (a->sparse) {
      size = synth_write_sparse(m, a->out);
    } else {
      SynthWriteOptions wo;
      wo.threads = a->threads;
      if (isatty(fileno(stderr))) wo.progress = ProgressBar{};
      synth_write(m, a->out, wo);
      size = std::filesystem::file_size(a->out);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << fmt::format("wrote {}{}: {:.3f} GB, {} tensors, {:.3f} B parameters ({:.3f} B device, {:.3f} B "
                             "host-paged), {} weights, {} tokens, {:.1f} s\n",
                             a->out, a->sparse ? " (sparse)" : "", size / 1e9, m.tensors.size(), m.n_params() / 1e9,
                             m.device_params() / 1e9, m.host_params() / 1e9, m.options.types.name(),
                             m.vocab.tokens.size(), secs);
    for (const std::string& f : m.fallbacks) std::cout << "  type fallback: " << f << "\n";
  });
}

VKG_CLI_COMMAND(add_synth);

}  // namespace
}  // namespace vkg::cli
