#include "ple_pager.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "context.h"
#include "weight_convert.h"
#include "error.h"

namespace vkg {

PlePager::PlePager(Device& dev, const GgufTensorInfo& table, uint32_t max_batch, const Stream& compute,
                   bool force_staging)
    : dev_(dev), table_(table), compute_(compute), max_batch_(max_batch),
      row_bytes_(device_row_bytes(table)), transfer_(dev, QueueKind::Transfer) {
  device_type_ = *device_weight_type(table.type, table.ne[0]);
  const uint64_t slot_bytes = row_bytes_ * max_batch;
  // A slot is one DeviceMatrix part read by get_rows (texel view or storage buffer), whose
  // binding rounds up to whole 16-byte texels: the padded slot must fit one read binding.
  const uint64_t alloc_bytes = (slot_bytes + 255) / 256 * 256;
  if (alloc_bytes > max_read_binding_bytes(dev.caps()))
    throw Error(ErrorCode::unsupported, fmt::format(
        "PLE rows of a {}-token batch take {} bytes, over the device's limit of {} bytes per binding (reduce the "
        "batch size)",
        max_batch, alloc_bytes, max_read_binding_bytes(dev.caps())));
  for (uint32_t s = 0; s < kSlots; ++s) device_.emplace_back(dev, alloc_bytes, MemoryUsage::Device);
  direct_ = !force_staging && device_[0].host_visible();
  for (uint32_t s = 0; s < kSlots; ++s) {
    if (!direct_) {
      staging_.emplace_back(dev, alloc_bytes, MemoryUsage::Upload);
      lists_.push_back(std::make_unique<CommandList>(dev, QueueKind::Transfer));
    }
    DeviceMatrix m;
    m.type = static_cast<WeightTypeId>(device_type_);
    m.ne0 = static_cast<uint32_t>(table.ne[0]);
    m.n_rows = max_batch;
    m.row_bytes = row_bytes_;
    m.parts.push_back({BufferRange(device_[s], 0, slot_bytes), 0, max_batch});
    slot_matrix_.push_back(m);
  }
  for (const auto& b : device_) bytes_ += b.size();
  for (const auto& b : staging_) bytes_ += b.size();
}

PlePager::~PlePager() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

double PlePager::gather(std::span<const int32_t> tokens, uint32_t slot, uint64_t busy, uint64_t copy_done) {
  // The compute that read this slot last (and the copy out of its staging) must be done.
  if (busy) compute_.wait(busy);
  if (copy_done) transfer_.wait(copy_done);
  const auto t0 = std::chrono::steady_clock::now();
  uint8_t* dst = direct_ ? device_[slot].mapped() : staging_[slot].mapped();
  if (device_type_ == table_.type) {
    for (size_t i = 0; i < tokens.size(); ++i)
      std::memcpy(dst + i * row_bytes_, table_.data + static_cast<uint64_t>(tokens[i]) * row_bytes_, row_bytes_);
  } else {  // a type no kernel reads: re-encode the rows as they are paged (weight_convert.h)
    const uint64_t src_row = ggml_row_bytes(table_.type, table_.ne[0]);
    for (size_t i = 0; i < tokens.size(); ++i)
      reencode_rows(table_.type, table_.data + static_cast<uint64_t>(tokens[i]) * src_row, device_type_,
                    dst + i * row_bytes_, table_.ne[0], 1);
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void PlePager::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || (job_ && !job_->started); });
    if (stop_) return;
    job_->started = true;
    Job j = *job_;
    lock.unlock();
    double ms = 0;
    std::exception_ptr err;
    try {
      ms = gather(j.tokens, j.slot, j.busy, j.copy_done);
    } catch (...) {
      err = std::current_exception();
    }
    lock.lock();
    job_->ms = ms;
    job_->error = err;
    job_->done = true;
    cv_.notify_all();
  }
}

void PlePager::prefetch(std::span<const int32_t> tokens) {
  if (tokens.empty() || tokens.size() > max_batch_) return;
  for (int32_t id : tokens)
    if (id < 0 || static_cast<uint64_t>(id) >= table_.n_rows()) return;
  std::unique_lock lock(mutex_);
  if (job_) {  // an earlier prefetch nobody staged: let it finish, then replace it
    cv_.wait(lock, [&] { return job_->done; });
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  Job j;
  j.tokens.assign(tokens.begin(), tokens.end());
  j.slot = next_;
  j.busy = busy_until_[next_];
  j.copy_done = copy_done_[next_];
  job_ = std::move(j);
  cv_.notify_all();
}

PlePager::Ticket PlePager::stage(std::span<const int32_t> tokens) {
  if (tokens.size() > max_batch_)
    throw Error(ErrorCode::bad_input, fmt::format("PLE batch of {} tokens exceeds the pager's {}", tokens.size(), max_batch_));
  const uint64_t n_vocab = table_.n_rows();
  for (int32_t id : tokens)
    if (id < 0 || static_cast<uint64_t>(id) >= n_vocab)
      throw Error(ErrorCode::bad_input, fmt::format("token id {} is outside the vocabulary (n_vocab {})", id, n_vocab));
  Ticket t;
  t.slot = next_;
  next_ = (next_ + 1) % kSlots;
  std::optional<double> prefetched_ms;
  {
    std::unique_lock lock(mutex_);
    if (job_) {
      cv_.wait(lock, [&] { return job_->done; });
      if (job_->error) std::rethrow_exception(job_->error);
      if (job_->slot == t.slot && std::equal(tokens.begin(), tokens.end(), job_->tokens.begin(), job_->tokens.end()))
        prefetched_ms = job_->ms;
      job_.reset();
    }
  }
  stats_.gather_ms += prefetched_ms ? *prefetched_ms : gather(tokens, t.slot, busy_until_[t.slot], copy_done_[t.slot]);
  const uint64_t bytes = tokens.size() * row_bytes_;
  stats_.rows += tokens.size();
  stats_.bytes += bytes;
  if (direct_) {
    device_[t.slot].flush();
    return t;
  }
  staging_[t.slot].flush();
  auto& cl = *lists_[t.slot];
  cl.begin();
  cl.timestamp(0);
  cl.copy(staging_[t.slot], 0, device_[t.slot], 0, std::max<uint64_t>(bytes, 4));
  cl.timestamp(1);
  cl.end();
  const uint64_t v = transfer_.submit(cl);
  copy_done_[t.slot] = v;
  stats_.transfers++;
  t.wait = TimelineWait{&transfer_.timeline(), v};
  return t;
}

std::optional<std::pair<double, double>> PlePager::copy_times_ns(uint32_t slot) const {
  if (direct_ || !copy_done_[slot]) return std::nullopt;
  const auto t = lists_[slot]->read_timestamps_ns(0, 2);
  if (t.size() != 2) return std::nullopt;
  return std::make_pair(t[0], t[1]);
}

} // namespace vkg
