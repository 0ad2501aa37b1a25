// Synthetic Gemma 4 models: presets, type policy, synthetic vocabulary, the tensor plan, metadata
// and value generation. Streaming output lives in synth_write.cpp.
#include "synth.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_set>
#include <fmt/format.h>

#include "gguf_vocab.h"
#include "vocab_writer.h"
#include "quant.h"
#include "synth_rng.h"

namespace vkg {
namespace {

[[noreturn]] void fail(const std::string& what) { throw SynthError("synth: " + what); }

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// llama_ftype of a single-type model (llama.h): the closest published file type.
uint32_t llama_ftype(const SynthTypes& t) {
  if (t.mix == SynthTypes::Mix::Q4_K_M) return 15;
  switch (t.type) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q5_0: return 8;
    case GgmlType::Q5_1: return 9;
    case GgmlType::Q4_K: return 14;  // Q4_K_S
    case GgmlType::Q5_K: return 16;  // Q5_K_S
    case GgmlType::Q6_K: return 18;
    case GgmlType::BF16: return 32;
    default: return 0;
  }
}

// llama.cpp's use_more_bits(i_layer, n_layers) (llama-quant.cpp): which attn_v / ffn_down tensors
// Q4_K_M promotes to Q6_K.
bool use_more_bits(uint32_t i, uint32_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

}  // namespace

// ------------------------------------------------------------------------------------------------
// Types and presets.

SynthTypes SynthTypes::parse(std::string_view name) {
  const std::string n = lower(name);
  SynthTypes t;
  if (n == "q4_k_m") {
    t.mix = Mix::Q4_K_M;
    t.type = GgmlType::Q4_K;
    return t;
  }
  const auto ty = ggml_type_from_name(n);
  if (!ty || !can_quantize(*ty))
    fail(fmt::format("unknown weight type '{}' (supported: q4_k_m, f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, "
                     "q4_k, q5_k, q6_k, mxfp4)", name));
  t.type = *ty;
  return t;
}

std::string SynthTypes::name() const {
  return mix == Mix::Q4_K_M ? "Q4_K_M" : std::string(ggml_type_info(type).name);
}

std::span<const std::string_view> synth_preset_names() {
  static constexpr std::string_view kNames[] = {"tiny", "e2b", "e4b"};
  return kNames;
}

SynthOptions synth_preset(std::string_view name) {
  SynthOptions o;  // the defaults are `tiny`
  const std::string n = lower(name);
  if (n == "tiny") return o;
  if (n == "e2b") {
    o.name = "vkgemma-synth-e2b";
    o.n_layer = 35, o.n_embd = 1536, o.n_head = 8, o.n_head_kv = 1;
    o.head_dim_swa = 256, o.head_dim_full = 512, o.n_ff = 6144, o.double_wide = true;
    o.sliding_window = 512, o.swa_period = 5, o.shared_kv_layers = 20, o.n_ple = 256;
    o.n_vocab = 262144, o.n_ctx = 131072;
    return o;
  }
  if (n == "e4b") {
    o.name = "vkgemma-synth-e4b";
    o.n_layer = 42, o.n_embd = 2560, o.n_head = 8, o.n_head_kv = 2;
    o.head_dim_swa = 256, o.head_dim_full = 512, o.n_ff = 10240, o.double_wide = false;
    o.sliding_window = 512, o.swa_period = 6, o.shared_kv_layers = 18, o.n_ple = 256;
    o.n_vocab = 262144, o.n_ctx = 131072;
    return o;
  }
  fail(fmt::format("unknown preset '{}' (known: tiny, e2b, e4b)", name));
}

GgmlType synth_fallback_type(GgmlType t, uint64_t ne0) {
  if (ne0 % ggml_type_info(t).block_elems == 0) return t;
  GgmlType f = GgmlType::F16;
  switch (t) {
    case GgmlType::Q4_K: f = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: f = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: f = GgmlType::Q8_0; break;
    default: break;
  }
  return ne0 % ggml_type_info(f).block_elems == 0 ? f : GgmlType::F16;
}

// ------------------------------------------------------------------------------------------------
// Synthetic vocabulary.

Vocab synth_vocab(uint32_t n_vocab, uint64_t seed) {
  if (n_vocab < kSynthMinVocab)
    fail(fmt::format("n_vocab = {} is too small for the synthetic vocabulary (minimum {})", n_vocab, kSynthMinVocab));
  Vocab v;
  v.model = "gemma4";
  auto add = [&v](std::string piece, TokenType type) {
    v.tokens.push_back(std::move(piece));
    v.types.push_back(type);
    v.scores.push_back(type == TokenType::Control ? -1000.0f : 0.0f);
  };
  add("<pad>", TokenType::Control);
  add("<eos>", TokenType::Control);
  add("<bos>", TokenType::Control);
  add("<unk>", TokenType::Unknown);
  add("<|turn>", TokenType::Control);
  add("<turn|>", TokenType::Control);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), TokenType::Byte);
  const size_t base = v.tokens.size();
  add("\n", TokenType::Normal);
  add("\xE2\x96\x81", TokenType::Normal);  // "▁"
  for (char c = 'a'; c <= 'z'; ++c) add(std::string(1, c), TokenType::Normal);
  for (char c = 'A'; c <= 'Z'; ++c) add(std::string(1, c), TokenType::Normal);
  for (char c = '0'; c <= '9'; ++c) add(std::string(1, c), TokenType::Normal);
  for (char c : std::string_view(".,:;!?'\"()-")) add(std::string(1, c), TokenType::Normal);
  static_assert(kSynthMinVocab == 6 + 256 + 75 + 1);

  std::unordered_set<std::string> seen(v.tokens.begin(), v.tokens.end());
  seen.reserve(n_vocab * 2);
  synth_detail::Rng rng(synth_detail::mix_seed(seed, 0x766f636162ull));  // "vocab"
  // Short pieces are picked more often (u^2 bias towards early ids), like real merge tables.
  auto pick = [&](size_t n) { const double u = rng.uniform(); return base + static_cast<size_t>(u * u * n); };
  size_t attempts = 0;
  while (v.tokens.size() < n_vocab) {
    if (++attempts > 64ull * n_vocab) fail("synthetic vocabulary: cannot find new merges");
    const size_t n = v.tokens.size() - base;
    const std::string& l = v.tokens[pick(n)];
    const std::string& r = v.tokens[pick(n)];
    if (l.size() + r.size() > 24) continue;
    std::string piece = l + r;
    if (!seen.insert(piece).second) continue;
    v.merges.push_back(l + " " + r);
    add(std::move(piece), TokenType::Normal);
  }
  v.bos_id = 2, v.eos_id = 1, v.pad_id = 0, v.unk_id = 3;
  v.add_bos = true, v.add_eos = false;
  v.eog_ids = {5};
  return v;
}

