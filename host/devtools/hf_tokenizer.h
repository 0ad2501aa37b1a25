// HF tokenizer.json (plain or .xz) -> Vocab, the way llama.cpp's convert_hf_to_gguf.py builds the
// tokenizer.ggml.* arrays for a Gemma BPE tokenizer, plus the Gemma 4 special-token renames.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <nlohmann/json_fwd.hpp>
#include "vocab.h"
#include "error.h"

namespace vkg {

/// Thrown for unreadable / malformed tokenizer.json files (message names the file and the problem).
class HfTokenizerError : public Error {
 public:
  explicit HfTokenizerError(const std::string& what) : Error(ErrorCode::bad_model, what) {}
};

/// Which Gemma 4 names to give to ids that the Gemma 3 tokenizer.json calls something else.
enum class Gemma4Names {
  None,  ///< keep the names in the file
  Turn,  ///< only 105 -> "<|turn>", 106 -> "<turn|>" (how tokenizer_cases.jsonl was made)
  Full,  ///< all the Gemma 4 special names of gemma4_special_tokens()
};

/// Options of vocab_from_hf_json / load_hf_tokenizer.
struct HfLoadOptions {
  Gemma4Names gemma4_names = Gemma4Names::None;
  /// Number of token ids. 0 = the number of entries of model.vocab (262144 for Gemma). Added tokens
  /// with an id >= vocab_size are dropped (Gemma 3's "<image_soft_token>" = 262144 lies outside
  /// Gemma 4's 262144-row embedding). Missing ids are padded with "[PAD<id>]" typed Unused, as
  /// convert_hf_to_gguf.py does.
  int64_t vocab_size = 0;
};

/// One Gemma 4 special token: its id, its Gemma 4 name, the type we give it.
struct Gemma4SpecialToken {
  int32_t id;
  const char* name;
  TokenType type;
};

/// The Gemma 4 special tokens whose ids were established from public sources (see the comment
/// in hf_tokenizer.cpp for the evidence). Ordered by id.
std::span<const Gemma4SpecialToken> gemma4_special_tokens();

/// Rename (and retype) ids of `v` to their Gemma 4 names. Turn: 105/106 only; Full: every entry of
/// gemma4_special_tokens(). Also sets v.eog_ids to the ids of "<turn|>" and "<|tool_response>"
/// that exist in v. Throws HfTokenizerError if the vocabulary is too small to hold the ids.
void apply_gemma4_names(Vocab& v, Gemma4Names which);

/// Build a Vocab from a parsed tokenizer.json (model.type must be "BPE"). `what` names the source
/// in error messages. Tokens by id; merges "left right" by rank; types: the unk token -> Unknown,
/// "<0xNN>" -> Byte, added special -> Control, added non-special -> UserDefined, else Normal;
/// scores: -1000 for Control tokens, 0 otherwise (BPE ranks live in the merges, not the scores;
/// the -1000 on control tokens follows published Gemma 4 GGUFs); bos from the post-processor
/// (else "<bos>"), eos "<eos>", pad "<pad>", unk model.unk_token (-1 when absent); add_bos when the
/// post-processor template starts with a special token; model "gemma4".
Vocab vocab_from_hf_json(const nlohmann::json& j, const HfLoadOptions& opt = {},
                         const std::string& what = "tokenizer.json");

/// Read `path` (a tokenizer.json, xz-compressed or not: detected by the xz magic) and convert it
/// with vocab_from_hf_json. Throws HfTokenizerError on I/O, xz or JSON errors.
Vocab load_hf_tokenizer(const std::filesystem::path& path, const HfLoadOptions& opt = {});

/// The bytes of a file, xz-decompressed (via liblzma) when it starts with the xz magic.
/// Throws HfTokenizerError on I/O or decompression errors.
std::string read_file_maybe_xz(const std::filesystem::path& path);

} // namespace vkg
