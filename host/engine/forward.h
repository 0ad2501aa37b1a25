// The Gemma 4 forward pass on Vulkan (DESIGN.md §2, §4): prompt in, logits out, with the device
// weight set resident, PLE rows paged in behind the computation, and a per-session KV cache.
//
//   DeviceWeights w = upload_weights(dev, model);            // once per model
//   Gemma4Forward fwd(dev, model, w, {.n_ctx = 4096});        // once per session
//   fwd.eval(prompt_ids, /*all_logits=*/false, logits);      // prefill in chunks
//   fwd.eval({next_id}, false, logits);                      // decode
//
// Each step's command list is recorded once per (batch size, PLE slot, logits rows) and replayed:
// token ids and positions live in small host-visible buffers rewritten before each submit.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "device_weights.h"
#include "gemma4_config.h"
#include "kv_cache.h"
#include "layer_streamer.h"
#include "ops.h"
#include "ple_pager.h"
#include "session_plan.h"
#include "stream.h"

namespace vkg {

class Device;


/// Counters since construction.
struct ForwardStats {
  uint64_t steps = 0, tokens = 0, dispatches = 0, recordings = 0;
};

class Gemma4Forward {
 public:
  Gemma4Forward(Device& dev, const Gemma4Model& model, const DeviceWeights& weights, ForwardOptions opts = {});
  ~Gemma4Forward();
  Gemma4Forward(const Gemma4Forward&) = delete;
  Gemma4Forward& operator=(const Gemma4Forward&) = delete;

  /// Evaluate tokens at positions n_past() .. n_past()+n-1 (in chunks of max_batch).
  /// logits receives [n, n_vocab] (all_logits) or [1, n_vocab] (the last token's) floats.
  /// Soft tokens (image/audio, needs ForwardOptions::soft_tokens): a negative id marks a position
  /// whose input embedding is the next row of `soft` ([n_negative, n_embd] f32, used as is: no
  /// sqrt(n_embd) scale) and whose per-layer embedding is token 0's row (MULTIMODAL.md 4.2-4.3);
  /// attention stays causal (Hugging Face's E2B/E4B behaviour).
  /// Errors: Error(bad_input) when the tokens would run past n_ctx ("N tokens at position P do not
  /// fit the context of C tokens"), an id is outside the vocabulary, or the soft rows do not
  /// match the negative ids; nothing is evaluated then.
  void eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits,
            std::span<const float> soft = {});
  /// Evaluate like eval() but select the last token's k best logits on the device (argmax for
  /// k = 1) and read back only those: ids and values, best first (ties: lower id first).
  /// k <= kMaxTopK. Used for greedy and top-k sampling (1 MB less traffic per token at E2B size).
  static constexpr uint32_t kMaxTopK = kMaxDeviceTopK;
  void eval_top_k(std::span<const int32_t> tokens, uint32_t k, std::vector<int32_t>& ids, std::vector<float>& vals,
                  std::span<const float> soft = {});
  /// Hint: the next eval() starts with these tokens. Their PLE rows are gathered on the pager's
  /// host thread meanwhile (decode: call it as soon as the next token is sampled).
  void prefetch(std::span<const int32_t> tokens) {
    tokens = tokens.first(std::min<size_t>(tokens.size(), opts_.max_batch));
    for (int32_t id : tokens)
      if (id < 0) return;  // soft tokens: staged by eval itself
    pager_->prefetch(tokens);
  }
  /// Forget everything evaluated (positions restart at 0).
  void reset() { n_past_ = 0; }
  /// Keep only positions < n; the next eval continues at n. Safe when at most max_batch
  /// positions are dropped (the sliding-window ring still holds the window before n); returns
  /// false (and changes nothing) otherwise, and the caller should reset() and re-evaluate.
  bool truncate(uint32_t n);
  uint32_t n_past() const { return n_past_; }
  uint32_t n_ctx() const { return opts_.n_ctx; }
  uint32_t n_vocab() const { return model_.config.n_vocab; }
  const ForwardStats& stats() const { return stats_; }
  const PleStats& ple_stats() const { return pager_->stats(); }
  /// Layer streaming counters (all zero when every layer is resident).
  StreamStats stream_stats() const { return streamer_ ? streamer_->stats() : StreamStats{}; }
  const LayerStreamer* streamer() const { return streamer_.get(); }
  const KvCache& kv() const { return *kv_; }
  const Ops& ops() const { return *ops_; }
  /// With ForwardOptions::profile: GPU milliseconds per op kind ("matmul.ffn_gate", "attention", ...)
  /// summed over all steps so far (each op's time includes its barrier).
  const std::map<std::string, double>& profile() const { return profile_; }
  /// Device-local bytes of this session (KV cache + scratch activations + PLE slots + streaming
  /// window): its arena, exactly.
  uint64_t session_bytes() const { return session_bytes_; }
  /// The buffers a session with these options creates, in order (KV cache, PLE slots, the
  /// streaming window of `window_slot` bytes per slot when non-zero, activations): allocated as
  /// one Arena of memory_layout() of them.
  static std::vector<BufferRequest> session_buffers(Device& dev, const Gemma4Model& m, ForwardOptions opts,
                                                    uint64_t window_slot = 0);
  /// Device-local bytes a session with these options allocates, without the streaming window
  /// (KV cache, activations, PLE slots), exactly: what Model::load reserves for one session.
  static uint64_t estimate_session_bytes(Device& dev, const Gemma4Model& m, ForwardOptions opts);