// ------------------------------------------------------------------------------------------------
// The plan.

namespace {

enum class Role { Matrix, TokenEmbd, PleEmbd, PleProj, AttnV, FfnDown, Vector };

void check_options(const SynthOptions& o) {
  auto pos = [](const char* what, uint64_t v) {
    if (v == 0) fail(fmt::format("{} must be > 0", what));
  };
  pos("n_layer", o.n_layer), pos("n_embd", o.n_embd), pos("n_head", o.n_head), pos("n_head_kv", o.n_head_kv);
  pos("head_dim_swa", o.head_dim_swa), pos("head_dim_full", o.head_dim_full), pos("n_ff", o.n_ff);
  pos("sliding_window", o.sliding_window), pos("swa_period", o.swa_period), pos("n_ple", o.n_ple);
  pos("n_ctx", o.n_ctx);
  if (o.n_layer > 4096) fail(fmt::format("n_layer = {} is implausible (max 4096)", o.n_layer));
  if (o.n_head % o.n_head_kv != 0)
    fail(fmt::format("n_head = {} must be a multiple of n_head_kv = {}", o.n_head, o.n_head_kv));
  if (o.head_dim_swa % 2 || o.head_dim_full % 2)
    fail(fmt::format("head dims must be even (rope pairs): head_dim_swa = {}, head_dim_full = {}", o.head_dim_swa,
                     o.head_dim_full));
  if (o.shared_kv_layers >= o.n_layer)
    fail(fmt::format("shared_kv_layers = {} must be < n_layer = {} (some layer must own a KV cache)",
                     o.shared_kv_layers, o.n_layer));
  auto finite_pos = [](const char* what, float v, bool allow_zero) {
    if (!std::isfinite(v) || v < 0 || (v == 0 && !allow_zero))
      fail(fmt::format("{} = {} must be {} and finite", what, v, allow_zero ? ">= 0" : "> 0"));
  };
  finite_pos("rope_base_full", o.rope_base_full, false), finite_pos("rope_base_swa", o.rope_base_swa, false);
  finite_pos("rms_eps", o.rms_eps, false), finite_pos("softcap", o.softcap, true);
  finite_pos("logit_std", o.logit_std, false), finite_pos("attn_score_std", o.attn_score_std, false);
  finite_pos("norm_noise", o.norm_noise, true);
  if (!(o.partial_rotary_full > 0 && o.partial_rotary_full <= 1))
    fail(fmt::format("partial_rotary_full = {} must be in (0, 1]", o.partial_rotary_full));
  if (!(std::isfinite(o.output_scale_lo) && std::isfinite(o.output_scale_hi) && o.output_scale_lo > 0 &&
        o.output_scale_lo <= o.output_scale_hi))
    fail(fmt::format("layer output scale range [{}, {}] must satisfy 0 < lo <= hi", o.output_scale_lo,
                     o.output_scale_hi));
  if (o.alignment == 0 || (o.alignment & (o.alignment - 1)) != 0)
    fail(fmt::format("alignment = {} must be a power of two", o.alignment));
}

}  // namespace

