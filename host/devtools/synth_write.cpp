// Streaming output of synthetic models: tensors are cut into row chunks, worker threads generate
// and encode chunks into a small ring of slots, the calling thread writes them in file order.
#include <algorithm>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>
#include <fmt/format.h>

#include "synth.h"

namespace vkg {
namespace {

constexpr uint64_t kChunkElems = uint64_t{1} << 20;  // ~4 MB of floats per chunk

struct Job {
  size_t tensor;
  uint64_t row0, n_rows, bytes;
};

std::vector<Job> make_jobs(const SynthModel& m) {
  std::vector<Job> jobs;
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const SynthTensor& t = m.tensors[i];
    const uint64_t rows = t.n_rows(), per = std::max<uint64_t>(1, kChunkElems / t.ne[0]);
    for (uint64_t r = 0; r < rows; r += per) {
      const uint64_t n = std::min(per, rows - r);
      jobs.push_back({i, r, n, n * t.row_bytes()});
    }
  }
  return jobs;
}

void report(const SynthModel& m, const SynthWriteOptions& wo, uint64_t done, uint64_t total, size_t tensor) {
  if (!wo.progress) return;
  SynthProgress p;
  p.bytes_done = done;
  p.bytes_total = total;
  p.tensor = tensor;
  p.n_tensors = m.tensors.size();
  p.name = m.tensors[tensor].name;
  wo.progress(p);
}

// Generate every tensor's bytes and pass them to w.write() in order.
void stream_data(const SynthModel& m, GgufWriter& w, const SynthWriteOptions& wo) {
  const std::vector<Job> jobs = make_jobs(m);
  const uint64_t total = m.data_bytes();
  unsigned n_threads = wo.threads ? wo.threads : std::thread::hardware_concurrency();
  n_threads = std::clamp(n_threads, 1u, 64u);
  uint64_t done = 0;

  if (n_threads == 1) {  // everything on the calling thread
    std::vector<uint8_t> buf;
    std::vector<float> scratch;
    for (const Job& j : jobs) {
      buf.resize(static_cast<size_t>(j.bytes));
      synth_tensor_encode(m, j.tensor, j.row0, j.n_rows, buf.data(), scratch);
      w.write(buf.data(), buf.size());
      report(m, wo, done += j.bytes, total, j.tensor);
    }
    return;
  }

  struct Slot {
    std::vector<uint8_t> buf;
    size_t job = SIZE_MAX;
    bool ready = false;
  };
  const size_t n_slots = 2 * size_t{n_threads};
  std::vector<Slot> slots(n_slots);
  std::mutex mu;
  std::condition_variable cv_ready, cv_free;
  size_t next_job = 0, consumed = 0;
  bool abort = false;
  std::exception_ptr error;

  auto fail_all = [&](std::exception_ptr e) {
    std::lock_guard lk(mu);
    if (!error) error = e;
    abort = true;
    cv_ready.notify_all();
    cv_free.notify_all();
  };
  auto worker = [&] {
    std::vector<float> scratch;
    for (;;) {
      size_t j;
      {
        std::unique_lock lk(mu);
        if (abort || next_job >= jobs.size()) return;
        j = next_job++;
        // Slot j % n_slots is free once job j - n_slots has been written.
        cv_free.wait(lk, [&] { return abort || j < consumed + n_slots; });
        if (abort) return;
      }
      Slot& s = slots[j % n_slots];
      try {
        s.buf.resize(static_cast<size_t>(jobs[j].bytes));
        synth_tensor_encode(m, jobs[j].tensor, jobs[j].row0, jobs[j].n_rows, s.buf.data(), scratch);
      } catch (...) {
        fail_all(std::current_exception());
        return;
      }
      {
        std::lock_guard lk(mu);
        s.job = j;
        s.ready = true;
      }
      cv_ready.notify_all();
    }
  };

  std::vector<std::thread> threads;
  try {
    for (unsigned t = 0; t < n_threads; ++t) threads.emplace_back(worker);
    for (size_t j = 0; j < jobs.size(); ++j) {
      Slot& s = slots[j % n_slots];
      {
        std::unique_lock lk(mu);
        cv_ready.wait(lk, [&] { return abort || (s.ready && s.job == j); });
        if (abort) break;
      }
      w.write(s.buf.data(), s.buf.size());  // the slot is ours until it is marked free
      {
        std::lock_guard lk(mu);
        s.ready = false;
        consumed = j + 1;
      }
      cv_free.notify_all();
      report(m, wo, done += jobs[j].bytes, total, jobs[j].tensor);
    }
  } catch (...) {
    fail_all(std::current_exception());
  }
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

void synth_write(const SynthModel& m, const std::filesystem::path& path, const SynthWriteOptions& wo) {
  GgufWriter w;
  synth_declare(m, w);
  w.begin(path);  // an unfinished file is removed by ~GgufWriter
  stream_data(m, w, wo);
  w.finish();
}

std::vector<uint8_t> synth_write_memory(const SynthModel& m, const SynthWriteOptions& wo) {
  std::vector<uint8_t> out;
  GgufWriter w;
  synth_declare(m, w);
  w.begin(out);
  stream_data(m, w, wo);
  w.finish();
  return out;
}

uint64_t synth_write_sparse(const SynthModel& m, const std::filesystem::path& path) {
  GgufWriter w;
  synth_declare(m, w);
  const std::vector<uint8_t> header = w.header_bytes();
  const uint64_t size = w.file_size();
  try {
    {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      if (!f) throw GgufError(fmt::format("synth: cannot create {}", path.string()));
      f.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
      f.close();
      if (!f) throw GgufError(fmt::format("synth: {}: write failed", path.string()));
    }
    std::filesystem::resize_file(path, size);  // the rest is a hole that reads as zeros
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    throw;
  }
  return size;
}

uint64_t synth_file_size(const SynthModel& m) {
  GgufWriter w;
  synth_declare(m, w);
  return w.file_size();
}

}  // namespace vkg
