// Gemma 4 tokenizer over a Vocab (tokenizer.ggml.model = "gemma4"): SentencePiece-style BPE as in
// llama.cpp's LLAMA_VOCAB_PRE_TYPE_GEMMA4 / HF tokenizers' BPE with byte fallback.
//
// encode(text):
//  1. Added tokens are cut out first, leftmost-longest (HF semantics): UserDefined tokens always,
//     Control and Unknown tokens only when parse_special. They are matched on the raw text.
//     Types are the effective ones (vocab.h effective_token_type): like llama.cpp, "<eos>",
//     "<turn|>", "<|tool_response>" and "</s>" act as Control whatever the file stores (real
//     files type <eos> and </s> NORMAL, <|tool_response> USER_DEFINED).
//     (llama.cpp instead cuts the longest added tokens out first, over the whole text; the two
//     only differ when added tokens overlap, which tokenizer_cases.jsonl does not exercise.)
//  2. In each remaining fragment ' ' becomes U+2581 "▁" (no dummy prefix), then the fragment is
//     split into runs of '\n' and runs of everything else (llama.cpp regex "[^\n]+|[\n]+"); a
//     newline run that is itself a token is emitted whole.
//  3. Each run is BPE-merged over its UTF-8 characters: the adjacent pair with the lowest merge
//     rank first (leftmost on ties), via a priority queue of candidate pairs.
//  4. A final symbol that is not a token (a character absent from the vocabulary) becomes its
//     bytes as <0xNN> tokens (unk when a byte token is missing; dropped if there is no unk either).
// Invalid UTF-8 input is accepted: each stray byte is a one-byte "character" (-> byte fallback).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include "error.h"
#include "vocab.h"

namespace vkg {

/// Errors of the tokenizer (bad arguments at encode/decode time).
class TokenizerError : public Error {
 public:
  explicit TokenizerError(const std::string& what) : Error(ErrorCode::bad_input, what) {}

 protected:
  TokenizerError(ErrorCode code, const std::string& what) : Error(code, what) {}
};

/// A Vocab the tokenizer cannot use (message says which field and index is wrong). Code: bad_model.
class VocabError : public TokenizerError {
 public:
  explicit VocabError(const std::string& what) : TokenizerError(ErrorCode::bad_model, what) {}
};

/// Immutable, thread-safe (const methods), cheap to copy (shares its tables).
class Tokenizer {
 public:
  /// Validates `v` and builds the lookup tables. Throws VocabError when: model is not "gemma4";
  /// a BYTE-typed token's text is not exactly "<0x" + two hex digits + ">";
  /// tokens is empty; types/scores length differs from tokens (scores may be empty); a type value
  /// is outside 0..6; merges is empty; a merge is not "left right", names an unknown token, or
  /// merges into a string that is not a token; bos/eos/pad/unk or an eog id is out of range
  /// (-1 = none is allowed); add_bos is set without a bos id.
  explicit Tokenizer(const Vocab& v);

  /// Token ids of `text`. add_bos prepends bos_id (throws TokenizerError if there is none);
  /// parse_special lets Control/Unknown token text (e.g. "<|turn>") become those tokens.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  /// Text of `ids`: pieces with "▁" -> ' ', byte tokens rebuilt into their UTF-8 characters.
  /// Control/Unknown/Unused tokens are rendered as their text when render_special, else skipped.
  /// The result is always valid UTF-8 (an ill-formed byte sequence becomes U+FFFD).
  /// Throws TokenizerError for an id out of range.
  std::string decode(std::span<const int32_t> ids, bool render_special = true) const;

  /// The bytes a token contributes to decoded text (Byte tokens: their single raw byte, which may
  /// be half a character). Control/Unknown/Unused tokens give their text. Throws for a bad id.
  const std::string& piece(int32_t id) const;
  /// True if the token is skipped by decode(..., render_special = false).
  bool is_special(int32_t id) const;

  /// The vocabulary string of a token ("▁the", "<0x0A>", "<|turn>"). Throws for a bad id.
  const std::string& token_text(int32_t id) const;
  /// The id of a vocabulary string, or -1 (duplicates: the highest id wins, as in llama.cpp).
  int32_t token_id(std::string_view text) const;
  /// The type stored in the vocabulary.
  TokenType token_type(int32_t id) const;
  /// The type the token acts as (effective_token_type: Control for <eos>, </s>, ... whatever
  /// is stored). Throws for a bad id.
  TokenType acts_as(int32_t id) const;

  size_t n_vocab() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t pad_id() const;
  int32_t unk_id() const;
  /// True for the end-of-generation set (generation stops there): eos_id, Vocab::eog_ids and the
  /// tokens named <eos>, <turn|>, <|tool_response> (never </s>), as llama.cpp derives it.
  bool is_eog(int32_t id) const;
  /// That set, ascending (end_of_generation_set of the vocabulary).
  const std::vector<int32_t>& eog_ids() const;
  const Vocab& vocab() const;

  struct Impl;

 private:
  std::shared_ptr<const Impl> impl_;
};

/// Turns ids, one at a time, into text, emitting only complete UTF-8 characters: a byte-fallback
/// character split over several <0xNN> tokens appears once its last byte arrives. Ill-formed byte
/// sequences become U+FFFD, so the output is always valid UTF-8.
class StreamingDetokenizer {
 public:
  /// render_special: emit Control/Unknown/Unused tokens as their text (else they are skipped).
  explicit StreamingDetokenizer(const Tokenizer& tok, bool render_special = false);
  /// Feed one id; returns the text that became complete (possibly empty). Throws for a bad id.
  std::string push(int32_t id);
  /// End of stream: a pending incomplete character is returned as U+FFFD.
  std::string flush();
  /// Drop any pending bytes.
  void reset();
  /// Bytes held back waiting for the rest of a character (0..3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  Tokenizer tok_;
  bool render_special_;
  std::string pending_;
};

/// Append to `out` the valid UTF-8 prefix of `in` (ill-formed subsequences -> U+FFFD, maximal-
/// subpart policy). Returns how many bytes at the end of `in` were left because they are an
/// incomplete (but so far valid) character; with final = true those become one U+FFFD too.
size_t utf8_sanitize_append(std::string_view in, std::string& out, bool final);

} // namespace vkg
