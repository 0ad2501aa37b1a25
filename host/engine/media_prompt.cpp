#include "media_prompt.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "error.h"

namespace vkg {

const char* media_kind_name(MediaKind k) { return k == MediaKind::Image ? "image" : "audio"; }

MediaTokens find_media_tokens(const Tokenizer& tok) {
  MediaTokens t;
  t.image_begin = tok.token_id("<|image>");
  t.image_end = tok.token_id("<image|>");
  t.audio_begin = tok.token_id("<|audio>");
  t.audio_end = tok.token_id("<audio|>");
  return t;
}

uint64_t content_hash(std::span<const uint8_t> bytes, uint64_t seed) {
  uint64_t h = seed;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t content_hash(std::span<const float> values, uint64_t seed) {
  return content_hash(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()), seed);
}

int32_t soft_token_id(uint64_t hash, uint32_t i) {
  uint64_t x = hash ^ (uint64_t(i) + 1) * 0x9e3779b97f4a7c15ull;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  return -1 - static_cast<int32_t>(x & 0x7ffffffe);  // in [-2^31 + 1, -1]
}

MediaPrompt tokenize_media_prompt(const Tokenizer& tok, std::string_view text, std::span<const SoftEmbeddings> items,
                                  const MediaTokens& ids, bool add_bos) {
  std::vector<std::string_view> pieces;
  for (size_t at = 0;;) {
    const size_t m = text.find(kMediaMarker, at);
    pieces.push_back(text.substr(at, m == std::string_view::npos ? std::string_view::npos : m - at));
    if (m == std::string_view::npos) break;
    at = m + kMediaMarker.size();
  }
  const size_t n_markers = pieces.size() - 1;
  if (n_markers != items.size())
    throw Error(ErrorCode::bad_input, fmt::format("the prompt has {} media marker{} ({}) but {} image/audio input{} {} given",
                                                  n_markers, n_markers == 1 ? "" : "s", kMediaMarker, items.size(),
                                                  items.size() == 1 ? "" : "s", items.size() == 1 ? "was" : "were"));
  MediaPrompt p;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const std::vector<int32_t> t = tok.encode(pieces[k], add_bos && k == 0, /*parse_special=*/true);
    p.tokens.insert(p.tokens.end(), t.begin(), t.end());
    if (k == n_markers) break;
    const SoftEmbeddings& it = items[k];
    const bool image = it.kind == MediaKind::Image;
    const int32_t begin = image ? ids.image_begin : ids.audio_begin, end = image ? ids.image_end : ids.audio_end;
    if (begin < 0 || end < 0)
      throw Error(ErrorCode::bad_input, fmt::format("the model's vocabulary has no {} tokens ({}); it cannot take {} input",
                                                    image ? "<|image> / <image|>" : "<|audio> / <audio|>",
                                                    "looked up by text", media_kind_name(it.kind)));
    if (it.rows.size() != size_t(it.n_tokens) * it.n_embd || (!items.empty() && it.n_embd != items[0].n_embd))
      throw Error(ErrorCode::bad_input, fmt::format("{} input {} has {} floats for {} tokens of width {}",
                                                    media_kind_name(it.kind), k + 1, it.rows.size(), it.n_tokens, it.n_embd));
    p.tokens.push_back(begin);
    for (uint32_t i = 0; i < it.n_tokens; ++i) p.tokens.push_back(soft_token_id(it.hash, i));
    p.tokens.push_back(end);
    p.soft.insert(p.soft.end(), it.rows.begin(), it.rows.end());
  }
  return p;
}

size_t count_soft_tokens(std::span<const int32_t> tokens) {
  return static_cast<size_t>(std::count_if(tokens.begin(), tokens.end(), [](int32_t id) { return id < 0; }));
}

std::span<const float> soft_rows_from(std::span<const int32_t> tokens, size_t from, std::span<const float> soft,
                                      uint32_t n_embd) {
  const size_t skip = count_soft_tokens(tokens.first(std::min(from, tokens.size()))) * n_embd;
  if (skip > soft.size()) throw Error(ErrorCode::internal, "soft rows shorter than the prompt's soft positions");
  return soft.subspan(skip);
}

}  // namespace vkg
