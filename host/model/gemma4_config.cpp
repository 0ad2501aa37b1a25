#include "gemma4_config.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>
#include <fmt/format.h>

#include "quant.h"

namespace vkg {
namespace {

// Sanity bounds on every dimension, far above any Gemma 4 (E4B: 42 layers, n_embd 2560, head
// 512, n_ff 20480, vocab 262144, context 131072), so that every product of dimensions the
// runtime forms (n_head * head_dim, n_layer * n_ple, n_ctx * n_head_kv * head_dim, ...) stays
// far inside 64 bits and a hostile file cannot ask for absurd allocations.
constexpr uint32_t kMaxLayers = 4096;
constexpr uint32_t kMaxEmbd = 1u << 16;      // embedding_length, embedding_length_per_layer_input
constexpr uint32_t kMaxHeadDim = 1u << 13;   // key_length(_swa)
constexpr uint32_t kMaxHeads = 1u << 10;     // head_count(_kv)
constexpr uint32_t kMaxFf = 1u << 20;        // feed_forward_length
constexpr uint32_t kMaxCtx = 1u << 24;       // context_length, sliding_window
constexpr uint32_t kMaxVocab = 1u << 20;     // tokens (Gemma 4: 262144)
constexpr int64_t kMaxTopK = 1 << 24;        // general.sampling.top_k

[[noreturn]] void fail(const GgufFile& f, const std::string& what) {
  throw ModelError(fmt::format("{}: {}", f.source(), what));
}

std::string key(std::string_view suffix) { return fmt::format("gemma4.{}", suffix); }

// --- key readers -------------------------------------------------------------------------------

uint32_t to_u32(const GgufFile& f, const std::string& k, uint64_t v) {
  if (v > std::numeric_limits<uint32_t>::max()) fail(f, fmt::format("{} = {} does not fit in u32", k, v));
  return static_cast<uint32_t>(v);
}

uint32_t req_u32(const GgufFile& f, const std::string& k) {
  if (!f.has(k)) fail(f, fmt::format("missing key {}", k));
  return to_u32(f, k, f.get_uint(k));
}

uint32_t opt_u32(const GgufFile& f, const std::string& k, uint32_t def) {
  return f.has(k) ? to_u32(f, k, f.get_uint(k)) : def;
}

float req_f32(const GgufFile& f, const std::string& k) {
  if (!f.has(k)) fail(f, fmt::format("missing key {}", k));
  return static_cast<float>(f.get_float(k));
}

uint32_t positive(const GgufFile& f, const std::string& k, uint32_t v) {
  if (v == 0) fail(f, fmt::format("{} must be > 0", k));
  return v;
}

uint32_t capped(const GgufFile& f, const std::string& k, uint32_t v, uint32_t max) {
  if (v > max) fail(f, fmt::format("{} = {} is implausible (max {})", k, v, max));
  return v;
}

// A key that is a scalar (the same for every layer) or an array of n_layer values.
std::vector<uint32_t> per_layer_u32(const GgufFile& f, const std::string& k, uint32_t n_layer, uint32_t max) {
  if (!f.has(k)) fail(f, fmt::format("missing key {}", k));
  std::vector<uint32_t> out;
  if (f.kv(k).is_array()) {
    const std::vector<uint64_t> a = f.get_uint_array(k);
    if (a.size() != n_layer)
      fail(f, fmt::format("{} has {} entries, expected one per layer ({})", k, a.size(), n_layer));
    for (uint64_t v : a) out.push_back(to_u32(f, k, v));
  } else {
    out.assign(n_layer, to_u32(f, k, f.get_uint(k)));
  }
  for (size_t l = 0; l < out.size(); ++l) {
    if (out[l] == 0) fail(f, fmt::format("{}[{}] must be > 0", k, l));
    if (out[l] > max) fail(f, fmt::format("{}[{}] = {} is implausible (max {})", k, l, out[l], max));
  }
  return out;
}

// attention.sliding_window_pattern: one bool per layer, true = sliding window. Integer arrays of
// 0/1 are accepted too.
std::vector<bool> sliding_pattern(const GgufFile& f, uint32_t n_layer) {
  const std::string k = key("attention.sliding_window_pattern");
  if (!f.has(k))
    fail(f, fmt::format("missing key {} (one bool per layer: which layers use the sliding window)", k));
  const GgufKv& kv = f.kv(k);
  if (!kv.is_array()) fail(f, fmt::format("{} must be an array of one bool per layer", k));
  std::vector<bool> out;
  if (kv.elem_type == GgufType::Bool) {
    out = f.get_array<bool>(k);
  } else {
    for (uint64_t v : f.get_uint_array(k)) {
      if (v > 1) fail(f, fmt::format("{} has value {}, expected booleans", k, v));
      out.push_back(v == 1);
    }
  }
  if (out.size() != n_layer)
    fail(f, fmt::format("{} has {} entries, expected one per layer ({})", k, out.size(), n_layer));
  return out;
}

float finite_positive(const GgufFile& f, const std::string& k, float v, bool allow_zero = false) {
  if (!std::isfinite(v) || v < 0 || (v == 0 && !allow_zero))
    fail(f, fmt::format("{} = {} must be {}", k, v, allow_zero ? ">= 0 and finite" : "> 0 and finite"));
  return v;
}

// --- weight checking ---------------------------------------------------------------------------

enum class Kind { Matrix, Vector };
using Shape = std::vector<uint64_t>;

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Checks tensors and remembers which ones were consumed.
class Checker {
 public:
  explicit Checker(const GgufFile& f) : f_(f) {}

