#include "session.h"
#include "error.h"

#include <fmt/format.h>

#include <chrono>
#include <limits>
#include <stdexcept>

namespace vkg {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::EndOfGeneration: return "eog";
    case StopReason::MaxTokens: return "max_tokens";
    case StopReason::ContextFull: return "context_full";
    case StopReason::Cancelled: return "cancelled";
  }
  return "?";
}

Session::Session(const Model& model, SessionOptions opts)
    : model_(model),
      fwd_(model.device(), model.gemma(), model.weights(),
           ForwardOptions{.n_ctx = opts.n_ctx, .max_batch = opts.max_batch, .force_staging = opts.force_staging,
                          .matvec_split_k = opts.matvec_split_k, .soft_tokens = opts.soft_tokens}) {}

std::vector<int32_t> Session::tokenize(std::string_view text, bool parse_special, int add_bos) const {
  const auto& tok = model_.tokenizer();
  const bool bos = add_bos < 0 ? tok.vocab().add_bos : add_bos != 0;
  return tok.encode(text, bos, parse_special);
}

const std::vector<float>& Session::prefill(std::span<const int32_t> tokens, std::span<const float> soft) {
  const auto t0 = std::chrono::steady_clock::now();
  fwd_.eval(tokens, false, logits_, soft);
  record_prompt(tokens, ms_since(t0));
  return logits_;
}

void Session::record_prompt(std::span<const int32_t> tokens, double ms) {
  history_.insert(history_.end(), tokens.begin(), tokens.end());
  stats_.prefill_ms += ms;
  stats_.prompt_tokens += tokens.size();
}

namespace {
/// How many device-selected candidates the sampler needs, or 0 when it needs the full logits:
/// greedy needs 1 (argmax on the device); top-k sampling needs k; penalties (applied before top-k
/// in llama.cpp's chain) and top-k off need everything.
uint32_t device_candidates(const SamplerParams& p) {
  const bool penalties = p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
  if (penalties) return 0;
  if (p.greedy || p.temperature <= 0) return 1;
  if (p.top_k > 0 && static_cast<uint32_t>(p.top_k) <= Gemma4Forward::kMaxTopK) return static_cast<uint32_t>(p.top_k);
  return 0;
}
}  // namespace

GenerateResult Session::generate(std::span<const int32_t> prompt, const GenerateOptions& opts,
                                 const TokenCallback& on_token, std::span<const float> soft) {
  if (prompt.empty()) throw Error(ErrorCode::bad_input, "the prompt is empty (no tokens)");
  if (uint64_t(fwd_.n_past()) + prompt.size() > fwd_.n_ctx())
    throw Error(ErrorCode::bad_input, fmt::format("prompt of {} tokens does not fit the context of {} tokens ({} already used)",
                                         prompt.size(), fwd_.n_ctx(), fwd_.n_past()));
  const auto& tok = model_.tokenizer();
  Sampler sampler(opts.sampler);
  for (int32_t id : prompt)
    if (id >= 0) sampler.accept(id);  // soft tokens (images, audio) are not text
  const uint32_t k = opts.device_select && !opts.ignore_eos ? device_candidates(opts.sampler) : 0;
  std::vector<int32_t> cand_ids;
  std::vector<float> cand_vals;
  std::vector<Candidate> cands;
  // Evaluate tokens and leave what the sampler needs: full logits, or k device-selected candidates.
  auto evaluate = [&](std::span<const int32_t> toks, std::span<const float> rows) {
    if (k == 0) {
      fwd_.eval(toks, false, logits_, rows);
      return;
    }
    fwd_.eval_top_k(toks, k, cand_ids, cand_vals, rows);
    cands.resize(k);
    for (uint32_t i = 0; i < k; ++i) cands[i] = {cand_ids[i], k == 1 ? 0.0f : cand_vals[i]};
  };
  auto draw = [&]() -> int32_t {
    if (opts.ignore_eos)
      for (int32_t e : tok.vocab().eog_ids)
        if (e >= 0 && static_cast<size_t>(e) < logits_.size()) logits_[e] = -std::numeric_limits<float>::infinity();
    if (k == 0) return sampler.sample(logits_);
    if (k == 1) return cands[0].id;  // greedy: the device's argmax
    return sampler.sample(cands);
  };
  {
    const auto t0 = std::chrono::steady_clock::now();
    evaluate(prompt, soft);
    record_prompt(prompt, ms_since(t0));
  }

  GenerateResult r;
  StreamingDetokenizer detok(tok, /*render_special=*/false);
  for (int32_t i = 0; opts.n_predict < 0 || i < opts.n_predict; ++i) {
    auto ts = std::chrono::steady_clock::now();
    const int32_t id = draw();
    sampler.accept(id);
    stats_.sample_ms += ms_since(ts);
    if (tok.is_eog(id)) {
      r.stop = StopReason::EndOfGeneration;
      r.stop_token = id;
      break;
    }
    fwd_.prefetch(std::span<const int32_t>(&id, 1));  // its PLE row, while the text is streamed
    r.tokens.push_back(id);
    std::string piece = detok.push(id);
    r.text += piece;
    if (on_token && !on_token(id, piece)) {
      r.stop = StopReason::Cancelled;
      break;
    }
    if (opts.n_predict >= 0 && i + 1 >= opts.n_predict) {
      r.stop = StopReason::MaxTokens;
      break;
    }
    if (fwd_.n_past() >= fwd_.n_ctx()) {
      r.stop = StopReason::ContextFull;
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    evaluate(std::span<const int32_t>(&id, 1), {});
    history_.push_back(id);
    stats_.decode_ms += ms_since(t0);
    stats_.generated_tokens++;
  }
  std::string tail = detok.flush();
  if (!tail.empty()) {
    r.text += tail;
    if (on_token) on_token(-1, tail);
  }
  return r;
}

void Session::reset() {
  fwd_.reset();
  history_.clear();
}

std::span<const int32_t> Session::reuse_prefix(std::span<const int32_t> full) {
  size_t k = 0;
  while (k < history_.size() && k < full.size() && history_[k] == full[k]) ++k;
  if (k == full.size() && k > 0) --k;  // re-evaluate the last token to get its logits
  if (k < history_.size()) {
    if (fwd_.truncate(static_cast<uint32_t>(k))) {
      history_.resize(k);
    } else {
      reset();
      k = 0;
    }
  }
  return full.subspan(k);
}

SessionStats Session::stats() const {
  SessionStats s = stats_;
  s.ple = fwd_.ple_stats();
  s.stream = fwd_.stream_stats();
  s.session_device_bytes = fwd_.session_bytes();
  return s;
}

} // namespace vkg
