// Chat template fingerprints. See template_id.h.
#include "template_id.h"

namespace vkg {

namespace {
// chat_template_fingerprint of ../shared/reference/gemma-4-E2B-chat-template.jinja (16317
// normalised bytes) and gemma-4-31B-chat-template.jinja (16447).
constexpr uint64_t kGemma4SmallHash = 0x9c363b945b2badb4ull;
constexpr uint64_t kGemma4LargeHash = 0xecf8ed96903a3852ull;
}  // namespace

std::string normalize_chat_template(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  size_t b = 0, e = out.size();
  while (b < e && ws(out[b])) ++b;
  while (e > b && ws(out[e - 1])) --e;
  return out.substr(b, e - b);
}

uint64_t chat_template_fingerprint(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : normalize_chat_template(text)) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

KnownTemplate identify_chat_template(std::string_view text) {
  const uint64_t h = chat_template_fingerprint(text);
  if (h == kGemma4SmallHash) return KnownTemplate::Gemma4Small;
  if (h == kGemma4LargeHash) return KnownTemplate::Gemma4Large;
  return KnownTemplate::None;
}

const char* known_template_name(KnownTemplate t) {
  switch (t) {
    case KnownTemplate::Gemma4Small: return "Gemma 4 E2B/E4B";
    case KnownTemplate::Gemma4Large: return "Gemma 4 12B/26B/31B";
    case KnownTemplate::None: break;
  }
  return "unknown";
}

}  // namespace vkg