  // The tensor `name` if present (or an error if required and absent), with exactly `shape`
  // (trailing 1s ignored, as ggml does) and a type allowed for `kind`.
  const GgufTensorInfo* get(const std::string& name, const Shape& shape, Kind kind, bool required) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (!t) {
      if (required) fail(f_, fmt::format("missing tensor '{}' (expected shape {})", name, shape_str(shape)));
      return nullptr;
    }
    std::array<uint64_t, kGgufMaxDims> want{1, 1, 1, 1};
    std::copy(shape.begin(), shape.end(), want.begin());
    if (t->ne != want)
      fail(f_, fmt::format("tensor '{}' has the wrong shape: expected {}, found {}", name, shape_str(shape),
                           gguf_shape_string(*t)));
    const bool ok = kind == Kind::Matrix ? gemma4_matrix_type_allowed(t->type) : gemma4_vector_type_allowed(t->type);
    if (!ok)
      fail(f_, fmt::format("tensor '{}' has type {}, which is not supported for {} (supported: {})", name,
                           ggml_type_info(t->type).name, kind == Kind::Matrix ? "weight matrices" : "vectors",
                           kind == Kind::Matrix ? gemma4_matrix_type_names() : std::string("F32, F16, BF16")));
    used_.insert(t);
    return t;
  }
  // Present but not read (K/V projections of a KV-sharing layer): still shape-checked.
  void unused_if_present(const std::string& name, const Shape& shape, Kind kind) {
    if (const GgufTensorInfo* t = get(name, shape, kind, false)) {
      used_.erase(t);
      known_unused_.insert(t);
    }
  }
  bool known_unused(const GgufTensorInfo* t) const { return known_unused_.count(t) != 0; }
  std::vector<const GgufTensorInfo*> unused() const {
    std::vector<const GgufTensorInfo*> out;
    for (const auto& t : f_.tensors())
      if (!used_.count(&t)) out.push_back(&t);
    return out;
  }

 private:
  const GgufFile& f_;
  std::set<const GgufTensorInfo*> used_, known_unused_;
};

}  // namespace

bool gemma4_matrix_type_allowed(GgmlType t) { return can_dequantize(t); }

std::string gemma4_matrix_type_names() {
  std::string s;
  for (uint32_t id = 0; id < 64; ++id) {
    const auto info = ggml_type_info(id);
    if (!info || !can_dequantize(info->type)) continue;
    s += (s.empty() ? "" : ", ") + std::string(info->name);
  }
  return s;
}

bool gemma4_tensor_is_multimodal(std::string_view name) {
  return name.starts_with("v.") || name.starts_with("a.") || name.starts_with("mm.");
}

