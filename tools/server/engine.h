// The scheduler: one engine thread owns all device work. It keeps N slots (Sessions with their own
// KV cache, sharing one loaded Model) and a bounded FIFO queue of jobs. Each round it gives every
// active slot one step: a prefill chunk (at most max_batch prompt tokens) or one decoded token,
// so concurrent requests all progress token by token (round robin). A job goes to the free slot
// whose last history shares the longest prefix with its prompt; that prefix is not evaluated
// again (Session::reuse_prefix).
//
// HTTP handler threads submit() a Job and read its tokens from the returned Channel; cancelling
// the channel (client gone, stop string seen) ends the job before its next token.
#pragma once
#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "model.h"
#include "session.h"

namespace vkg::server {

/// What one job produces, in order: tokens, then one end.
struct JobEvent {
  enum Kind { Token, End } kind = Token;
  int32_t id = -1;        ///< Token: the token (-1: the detokenizer's final tail)
  std::string piece;      ///< Token: its text (complete UTF-8)
  // End:
  StopReason stop = StopReason::MaxTokens;
  int32_t stop_token = -1;
  uint32_t cached_tokens = 0;  ///< prompt tokens not evaluated (prefix reuse)
  std::string error;      ///< non-empty: the job failed (device error)
};

/// The link between a job's producer (engine thread) and its consumer (a handler thread).
class Channel {
 public:
  void push(JobEvent e);
  /// Wait up to `timeout` for the next event. nullopt: none yet (timeout).
  std::optional<JobEvent> next(std::chrono::milliseconds timeout);
  /// Ask the engine to stop this job (it ends with StopReason::Cancelled).
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  std::atomic<bool> cancelled_{false};
};

struct Job {
  std::vector<int32_t> prompt;  ///< the whole prompt (the slot reuses what it can)
  int32_t n_predict = 1;        ///< max new tokens (>= 1; the caller bounds it by the context)
  SamplerParams sampler;
  std::shared_ptr<Channel> channel;
};

/// Refused because the queue is full (503 + Retry-After).
struct QueueFull : std::runtime_error {
  QueueFull() : std::runtime_error("the server is busy: the request queue is full") {}
};

struct EngineOptions {
  uint32_t n_parallel = 1;  ///< slots
  uint32_t queue = 16;      ///< jobs waiting for a slot at most
  uint32_t n_ctx = 4096;    ///< per slot
  uint32_t max_batch = 512; ///< prefill chunk (tokens per step)
};

/// Counters for /metrics (monotonic except the gauges).
struct EngineMetrics {
  uint64_t jobs_done = 0, prompt_tokens = 0, cached_tokens = 0, generated_tokens = 0;
  double prefill_s = 0, decode_s = 0;
  uint32_t queued = 0, busy_slots = 0, n_slots = 0;
  uint64_t kv_cells_used = 0, kv_cells_total = 0;
};

class Engine {
 public:
  /// Creates the slots' sessions (device memory) and starts the engine thread.
  Engine(const Model& model, EngineOptions opt);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Queue a job. Throws QueueFull when `queue` jobs already wait; std::runtime_error once stopped.
  void submit(Job job);
  /// Cancel every job (running and queued: they end with Cancelled) and stop the thread. Idempotent.
  void stop();
  EngineMetrics metrics() const;
  const EngineOptions& options() const { return opt_; }

 private:
  struct Slot;
  void loop();
  void assign();        // queued jobs -> free slots (mu_ held)
  void step(Slot& s);   // one prefill chunk or one token
  void end(Slot& s, JobEvent e);

  const Model& model_;
  EngineOptions opt_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  EngineMetrics m_;  // under mu_
  std::thread thread_;
};

} // namespace vkg::server
