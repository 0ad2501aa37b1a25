// A generation session on a loaded model: its own KV cache (Gemma4Forward), sampler and
// statistics. The prefill/decode loop used by the CLI and the C API alike.
//
//   Session s(model, {.n_ctx = 4096});
//   auto r = s.generate(s.tokenize("Why is the sky blue?"), {.n_predict = 64},
//                       [](int32_t id, std::string_view text) { fputs(text...); return true; });
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "forward.h"
#include "model.h"
#include "sampler.h"

namespace vkg {

struct SessionOptions {
  uint32_t n_ctx = 4096;       // context length in tokens
  uint32_t max_batch = 512;    // prefill chunk
  bool force_staging = false;  // PLE rows through staging + transfer queue even on UMA
  int matvec_split_k = -1;     // ForwardOptions::matvec_split_k (-1: the device's choice)
  bool soft_tokens = false;    // ForwardOptions::soft_tokens: prompts may hold images/audio (media_prompt.h)
};

struct GenerateOptions {
  int32_t n_predict = 128;     // max new tokens (< 0: until end of generation or context)
  SamplerParams sampler;       // temperature <= 0 or greedy: argmax
  /// Let the device select the candidates (argmax for greedy, top-k otherwise) when the sampler
  /// allows it (no penalties, top_k in 1..256): 1 MB less readback per token at E2B size. The
  /// tokens are the same as with full logits; false forces the full-logits path.
  bool device_select = true;
  /// Never stop at an end-of-generation token: their logits are set to -inf before sampling
  /// (llama.cpp's --ignore-eos), so generation runs to n_predict, the context's end or a
  /// cancel. Uses the full-logits path.
  bool ignore_eos = false;
};

enum class StopReason { EndOfGeneration, MaxTokens, ContextFull, Cancelled };
const char* stop_reason_name(StopReason r);

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (the end-of-generation token excluded)
  std::string text;             // their text
  StopReason stop = StopReason::MaxTokens;
  /// The end-of-generation token that stopped generation (stop == EndOfGeneration; it is not in
  /// tokens), else -1. Which one matters: <turn|> ends the turn, <|tool_response> hands over to
  /// a tool, <eos> ends the text.
  int32_t stop_token = -1;
};

/// Timings and counters since the session was created (or reset_stats()).
struct SessionStats {
  uint64_t prompt_tokens = 0, generated_tokens = 0;
  double prefill_ms = 0, decode_ms = 0, sample_ms = 0;
  double prefill_tok_s() const { return prefill_ms > 0 ? prompt_tokens * 1000.0 / prefill_ms : 0; }
  double decode_tok_s() const { return decode_ms > 0 ? generated_tokens * 1000.0 / decode_ms : 0; }
  PleStats ple;
  StreamStats stream;              // layer streaming (zero when every layer is resident)
  uint64_t session_device_bytes = 0;
};

/// Called with each new token and its text (complete UTF-8 only; may be empty while a
/// character is incomplete). Return false to stop.
using TokenCallback = std::function<bool(int32_t id, std::string_view text)>;

class Session {
 public:
  Session(const Model& model, SessionOptions opts = {});

  /// Token ids of text (BOS per the model's add_bos unless add_bos is given; special token text
  /// such as "<|turn>" is parsed when parse_special).
  std::vector<int32_t> tokenize(std::string_view text, bool parse_special = true, int add_bos = -1) const;

  /// Evaluate prompt tokens (appended to the history) and return the last token's logits.
  /// soft: the rows of the negative (soft) ids in tokens (Gemma4Forward::eval, media_prompt.h).
  const std::vector<float>& prefill(std::span<const int32_t> tokens, std::span<const float> soft = {});
  /// Prefill `prompt` then sample up to n_predict tokens, streaming them to on_token. Stops at an
  /// end-of-generation token (the tokenizer's eos / eog ids), n_predict, or a full context.
  /// Errors: std::runtime_error when the prompt does not fit the context (nothing evaluated).
  GenerateResult generate(std::span<const int32_t> prompt, const GenerateOptions& opts, const TokenCallback& on_token,
                          std::span<const float> soft = {});

  /// Forget the history (KV positions restart at 0); statistics are kept.
  void reset();
  /// For re-rendered conversations: keep the longest evaluated prefix shared with `full` (the
  /// whole conversation's tokens) and return the part of `full` still to evaluate.
  std::span<const int32_t> reuse_prefix(std::span<const int32_t> full);
  /// Tokens evaluated so far (prompt and generated, in order).
  const std::vector<int32_t>& history() const { return history_; }
  uint32_t n_past() const { return fwd_.n_past(); }
  uint32_t n_ctx() const { return fwd_.n_ctx(); }
  SessionStats stats() const;
  const Model& model() const { return model_; }
  const Gemma4Forward& forward() const { return fwd_; }

 private:
  void record_prompt(std::span<const int32_t> tokens, double ms);  // history + prefill statistics

  const Model& model_;
  Gemma4Forward fwd_;
  std::vector<float> logits_;
  std::vector<int32_t> history_;
  SessionStats stats_;
};

} // namespace vkg
