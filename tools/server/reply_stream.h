// A generated reply turned into the pieces an OpenAI response carries: answer text, reasoning
// (reasoning_content) and tool calls, delta by delta as tokens arrive, with stop strings applied.
// The non-streamed response is built from the same deltas, so the streamed text equals the
// non-streamed text for the same tokens.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat.h"
#include "chat_stream.h"
#include "stop_filter.h"
#include "tokenizer.h"

namespace vkg::server {

/// What one token (or the end) added to the reply.
struct ReplyDelta {
  std::string content, reasoning;
  std::vector<ToolCall> calls;
  bool empty() const { return content.empty() && reasoning.empty() && calls.empty(); }
};

/// A chat turn, parsed while it is generated (ReplyParser: thought channel, tool calls, answer).
class ChatAssembler {
 public:
  /// stop_after_call: the turn ends at its first complete tool call (tool_choice required/named).
  ChatAssembler(const Tokenizer& tok, std::vector<std::string> stops, bool stop_after_call);
  /// Text the server wrote into the model's turn itself (a forced "<|tool_call>call:NAME{").
  ReplyDelta push_text(std::string_view text);
  ReplyDelta push_token(int32_t id, std::string_view piece);
  /// End of generation: held-back text and an unterminated tool call. Call once.
  ReplyDelta finish();
  /// The turn is over: end marker, stop string, or (stop_after_call) a tool call.
  bool ended() const { return parser_.ended() || stop_.stopped() || (stop_after_call_ && n_calls_ > 0); }
  /// A stop string ended the answer.
  bool stopped_by_string() const { return stop_.stopped(); }
  /// Everything emitted so far (the non-streamed response).
  const ReplyDelta& total() const { return total_; }

 private:
  void on_event(const ReplyEvent& e);
  ReplyDelta take();

  const Tokenizer& tok_;
  StopFilter stop_;
  bool stop_after_call_;
  size_t n_calls_ = 0;
  ReplyParser parser_;
  ReplyDelta cur_, total_;
};

} // namespace vkg::server
