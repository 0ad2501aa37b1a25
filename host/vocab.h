// The tokenizer vocabulary as GGUF stores it (tokenizer.ggml.*), independent of where it came
// from: a GGUF's metadata, or a HF tokenizer.json converted by the synthetic-model writer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vkg {

/// llama.cpp token types (tokenizer.ggml.token_type values).
enum class TokenType : int32_t {
  Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

/// tokenizer.ggml.* contents. Ids are indices into tokens.
struct Vocab {
  std::string model = "gemma4";          // tokenizer.ggml.model
  std::vector<std::string> tokens;       // tokenizer.ggml.tokens, UTF-8 pieces ("▁the", "<0x0A>")
  std::vector<float> scores;             // tokenizer.ggml.scores (may be empty)
  std::vector<TokenType> types;          // tokenizer.ggml.token_type, same length as tokens
  std::vector<std::string> merges;       // tokenizer.ggml.merges, "left right" by rank
  int32_t bos_id = 2, eos_id = 1, pad_id = 0, unk_id = 3;
  bool add_bos = true, add_eos = false;
  std::vector<int32_t> eog_ids;          // extra end-of-generation ids (e.g. <turn|>), may be empty
  std::string chat_template;             // tokenizer.chat_template, may be empty
};

} // namespace vkg