uint64_t SynthModel::device_params() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.host_paged ? 0 : t.n_elements();
  return n;
}
uint64_t SynthModel::device_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.host_paged ? 0 : t.n_bytes();
  return n;
}
uint64_t SynthModel::host_params() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.host_paged ? t.n_elements() : 0;
  return n;
}
uint64_t SynthModel::host_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.host_paged ? t.n_bytes() : 0;
  return n;
}
uint64_t SynthModel::n_params() const { return device_params() + host_params(); }
uint64_t SynthModel::data_bytes() const { return device_bytes() + host_bytes(); }

size_t SynthModel::index(std::string_view name) const {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == name) return i;
  fail(fmt::format("no tensor named '{}' in the plan", name));
}

SynthModel synth_plan(SynthOptions o) {
  check_options(o);
  SynthModel m;
  if (o.vocab) {
    m.vocab = std::move(*o.vocab);
    o.vocab.reset();
  } else {
    m.vocab = synth_vocab(o.n_vocab, o.seed);
  }
  if (!o.chat_template.empty()) m.vocab.chat_template = o.chat_template;
  try {
    validate_vocab(m.vocab, "synth vocabulary");
  } catch (const std::exception& e) {
    fail(e.what());
  }
  if (m.vocab.tokens.size() > UINT32_MAX) fail("vocabulary too large");
  o.n_vocab = static_cast<uint32_t>(m.vocab.tokens.size());

  // Layer kinds, FFN widths, KV sharing.
  const uint32_t L = o.n_layer, n_kv = o.n_layer - o.shared_kv_layers;
  m.sliding.resize(L);
  m.n_ff.resize(L);
  for (uint32_t l = 0; l < L; ++l) {
    m.sliding[l] = !(l % o.swa_period == o.swa_period - 1 || l == L - 1);
    m.n_ff[l] = l >= n_kv && o.double_wide ? 2 * o.n_ff : o.n_ff;
  }
  for (uint32_t l = n_kv; l < L; ++l) {
    bool found = false;
    for (uint32_t j = 0; j < n_kv && !found; ++j) found = m.sliding[j] == m.sliding[l];
    if (!found)
      fail(fmt::format("layer {} ({}) shares a KV cache but no KV-owning layer (0..{}) is {}: lower "
                       "shared_kv_layers or swa_period", l, m.sliding[l] ? "sliding" : "full", n_kv - 1,
                       m.sliding[l] ? "sliding" : "full attention"));
  }

  // Tensors, in the order convert_hf_to_gguf.py writes them.
  const uint64_t embd = o.n_embd, ple = o.n_ple, vocab = o.n_vocab, ple_all = uint64_t{L} * o.n_ple;
  const uint32_t n_attn_v = n_kv;
  uint32_t i_attn_v = 0, i_ffn_down = 0;
  auto add = [&](std::string name, std::initializer_list<uint64_t> ne, int layer, Role role, SynthInit init,
                 float a, float b) {
    SynthTensor t;
    t.name = std::move(name);
    t.n_dims = static_cast<uint32_t>(ne.size());
    std::copy(ne.begin(), ne.end(), t.ne.begin());
    t.layer = layer;
    t.host_paged = role == Role::PleEmbd;
    t.init = init, t.a = a, t.b = b;
    t.seed = synth_detail::mix_seed(o.seed, synth_detail::fnv1a(t.name));
    GgmlType ty = GgmlType::F32;
    if (role != Role::Vector) {
      ty = o.types.type;
      if (o.types.mix == SynthTypes::Mix::Q4_K_M) {
        switch (role) {
          case Role::TokenEmbd: case Role::PleEmbd: ty = GgmlType::Q6_K; break;
          case Role::PleProj: ty = GgmlType::F16; break;
          case Role::AttnV: ty = use_more_bits(i_attn_v, n_attn_v) ? GgmlType::Q6_K : GgmlType::Q4_K; break;
          case Role::FfnDown: ty = use_more_bits(i_ffn_down, L) ? GgmlType::Q6_K : GgmlType::Q4_K; break;
          default: ty = GgmlType::Q4_K; break;
        }
      }
    }
    if (role == Role::AttnV) ++i_attn_v;
    if (role == Role::FfnDown) ++i_ffn_down;
    t.type = t.requested = ty;
    m.tensors.push_back(std::move(t));
  };
  const auto N = SynthInit::Normal, W = SynthInit::NormWeight;
  const auto M = Role::Matrix, V = Role::Vector;
  const float noise = o.norm_noise;
  auto fan = [](uint64_t ne0) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(ne0))); };
  add("token_embd.weight", {embd, vocab}, -1, Role::TokenEmbd, N, o.logit_std * fan(embd), 0);
  add("per_layer_token_embd.weight", {ple_all, vocab}, -1, Role::PleEmbd, N, fan(ple), 0);
  add("per_layer_model_proj.weight", {embd, ple_all}, -1, Role::PleProj, N, fan(embd), 0);
  add("per_layer_proj_norm.weight", {ple}, -1, V, W, 1, noise);
  const uint32_t pairs = o.head_dim_full / 2;
  const auto rotated = static_cast<float>(std::max<long>(1, std::lround(o.partial_rotary_full * pairs)));
  add("rope_freqs.weight", {pairs}, -1, V, SynthInit::RopeFreqs, rotated, 0);
  for (uint32_t l = 0; l < L; ++l) {
    const int li = static_cast<int>(l);
    const uint64_t hd = m.sliding[l] ? o.head_dim_swa : o.head_dim_full;
    const uint64_t q = o.n_head * hd, kv = o.n_head_kv * hd, ff = m.n_ff[l];
    const float qk_norm = static_cast<float>(std::sqrt(o.attn_score_std / std::sqrt(static_cast<double>(hd))));
    auto nm = [l](const char* s) { return fmt::format("blk.{}.{}.weight", l, s); };
    add(nm("attn_norm"), {embd}, li, V, W, 1, noise);
    add(nm("attn_q"), {embd, q}, li, M, N, fan(embd), 0);
    if (l < n_kv) {
      add(nm("attn_k"), {embd, kv}, li, M, N, fan(embd), 0);
      add(nm("attn_v"), {embd, kv}, li, Role::AttnV, N, fan(embd), 0);
    }
    add(nm("attn_output"), {q, embd}, li, M, N, fan(q), 0);
    add(nm("attn_q_norm"), {hd}, li, V, W, qk_norm, noise);
    if (l < n_kv) add(nm("attn_k_norm"), {hd}, li, V, W, qk_norm, noise);
    add(nm("post_attention_norm"), {embd}, li, V, W, 1, noise);
    add(nm("ffn_norm"), {embd}, li, V, W, 1, noise);
    add(nm("ffn_gate"), {embd, ff}, li, M, N, fan(embd), 0);
    add(nm("ffn_up"), {embd, ff}, li, M, N, fan(embd), 0);
    add(nm("ffn_down"), {ff, embd}, li, Role::FfnDown, N, fan(ff), 0);
    add(nm("post_ffw_norm"), {embd}, li, V, W, 1, noise);
    add(nm("inp_gate"), {embd, ple}, li, M, N, fan(embd), 0);
    add(nm("proj"), {ple, embd}, li, M, N, fan(ple), 0);
    add(nm("post_norm"), {embd}, li, V, W, 1, noise);
    if (o.layer_output_scale)
      add(nm("layer_output_scale"), {1}, li, V, SynthInit::Uniform, o.output_scale_lo, o.output_scale_hi);
  }
  add("output_norm.weight", {embd}, -1, V, W, 1, noise);

  // Overrides, then the row-length fallback.
  for (const auto& [name, type] : o.type_overrides) {
    if (!can_quantize(type))
      fail(fmt::format("type override {}={}: cannot write {} tensors", name, ggml_type_info(type).name,
                       ggml_type_info(type).name));
    bool hit = false;
    for (auto& t : m.tensors) {
      const size_t dot = t.name.find('.', 4);
      const bool match = t.name == name || (t.layer >= 0 && dot != std::string::npos && t.name.substr(dot + 1) == name);
      if (match) t.type = t.requested = type, hit = true;
    }
    if (!hit) fail(fmt::format("type override '{}' matches no tensor", name));
  }
  for (auto& t : m.tensors) {
    t.type = synth_fallback_type(t.requested, t.ne[0]);
    if (t.type != t.requested)
      m.fallbacks.push_back(fmt::format("{}: {} -> {} (ne0 = {} is not a multiple of {})", t.name,
                                        ggml_type_info(t.requested).name, ggml_type_info(t.type).name, t.ne[0],
                                        ggml_type_info(t.requested).block_elems));
  }
  m.file_type = llama_ftype(o.types);
  m.options = std::move(o);
  return m;
}

