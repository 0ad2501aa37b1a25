// Vocab (host/vocab.h) <-> a GGUF's tokenizer.ggml.* metadata.
//
// Keys read: tokenizer.ggml.model (string, required), .tokens (string array, required, non-empty),
// .scores (f32 array, optional, one per token), .token_type (i32 array, optional, one per token,
// values 0..6; absent = all Normal), .merges (string array "left right"; required for BPE models:
// gemma4, gpt2), .bos/.eos/.padding/.unknown_token_id (integers, optional: absent keeps the
// Vocab default when in range, else -1), .add_bos_token/.add_eos_token (bool, optional),
// .eot_token_id/.eom_token_id (optional) and .eog_token_ids (integer array, a vkgemma extension)
// merged in that order without duplicates into Vocab::eog_ids, tokenizer.chat_template (optional).
// Malformed metadata throws GgufError naming the key and the defect.
#pragma once
#include "gguf.h"
#include "gguf_writer.h"
#include "vocab.h"

namespace vkg {

/// True if f carries a tokenizer (tokenizer.ggml.model is present).
bool gguf_has_vocab(const GgufFile& f);

/// Read and validate the vocabulary. Throws GgufError on malformed metadata.
Vocab read_vocab(const GgufFile& f);

/// Declare v's keys on w (before w.begin()). Ids < 0 are omitted; eog_ids[0] is written as
/// tokenizer.ggml.eot_token_id and the whole list as tokenizer.ggml.eog_token_ids.
/// Throws GgufError if v is inconsistent (lengths, ids out of range).
void write_vocab(GgufWriter& w, const Vocab& v);

/// Check v the way read_vocab checks a file (lengths, id ranges, merges of BPE models).
void validate_vocab(const Vocab& v, const std::string& source = "vocab");

}  // namespace vkg
