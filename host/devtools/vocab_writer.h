// Vocab (text/vocab.h) -> a GGUF's tokenizer.ggml.* metadata, for synthetic models and
// tests (devtools: not part of libvkgemma). The reader and its key list: text/gguf_vocab.h.
#pragma once
#include "gguf_writer.h"
#include "vocab.h"

namespace vkg {

/// Declare v's keys on w (before w.begin()). Ids < 0 are omitted; eog_ids[0] is written as
/// tokenizer.ggml.eot_token_id and the whole list as tokenizer.ggml.eog_token_ids;
/// add_bos_token is file_add_bos when set, else add_bos.
/// Throws GgufError if v is inconsistent (lengths, ids out of range).
void write_vocab(GgufWriter& w, const Vocab& v);

}  // namespace vkg