// ------------------------------------------------------------------------------------------------
// Metadata.

void synth_declare(const SynthModel& m, GgufWriter& w) {
  const SynthOptions& o = m.options;
  w.add_string("general.architecture", "gemma4");
  w.add_string("general.name", o.name);
  w.add_u32("general.alignment", o.alignment);
  w.add_u32("general.file_type", m.file_type);
  w.add_u32("gemma4.context_length", o.n_ctx);
  w.add_u32("gemma4.embedding_length", o.n_embd);
  w.add_u32("gemma4.block_count", o.n_layer);
  std::vector<int32_t> ff(m.n_ff.begin(), m.n_ff.end());
  w.add_array<int32_t>("gemma4.feed_forward_length", ff);
  w.add_u32("gemma4.attention.head_count", o.n_head);
  w.add_u32("gemma4.attention.head_count_kv", o.n_head_kv);
  w.add_f32("gemma4.rope.freq_base", o.rope_base_full);
  w.add_f32("gemma4.rope.freq_base_swa", o.rope_base_swa);
  w.add_f32("gemma4.attention.layer_norm_rms_epsilon", o.rms_eps);
  w.add_u32("gemma4.attention.key_length", o.head_dim_full);
  w.add_u32("gemma4.attention.value_length", o.head_dim_full);
  w.add_u32("gemma4.attention.key_length_swa", o.head_dim_swa);
  w.add_u32("gemma4.attention.value_length_swa", o.head_dim_swa);
  w.add_u32("gemma4.rope.dimension_count", o.head_dim_full);
  w.add_u32("gemma4.rope.dimension_count_swa", o.head_dim_swa);
  w.add_u32("gemma4.attention.sliding_window", o.sliding_window);
  w.add_bool_array("gemma4.attention.sliding_window_pattern", m.sliding);
  w.add_u32("gemma4.attention.shared_kv_layers", o.shared_kv_layers);
  w.add_u32("gemma4.embedding_length_per_layer_input", o.n_ple);
  w.add_f32("gemma4.final_logit_softcapping", o.softcap);
  write_vocab(w, m.vocab);
  if (!w.has_key("tokenizer.ggml.add_space_prefix")) w.add_bool("tokenizer.ggml.add_space_prefix", false);
  const bool quantized = std::any_of(m.tensors.begin(), m.tensors.end(), [](const SynthTensor& t) {
    return t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16;
  });
  if (quantized) w.add_u32("general.quantization_version", 2);
  for (const auto& t : m.tensors) w.add_tensor(t.name, t.type, std::span<const uint64_t>(t.ne.data(), t.n_dims));
}

