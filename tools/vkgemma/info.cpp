// `vkgemma info FILE [--json]`: what a Gemma 4 GGUF holds and what it costs to run.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_vocab.h"
#include "quant.h"
#include "template_id.h"

namespace vkg::cli {
namespace {

std::string human_bytes(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", b / 1073741824.0);
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", b / 1048576.0);
  if (b >= 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", b);
}

std::string human_params(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.3f} B", n / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f} M", n / 1e6);
  return fmt::format("{:.1f} K", n / 1e3);
}

// Rotated pairs of the full layers: rope_freqs entries that are not "never rotate" (>= 1e29).
int64_t rotated_pairs(const GgufTensorInfo* t) {
  if (!t || !gemma4_vector_type_allowed(t->type)) return -1;
  std::vector<float> v(static_cast<size_t>(t->n_elements));
  dequantize_row(t->type, t->data, v.data(), v.size());
  return std::count_if(v.begin(), v.end(), [](float f) { return f < 1e29f; });
}

struct Info {
  Gemma4Model model;
  Gemma4Footprint fp16, fp32;
  std::map<std::string, std::pair<uint64_t, uint64_t>> types;  // name -> (count, bytes), every tensor
  uint64_t kv_1k_f16 = 0, kv_1k_f32 = 0;
  int64_t rot_pairs = -1;
  uint64_t n_tokens = 0, n_merges = 0;
  int32_t bos = -1, eos = -1;
  std::string tok_model, tok_pre;
  bool add_bos = false;
  std::optional<bool> file_add_bos;
  std::vector<int32_t> eog;              // end-of-generation set
  std::vector<std::string> eog_text;     // their token texts
  std::vector<std::string> notices;      // vocab_notices
  std::string chat_template;             // tokenizer.chat_template ("" if absent)
  KnownTemplate known_template = KnownTemplate::None;
};

Info inspect(const GgufFile& f) {
  Info in;
  in.model = load_gemma4(f);
  in.fp16 = gemma4_footprint(in.model, 2);
  in.fp32 = gemma4_footprint(in.model, 4);
  for (const auto& t : f.tensors()) {
    auto& e = in.types[std::string(ggml_type_info(t.type).name)];
    ++e.first;
    e.second += t.n_bytes;
  }
  in.kv_1k_f16 = gemma4_kv_cache_bytes(in.model.config, 1024, 2);
  in.kv_1k_f32 = gemma4_kv_cache_bytes(in.model.config, 1024, 4);
  in.rot_pairs = rotated_pairs(in.model.weights.rope_freqs);
  if (gguf_has_vocab(f)) {
    const Vocab v = read_vocab(f);
    in.n_tokens = v.tokens.size();
    in.n_merges = v.merges.size();
    in.bos = v.bos_id;
    in.eos = v.eos_id;
    in.tok_model = v.model;
    in.tok_pre = v.pre;
    in.add_bos = v.add_bos;
    in.file_add_bos = v.file_add_bos;
    in.eog = end_of_generation_set(v);
    for (int32_t id : in.eog) in.eog_text.push_back(v.tokens[id]);
    in.notices = vocab_notices(v);
    in.chat_template = v.chat_template;
    in.known_template = identify_chat_template(v.chat_template);
  }
  return in;
}

nlohmann::json tokenizer_json(const Info& in) {
  nlohmann::json j = {{"n_tokens", in.n_tokens}, {"n_merges", in.n_merges}, {"bos", in.bos}, {"eos", in.eos}};
  if (!in.n_tokens) return j;
  j["model"] = in.tok_model;
  j["pre"] = in.tok_pre;
  j["add_bos"] = in.add_bos;
  j["file_add_bos_token"] = in.file_add_bos ? nlohmann::json(*in.file_add_bos) : nlohmann::json(nullptr);
  j["eog_token_ids"] = in.eog;
  j["eog_tokens"] = in.eog_text;
  j["notices"] = in.notices;
  return j;
}

// The file's recommended sampling; null for each absent key.
nlohmann::json sampling_json(const SamplingDefaults& d) {
  auto opt = [](const auto& o) { return o ? nlohmann::json(*o) : nlohmann::json(nullptr); };
  return {{"top_k", opt(d.top_k)}, {"top_p", opt(d.top_p)}, {"temp", opt(d.temp)}};
}

nlohmann::json template_json(const Info& in) {
  if (in.chat_template.empty()) return nullptr;
  return {{"bytes", in.chat_template.size()},
          {"fingerprint", fmt::format("{:016x}", chat_template_fingerprint(in.chat_template))},
          {"known", in.known_template == KnownTemplate::None ? nlohmann::json(nullptr)
                                                             : nlohmann::json(known_template_name(in.known_template))},
          {"text", in.chat_template}};
}

// The warning `info` prints (stderr) when the file's template is neither known Gemma 4 template.
std::string template_warning(const Info& in) {
  if (in.chat_template.empty() || in.known_template != KnownTemplate::None) return {};
  return fmt::format("vkgemma: warning: the file's chat template ({} bytes, fingerprint {:016x}) is neither of the "
                     "known Gemma 4 templates (E2B/E4B, 12B/26B/31B); vkgemma formats chats with its own Gemma 4 "
                     "template, not this one (see `info --template`)",
                     in.chat_template.size(), chat_template_fingerprint(in.chat_template));
}

nlohmann::json to_json(const GgufFile& f, const Info& in) {
  const Gemma4Config& c = in.model.config;
  nlohmann::json layers = nlohmann::json::array();
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const Gemma4Layer& L = c.layers[l];
    layers.push_back({{"index", l}, {"kind", L.is_sliding ? "sliding" : "full"}, {"head_dim", L.head_dim},
                      {"n_head", L.n_head}, {"n_head_kv", L.n_head_kv}, {"n_ff", L.n_ff}, {"owns_kv", L.owns_kv},
                      {"kv_source", L.kv_source}, {"rope_base", L.rope_base}, {"n_rot", L.n_rot}});
  }
  nlohmann::json types = nlohmann::json::object();
  for (const auto& [name, e] : in.types) types[name] = {{"count", e.first}, {"bytes", e.second}};
  auto kv = [&](const Gemma4Footprint& fp, uint64_t per_1k) {
    return nlohmann::json{{"elem_bytes", fp.kv_elem_bytes}, {"full_bytes_per_1k", fp.kv_full_bytes_per_1k},
                          {"sliding_ring_bytes", fp.kv_sliding_ring_bytes}, {"bytes_at_1k", per_1k}};
  };
  const Gemma4Footprint& fp = in.fp16;
  return {
      {"file", f.source()}, {"file_size", f.file_size()}, {"gguf_version", f.version()},
      {"n_tensors", f.tensors().size()}, {"n_kv", f.kvs().size()}, {"architecture", "gemma4"}, {"name", c.name},
      {"config",
       {{"n_layer", c.n_layer}, {"n_embd", c.n_embd}, {"n_ple", c.n_ple}, {"n_vocab", c.n_vocab},
        {"n_ctx_train", c.n_ctx_train}, {"sliding_window", c.sliding_window},
        {"n_shared_kv_layers", c.n_shared_kv_layers}, {"n_kv_layers", c.n_kv_layers},
        {"head_dim_full", c.head_dim_full}, {"head_dim_swa", c.head_dim_swa}, {"n_rot_full", c.n_rot_full},
        {"n_rot_swa", c.n_rot_swa}, {"rope_base_full", c.rope_base_full}, {"rope_base_swa", c.rope_base_swa},
        {"rope_rotated_pairs_full", in.rot_pairs}, {"rms_eps", c.rms_eps},
        {"final_logit_softcap", c.final_logit_softcap}, {"tied_output", in.model.weights.output == nullptr}}},
      {"layers", layers},
      {"types", types},
      {"weights",
       {{"device_bytes", fp.device_bytes}, {"device_params", fp.device_params}, {"host_bytes", fp.host_bytes},
        {"host_params", fp.host_params}, {"unused_bytes", fp.unused_bytes},
        {"total_params", fp.device_params + fp.host_params}}},
      {"kv_cache", {{"f16", kv(in.fp16, in.kv_1k_f16)}, {"f32", kv(in.fp32, in.kv_1k_f32)}}},
      {"tokenizer", tokenizer_json(in)},
      {"eog_token_ids", in.eog},
      {"sampling", sampling_json(c.sampling)},
      {"chat_template", template_json(in)},
  };
}

