// Gemma 4 vocabulary rules on top of the stored metadata. See vocab.h.
#include "vocab.h"

#include <algorithm>

namespace vkg {

namespace {
template <size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}
}  // namespace

std::vector<int32_t> end_of_generation_set(const Vocab& v) {
  const auto n = static_cast<int64_t>(v.tokens.size());
  std::vector<int32_t> out;
  auto add = [&](int64_t id) {
    if (id >= 0 && id < n) out.push_back(static_cast<int32_t>(id));
  };
  add(v.eos_id);
  for (int32_t id : v.eog_ids) add(id);
  for (int64_t i = 0; i < n; ++i)
    if (one_of(v.tokens[i], kGemma4EogTexts)) add(i);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TokenType effective_token_type(const Vocab& v, size_t id) {
  if (id < v.tokens.size() && one_of(v.tokens[id], kGemma4ControlTexts)) return TokenType::Control;
  return id < v.types.size() ? v.types[id] : TokenType::Normal;
}

std::vector<std::string> vocab_notices(const Vocab& v) {
  std::vector<std::string> out;
  if (v.add_bos && v.file_add_bos == false)
    out.push_back(
        "the file says tokenizer.ggml.add_bos_token = false; BOS is added to raw prompts anyway (as llama.cpp does "
        "for Gemma 4: quality degrades badly without it)");
  return out;
}

int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace vkg