 private:
  struct Scratch;
  void check_tokens(std::span<const int32_t> tokens, std::span<const float> soft) const;
  void step(std::span<const int32_t> tokens, uint32_t pos0, uint32_t logit_rows, float* logits_out,
            uint32_t top_k = 0, const float* soft = nullptr);
  /// A step is one command list, or with layer streaming one for the resident part and one per
  /// streamed layer (submitted as that layer's weights arrive).
  struct Segment {
    std::unique_ptr<CommandList> cl;
    int32_t layer = -1;  // the streamed layer this list computes, or -1
  };
  std::vector<Segment>& recording(uint32_t T, uint32_t slot, uint32_t logit_rows, uint32_t top_k, bool soft);
  void record_head(CommandList& cl, uint32_t T, uint32_t slot, bool soft);
  void record_tail(CommandList& cl, uint32_t T, uint32_t logit_rows, uint32_t top_k);
  void record_layer(CommandList& cl, uint32_t l, uint32_t T, uint32_t slot);
  void sync(CommandList& cl, const char* label);  // barrier (+ timestamp when profiling)
  void collect_profile(const CommandList& cl);
  /// Stall accounting from the start/end timestamps of every segment: GPU idle before a
  /// streamed layer's list (waiting for its upload) and before a step whose PLE copy it waited
  /// on. Steps are collected in submission order once complete.
  struct Pending {
    std::vector<Segment>* segments;
    uint64_t value;  // compute timeline value of the step's last segment
    uint32_t ple_slot;
    bool ple_copy;   // the step waited on a PLE transfer
  };
  void collect_timing(size_t keep);  // collect pending steps until at most `keep` remain
  std::deque<Pending> pending_;
  double last_end_ns_ = 0;

  Device& dev_;
  const Gemma4Model& model_;
  const DeviceWeights& w_;
  ForwardOptions opts_;
  std::unique_ptr<Ops> ops_;
  std::unique_ptr<KvCache> kv_;
  Stream compute_;
  std::unique_ptr<PlePager> pager_;
  std::unique_ptr<LayerStreamer> streamer_;  // destroyed before compute_
  std::unique_ptr<Scratch> s_;
  std::map<std::tuple<uint32_t, uint32_t, uint32_t, uint32_t, bool>, std::vector<Segment>> lists_;
  uint32_t n_past_ = 0;
  uint64_t session_bytes_ = 0;
  ForwardStats stats_;
  std::map<const CommandList*, std::vector<std::string>> labels_;  // profiling: label of each timestamp
  std::map<std::string, double> profile_;
};

} // namespace vkg
