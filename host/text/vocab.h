// The tokenizer vocabulary as GGUF stores it (tokenizer.ggml.*), independent of where it came
// from: a GGUF's metadata, or a HF tokenizer.json converted by the synthetic-model writer.
// Also the Gemma 4 rules llama.cpp applies on top of the stored types and keys (vocab.cpp):
// the end-of-generation set derived from token text, and which tokens act as control tokens.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vkg {

/// llama.cpp token types (tokenizer.ggml.token_type values).
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

/// tokenizer.ggml.* contents. Ids are indices into tokens.
struct Vocab {
  std::string model = "gemma4";          // tokenizer.ggml.model as used: "gemma4" (an Ollama
                                         // "llama" + pre "gemma4" + merges is read as "gemma4")
  std::string pre;                       // tokenizer.ggml.pre (may be empty)
  std::vector<std::string> tokens;       // tokenizer.ggml.tokens, UTF-8 pieces ("▁the", "<0x0A>")
  std::vector<float> scores;             // tokenizer.ggml.scores (may be empty)
  std::vector<TokenType> types;          // tokenizer.ggml.token_type, same length as tokens
  std::vector<std::string> merges;       // tokenizer.ggml.merges, "left right" by rank
  int32_t bos_id = 2, eos_id = 1, pad_id = 0, unk_id = 3;
  bool add_bos = true, add_eos = false;  // add_bos: whether raw text gets BOS (read_vocab forces it
                                         // on for gemma4, as llama.cpp does)
  std::optional<bool> file_add_bos;      // tokenizer.ggml.add_bos_token as the file says (nullopt: absent)
  std::vector<int32_t> eog_ids;          // end-of-generation ids. read_vocab: the full set
                                         // (end_of_generation_set); other sources may list only extras
  std::string chat_template;             // tokenizer.chat_template, may be empty
};

/// Token texts that end generation for Gemma 4 wherever they are in the vocabulary (llama.cpp's
/// rule for gemma4 files, which carry only eos_token_id = 1): <eos>, <turn|>, <|tool_response>.
inline constexpr std::array<std::string_view, 3> kGemma4EogTexts = {"<eos>", "<turn|>", "<|tool_response>"};

/// Token texts llama.cpp treats as control tokens whatever their stored type ("control-looking"):
/// the end-of-generation texts and "</s>" (which is never end of generation for Gemma 4).
inline constexpr std::array<std::string_view, 4> kGemma4ControlTexts = {"<eos>", "<turn|>", "<|tool_response>", "</s>"};

/// The end-of-generation set of v, ascending and without duplicates: eos_id, every id of
/// v.eog_ids, and every token whose text is one of kGemma4EogTexts. Ids out of range are skipped
/// (validation reports them).
std::vector<int32_t> end_of_generation_set(const Vocab& v);

/// The type a token acts as: Control for the kGemma4ControlTexts tokens, else its stored type.
/// (llama.cpp overrides those types at load and logs "control-looking token".)
TokenType effective_token_type(const Vocab& v, size_t id);

/// One-line notices about how v is used differently from what the file says (e.g. BOS forced on
/// though add_bos_token = false). Empty when there is nothing to say.
std::vector<std::string> vocab_notices(const Vocab& v);

/// The byte of a byte-fallback token text "<0xNN>" (exactly two hex digits, either case), or -1
/// when the text is not of that form ("<0x-1>", "<0xZZ>", "<0x123>").
int parse_byte_token(std::string_view text);

} // namespace vkg
