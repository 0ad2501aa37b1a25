// Incremental Gemma 4 reply parser (see chat_stream.h).
#include "chat_stream.h"

#include <array>
#include <fmt/format.h>

#include "tokenizer.h"

namespace vkg {

namespace {

constexpr std::string_view kChannelOpen = "<|channel>", kChannelClose = "<channel|>";
constexpr std::string_view kCallOpen = "<|tool_call>", kCallClose = "<tool_call|>";
constexpr std::array<std::string_view, 14> kMarkers = {
    kChannelOpen, kChannelClose, kCallOpen, kCallClose, "<|tool_response>", "<tool_response|>", "<|\"|>",
    "<|tool>",    "<tool|>",     "<|turn>", "<turn|>",  "<|think|>",        "<eos>",            "<bos>"};

/// Markers that end the model's turn: the rest of the text is not part of the reply. (They are
/// end-of-generation tokens, so they only arrive here as text, e.g. in vkgemma_reply_parse input.)
/// A stray "<|turn>" is dropped like other markers: llama.cpp does not stop there either.
bool is_end(std::string_view m) { return m == "<turn|>" || m == "<eos>"; }

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

} // namespace

std::span<const std::string_view> gemma4_markers() { return kMarkers; }

ReplyParser::ReplyParser(Callback on_event, Options opt) : cb_(std::move(on_event)), opt_(opt) {}

void ReplyParser::push(std::string_view t) {
  if (state_ == State::Ended) return;
  pending_ += t;
  process(false);
}

void ReplyParser::push_token(const Tokenizer& tok, int32_t id, std::string_view piece) {
  if (id >= 0 && tok.is_special(id)) {
    const std::string& text = tok.token_text(id);
    for (std::string_view m : kMarkers)
      if (text == m) return push(text);
  }
  push(piece);
}

void ReplyParser::process(bool final) {
  const std::string_view s = pending_;
  size_t pos = 0;
  while (pos < s.size() && state_ != State::Ended) {
    const size_t lt = s.find('<', pos);
    if (lt == std::string_view::npos) {
      text(s.substr(pos));
      pos = s.size();
      break;
    }
    if (lt > pos) text(s.substr(pos, lt - pos));
    pos = lt;
    const std::string_view rest = s.substr(lt);
    std::string_view found;
    bool maybe = false;  // rest is a proper prefix of a marker: wait for more text
    for (std::string_view m : kMarkers) {
      if (rest.starts_with(m)) {
        found = m;
        break;
      }
      if (!final && m.starts_with(rest)) maybe = true;
    }
    if (!found.empty()) {
      offset_ = consumed_ + lt;
      pos += found.size();
      on_marker(found);
      continue;
    }
    if (maybe) break;
    text(s.substr(lt, 1));
    pos = lt + 1;
  }
  consumed_ += pos;
  if (state_ == State::Ended) pending_.clear();
  else pending_.erase(0, pos);
}

void ReplyParser::on_marker(std::string_view m) {
  switch (state_) {
    case State::Content:
      if (m == kChannelOpen) {
        state_ = State::ChannelLabel;
        body_.clear();
        reasoning_trim_ = {};
      } else if (m == kCallOpen) {
        state_ = State::ToolCall;
        body_.clear();
        call_offset_ = offset_;
      } else if (is_end(m)) {
        state_ = State::Ended;
      }  // any other marker outside a block is dropped
      break;
    case State::ChannelLabel:
    case State::Reasoning:
      if (m == kChannelClose || is_end(m)) {
        if (state_ == State::ChannelLabel) end_label();
        if (reasoning_trim_.started) reasoning_sep_ = true;
        state_ = is_end(m) ? State::Ended : State::Content;
      }
      break;
    case State::ToolCall:
      if (m == kCallClose || is_end(m)) {
        end_tool_call();
        state_ = is_end(m) ? State::Ended : State::Content;
      } else {
        body_ += m;  // <|"|> quotes belong to the call
      }
      break;
    case State::Ended: break;
  }
}

void ReplyParser::text(std::string_view t) {
  switch (state_) {
    case State::Content: emit(ReplyPart::Content, content_trim_, reply_.content, t); break;
    case State::Reasoning: emit(ReplyPart::Reasoning, reasoning_trim_, reply_.reasoning, t); break;
    case State::ToolCall: body_ += t; break;
    case State::ChannelLabel: {
      // "<|channel>thought\n": a first line without spaces is the channel's name, not its text.
      body_ += t;
      const size_t nl = body_.find('\n');
      const size_t sp = body_.find(' ');
      if (nl == std::string::npos && sp == std::string::npos) break;
      state_ = State::Reasoning;
      std::string b = std::move(body_);
      body_.clear();
      if (nl != std::string::npos && (sp == std::string::npos || sp > nl)) b.erase(0, nl + 1);
      text(b);
      break;
    }
    case State::Ended: break;
  }
}

void ReplyParser::emit(ReplyPart part, Trim& trim, std::string& out, std::string_view t) {
  if (part == ReplyPart::Content && !opt_.trim) {
    if (t.empty()) return;
    out += t;
    if (cb_) cb_({part, t});
    return;
  }
  if (!trim.started)
    while (!t.empty() && is_ws(t.front())) t.remove_prefix(1);
  size_t end = t.size();
  while (end > 0 && is_ws(t[end - 1])) --end;
  if (end == 0) {
    trim.held_ws += t;
    return;
  }
  std::string s;
  if (!trim.started && part == ReplyPart::Reasoning && reasoning_sep_) s = "\n";
  s += trim.held_ws;
  s += t.substr(0, end);
  trim.held_ws = std::string(t.substr(end));
  trim.started = true;
  out += s;
  if (cb_) cb_({part, s});
}

void ReplyParser::end_label() {
  // The channel closed before its first line ended: "<|channel>thought<channel|>" is empty, any
  // other single word is the text.
  std::string b = std::move(body_);
  body_.clear();
  state_ = State::Reasoning;
  if (b != "thought") text(b);
}

void ReplyParser::end_tool_call() {
  try {
    ToolCall tc = parse_tool_call(body_, call_offset_);
    reply_.tool_calls.push_back(std::move(tc));
    if (cb_) cb_({ReplyPart::ToolCall, {}, &reply_.tool_calls.back()});
  } catch (const ChatError& e) {
    reply_.errors.emplace_back(e.what());
  }
  body_.clear();
}

ParsedReply ReplyParser::finish() {
  if (state_ != State::Ended) {
    process(true);
    if (state_ == State::ChannelLabel) end_label();
    else if (state_ == State::ToolCall) end_tool_call();
    state_ = State::Ended;
  }
  pending_.clear();
  return std::move(reply_);
}

} // namespace vkg
