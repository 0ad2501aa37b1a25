#include "gguf_vocab.h"
#include "gguf_vocab_keys.h"

#include <algorithm>
#include <fmt/format.h>

namespace vkg {
namespace {
using namespace gguf_vocab_keys;
constexpr int64_t kMaxTokenType = static_cast<int64_t>(TokenType::Byte);

bool is_bpe(std::string_view model) { return model == "gemma4" || model == "gpt2"; }

// A merge is "left right": split at the first space after the first byte (as llama.cpp does).
bool valid_merge(const std::string& m) {
  const size_t sp = m.find(' ', 1);
  return !m.empty() && sp != std::string::npos && sp + 1 < m.size();
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw GgufError(fmt::format("{}: malformed tokenizer metadata: {}", source, what));
}

void check_id(const std::string& src, std::string_view key, int64_t id, size_t n_tokens) {
  if (id < 0 || static_cast<uint64_t>(id) >= n_tokens)
    fail(src, fmt::format("{} = {} is out of range (the vocabulary has {} tokens)", key, id, n_tokens));
}
}  // namespace

bool gguf_has_vocab(const GgufFile& f) { return f.has(kModel); }

void validate_vocab(const Vocab& v, const std::string& src) {
  const size_t n = v.tokens.size();
  if (v.model.empty()) fail(src, fmt::format("{} is empty", kModel));
  if (n == 0) fail(src, fmt::format("{} is missing or empty", kTokens));
  if (!v.scores.empty() && v.scores.size() != n)
    fail(src, fmt::format("{} has {} entries but {} has {}", kScores, v.scores.size(), kTokens, n));
  if (v.types.size() != n)
    fail(src, fmt::format("{} has {} entries but {} has {}", kTypes, v.types.size(), kTokens, n));
  for (size_t i = 0; i < n; ++i) {
    const auto t = static_cast<int64_t>(v.types[i]);
    if (t < 0 || t > kMaxTokenType)
      fail(src, fmt::format("{}[{}] = {} is not a token type (0..{})", kTypes, i, t, kMaxTokenType));
  }
  if (is_bpe(v.model) && v.merges.empty())
    fail(src, fmt::format("{} is missing or empty but model '{}' is BPE", kMerges, v.model));
  for (size_t i = 0; i < v.merges.size(); ++i)
    if (!valid_merge(v.merges[i]))
      fail(src, fmt::format("{}[{}] = '{}' is not of the form 'left right'", kMerges, i, v.merges[i]));
  const std::pair<std::string_view, int32_t> ids[] = {{kBos, v.bos_id}, {kEos, v.eos_id}, {kPad, v.pad_id}, {kUnk, v.unk_id}};
  for (const auto& [key, id] : ids)
    if (id >= 0) check_id(src, key, id, n);
  for (int32_t id : v.eog_ids) check_id(src, kEogList, id, n);
}

Vocab read_vocab(const GgufFile& f) {
  const std::string& src = f.source();
  Vocab v;
  if (!f.has(kModel)) fail(src, fmt::format("{} is missing", kModel));
  v.model = f.get_string(kModel);
  if (f.has(kPre)) v.pre = f.get_string(kPre);
  // Ollama writes its Gemma 4 vocabularies as model "llama" with pre "gemma4" and BPE merges:
  // the same tokenizer.
  if (v.model == "llama" && v.pre == "gemma4") v.model = "gemma4";
  if (!f.has(kTokens)) fail(src, fmt::format("{} is missing", kTokens));
  v.tokens = f.get_string_array(kTokens);
  const size_t n = v.tokens.size();
  if (f.has(kScores)) v.scores = f.get_array<float>(kScores);
  if (f.has(kTypes)) {
    const std::vector<int64_t> types = f.get_int_array(kTypes);
    if (types.size() != n) fail(src, fmt::format("{} has {} entries but {} has {}", kTypes, types.size(), kTokens, n));
    v.types.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > kMaxTokenType)
        fail(src, fmt::format("{}[{}] = {} is not a token type (0..{})", kTypes, i, types[i], kMaxTokenType));
      v.types[i] = static_cast<TokenType>(types[i]);
    }
  } else {
    v.types.assign(n, TokenType::Normal);
  }
  if (f.has(kMerges)) v.merges = f.get_string_array(kMerges);

  // Special ids: present keys must be in range; absent ones keep the default if it fits.
  auto read_id = [&](std::string_view key, int32_t& id) {
    if (f.has(key)) {
      const int64_t x = f.get_int(key);
      check_id(src, key, x, n);
      id = static_cast<int32_t>(x);
    } else if (id >= 0 && static_cast<size_t>(id) >= n) {
      id = -1;
    }
  };
  read_id(kBos, v.bos_id);
  read_id(kEos, v.eos_id);
  read_id(kPad, v.pad_id);
  read_id(kUnk, v.unk_id);
  auto add_eog = [&](std::string_view key, int64_t id) {
    check_id(src, key, id, n);
    if (std::find(v.eog_ids.begin(), v.eog_ids.end(), id) == v.eog_ids.end())
      v.eog_ids.push_back(static_cast<int32_t>(id));
  };
  if (f.has(kEot)) add_eog(kEot, f.get_int(kEot));
  if (f.has(kEom)) add_eog(kEom, f.get_int(kEom));
  for (std::string_view list : {kEogList, kEosList})
    if (f.has(list))
      for (int64_t id : f.get_int_array(list)) add_eog(list, id);
  if (f.has(kAddBos)) v.file_add_bos = f.get_bool(kAddBos);
  v.add_bos = v.file_add_bos.value_or(v.add_bos);
  // llama.cpp forces BOS on for the gemma4 tokenizer whatever the file says (files converted
  // before 2026-04-06 say false; quality degrades badly without it).
  if (v.model == "gemma4") v.add_bos = true;
  if (v.add_bos && v.bos_id < 0) v.add_bos = false;
  if (f.has(kAddEos)) v.add_eos = f.get_bool(kAddEos);
  if (f.has(kTemplate)) v.chat_template = f.get_string(kTemplate);
  validate_vocab(v, src);
  v.eog_ids = end_of_generation_set(v);  // keys + eos + Gemma 4's end-of-generation token texts
  return v;
}

}  // namespace vkg
