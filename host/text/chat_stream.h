// Incremental parsing of a Gemma 4 model turn while it is generated: the thought channel
// (<|channel>thought\n ... <channel|>), tool calls (<|tool_call>call:NAME{...}<tool_call|>) and the
// answer are told apart as the text arrives, so a caller can stream the answer without ever showing
// markup. parse_model_reply() (chat.h) is this parser run over a whole text.
//
//   ReplyParser p([](ReplyEvent e) { if (e.part == ReplyPart::Content) fputs(e.text...); });
//   session.generate(prompt, opts, [&](int32_t id, std::string_view piece) {
//     p.push_token(tokenizer, id, piece); return !p.ended(); });
//   ParsedReply reply = p.finish();
//
// Markers are matched on text. Text that may be the start of a marker ("<", "<|chan") is held
// back until the next piece decides it, so a marker split over several pieces is never shown.
#pragma once
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat.h"

namespace vkg {

class Tokenizer;

/// Which part of a reply a streamed piece belongs to.
enum class ReplyPart {
  Content,    ///< the answer
  Reasoning,  ///< text of a thought channel
  ToolCall,   ///< a complete tool call (ReplyEvent::call set, text empty)
};

/// One streamed piece. text is valid only during the callback.
struct ReplyEvent {
  ReplyPart part;
  std::string_view text;
  const ToolCall* call = nullptr;  ///< ToolCall events only
};

/// Every markup string the parser knows (channel, tool, turn markers, "<eos>"): none of them ever
/// reaches Content or Reasoning.
std::span<const std::string_view> gemma4_markers();

class ReplyParser {
 public:
  using Callback = std::function<void(const ReplyEvent&)>;

  struct Options {
    /// Trim whitespace at both ends of the answer and of each thought channel (as
    /// parse_model_reply does). false: the answer is the text minus markup, byte for byte
    /// (`vkgemma run --raw`).
    bool trim = true;
  };

  explicit ReplyParser(Callback on_event = nullptr) : ReplyParser(std::move(on_event), Options{}) {}
  ReplyParser(Callback on_event, Options opt);

  /// Feed generated text (any split, even inside a marker or a UTF-8 character).
  void push(std::string_view text);

  /// Feed one generated token: its piece as the session's detokenizer gave it (special tokens
  /// skipped), except that a token whose text is a Gemma 4 marker is fed as that text whatever its
  /// token type, so parsing does not depend on the file typing markers CONTROL or USER_DEFINED.
  void push_token(const Tokenizer& tok, int32_t id, std::string_view piece);

  /// True once an end marker (<turn|> or <eos> as text) was seen; later text is ignored.
  bool ended() const { return state_ == State::Ended; }

  /// End of input: held-back text is resolved, a tool call without its closing <tool_call|> is
  /// parsed up to the end. Returns the whole reply (content, reasoning, tool calls, and errors:
  /// one message per malformed tool call, which is left out of tool_calls). Call once.
  ParsedReply finish();

 private:
  enum class State { Content, ChannelLabel, Reasoning, ToolCall, Ended };
  /// One trimmed stream (the answer, or the current thought channel).
  struct Trim {
    bool started = false;   // non-whitespace text was emitted
    std::string held_ws;    // trailing whitespace not emitted yet
  };

  void process(bool final);
  void on_marker(std::string_view marker);
  void text(std::string_view t);          // text in the current state
  void emit(ReplyPart part, Trim& trim, std::string& out, std::string_view t);
  void end_tool_call();
  void end_label();

  Callback cb_;
  Options opt_;
  State state_ = State::Content;
  std::string pending_;  // not processed yet (a possible marker prefix at its end)
  std::string body_;     // label or tool-call text being collected
  size_t call_offset_ = 0;  // where the current tool call began
  size_t offset_ = 0;       // where the marker being handled began
  size_t consumed_ = 0;  // bytes processed so far (offsets in error messages)
  Trim content_trim_, reasoning_trim_;
  bool reasoning_sep_ = false;  // a "\n" goes before the next channel's text
  ParsedReply reply_;
};

} // namespace vkg
