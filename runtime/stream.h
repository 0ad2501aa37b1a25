// Command recording and submission ordered by timeline semaphores.
//
//   CommandList cl(dev, QueueKind::Compute);
//   cl.begin(); cl.dispatch(kernel, {a, b}, push, groups); cl.barrier(); ...; cl.end();
//   uint64_t done = dev_queue.submit(cl, {{transfer_timeline, v}});   // wait for a transfer
//   queue.wait(done);
//
// A CommandList may be submitted many times once recorded (the forward pass records a step
// once and replays it with new push constants / uniform contents).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>
#include <volk.h>

#include "memory.h"

namespace vkg {

class Device;
class Kernel;

enum class QueueKind { Compute, Transfer };

/// A timeline semaphore (Vulkan 1.2 core).
class Timeline {
 public:
  explicit Timeline(Device& dev, uint64_t initial = 0);
  ~Timeline();
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;
  VkSemaphore handle() const { return sem_; }
  uint64_t value() const;  // current counter value
  /// Block the host until the counter reaches v. Throws VkError on timeout (default 10 minutes:
  /// a hang becomes an error) or device loss.
  void wait(uint64_t v, uint64_t timeout_ns = 600'000'000'000ull) const;
  void signal_host(uint64_t v);  // set the counter from the host
 private:
  Device& dev_;
  VkSemaphore sem_ = VK_NULL_HANDLE;
};

/// One wait in a submission: the GPU waits until `timeline` reaches `value`.
struct TimelineWait {
  const Timeline* timeline;
  uint64_t value;
};

/// A command buffer with its own descriptor pools. Records dispatches, barriers and copies.
class CommandList {
 public:
  CommandList(Device& dev, QueueKind kind = QueueKind::Compute);
  ~CommandList();
  CommandList(const CommandList&) = delete;
  CommandList& operator=(const CommandList&) = delete;

  /// Reset (descriptor sets too) and begin recording.
  void begin();
  void end();
  /// Bind kernel, buffers (bindings 0..n-1) and push constants; dispatch groups.
  /// Texel bindings (KernelDesc::texel_bindings) get an R32G32B32A32_UINT (r32_bindings:
  /// R32_UINT) buffer view owned by this list until the next begin(); their offset must be a
  /// multiple of the device's minTexelBufferOffsetAlignment and their range is rounded down to
  /// whole texels (16 or 4 bytes; VK_WHOLE_SIZE too), at most maxTexelBufferElements texels.
  void dispatch(const Kernel& k, std::initializer_list<BufferRange> buffers, const void* push, uint32_t push_size,
                uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
  void dispatch(const Kernel& k, std::span<const BufferRange> buffers, const void* push, uint32_t push_size,
                uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
  template <class Push>
  void dispatch(const Kernel& k, std::initializer_list<BufferRange> buffers, const Push& push, uint32_t gx,
                uint32_t gy = 1, uint32_t gz = 1) {
    dispatch(k, buffers, &push, sizeof(Push), gx, gy, gz);
  }
  /// Full compute/transfer memory barrier: prior shader and transfer writes become visible to
  /// later shader reads/writes and transfers.
  void barrier();
  void copy(const Buffer& src, uint64_t src_off, const Buffer& dst, uint64_t dst_off, uint64_t size);
  void copy(VkBuffer src, uint64_t src_off, VkBuffer dst, uint64_t dst_off, uint64_t size);
  void fill(const Buffer& dst, uint64_t off, uint64_t size, uint32_t value);
  static constexpr uint32_t kMaxTimestamps = 4096;
  /// Timestamp into query `index` (< kMaxTimestamps) of the list's query pool (created on first
  /// use). No-op on devices without compute timestamps.
  void timestamp(uint32_t index);
  /// Timestamps in ns after the list completed (only the indices written since begin()):
  /// queries [first, first + count). Empty on devices without timestamps.
  std::vector<double> read_timestamps_ns(uint32_t count) const { return read_timestamps_ns(0, count); }
  std::vector<double> read_timestamps_ns(uint32_t first, uint32_t count) const;

  VkCommandBuffer handle() const { return cmd_; }
  QueueKind kind() const { return kind_; }
  uint32_t dispatch_count() const { return n_dispatch_; }

 private:
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
  Device& dev_;
  QueueKind kind_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> desc_pools_;
  std::vector<VkBufferView> views_;  // texel-buffer views of the recorded dispatches
  size_t desc_pool_in_use_ = 0;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  uint32_t n_dispatch_ = 0;
};

/// A queue with a timeline that counts its submissions.
/// On devices with one queue, compute and transfer Streams share the VkQueue: a submission that
/// waits on a timeline value signalled by a LATER submission to the same queue deadlocks, so
/// submit the signalling work first.
class Stream {
 public:
  Stream(Device& dev, QueueKind kind = QueueKind::Compute);
  /// Waits until the queue is idle: a driver may still touch the timeline right after signalling
  /// it (seen with lavapipe 22.3: destroying it at that moment corrupted the driver's mutex).
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  /// Submit a recorded list after the given waits; returns the timeline value it signals.
  uint64_t submit(const CommandList& cl, std::initializer_list<TimelineWait> waits = {});
  uint64_t submit(const CommandList& cl, std::span<const TimelineWait> waits);
  /// Block until submission `v` is complete.
  void wait(uint64_t v) const { timeline_.wait(v); }
  /// Block until everything submitted so far is complete.
  void finish() const { timeline_.wait(last_); }
  const Timeline& timeline() const { return timeline_; }
  uint64_t last_submitted() const { return last_; }
  VkQueue queue() const { return queue_; }

 private:
  Device& dev_;
  QueueKind kind_;
  VkQueue queue_;
  Timeline timeline_;
  uint64_t last_ = 0;
};

/// Copy host bytes into a buffer: directly when it is host-visible (unless `staged`), else in
/// chunks through a host-visible staging buffer and blocking transfer-queue copies.
void upload(Device& dev, Buffer& dst, uint64_t dst_off, const void* src, uint64_t size, bool staged = false);
/// Copy a buffer's bytes to host memory (directly when host-visible unless `staged`, else via staging).
void download(Device& dev, const Buffer& src, uint64_t src_off, void* dst, uint64_t size, bool staged = false);

} // namespace vkg
