// Vocab (text/vocab.h) from a GGUF's tokenizer.ggml.* metadata (the writer is devtools/vocab_writer.h).
//
// Keys read: tokenizer.ggml.model (string, required; Ollama's "llama" with .pre "gemma4" is read
// as "gemma4"), .pre (string, optional), .tokens (string array, required, non-empty),
// .scores (f32 array, optional, one per token), .token_type (i32 array, optional, one per token,
// values 0..6; absent = all Normal), .merges (string array "left right"; required for BPE models:
// gemma4, gpt2), .bos/.eos/.padding/.unknown_token_id (integers, optional: absent keeps the
// Vocab default when in range, else -1), .add_bos_token/.add_eos_token (bool, optional),
// .eot_token_id/.eom_token_id (optional), .eog_token_ids (integer array, a vkgemma extension) and
// .eos_token_ids (integer array, Ollama), tokenizer.chat_template (optional).
// Derived as llama.cpp does for Gemma 4: Vocab::eog_ids is the full end-of-generation set
// (end_of_generation_set: eos, those keys, and the tokens named <eos>, <turn|>, <|tool_response>);
// add_bos is forced on for the gemma4 tokenizer (file_add_bos keeps what the file says).
// Malformed metadata throws GgufError naming the key and the defect.
#pragma once
#include "gguf.h"
#include "vocab.h"

namespace vkg {

/// True if f carries a tokenizer (tokenizer.ggml.model is present).
bool gguf_has_vocab(const GgufFile& f);

/// Read and validate the vocabulary. Throws GgufError on malformed metadata.
Vocab read_vocab(const GgufFile& f);

/// Check v the way read_vocab checks a file (lengths, id ranges, merges of BPE models).
void validate_vocab(const Vocab& v, const std::string& source = "vocab");

}  // namespace vkg