void print_text(const GgufFile& f, const Info& in) {
  const Gemma4Config& c = in.model.config;
  auto row = [](std::string_view k, const std::string& v) { std::cout << fmt::format("{:<18} {}\n", k, v); };
  const auto n_full = std::count_if(c.layers.begin(), c.layers.end(), [](const Gemma4Layer& L) { return !L.is_sliding; });
  row("file", fmt::format("{} ({}, GGUF v{}, {} tensors, {} keys)", f.source(), human_bytes(f.file_size()),
                          f.version(), f.tensors().size(), f.kvs().size()));
  row("model", fmt::format("gemma4 '{}'", c.name));
  row("layers", fmt::format("{} ({} sliding, {} full; {} own a KV cache, {} share)", c.n_layer,
                            c.n_layer - n_full, n_full, c.n_kv_layers, c.n_shared_kv_layers));
  row("width", fmt::format("n_embd {}, per-layer input {}, vocab {}, context {}", c.n_embd, c.n_ple, c.n_vocab,
                           c.n_ctx_train));
  row("attention", fmt::format("head dim {} sliding / {} full, window {}", c.head_dim_swa, c.head_dim_full,
                               c.sliding_window));
  row("rope", fmt::format("base {:g} sliding / {:g} full, dims {} / {}{}", c.rope_base_swa, c.rope_base_full,
                          c.n_rot_swa, c.n_rot_full,
                          in.rot_pairs >= 0 ? fmt::format(", full layers rotate {} of {} pairs", in.rot_pairs,
                                                          c.n_rot_full / 2)
                                            : std::string()));
  row("norm / softcap", fmt::format("rms eps {:g}, final logit soft-cap {:g}{}", c.rms_eps, c.final_logit_softcap,
                                    in.model.weights.output ? "" : ", LM head tied to token_embd"));
  if (in.n_tokens) {
    row("tokenizer", fmt::format("{}{} {} tokens, {} merges, bos {}, eos {}", in.tok_model,
                                 in.tok_pre.empty() ? "" : fmt::format(" (pre {})", in.tok_pre), in.n_tokens,
                                 in.n_merges, in.bos, in.eos));
    std::string eog;
    for (size_t i = 0; i < in.eog.size(); ++i) eog += fmt::format("{}{} {}", i ? ", " : "", in.eog[i], in.eog_text[i]);
    row("end of generation", eog.empty() ? "none" : eog);
    row("BOS on raw text", fmt::format("{}{}", in.add_bos ? "yes" : "no",
                                       in.file_add_bos && *in.file_add_bos != in.add_bos
                                           ? fmt::format(" (the file says add_bos_token = {}; forced as llama.cpp does)",
                                                         *in.file_add_bos)
                                           : ""));
    row("chat template", in.chat_template.empty()
                             ? "none in the file"
                             : fmt::format("{} bytes, {}", in.chat_template.size(),
                                           in.known_template == KnownTemplate::None
                                               ? "not a known Gemma 4 template"
                                               : fmt::format("the {} template", known_template_name(in.known_template))));
  }
  const SamplingDefaults& sd = c.sampling;
  if (sd.top_k || sd.top_p || sd.temp)
    row("sampling", fmt::format("the file recommends{}{}{}", sd.temp ? fmt::format(" temp {:g}", *sd.temp) : "",
                                sd.top_k ? fmt::format(" top_k {}", *sd.top_k) : "",
                                sd.top_p ? fmt::format(" top_p {:g}", *sd.top_p) : ""));

  std::cout << "\nlayer  kind     head_dim  heads/kv  n_ff    kv       rope base\n";
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const Gemma4Layer& L = c.layers[l];
    std::cout << fmt::format("{:>5}  {:<8} {:>8}  {:>5}/{:<3} {:>6}  {:<8} {:g}\n", l,
                             L.is_sliding ? "sliding" : "full", L.head_dim, L.n_head, L.n_head_kv, L.n_ff,
                             L.owns_kv ? "own" : fmt::format("<- {}", L.kv_source), L.rope_base);
  }

  std::cout << "\nweight type  tensors        bytes\n";
  for (const auto& [name, e] : in.types)
    std::cout << fmt::format("{:<10} {:>9}  {:>11}\n", name, e.first, human_bytes(e.second));

  const Gemma4Footprint& fp = in.fp16;
  std::cout << "\n";
  row("device-resident", fmt::format("{} params, {}", human_params(fp.device_params), human_bytes(fp.device_bytes)));
  row("host-paged (PLE)", fmt::format("{} params, {}", human_params(fp.host_params), human_bytes(fp.host_bytes)));
  if (fp.unused_bytes) row("unused", human_bytes(fp.unused_bytes));
  row("total", fmt::format("{} params", human_params(fp.device_params + fp.host_params)));
  for (const auto* k : {&in.fp16, &in.fp32})
    row(fmt::format("KV cache {}", k->kv_elem_bytes == 2 ? "F16" : "F32"),
        fmt::format("{} per 1K context ({} per 1K on full layers + {} sliding ring)",
                    human_bytes(k == &in.fp16 ? in.kv_1k_f16 : in.kv_1k_f32), human_bytes(k->kv_full_bytes_per_1k),
                    human_bytes(k->kv_sliding_ring_bytes)));
}

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show a Gemma 4 GGUF's hyperparameters, layers, weight types and memory needs");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto tmpl = std::make_shared<bool>(false);
  auto* file = cmd->add_option("FILE", *path, "GGUF model file (default: the built-in tiny random-weight model)");
  cmd->add_option("-m,--model", *path, "GGUF model file (same as FILE)")->excludes(file);
  cmd->add_flag("--json", *json, "Machine-readable output");
  cmd->add_flag("--template", *tmpl, "Print the file's chat template (tokenizer.chat_template) and nothing else");
  cmd->callback([path, json, tmpl] {
    const GgufFile f = GgufFile::open(path->empty() ? builtin_model_path(/*quiet=*/true).string() : *path);
    const Info in = inspect(f);
    for (const std::string& n : in.notices) std::cerr << "vkgemma: " << n << "\n";
    if (const std::string w = template_warning(in); !w.empty()) std::cerr << w << "\n";
    if (*tmpl)
      std::cout << in.chat_template << (in.chat_template.ends_with('\n') || in.chat_template.empty() ? "" : "\n");
    else if (*json)
      std::cout << to_json(f, in).dump(2) << "\n";
    else
      print_text(f, in);
  });
}

VKG_CLI_COMMAND(add_info);

}  // namespace
}  // namespace vkg::cli