bool gemma4_vector_type_allowed(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// ------------------------------------------------------------------------------------------------
// Hyperparameters.

Gemma4Config gemma4_config_from_gguf(const GgufFile& f) {
  if (!f.has("general.architecture")) fail(f, "missing key general.architecture");
  const std::string arch = f.get_string("general.architecture");
  if (arch != "gemma4") fail(f, fmt::format("architecture '{}' is not supported (supported: gemma4)", arch));

  Gemma4Config c;
  if (f.has("general.name")) c.name = f.get_string("general.name");
  c.n_layer = positive(f, key("block_count"), req_u32(f, key("block_count")));
  if (c.n_layer > kMaxLayers) fail(f, fmt::format("{} = {} is implausible (max {})", key("block_count"), c.n_layer, kMaxLayers));
  c.n_embd = capped(f, key("embedding_length"), positive(f, key("embedding_length"), req_u32(f, key("embedding_length"))),
                    kMaxEmbd);
  c.n_ple = capped(f, key("embedding_length_per_layer_input"), req_u32(f, key("embedding_length_per_layer_input")),
                   kMaxEmbd);
  if (c.n_ple == 0)
    fail(f, fmt::format("{} is 0: models without per-layer embeddings are not Gemma 4 E models",
                        key("embedding_length_per_layer_input")));
  c.n_ctx_train = capped(f, key("context_length"), positive(f, key("context_length"), req_u32(f, key("context_length"))),
                         kMaxCtx);
  c.sliding_window = capped(f, key("attention.sliding_window"),
                            positive(f, key("attention.sliding_window"), req_u32(f, key("attention.sliding_window"))),
                            kMaxCtx);
  c.n_shared_kv_layers = opt_u32(f, key("attention.shared_kv_layers"), 0);
  if (c.n_shared_kv_layers >= c.n_layer)
    fail(f, fmt::format("{} = {} leaves no layer owning a KV cache (block_count {})", key("attention.shared_kv_layers"),
                        c.n_shared_kv_layers, c.n_layer));
  c.n_kv_layers = c.n_layer - c.n_shared_kv_layers;

  // Head sizes: K and V heads must agree (as in llama.cpp's gemma4 loader).
  c.head_dim_full = capped(f, key("attention.key_length"),
                           positive(f, key("attention.key_length"), req_u32(f, key("attention.key_length"))), kMaxHeadDim);
  c.head_dim_swa = capped(f, key("attention.key_length_swa"),
                          positive(f, key("attention.key_length_swa"), req_u32(f, key("attention.key_length_swa"))),
                          kMaxHeadDim);
  for (auto [vk, hd] : {std::pair{key("attention.value_length"), c.head_dim_full},
                        std::pair{key("attention.value_length_swa"), c.head_dim_swa}}) {
    const uint32_t v = opt_u32(f, vk, hd);
    if (v != hd) fail(f, fmt::format("{} = {} differs from the key length {} (Gemma 4 needs equal K/V heads)", vk, v, hd));
  }
  c.n_rot_full = opt_u32(f, key("rope.dimension_count"), c.head_dim_full);
  c.n_rot_swa = opt_u32(f, key("rope.dimension_count_swa"), c.head_dim_swa);
  for (auto [rk, rot, hd] : {std::tuple{key("rope.dimension_count"), c.n_rot_full, c.head_dim_full},
                             std::tuple{key("rope.dimension_count_swa"), c.n_rot_swa, c.head_dim_swa}})
    if (rot == 0 || rot % 2 != 0 || rot > hd)
      fail(f, fmt::format("{} = {} must be even, > 0 and <= the head size {}", rk, rot, hd));
  c.rope_base_full = finite_positive(f, key("rope.freq_base"), req_f32(f, key("rope.freq_base")));
  // rope.freq_base_swa is optional: llama.cpp's gemma4 loader defaults it to 10000.
  c.rope_base_swa = f.has(key("rope.freq_base_swa"))
                        ? finite_positive(f, key("rope.freq_base_swa"), req_f32(f, key("rope.freq_base_swa")))
                        : kDefaultRopeBaseSwa;
  c.rms_eps = finite_positive(f, key("attention.layer_norm_rms_epsilon"), req_f32(f, key("attention.layer_norm_rms_epsilon")));
  if (f.has(key("final_logit_softcapping")))
    c.final_logit_softcap = finite_positive(f, key("final_logit_softcapping"),
                                            static_cast<float>(f.get_float(key("final_logit_softcapping"))), true);

  // Vocabulary size: the tokenizer's, else the embedding table's.
  if (f.has("tokenizer.ggml.tokens")) {
    c.n_vocab = to_u32(f, "tokenizer.ggml.tokens", f.array_size("tokenizer.ggml.tokens"));
  } else if (f.has(key("vocab_size"))) {
    c.n_vocab = req_u32(f, key("vocab_size"));
  } else if (const GgufTensorInfo* te = f.find_tensor("token_embd.weight")) {
    c.n_vocab = to_u32(f, "token_embd.weight ne[1]", te->ne[1]);
  }
  if (c.n_vocab == 0) fail(f, "cannot tell the vocabulary size: no tokenizer.ggml.tokens, gemma4.vocab_size or token_embd.weight");
  capped(f, "the vocabulary size", c.n_vocab, kMaxVocab);

  // Recommended sampling (general.sampling.*, written by the converter from generation_config.json).
  if (f.has("general.sampling.top_k")) {
    const int64_t k = f.get_int("general.sampling.top_k");
    if (k < 0 || k > kMaxTopK) fail(f, fmt::format("general.sampling.top_k = {} must be in 0..{}", k, kMaxTopK));
    c.sampling.top_k = static_cast<int32_t>(k);
  }
  if (f.has("general.sampling.top_p")) {
    const double p = f.get_float("general.sampling.top_p");
    if (!(p >= 0 && p <= 1)) fail(f, fmt::format("general.sampling.top_p = {} must be in [0, 1]", p));
    c.sampling.top_p = static_cast<float>(p);
  }
  if (f.has("general.sampling.temp")) {
    const double t = f.get_float("general.sampling.temp");
    if (!std::isfinite(t) || t < 0 || t > 1000)
      fail(f, fmt::format("general.sampling.temp = {} must be finite and in [0, 1000]", t));
    c.sampling.temp = static_cast<float>(t);
  }

  // Per-layer shape. The pattern is checked first: it bounds n_layer by the file's contents.
  const std::vector<bool> sliding = sliding_pattern(f, c.n_layer);
  const std::vector<uint32_t> n_head = per_layer_u32(f, key("attention.head_count"), c.n_layer, kMaxHeads);
  const std::vector<uint32_t> n_head_kv = per_layer_u32(f, key("attention.head_count_kv"), c.n_layer, kMaxHeads);
  const std::vector<uint32_t> n_ff = per_layer_u32(f, key("feed_forward_length"), c.n_layer, kMaxFf);
  c.layers.resize(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    Gemma4Layer& L = c.layers[l];
    L.is_sliding = sliding[l];
    L.head_dim = L.is_sliding ? c.head_dim_swa : c.head_dim_full;
    L.n_rot = L.is_sliding ? c.n_rot_swa : c.n_rot_full;
    L.rope_base = L.is_sliding ? c.rope_base_swa : c.rope_base_full;
    L.n_head = n_head[l];
    L.n_head_kv = n_head_kv[l];
    L.n_ff = n_ff[l];
    if (L.n_head % L.n_head_kv != 0)
      fail(f, fmt::format("layer {}: head_count {} is not a multiple of head_count_kv {}", l, L.n_head, L.n_head_kv));
    L.owns_kv = l < c.n_kv_layers;
  }
  // KV sharing: a sharing layer reads the cache of the last KV-owning layer of its kind.
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    Gemma4Layer& L = c.layers[l];
    if (L.owns_kv) {
      L.kv_source = l;
      continue;
    }
    int64_t src = -1;
    for (int64_t j = static_cast<int64_t>(c.n_kv_layers) - 1; j >= 0 && src < 0; --j)
      if (c.layers[j].is_sliding == L.is_sliding) src = j;
    const char* kind = L.is_sliding ? "sliding" : "full";
    if (src < 0)
      fail(f, fmt::format("layer {} ({}) shares a KV cache, but none of the KV-owning layers 0..{} is {}", l, kind,
                          c.n_kv_layers - 1, kind));
    L.kv_source = static_cast<uint32_t>(src);
    if (c.layers[src].n_head_kv != L.n_head_kv)
      fail(f, fmt::format("layer {} ({}) has head_count_kv {} but its KV source layer {} has {}", l, kind,
                          L.n_head_kv, src, c.layers[src].n_head_kv));
  }
  return c;
}

