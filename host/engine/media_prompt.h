// Prompts with images and audio: where the soft tokens of an encoded media item go in the token
// sequence, and how they are told apart in a session's history.
//
// Layout (llama.cpp's mtmd, MULTIMODAL.md 4.1): the prompt text holds one marker "<__media__>" per
// item; each marker becomes `<|image>` + n soft tokens + `<image|>` (audio: `<|audio>` ...
// `<audio|>`, every 30 s chunk's tokens inside one pair). The marker tokens are looked up by text
// in the model's vocabulary, never hard-coded (real Gemma 4: 255999 / 258882 / 256000 / 258883).
//
// Soft positions carry negative ids derived from the item's content hash and the position inside
// the item (soft_token_id): Gemma4Forward::eval takes any negative id as "the next soft row", and
// Session::reuse_prefix, comparing ids, reuses the KV cache of an image only when the same image
// is at the same place.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tokenizer.h"

namespace vkg {

/// The text that marks where a media item goes in a prompt (llama.cpp's default media marker).
inline constexpr std::string_view kMediaMarker = "<__media__>";

enum class MediaKind { Image, Audio };
const char* media_kind_name(MediaKind k);  // "image", "audio"

/// Ids of the media begin/end tokens in a vocabulary (-1 = absent).
struct MediaTokens {
  int32_t image_begin = -1, image_end = -1;  // <|image>, <image|>
  int32_t audio_begin = -1, audio_end = -1;  // <|audio>, <audio|>
};
/// Looks the four tokens up by their text.
MediaTokens find_media_tokens(const Tokenizer& tok);

/// One encoded media item: n_tokens rows of n_embd floats (the encoder's output, used as is).
struct SoftEmbeddings {
  MediaKind kind = MediaKind::Image;
  uint32_t n_tokens = 0;
  uint32_t n_embd = 0;
  std::vector<float> rows;  // [n_tokens][n_embd]
  uint64_t hash = 0;        // of the encoder's input (content_hash), identifies the item in a history
};

/// FNV-1a 64 of bytes (content hash for SoftEmbeddings::hash).
uint64_t content_hash(std::span<const uint8_t> bytes, uint64_t seed = 0xcbf29ce484222325ull);
uint64_t content_hash(std::span<const float> values, uint64_t seed = 0xcbf29ce484222325ull);

/// The (negative) id of soft position i of an item with this hash.
int32_t soft_token_id(uint64_t hash, uint32_t i);

/// Token ids (negative at soft positions) and the soft rows in the order of those positions.
struct MediaPrompt {
  std::vector<int32_t> tokens;
  std::vector<float> soft;  // [number of negative ids][n_embd]
};

/// Tokenize `text` (special tokens parsed; BOS per add_bos) with items[k] at the k-th marker.
/// Errors: Error(bad_input) when the markers and items disagree in number ("the prompt has 1
/// media marker but 2 images/audio clips were given"), when the vocabulary lacks the item's
/// begin/end tokens, or when items differ in width.
MediaPrompt tokenize_media_prompt(const Tokenizer& tok, std::string_view text, std::span<const SoftEmbeddings> items,
                                  const MediaTokens& ids, bool add_bos);

/// Number of soft positions (negative ids) in tokens.
size_t count_soft_tokens(std::span<const int32_t> tokens);
/// The soft rows of tokens[from..]: the prompt's rows after those of tokens[0..from).
std::span<const float> soft_rows_from(std::span<const int32_t> tokens, size_t from, std::span<const float> soft,
                                      uint32_t n_embd);

}  // namespace vkg
