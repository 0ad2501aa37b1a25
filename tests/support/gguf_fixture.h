// Test fixture: a tiny but structurally complete Gemma 4 GGUF built with GgufWriter (every E-model
// feature: PLE, sliding + full layers, KV sharing, double-wide FFN, different head dims, GQA,
// rope_freqs, layer_output_scale, tokenizer). Tests edit the public fields before bytes().
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>
#include "gguf.h"
#include "gguf_vocab.h"
#include "vocab_writer.h"
#include "gguf_writer.h"

namespace vkg::test {

// Re-declare one KV of f on w, whatever its type.
inline void copy_kv(const GgufFile& f, const GgufKv& kv, GgufWriter& w) {
  const std::string& k = kv.key;
  if (!kv.is_array()) {
    switch (kv.type) {
      case GgufType::U8: return w.add_u8(k, f.get_u8(k));
      case GgufType::I8: return w.add_i8(k, f.get_i8(k));
      case GgufType::U16: return w.add_u16(k, f.get_u16(k));
      case GgufType::I16: return w.add_i16(k, f.get_i16(k));
      case GgufType::U32: return w.add_u32(k, f.get_u32(k));
      case GgufType::I32: return w.add_i32(k, f.get_i32(k));
      case GgufType::U64: return w.add_u64(k, f.get_u64(k));
      case GgufType::I64: return w.add_i64(k, f.get_i64(k));
      case GgufType::F32: return w.add_f32(k, f.get_f32(k));
      case GgufType::F64: return w.add_f64(k, f.get_f64(k));
      case GgufType::Bool: return w.add_bool(k, f.get_bool(k));
      case GgufType::String: return w.add_string(k, f.get_string_view(k));
      default: throw GgufError("copy_kv: unexpected type");
    }
  }
  switch (kv.elem_type) {
    case GgufType::U8: return w.add_array(k, f.get_array<uint8_t>(k));
    case GgufType::I8: return w.add_array(k, f.get_array<int8_t>(k));
    case GgufType::U16: return w.add_array(k, f.get_array<uint16_t>(k));
    case GgufType::I16: return w.add_array(k, f.get_array<int16_t>(k));
    case GgufType::U32: return w.add_array(k, f.get_array<uint32_t>(k));
    case GgufType::I32: return w.add_array(k, f.get_array<int32_t>(k));
    case GgufType::U64: return w.add_array(k, f.get_array<uint64_t>(k));
    case GgufType::I64: return w.add_array(k, f.get_array<int64_t>(k));
    case GgufType::F32: return w.add_array(k, f.get_array<float>(k));
    case GgufType::F64: return w.add_array(k, f.get_array<double>(k));
    case GgufType::Bool: return w.add_bool_array(k, f.get_array<bool>(k));
    case GgufType::String: return w.add_string_array(k, f.get_string_array(k));
    default: throw GgufError("copy_kv: unexpected element type");
  }
}

/// f rewritten: its keys except those in `drop` (same order and types), then `extra`'s keys, then
/// its tensors with the same data. E.g. a golden file with one key changed.
inline std::vector<uint8_t> rewrite_gguf(const GgufFile& f, const std::set<std::string>& drop,
                                         const std::function<void(GgufWriter&)>& extra = {}) {
  GgufWriter w;
  for (const GgufKv& kv : f.kvs())
    if (!drop.count(kv.key)) copy_kv(f, kv, w);
  if (extra) extra(w);
  for (const GgufTensorInfo& t : f.tensors()) w.add_tensor(t.name, t.type, std::span<const uint64_t>(t.ne.data(), t.n_dims));
  std::vector<uint8_t> out;
  w.begin(out);
  for (const GgufTensorInfo& t : f.tensors()) w.write(t.data, static_cast<size_t>(t.n_bytes));
  w.finish();
  return out;
}

/// f rewritten with its keys, without the tensors in `drop_tensors`, plus F32 tensors `extra`
/// (name -> values, 1-D) appended. E.g. a golden file missing a tensor, or with an unknown one.
inline std::vector<uint8_t> rewrite_gguf_tensors(const GgufFile& f, const std::set<std::string>& drop_tensors,
                                                 const std::vector<std::pair<std::string, std::vector<float>>>& extra = {}) {
  GgufWriter w;
  for (const GgufKv& kv : f.kvs()) copy_kv(f, kv, w);
  for (const GgufTensorInfo& t : f.tensors())
    if (!drop_tensors.count(t.name)) w.add_tensor(t.name, t.type, std::span<const uint64_t>(t.ne.data(), t.n_dims));
  for (const auto& [name, v] : extra) w.add_tensor(name, GgmlType::F32, {uint64_t(v.size())});
  std::vector<uint8_t> out;
  w.begin(out);
  for (const GgufTensorInfo& t : f.tensors())
    if (!drop_tensors.count(t.name)) w.write(t.data, static_cast<size_t>(t.n_bytes));
  for (const auto& [name, v] : extra) w.write(v.data(), v.size() * 4);
  w.finish();
  return out;
}

/// Deterministic bytes (xorshift), so tests never depend on a global RNG.
inline void fill_pseudo_random(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    p[i] = static_cast<uint8_t>(x >> 24);
  }
}

