// Parsing of Gemma 4 model output: argument values, <|tool_call> blocks, thought channels.
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "chat.h"
#include "chat_stream.h"

namespace vkg {

namespace {

using json = nlohmann::json;
constexpr std::string_view kQ = "<|\"|>";
constexpr std::string_view kCallOpen = "<|tool_call>";
constexpr std::string_view kCallClose = "<tool_call|>";

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ws(s.back())) s.remove_suffix(1);
  return s;
}

/// A bare token: true/false, None/null, a number, else the text itself.
json bare_value(std::string_view t) {
  if (t == "true") return true;
  if (t == "false") return false;
  if (t == "None" || t == "null") return nullptr;
  if (!t.empty()) {
    const char* b = t.data();
    const char* e = t.data() + t.size();
    const char* nb = (*b == '+') ? b + 1 : b;
    int64_t i = 0;
    if (auto r = std::from_chars(nb, e, i); r.ec == std::errc() && r.ptr == e) return i;
    uint64_t u = 0;
    if (auto r = std::from_chars(nb, e, u); r.ec == std::errc() && r.ptr == e) return u;
    const bool numeric_start = (*nb >= '0' && *nb <= '9') || *nb == '-' || *nb == '.';
    double d = 0;
    if (auto r = std::from_chars(nb, e, d); numeric_start && r.ec == std::errc() && r.ptr == e) return d;
  }
  return std::string(t);
}

class ValueParser {
 public:
  explicit ValueParser(std::string_view s) : s_(s) {}

  json parse_all() {
    json v = value();
    skip_ws();
    if (p_ != s_.size()) fail("unexpected text after the value");
    return v;
  }

  json value() {
    skip_ws();
    if (p_ >= s_.size()) fail("expected a value");
    if (s_.substr(p_).starts_with(kQ)) return quoted();
    const char c = s_[p_];
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return json_string();
    const size_t start = p_;
    while (p_ < s_.size() && s_[p_] != ',' && s_[p_] != '}' && s_[p_] != ']' && !s_.substr(p_).starts_with(kQ)) ++p_;
    return bare_value(trim_ws(s_.substr(start, p_ - start)));
  }

  size_t pos() const { return p_; }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw ChatError(fmt::format("Gemma 4 value: {} at offset {} in \"{}\"", what, p_, s_));
  }
  void skip_ws() {
    while (p_ < s_.size() && is_ws(s_[p_])) ++p_;
  }
  json quoted() {
    p_ += kQ.size();
    const size_t end = s_.find(kQ, p_);
    if (end == std::string_view::npos) fail("unterminated <|\"|> string");
    json v = std::string(s_.substr(p_, end - p_));
    p_ = end + kQ.size();
    return v;
  }
  json json_string() {
    size_t q = p_ + 1;
    while (q < s_.size() && s_[q] != '"') q += s_[q] == '\\' ? 2 : 1;
    if (q >= s_.size()) fail("unterminated \"string\"");
    try {
      json v = json::parse(s_.substr(p_, q + 1 - p_));
      p_ = q + 1;
      return v;
    } catch (const json::exception&) {
      fail("bad \"string\"");
    }
  }
  std::string key() {
    skip_ws();
    if (s_.substr(p_).starts_with(kQ)) {
      std::string k = quoted().get<std::string>();
      skip_ws();
      return k;
    }
    if (p_ < s_.size() && s_[p_] == '"') return json_string().get<std::string>();
    const size_t start = p_;
    while (p_ < s_.size() && s_[p_] != ':' && s_[p_] != ',' && s_[p_] != '}') ++p_;
    const std::string_view k = trim_ws(s_.substr(start, p_ - start));
    if (k.empty()) fail("expected a key");
    return std::string(k);
  }
  json object() {
    ++p_;  // {
    json obj = json::object();
    skip_ws();
    if (p_ < s_.size() && s_[p_] == '}') {
      ++p_;
      return obj;
    }
    while (true) {
      std::string k = key();
      skip_ws();
      if (p_ >= s_.size() || s_[p_] != ':') fail("expected ':' after a key");
      ++p_;
      obj[k] = value();
      skip_ws();
      if (p_ < s_.size() && s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == '}') {
        ++p_;
        return obj;
      }
      fail("expected ',' or '}' in an object");
    }
  }
  json array() {
    ++p_;  // [
    json arr = json::array();
    skip_ws();
    if (p_ < s_.size() && s_[p_] == ']') {
      ++p_;
      return arr;
    }
    while (true) {
      arr.push_back(value());
      skip_ws();
      if (p_ < s_.size() && s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == ']') {
        ++p_;
        return arr;
      }
      fail("expected ',' or ']' in an array");
    }
  }

  std::string_view s_;
  size_t p_ = 0;
};

} // namespace

json parse_gemma4_value(std::string_view text) { return ValueParser(text).parse_all(); }

ToolCall parse_tool_call(std::string_view body, size_t offset) {
  std::string_view b = trim_ws(body);
  if (!b.starts_with("call:"))
    throw ChatError(fmt::format("tool call at offset {}: expected \"call:NAME{{...}}\", got \"{}\"", offset, body));
  b.remove_prefix(5);
  const size_t brace = b.find('{');
  if (brace == std::string_view::npos)
    throw ChatError(fmt::format("tool call at offset {}: no '{{' after the function name", offset));
  ToolCall tc;
  tc.name = std::string(trim_ws(b.substr(0, brace)));
  if (tc.name.empty()) throw ChatError(fmt::format("tool call at offset {}: empty function name", offset));
  try {
    tc.arguments = ValueParser(b.substr(brace)).parse_all();
  } catch (const ChatError& e) {
    throw ChatError(fmt::format("tool call '{}' at offset {}: {}", tc.name, offset, e.what()));
  }
  return tc;
}

std::vector<ToolCall> parse_tool_calls(std::string_view text) {
  std::vector<ToolCall> calls;
  for (size_t pos = text.find(kCallOpen); pos != std::string_view::npos; pos = text.find(kCallOpen, pos)) {
    const size_t body = pos + kCallOpen.size();
    size_t end = text.find(kCallClose, body);
    const size_t body_end = end == std::string_view::npos ? text.size() : end;
    calls.push_back(parse_tool_call(text.substr(body, body_end - body), pos));
    pos = end == std::string_view::npos ? text.size() : end + kCallClose.size();
  }
  return calls;
}

ParsedReply parse_model_reply(std::string_view text) {
  ReplyParser p;
  p.push(text);
  ParsedReply r = p.finish();
  if (!r.errors.empty()) throw ChatError(r.errors.front());
  return r;
}

} // namespace vkg
