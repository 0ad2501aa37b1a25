// The GGUF metadata keys of a vocabulary (tokenizer.ggml.*), shared by the reader
// (text/gguf_vocab.cpp) and the writer (devtools/vocab_writer.cpp). Names from the GGUF spec
// (ggml docs/gguf.md, "Tokenizer") plus the Ollama and vkgemma extensions marked below.
#pragma once
#include <string_view>

namespace vkg::gguf_vocab_keys {
inline constexpr std::string_view kModel = "tokenizer.ggml.model";
inline constexpr std::string_view kPre = "tokenizer.ggml.pre";
inline constexpr std::string_view kTokens = "tokenizer.ggml.tokens";
inline constexpr std::string_view kScores = "tokenizer.ggml.scores";
inline constexpr std::string_view kTypes = "tokenizer.ggml.token_type";
inline constexpr std::string_view kMerges = "tokenizer.ggml.merges";
inline constexpr std::string_view kBos = "tokenizer.ggml.bos_token_id";
inline constexpr std::string_view kEos = "tokenizer.ggml.eos_token_id";
inline constexpr std::string_view kPad = "tokenizer.ggml.padding_token_id";
inline constexpr std::string_view kUnk = "tokenizer.ggml.unknown_token_id";
inline constexpr std::string_view kEot = "tokenizer.ggml.eot_token_id";
inline constexpr std::string_view kEom = "tokenizer.ggml.eom_token_id";
inline constexpr std::string_view kEogList = "tokenizer.ggml.eog_token_ids";  // vkgemma extension
inline constexpr std::string_view kEosList = "tokenizer.ggml.eos_token_ids";  // Ollama
inline constexpr std::string_view kAddBos = "tokenizer.ggml.add_bos_token";
inline constexpr std::string_view kAddEos = "tokenizer.ggml.add_eos_token";
inline constexpr std::string_view kTemplate = "tokenizer.chat_template";
}  // namespace vkg::gguf_vocab_keys