// ------------------------------------------------------------------------------------------------
// Values.

void synth_tensor_values(const SynthModel& m, size_t i, uint64_t row0, uint64_t n_rows, float* out) {
  if (i >= m.tensors.size()) fail(fmt::format("tensor index {} out of range ({} tensors)", i, m.tensors.size()));
  const SynthTensor& t = m.tensors[i];
  if (row0 > t.n_rows() || n_rows > t.n_rows() - row0)
    fail(fmt::format("rows [{}, {}) out of range for '{}' ({} rows)", row0, row0 + n_rows, t.name, t.n_rows()));
  const uint64_t ne0 = t.ne[0];
  for (uint64_t r = 0; r < n_rows; ++r) {
    float* y = out + r * ne0;
    synth_detail::Rng rng(synth_detail::mix_seed(t.seed, row0 + r));
    switch (t.init) {
      case SynthInit::Normal: synth_detail::fill_normal(rng, y, ne0, 0.0f, t.a); break;
      case SynthInit::NormWeight: synth_detail::fill_normal(rng, y, ne0, t.a, t.a * t.b); break;
      case SynthInit::Uniform:
        for (uint64_t k = 0; k < ne0; ++k) y[k] = t.a + (t.b - t.a) * static_cast<float>(rng.uniform());
        break;
      case SynthInit::RopeFreqs:
        for (uint64_t k = 0; k < ne0; ++k) y[k] = static_cast<float>(k) < t.a ? 1.0f : 1e30f;
        break;
    }
  }
}

void synth_tensor_encode(const SynthModel& m, size_t i, uint64_t row0, uint64_t n_rows, uint8_t* out,
                         std::vector<float>& scratch) {
  if (i >= m.tensors.size()) fail(fmt::format("tensor index {} out of range ({} tensors)", i, m.tensors.size()));
  const SynthTensor& t = m.tensors[i];
  const size_t n = static_cast<size_t>(n_rows * t.ne[0]);
  if (scratch.size() < n) scratch.resize(n);
  synth_tensor_values(m, i, row0, n_rows, scratch.data());
  quantize_row(t.type, scratch.data(), out, n);
}

std::vector<uint8_t> synth_tensor_data(const SynthModel& m, size_t i) {
  if (i >= m.tensors.size()) fail(fmt::format("tensor index {} out of range ({} tensors)", i, m.tensors.size()));
  std::vector<uint8_t> out(static_cast<size_t>(m.tensors[i].n_bytes()));
  std::vector<float> scratch;
  synth_tensor_encode(m, i, 0, m.tensors[i].n_rows(), out.data(), scratch);
  return out;
}

}  // namespace vkg