// ------------------------------------------------------------------------------------------------
// Weight map.

Gemma4Weights gemma4_weights_from_gguf(const GgufFile& f, const Gemma4Config& c) {
  Checker chk(f);
  Gemma4Weights w;
  const uint64_t embd = c.n_embd, ple = c.n_ple, vocab = c.n_vocab, ple_all = uint64_t{c.n_layer} * c.n_ple;
  const Kind M = Kind::Matrix, V = Kind::Vector;
  w.token_embd = chk.get("token_embd.weight", {embd, vocab}, M, true);
  w.per_layer_token_embd = chk.get("per_layer_token_embd.weight", {ple_all, vocab}, M, true);
  w.per_layer_model_proj = chk.get("per_layer_model_proj.weight", {embd, ple_all}, M, true);
  w.per_layer_proj_norm = chk.get("per_layer_proj_norm.weight", {ple}, V, true);
  w.output_norm = chk.get("output_norm.weight", {embd}, V, true);
  w.output = chk.get("output.weight", {embd, vocab}, M, false);
  const bool any_full = std::any_of(c.layers.begin(), c.layers.end(), [](const Gemma4Layer& L) { return !L.is_sliding; });
  // One factor per pair of the full head (key_length / 2, as llama.cpp's gemma4 loader and the
  // converter have it); the forward reads the first n_rot_full / 2. A table of exactly
  // n_rot_full / 2 (older synthetic files with rope.dimension_count < key_length) is accepted too.
  const uint64_t n_freqs = c.head_dim_full / 2, n_freqs_rot = c.n_rot_full / 2;
  const GgufTensorInfo* rf = f.find_tensor("rope_freqs.weight");
  w.rope_freqs = chk.get("rope_freqs.weight", {rf && rf->ne[0] == n_freqs_rot ? n_freqs_rot : n_freqs}, V, any_full);

  w.layers.resize(c.n_layer);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const Gemma4Layer& L = c.layers[l];
    Gemma4LayerWeights& lw = w.layers[l];
    const uint64_t hd = L.head_dim, q = uint64_t{L.n_head} * hd, kv = uint64_t{L.n_head_kv} * hd, ff = L.n_ff;
    auto name = [l](const char* t) { return fmt::format("blk.{}.{}.weight", l, t); };
    lw.attn_norm = chk.get(name("attn_norm"), {embd}, V, true);
    lw.attn_q = chk.get(name("attn_q"), {embd, q}, M, true);
    lw.attn_output = chk.get(name("attn_output"), {q, embd}, M, true);
    lw.attn_q_norm = chk.get(name("attn_q_norm"), {hd}, V, true);
    if (L.owns_kv) {
      lw.attn_k = chk.get(name("attn_k"), {embd, kv}, M, true);
      lw.attn_v = chk.get(name("attn_v"), {embd, kv}, M, false);  // absent: V is made from K
      lw.attn_k_norm = chk.get(name("attn_k_norm"), {hd}, V, true);
    } else {
      chk.unused_if_present(name("attn_k"), {embd, kv}, M);
      chk.unused_if_present(name("attn_v"), {embd, kv}, M);
      chk.unused_if_present(name("attn_k_norm"), {hd}, V);
    }
    lw.post_attention_norm = chk.get(name("post_attention_norm"), {embd}, V, true);
    lw.ffn_norm = chk.get(name("ffn_norm"), {embd}, V, true);
    lw.ffn_gate = chk.get(name("ffn_gate"), {embd, ff}, M, true);
    lw.ffn_up = chk.get(name("ffn_up"), {embd, ff}, M, true);
    lw.ffn_down = chk.get(name("ffn_down"), {ff, embd}, M, true);
    lw.post_ffw_norm = chk.get(name("post_ffw_norm"), {embd}, V, true);
    lw.inp_gate = chk.get(name("inp_gate"), {embd, ple}, M, true);
    lw.proj = chk.get(name("proj"), {ple, embd}, M, true);
    lw.post_norm = chk.get(name("post_norm"), {embd}, V, true);
    lw.layer_output_scale = chk.get(name("layer_output_scale"), {1}, V, false);
  }
  w.unused = chk.unused();
  // Anything else is refused: a tensor this loader does not know (per-tensor scales, a new
  // component) would otherwise be ignored and give wrong logits without an error.
  std::vector<std::string> unknown;
  for (const GgufTensorInfo* t : w.unused)
    if (!chk.known_unused(t) && !gemma4_tensor_is_multimodal(t->name)) unknown.push_back(t->name);
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 8; ++i) list += fmt::format("{}'{}'", i ? ", " : "", unknown[i]);
    if (unknown.size() > 8) list += fmt::format(" and {} more", unknown.size() - 8);
    fail(f, fmt::format("{} unknown tensor{} ({}): not part of a Gemma 4 text model; refusing to run a model "
                        "whose tensors would be ignored",
                        unknown.size(), unknown.size() == 1 ? "" : "s", list));
  }
  return w;
}

