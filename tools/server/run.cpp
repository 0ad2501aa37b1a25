#include "run.h"

namespace vkg::server {

using nlohmann::json;

Run::Run(Kind kind, const Tokenizer& tok, ResponseMeta meta, std::vector<std::string> stops, bool stop_after_call)
    : kind_(kind), meta_(std::move(meta)), chat_(tok, stops, stop_after_call), raw_stop_(stops) {}

void Run::force(std::string_view text, size_t n_tokens) {
  usage_.completion_tokens += n_tokens;
  ReplyDelta d = chat_.push_text(text);  // pieces are picked up by the first poll() (total())
  (void)d;
}

bool Run::ended() const { return kind_ == Kind::Chat ? chat_.ended() : raw_stop_.stopped(); }

bool Run::ended_before_start() const { return ended(); }

void Run::start(Engine* engine, Job job, size_t prompt_tokens) {
  usage_.prompt_tokens = prompt_tokens;
  if (ended_before_start()) {
    JobEvent e{.kind = JobEvent::End};
    e.stop = StopReason::EndOfGeneration;
    immediate_end_ = e;
    return;
  }
  ch_ = std::make_shared<Channel>();
  job.channel = ch_;
  engine->submit(std::move(job));
}

void Run::cancel() {
  if (ch_) ch_->cancel();
}

std::string Run::delta_events(const ReplyDelta& d, bool streaming) {
  if (!streaming || d.empty()) return {};
  json delta = chat_delta_json(d, meta_.id, calls_sent_);
  calls_sent_ += d.calls.size();
  return sse(chat_chunk_json(meta_, delta));
}

std::string Run::poll(std::chrono::milliseconds timeout, bool streaming, bool include_usage) {
  std::string out;
  if (done_) return out;
  if (streaming && !role_sent_) {
    role_sent_ = true;
    if (kind_ == Kind::Chat) {
      out += sse(chat_chunk_json(meta_, {{"role", "assistant"}, {"content", ""}}));
      out += delta_events(chat_.total(), streaming);  // forced text (a tool call already complete)
    }
  }
  std::optional<JobEvent> e;
  if (immediate_end_) e = std::move(immediate_end_), immediate_end_.reset();
  else if (ch_) e = ch_->next(timeout);
  if (!e) return out;
  if (e->kind == JobEvent::Token) {
    if (ended()) return out;  // the turn is over; the job ends at its next step
    if (e->id >= 0) ++usage_.completion_tokens;
    if (kind_ == Kind::Chat) {
      out += delta_events(chat_.push_token(e->id, e->piece), streaming);
    } else {
      std::string t = raw_stop_.push(e->piece);
      raw_text_ += t;
      if (streaming && !t.empty()) out += sse(completion_json(meta_, t, {}, nullptr));
    }
    if (ended() && ch_) ch_->cancel();
    // A token that shows nothing yet (markup, a tool call being written) still writes an SSE
    // comment line, which clients ignore: a write is how a vanished client is noticed.
    if (streaming && out.empty()) out = ":\n\n";
    return out;
  }
  out += finish(*e, streaming, include_usage);
  return out;
}

std::string Run::finish(const JobEvent& end, bool streaming, bool include_usage) {
  done_ = true;
  usage_.cached_tokens = end.cached_tokens;
  std::string out;
  if (!end.error.empty()) {
    error_ = end.error;
    if (streaming) out += sse(error_json(ApiError(500, "generation failed: " + end.error)));
    return out;
  }
  bool has_calls = false;
  if (kind_ == Kind::Chat) {
    const bool stopped = chat_.ended();
    out += delta_events(chat_.finish(), streaming);
    has_calls = !chat_.total().calls.empty();
    finish_reason_ = has_calls ? "tool_calls" : stopped ? "stop" : "";
  } else {
    const bool stopped = raw_stop_.stopped();
    std::string t = raw_stop_.finish();
    raw_text_ += t;
    if (streaming && !t.empty()) out += sse(completion_json(meta_, t, {}, nullptr));
    finish_reason_ = stopped ? "stop" : "";
  }
  if (finish_reason_.empty())
    finish_reason_ = end.stop == StopReason::MaxTokens || end.stop == StopReason::ContextFull ? "length" : "stop";
  if (streaming) {
    if (kind_ == Kind::Chat) {
      out += sse(chat_chunk_json(meta_, json::object(), finish_reason_));
      if (include_usage) out += sse(chat_usage_chunk_json(meta_, usage_));
    } else {
      out += sse(completion_json(meta_, "", finish_reason_, include_usage ? &usage_ : nullptr));
    }
    out += kSseDone;
  }
  return out;
}

json Run::response() const {
  if (!error_.empty()) throw ApiError(500, "generation failed: " + error_);
  if (kind_ == Kind::Chat) return chat_completion_json(meta_, chat_.total(), finish_reason_, usage_);
  return completion_json(meta_, raw_text_, finish_reason_, &usage_);
}

} // namespace vkg::server
