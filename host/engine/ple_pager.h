// Pages rows of the Per-Layer Embedding table (per_layer_token_embd, ~2.35 B parameters in E2B)
// from the host memory map to the device, only for the tokens in flight (DESIGN.md §4).
//
// Two slots alternate, so the rows of the next batch are gathered and copied while the
// current batch computes. prefetch() hands the gather of the next batch to the pager's host
// thread (decode: the moment the next token is sampled, while the caller streams its text). Each slot has a host-visible staging buffer and a device buffer; the
// copy runs on the transfer queue and signals the transfer timeline, which the compute
// submission that reads the slot waits on. On UMA devices whose device-local memory is
// host-visible the rows are gathered straight into the device buffer (no copy) unless
// force_staging is set (tests use it to exercise the transfer path).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <span>
#include <utility>
#include <vector>

#include "gguf.h"
#include "memory.h"
#include "ops.h"
#include "stream.h"

namespace vkg {

class Device;

struct PleStats {
  uint64_t rows = 0;          // rows paged
  uint64_t bytes = 0;         // bytes paged
  uint64_t transfers = 0;     // transfer-queue submissions
  double gather_ms = 0;       // host time spent gathering rows
  /// GPU time the forward pass waited for PLE rows (timestamp queries: from the end of the
  /// previous step, or the copy's start, to the end of the copy the step waited on). 0 on the
  /// direct (UMA) path, where rows are written before the step is submitted.
  double gpu_stall_ms = 0;
};

class PlePager {
 public:
  static constexpr uint32_t kSlots = 2;
  /// table: per_layer_token_embd ([n_layer * n_ple, n_vocab] in any type the host can read), read
  /// from the GGUF mapping; rows of a type no GPU kernel reads are re-encoded as they are paged
  /// (device_weight_type, weight_convert.h). compute: the stream whose submissions read the slots.
  PlePager(Device& dev, const GgufTensorInfo& table, uint32_t max_batch, const Stream& compute,
           bool force_staging = false);

  struct Ticket {
    uint32_t slot = 0;
    std::optional<TimelineWait> wait;  // the compute submission must wait on this (transfer path)
  };
  /// Gather the rows of tokens (each < n_vocab, size <= max_batch) into the next slot and start
  /// its transfer. Blocks only if the slot is still being read by an earlier compute submission,
  /// or until the host thread finished a prefetch() of the same tokens.
  Ticket stage(std::span<const int32_t> tokens);
  /// Start gathering the rows of `tokens` (the next stage() call's, expected) into the next slot
  /// on the pager's host thread. A stage() of other tokens discards it. Invalid ids or too many
  /// tokens: nothing is started (stage() reports them).
  void prefetch(std::span<const int32_t> tokens);
  /// After submitting the compute that reads `slot`, record its compute timeline value.
  void mark_in_use(uint32_t slot, uint64_t compute_value) { busy_until_[slot] = compute_value; }
  /// The slot's rows as a matrix of max_batch rows (row i = tokens[i] of the last stage()).
  const DeviceMatrix& rows(uint32_t slot) const { return slot_matrix_[slot]; }
  const PleStats& stats() const { return stats_; }
  /// Device timestamps (ns) of the start and end of the last copy into `slot` (staging path, on
  /// devices with transfer-queue timestamps); nothing otherwise. Call after the copy completed.
  std::optional<std::pair<double, double>> copy_times_ns(uint32_t slot) const;
  /// Add GPU stall time measured by the forward pass.
  void add_stall_ms(double ms) { stats_.gpu_stall_ms += ms; }
  bool direct() const { return direct_; }
  ~PlePager();
  uint64_t row_bytes() const { return row_bytes_; }
  /// Bytes of the pager's own buffers (device slots + staging).
  uint64_t bytes() const { return bytes_; }

 private:
  Device& dev_;
  const GgufTensorInfo& table_;
  const Stream& compute_;
  uint32_t max_batch_;
  uint64_t row_bytes_;           // bytes of a paged row as the GPU reads it
  GgmlType device_type_;         // the table's type, or its re-encoding (weight_convert.h)
  bool direct_;
  uint32_t next_ = 0;
  uint64_t busy_until_[kSlots] = {0, 0};
  uint64_t copy_done_[kSlots] = {0, 0};  // transfer timeline value of the slot's last copy
  std::vector<Buffer> staging_, device_;
  std::vector<DeviceMatrix> slot_matrix_;
  std::vector<std::unique_ptr<CommandList>> lists_;
  Stream transfer_;
  PleStats stats_;
  uint64_t bytes_ = 0;

  /// Copy the rows of tokens into slot (after the slot's readers are done); returns ms spent.
  double gather(std::span<const int32_t> tokens, uint32_t slot, uint64_t busy, uint64_t copy_done);
  void run();
  struct Job {
    std::vector<int32_t> tokens;
    uint32_t slot = 0;
    uint64_t busy = 0, copy_done = 0;  // waits before writing the slot
    bool started = false, done = false;
    double ms = 0;
    std::exception_ptr error;
  };
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Job> job_;
  bool stop_ = false;
  std::thread thread_;
};

} // namespace vkg
