// Which known chat template a GGUF's tokenizer.chat_template is, by a fingerprint of its
// normalised text (the official templates' text is not embedded, only their FNV-1a 64 hashes).
//
// Known: Google's Gemma 4 templates (Apache-2.0), the E2B/E4B one (generation prompt ends at
// "<|turn>model\n" with thinking off) and the 12B/26B/31B one (adds an empty thought block).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace vkg {

enum class KnownTemplate { None, Gemma4Small, Gemma4Large };

/// Normalisation before hashing: CRLF -> LF, leading and trailing whitespace removed.
std::string normalize_chat_template(std::string_view text);
/// FNV-1a 64 of normalize_chat_template(text).
uint64_t chat_template_fingerprint(std::string_view text);
/// The known template text equals (after normalisation), or None.
KnownTemplate identify_chat_template(std::string_view text);
/// "Gemma 4 E2B/E4B", "Gemma 4 12B/26B/31B", or "unknown".
const char* known_template_name(KnownTemplate t);

}  // namespace vkg