struct TensorDecl {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<uint64_t> ne;
};

struct TinyGemma4 {
  uint32_t n_layer = 4, n_embd = 32, n_ple = 8, n_vocab = 16, hd_swa = 16, hd_full = 32;
  uint32_t n_head = 2, n_head_kv = 1, window = 4, shared = 2, ctx = 256;
  std::vector<uint32_t> n_ff{32, 32, 64, 64};
  std::vector<bool> sliding{true, false, true, false};  // layers 2, 3 read layers 0, 1
  GgmlType matrix_type = GgmlType::F32;
  std::set<std::string> omit_keys;                       // keys left out of the file
  std::function<void(GgufWriter&)> extra_keys;           // more keys (after the standard ones)
  std::function<void(Vocab&)> edit_vocab;                // applied to vocab() before it is written
  std::vector<TensorDecl> tensors;                       // filled by the constructor; edit freely

  TinyGemma4() { declare_tensors(); }

  /// A 16-token vocabulary the tokenizer accepts: <pad> <eos> <bos> (Control) <unk> (Unknown),
  /// then a b ab ▁ ▁ab c d e f g h \n (Normal); merges "a b", "▁ ab".
  static Vocab tokenizer_vocab() {
    Vocab v;
    v.model = "gemma4";
    v.tokens = {"<pad>", "<eos>", "<bos>", "<unk>", "a", "b", "ab", "\xE2\x96\x81", "\xE2\x96\x81" "ab",
                "c", "d", "e", "f", "g", "h", "\n"};
    v.types.assign(v.tokens.size(), TokenType::Normal);
    v.types[0] = v.types[1] = v.types[2] = TokenType::Control;
    v.types[3] = TokenType::Unknown;
    v.scores.assign(v.tokens.size(), 0.0f);
    v.merges = {"a b", "\xE2\x96\x81 ab"};
    return v;
  }

  Vocab vocab() const {
    Vocab v;
    v.model = "gemma4";
    for (uint32_t i = 0; i < n_vocab; ++i) v.tokens.push_back(i < 4 ? std::string("<s") + char('0' + i) + ">" : std::string(1, char('a' + i)));
    v.scores.assign(n_vocab, 0.0f);
    v.types.assign(n_vocab, TokenType::Normal);
    for (int i = 0; i < 4; ++i) v.types[i] = TokenType::Control;
    v.merges = {"a b", "c d"};
    v.eog_ids = {1};
    v.chat_template = "{{ messages }}";
    return v;
  }

  void declare_tensors() {
    tensors.clear();
    const GgmlType m = matrix_type, f = GgmlType::F32;
    const uint64_t e = n_embd, ple_all = uint64_t{n_layer} * n_ple;
    auto add = [&](std::string n, GgmlType t, std::vector<uint64_t> ne) { tensors.push_back({std::move(n), t, std::move(ne)}); };
    add("token_embd.weight", m, {e, n_vocab});
    add("per_layer_token_embd.weight", m, {ple_all, n_vocab});
    add("per_layer_model_proj.weight", m, {e, ple_all});
    add("per_layer_proj_norm.weight", f, {n_ple});
    add("rope_freqs.weight", f, {hd_full / 2});
    for (uint32_t l = 0; l < n_layer; ++l) {
      const uint64_t hd = sliding[l] ? hd_swa : hd_full, q = n_head * hd, kv = n_head_kv * hd;
      const bool owns = l < n_layer - shared;
      auto b = [l](const char* s) { return "blk." + std::to_string(l) + "." + s + ".weight"; };
      add(b("attn_norm"), f, {e});
      add(b("attn_q"), m, {e, q});
      if (owns) add(b("attn_k"), m, {e, kv});
      if (owns) add(b("attn_v"), m, {e, kv});
      add(b("attn_output"), m, {q, e});
      add(b("attn_q_norm"), f, {hd});
      if (owns) add(b("attn_k_norm"), f, {hd});
      add(b("post_attention_norm"), f, {e});
      add(b("ffn_norm"), f, {e});
      add(b("ffn_gate"), m, {e, n_ff[l]});
      add(b("ffn_up"), m, {e, n_ff[l]});
      add(b("ffn_down"), m, {n_ff[l], e});
      add(b("post_ffw_norm"), f, {e});
      add(b("inp_gate"), m, {e, n_ple});
      add(b("proj"), m, {n_ple, e});
      add(b("post_norm"), f, {e});
      add(b("layer_output_scale"), f, {1});
    }
    add("output_norm.weight", f, {e});
  }