Gemma4Model load_gemma4(const GgufFile& f) {
  Gemma4Model m;
  m.config = gemma4_config_from_gguf(f);
  m.weights = gemma4_weights_from_gguf(f, m.config);
  return m;
}

// ------------------------------------------------------------------------------------------------
// Accounting.

void gemma4_for_each_weight(const Gemma4Weights& w,
                            const std::function<void(const GgufTensorInfo&, int, Residency)>& fn) {
  auto visit = [&](const GgufTensorInfo* t, int layer, Residency r = Residency::Device) {
    if (t) fn(*t, layer, r);
  };
  visit(w.token_embd, -1);
  visit(w.per_layer_token_embd, -1, Residency::HostPaged);
  visit(w.per_layer_model_proj, -1);
  visit(w.per_layer_proj_norm, -1);
  visit(w.output_norm, -1);
  visit(w.rope_freqs, -1);
  visit(w.output, -1);
  for (size_t l = 0; l < w.layers.size(); ++l) {
    const Gemma4LayerWeights& lw = w.layers[l];
    const int i = static_cast<int>(l);
    for (const GgufTensorInfo* t : {lw.attn_norm, lw.attn_q, lw.attn_k, lw.attn_v, lw.attn_output, lw.attn_q_norm,
                                    lw.attn_k_norm, lw.post_attention_norm, lw.ffn_norm, lw.ffn_gate, lw.ffn_up,
                                    lw.ffn_down, lw.post_ffw_norm, lw.inp_gate, lw.proj, lw.post_norm,
                                    lw.layer_output_scale})
      visit(t, i);
  }
}

