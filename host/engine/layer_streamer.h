// Streams the weight matrices of non-resident transformer layers (residency.h) through a
// double-buffered device window while the forward pass runs (issue 8): two slots, layer l
// always in slot (l - first) % 2, so a step's command lists can be recorded once. A host thread
// fills the slot of layer l+1 (or l+2 ...) while the GPU computes layer l:
//   - UMA (the window is host-visible device-local memory): memcpy from the GGUF mapping
//     straight into the slot, no staging copy;
//   - otherwise: memcpy into a host-visible staging buffer and a copy on the transfer queue,
//     whose timeline value the compute submission of layer l waits on.
// Before overwriting a slot the thread waits for the compute submission that last read it.
//
//   LayerStreamer ls(dev, model, weights, compute_stream);
//   for each streamed layer l:  waits = ls.acquire(l); v = compute.submit(cl_l, waits); ls.release(l, v);
//
// Every step must acquire and release every streamed layer in order (the thread prefetches in
// that cyclic order, across steps).
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "device_weights.h"
#include "stream.h"

namespace vkg {

class Device;

/// Counters since construction.
struct StreamStats {
  uint64_t uploads = 0;    // layer uploads
  uint64_t bytes = 0;      // weight bytes uploaded
  double upload_ms = 0;    // host thread time filling slots (memcpy + submit)
  double wait_ms = 0;      // host time the forward pass blocked until a layer was ready
  double gpu_stall_ms = 0; // GPU idle before streamed layers' lists (timestamps), if timed
  bool timed = false;      // gpu_stall_ms was measured (devices with timestamps)
  /// Share of the upload time hidden behind computation: 1 - stall / upload (0 .. 1), where
  /// stall is the GPU idle time measured with timestamps (else the host's blocked time).
  double hidden_share() const {
    const double stall = timed ? gpu_stall_ms : wait_ms;
    return upload_ms > 0 ? std::clamp(1.0 - stall / upload_ms, 0.0, 1.0) : 1.0;
  }
};

class LayerStreamer {
 public:
  /// Allocates the window (2 slots of weights.plan's largest streamed layer, plus staging when
  /// the window is not host-visible or force_staging) and starts prefetching the first streamed
  /// layers. compute: the stream whose submissions read the window.
  LayerStreamer(Device& dev, const Gemma4Model& model, const DeviceWeights& weights, const Stream& compute,
                bool force_staging = false);
  ~LayerStreamer();
  LayerStreamer(const LayerStreamer&) = delete;
  LayerStreamer& operator=(const LayerStreamer&) = delete;

  uint32_t first() const { return first_; }
  /// Layer l's weights: matrices in its window slot, vectors from the resident set.
  const DeviceLayerWeights& layer(uint32_t l) const { return layers_.at(l - first_); }
  /// Block until layer l is in its slot; returns the transfer the compute must wait on (staging
  /// path). Rethrows an error of the streaming thread.
  std::optional<TimelineWait> acquire(uint32_t l);
  /// The compute submission reading layer l signals `compute_value` on the compute stream.
  void release(uint32_t l, uint64_t compute_value);
  StreamStats stats() const;
  /// Add GPU idle time measured by the forward pass before streamed layers.
  void add_stall_ms(double ms);
  /// Bytes of the window (+ staging).
  uint64_t bytes() const { return bytes_; }
  bool direct() const { return direct_; }

 private:
  struct Slot {
    int32_t loaded = -1;        // layer in the slot
    bool ready = false;         // loaded and not yet released by the compute side
    bool free = true;           // released (or never used): the thread may refill it
    uint64_t release_value = 0; // compute value after which the slot is no longer read
    uint64_t copy_value = 0;    // transfer value of the last copy into it (staging path)
  };
  void run();
  void fill(uint32_t l, uint32_t s);
  uint32_t slot_of(uint32_t l) const { return (l - first_) % 2; }

  const Gemma4Model& model_;
  const Stream& compute_;
  uint32_t first_, n_layer_;
  bool direct_;
  std::vector<LayerLayout> layouts_;       // per streamed layer
  std::vector<DeviceLayerWeights> layers_;  // per streamed layer
  std::vector<Buffer> window_, staging_;
  std::vector<std::unique_ptr<CommandList>> copies_;
  std::unique_ptr<Stream> transfer_;
  uint64_t bytes_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Slot slots_[2];
  bool stop_ = false;
  std::exception_ptr error_;
  StreamStats stats_;
  std::thread thread_;
};

} // namespace vkg