  TensorDecl* find(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  void erase(const std::string& name) { std::erase_if(tensors, [&](const TensorDecl& t) { return t.name == name; }); }

  void declare(GgufWriter& w) const {
    auto keep = [&](const char* k) { return !omit_keys.count(k); };
    if (keep("general.architecture")) w.add_string("general.architecture", "gemma4");
    if (keep("general.name")) w.add_string("general.name", "tiny-test");
    if (keep("general.alignment")) w.add_u32("general.alignment", 32);
    if (keep("gemma4.block_count")) w.add_u32("gemma4.block_count", n_layer);
    if (keep("gemma4.context_length")) w.add_u32("gemma4.context_length", ctx);
    if (keep("gemma4.embedding_length")) w.add_u32("gemma4.embedding_length", n_embd);
    if (keep("gemma4.embedding_length_per_layer_input")) w.add_u32("gemma4.embedding_length_per_layer_input", n_ple);
    if (keep("gemma4.feed_forward_length")) w.add_array<uint32_t>("gemma4.feed_forward_length", n_ff);
    if (keep("gemma4.attention.head_count")) w.add_u32("gemma4.attention.head_count", n_head);
    if (keep("gemma4.attention.head_count_kv")) w.add_u32("gemma4.attention.head_count_kv", n_head_kv);
    if (keep("gemma4.attention.key_length")) w.add_u32("gemma4.attention.key_length", hd_full);
    if (keep("gemma4.attention.value_length")) w.add_u32("gemma4.attention.value_length", hd_full);
    if (keep("gemma4.attention.key_length_swa")) w.add_u32("gemma4.attention.key_length_swa", hd_swa);
    if (keep("gemma4.attention.value_length_swa")) w.add_u32("gemma4.attention.value_length_swa", hd_swa);
    if (keep("gemma4.rope.dimension_count")) w.add_u32("gemma4.rope.dimension_count", hd_full);
    if (keep("gemma4.rope.dimension_count_swa")) w.add_u32("gemma4.rope.dimension_count_swa", hd_swa);
    if (keep("gemma4.rope.freq_base")) w.add_f32("gemma4.rope.freq_base", 1e6f);
    if (keep("gemma4.rope.freq_base_swa")) w.add_f32("gemma4.rope.freq_base_swa", 1e4f);
    if (keep("gemma4.attention.layer_norm_rms_epsilon")) w.add_f32("gemma4.attention.layer_norm_rms_epsilon", 1e-6f);
    if (keep("gemma4.attention.sliding_window")) w.add_u32("gemma4.attention.sliding_window", window);
    if (keep("gemma4.attention.sliding_window_pattern")) w.add_bool_array("gemma4.attention.sliding_window_pattern", sliding);
    if (keep("gemma4.attention.shared_kv_layers")) w.add_u32("gemma4.attention.shared_kv_layers", shared);
    if (keep("gemma4.final_logit_softcapping")) w.add_f32("gemma4.final_logit_softcapping", 30.0f);
    if (keep("tokenizer")) {
      Vocab v = vocab();
      if (edit_vocab) edit_vocab(v);
      write_vocab(w, v);
    }
    if (extra_keys) extra_keys(w);
    for (const auto& t : tensors) w.add_tensor(t.name, t.type, t.ne);
  }

  std::vector<uint8_t> bytes(uint64_t seed = 1) const {
    GgufWriter w;
    declare(w);
    std::vector<uint8_t> out, buf;
    w.begin(out);
    for (size_t i = 0; i < w.tensors().size(); ++i) {
      buf.resize(static_cast<size_t>(w.tensors()[i].n_bytes));
      fill_pseudo_random(buf.data(), buf.size(), seed + i);
      w.write(buf.data(), buf.size());
    }
    w.finish();
    return out;
  }
};

}  // namespace vkg::test