uint64_t gemma4_kv_cache_bytes(const Gemma4Config& c, uint64_t n_ctx, uint32_t kv_elem_bytes) {
  uint64_t total = 0;
  for (const Gemma4Layer& L : c.layers) {
    if (!L.owns_kv) continue;
    const uint64_t per_pos = 2ull * L.n_head_kv * L.head_dim * kv_elem_bytes;  // K and V
    total += per_pos * (L.is_sliding ? std::min<uint64_t>(n_ctx, c.sliding_window) : n_ctx);
  }
  return total;
}

Gemma4Footprint gemma4_footprint(const Gemma4Model& m, uint32_t kv_elem_bytes) {
  Gemma4Footprint fp;
  gemma4_for_each_weight(m.weights, [&](const GgufTensorInfo& t, int, Residency r) {
    if (r == Residency::HostPaged) {
      fp.host_bytes += t.n_bytes;
      fp.host_params += t.n_elements;
    } else {
      fp.device_bytes += t.n_bytes;
      fp.device_params += t.n_elements;
    }
  });
  for (const GgufTensorInfo* t : m.weights.unused) fp.unused_bytes += t->n_bytes;
  fp.kv_elem_bytes = kv_elem_bytes;
  for (const Gemma4Layer& L : m.config.layers) {
    if (!L.owns_kv) continue;
    const uint64_t per_pos = 2ull * L.n_head_kv * L.head_dim * kv_elem_bytes;
    (L.is_sliding ? fp.kv_sliding_bytes_per_token : fp.kv_full_bytes_per_token) += per_pos;
  }
  fp.kv_full_bytes_per_1k = 1024 * fp.kv_full_bytes_per_token;
  fp.kv_sliding_ring_bytes = uint64_t{m.config.sliding_window} * fp.kv_sliding_bytes_per_token;
  return fp;
}

}  // namespace vkg
