#include "reply_stream.h"

#include <algorithm>

namespace vkg::server {

ChatAssembler::ChatAssembler(const Tokenizer& tok, std::vector<std::string> stops, bool stop_after_call)
    : tok_(tok), stop_(std::move(stops)), stop_after_call_(stop_after_call),
      parser_([this](const ReplyEvent& e) { on_event(e); }) {}

void ChatAssembler::on_event(const ReplyEvent& e) {
  if (stop_.stopped() || (stop_after_call_ && n_calls_ > 0)) return;  // the turn is over
  switch (e.part) {
    case ReplyPart::Content: cur_.content += stop_.push(e.text); break;
    case ReplyPart::Reasoning: cur_.reasoning += e.text; break;
    case ReplyPart::ToolCall:
      cur_.calls.push_back(*e.call);
      ++n_calls_;
      break;
  }
}

ReplyDelta ChatAssembler::take() {
  ReplyDelta d = std::move(cur_);
  cur_ = {};
  total_.content += d.content;
  total_.reasoning += d.reasoning;
  total_.calls.insert(total_.calls.end(), d.calls.begin(), d.calls.end());
  return d;
}

ReplyDelta ChatAssembler::push_text(std::string_view text) {
  if (!ended()) parser_.push(text);
  return take();
}

ReplyDelta ChatAssembler::push_token(int32_t id, std::string_view piece) {
  if (!ended()) {
    if (id < 0) parser_.push(piece);  // the detokenizer's tail
    else parser_.push_token(tok_, id, piece);
  }
  return take();
}

ReplyDelta ChatAssembler::finish() {
  parser_.finish();  // emits held-back text and an unterminated call through on_event
  if (!stop_.stopped()) cur_.content += stop_.finish();
  return take();
}

} // namespace vkg::server
