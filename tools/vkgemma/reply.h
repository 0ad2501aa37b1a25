// Showing a model turn on the terminal (`run`, `chat`): the answer streamed to stdout with the
// markup filtered out, tool calls as JSON lines, reasoning only on request and visibly marked.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat.h"
#include "chat_stream.h"
#include "session.h"
#include "stop_filter.h"
#include "tokenizer.h"

namespace vkg::cli {

/// Streams one generated turn:
///  * the answer (ReplyPart::Content) to stdout as it arrives;
///  * each tool call to stdout as one line `[tool_call] {"name": ..., "arguments": {...}}`;
///  * the reasoning, when show_reasoning, to stderr between "[reasoning]" and "[/reasoning]"
///    lines (never on stdout, so a pipe gets the answer only); otherwise it is not shown.
/// Nothing is printed when print is false (`run --json`).
/// Stop strings (`--stop`, as llama.cpp's): the answer ends where it first contains one of them;
/// neither the string nor what follows is shown or kept in the parsed turn. Answer text that
/// could be the start of a stop string is held back until it is known not to be.
class ReplyPrinter {
 public:
  ReplyPrinter(const Tokenizer& tok, bool show_reasoning, bool print, bool trim = true,
               std::vector<std::string> stops = {});
  /// Session::generate's token callback: returns false once the turn's end marker or a stop
  /// string was seen.
  bool on_token(int32_t id, std::string_view piece);
  /// End of the turn: ends open lines, warns (stderr) about malformed tool calls; the parsed turn.
  ParsedReply finish();
  /// A stop string ended the answer.
  bool stopped() const { return stop_.stopped(); }

 private:
  void on_event(const ReplyEvent& e);
  void end_reasoning();
  void content(std::string_view text);   // answer text, through the stop-string check
  void write_content(std::string_view text);

  const Tokenizer& tok_;
  bool show_reasoning_, print_;
  ReplyParser parser_;
  bool in_reasoning_ = false;   // "[reasoning]" printed, "[/reasoning]" not yet
  bool stdout_mid_line_ = false;
  std::vector<std::string> stops_;
  StopFilter stop_;             // the answer text through the stop strings
};

/// "eog <turn|> (106)", "max_tokens", ... : why generation stopped (and on which token).
std::string stop_description(const Tokenizer& tok, const GenerateResult& r);

/// run --json / chat fields for the stop: {"stop": ..., "stop_token": id | null, "stop_token_text": ...}.
void add_stop_json(nlohmann::json& j, const Tokenizer& tok, const GenerateResult& r);

/// Tool declarations from a JSON file (an array of {"type": "function", "function": {...}}, the
/// OpenAI / Hugging Face format). Throws std::runtime_error naming the file and the problem.
nlohmann::json load_tools(const std::string& path);

/// The assistant message for the history (OpenAI style, what format_chat reads back): content,
/// tool_calls with ids "call_<first_id + i>", and the reasoning when the turn made tool calls
/// (the template renders reasoning only for those; for a plain answer it is left out).
nlohmann::json assistant_message(const ParsedReply& reply, size_t first_id);

} // namespace vkg::cli
