#include "layer_streamer.h"

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "context.h"

namespace vkg {
namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

LayerStreamer::LayerStreamer(Device& dev, const Gemma4Model& model, const DeviceWeights& weights,
                             const Stream& compute, bool force_staging)
    : model_(model), compute_(compute), first_(weights.plan.n_resident_layers),
      n_layer_(static_cast<uint32_t>(weights.layers.size())) {
  if (first_ >= n_layer_) throw std::logic_error("LayerStreamer: no layer is streamed");
  // window_buffers(): what the residency plan and the session's arena count for the window.
  const uint64_t slot_bytes = window_slot_bytes(dev.caps(), model, first_);
  for (uint32_t l = first_; l < n_layer_; ++l) layouts_.push_back(layer_layout(dev.caps(), model.weights.layers[l]));
  for (int s = 0; s < 2; ++s) window_.emplace_back(dev, slot_bytes, MemoryUsage::Device);
  direct_ = !force_staging && window_[0].host_visible();
  if (!direct_) {
    transfer_ = std::make_unique<Stream>(dev, QueueKind::Transfer);
    for (int s = 0; s < 2; ++s) {
      staging_.emplace_back(dev, slot_bytes, MemoryUsage::Upload);
      copies_.push_back(std::make_unique<CommandList>(dev, QueueKind::Transfer));
    }
  }
  for (const auto& b : window_) bytes_ += b.size();
  for (const auto& b : staging_) bytes_ += b.size();

  // Layer views into their slots: matrices from the layout, vectors from the resident set.
  for (uint32_t l = first_; l < n_layer_; ++l) {
    const LayerLayout& L = layouts_[l - first_];
    const Buffer& slot = window_[slot_of(l)];
    DeviceLayerWeights d = weights.layers[l];
    for_each_layer_matrix(d, model.weights.layers[l], [&](DeviceMatrix& m, const GgufTensorInfo* t) {
      m = {};
      if (!t) return;
      m.type = static_cast<WeightTypeId>(t->type);
      m.ne0 = static_cast<uint32_t>(t->ne[0]);
      m.n_rows = static_cast<uint32_t>(t->n_rows());
      m.row_bytes = ggml_row_bytes(t->type, t->ne[0]);
      for (const auto& p : L.parts)
        if (p.tensor == t) m.parts.push_back({BufferRange(slot, p.offset, p.part.bytes), p.part.first_row, p.part.n_rows});
    });
    layers_.push_back(std::move(d));
  }
  thread_ = std::thread([this] { run(); });
}

LayerStreamer::~LayerStreamer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  try {
    if (transfer_) transfer_->finish();
  } catch (...) {
  }
}

void LayerStreamer::run() {
  try {
    for (uint32_t l = first_;; l = l + 1 < n_layer_ ? l + 1 : first_) {
      const uint32_t s = slot_of(l);
      uint64_t release_value = 0;
      bool load = false;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || slots_[s].free; });
        if (stop_) return;
        release_value = slots_[s].release_value;
        load = slots_[s].loaded != static_cast<int32_t>(l);
      }
      if (load) {
        compute_.wait(release_value);  // the last reader of the slot is done
        fill(l, s);
      }
      {
        std::lock_guard lock(mutex_);
        slots_[s].loaded = static_cast<int32_t>(l);
        slots_[s].ready = true;
        slots_[s].free = false;
      }
      cv_.notify_all();
    }
  } catch (...) {
    {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
    }
    cv_.notify_all();
  }
}

void LayerStreamer::fill(uint32_t l, uint32_t s) {
  const auto t0 = std::chrono::steady_clock::now();
  const LayerLayout& L = layouts_[l - first_];
  if (!direct_) transfer_->wait(slots_[s].copy_value);  // staging free again
  Buffer& dst = direct_ ? window_[s] : staging_[s];
  uint8_t* base = dst.mapped();
  for (const auto& p : L.parts) {
    const GgufTensorInfo& t = *p.tensor;
    const uint64_t row_bytes = ggml_row_bytes(t.type, t.ne[0]);
    std::memcpy(base + p.offset, t.data + uint64_t(p.part.first_row) * row_bytes, p.part.bytes);
    std::memset(base + p.offset + p.part.bytes, 0, kMatrixPad);
  }
  dst.flush(0, L.bytes);
  uint64_t copy_value = 0;
  if (!direct_) {
    auto& cl = *copies_[s];
    cl.begin();
    cl.copy(staging_[s], 0, window_[s], 0, L.bytes);
    cl.end();
    copy_value = transfer_->submit(cl);
  }
  std::lock_guard lock(mutex_);
  slots_[s].copy_value = copy_value;
  stats_.uploads++;
  stats_.bytes += L.weight_bytes;
  stats_.upload_ms += ms_since(t0);
}

std::optional<TimelineWait> LayerStreamer::acquire(uint32_t l) {
  if (l < first_ || l >= n_layer_) throw std::logic_error(fmt::format("layer {} is not streamed", l));
  const uint32_t s = slot_of(l);
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return error_ || (slots_[s].ready && slots_[s].loaded == static_cast<int32_t>(l)); });
  if (error_) std::rethrow_exception(error_);
  stats_.wait_ms += ms_since(t0);
  if (direct_ || !slots_[s].copy_value) return std::nullopt;
  return TimelineWait{&transfer_->timeline(), slots_[s].copy_value};
}

void LayerStreamer::release(uint32_t l, uint64_t compute_value) {
  const uint32_t s = slot_of(l);
  {
    std::lock_guard lock(mutex_);
    slots_[s].ready = false;
    slots_[s].free = true;
    slots_[s].release_value = compute_value;
  }
  cv_.notify_all();
}

void LayerStreamer::add_stall_ms(double ms) {
  std::lock_guard lock(mutex_);
  stats_.gpu_stall_ms += ms;
  stats_.timed = true;
}

StreamStats LayerStreamer::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

} // namespace vkg
