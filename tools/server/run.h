// One generation request from the handler's side: its job in the Engine, the tokens it reads back,
// and the response pieces they become (chat deltas through ChatAssembler, or raw completion text
// through StopFilter). The streamed and the non-streamed response are built from the same pieces.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "engine.h"
#include "reply_stream.h"
#include "response.h"

namespace vkg::server {

class Run {
 public:
  enum class Kind { Chat, Completion };
  /// stop_after_call: tool_choice required/named (the turn ends at the first complete call).
  Run(Kind kind, const Tokenizer& tok, ResponseMeta meta, std::vector<std::string> stops, bool stop_after_call);

  /// Text the server put into the model's turn (a forced tool-call opening); its tokens count as
  /// completion tokens. Call before start().
  void force(std::string_view text, size_t n_tokens);
  /// True when force() already ended the turn (a call fully determined): no job is needed.
  bool ended_before_start() const;
  /// Submit the job (throws QueueFull) or, when ended_before_start(), finish at once.
  void start(Engine* engine, Job job, size_t prompt_tokens);

  /// Wait up to timeout for the next event and process it. Returns the stream text it produced
  /// (SSE events when streaming; an SSE comment for a token that shows nothing, so that every
  /// token writes and a vanished client is noticed). done() afterwards: the last piece was produced.
  std::string poll(std::chrono::milliseconds timeout, bool streaming, bool include_usage);
  bool done() const { return done_; }
  /// The client is gone / we do not want more: stop the job.
  void cancel();

  /// Non-streamed response body (after done()). Throws ApiError 500 when the job failed.
  nlohmann::json response() const;
  const Usage& usage() const { return usage_; }

 private:
  std::string delta_events(const ReplyDelta& d, bool streaming);
  std::string finish(const JobEvent& end, bool streaming, bool include_usage);
  bool ended() const;

  Kind kind_;
  ResponseMeta meta_;
  ChatAssembler chat_;
  StopFilter raw_stop_;
  std::string raw_text_;
  std::shared_ptr<Channel> ch_;
  Usage usage_;
  std::string finish_reason_, error_;
  size_t calls_sent_ = 0;
  bool role_sent_ = false, done_ = false;
  std::optional<JobEvent> immediate_end_;
};

} // namespace vkg::server
