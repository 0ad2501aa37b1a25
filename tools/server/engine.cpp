#include "engine.h"

#include <algorithm>

#include "sampler.h"
#include "tokenizer.h"

namespace vkg::server {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

void Channel::push(JobEvent e) {
  {
    std::lock_guard lk(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_one();
}

std::optional<JobEvent> Channel::next(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  if (!cv_.wait_for(lk, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  JobEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

struct Engine::Slot {
  std::unique_ptr<Session> session;
  std::optional<Job> job;
  std::vector<int32_t> todo;  // prompt tokens still to evaluate
  size_t pos = 0;
  uint32_t cached = 0;
  std::optional<Sampler> sampler;
  std::optional<StreamingDetokenizer> detok;
  int32_t n_gen = 0;
  bool decoding = false;
  const std::vector<float>* logits = nullptr;
};

Engine::Engine(const Model& model, EngineOptions opt) : model_(model), opt_(opt) {
  opt_.n_parallel = std::max(1u, opt_.n_parallel);
  for (uint32_t i = 0; i < opt_.n_parallel; ++i) {
    auto s = std::make_unique<Slot>();
    s->session = std::make_unique<Session>(model_, SessionOptions{.n_ctx = opt_.n_ctx, .max_batch = opt_.max_batch});
    slots_.push_back(std::move(s));
  }
  m_.n_slots = opt_.n_parallel;
  m_.kv_cells_total = uint64_t(opt_.n_parallel) * opt_.n_ctx;
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() { stop(); }

void Engine::submit(Job job) {
  {
    std::lock_guard lk(mu_);
    if (stop_) throw std::runtime_error("the server is shutting down");
    if (queue_.size() >= opt_.queue) throw QueueFull();
    queue_.push_back(std::move(job));
    m_.queued = static_cast<uint32_t>(queue_.size());
  }
  cv_.notify_one();
}

void Engine::stop() {
  std::deque<Job> left;
  {
    std::lock_guard lk(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    left.swap(queue_);
    m_.queued = 0;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Job& j : left) {
    JobEvent e{.kind = JobEvent::End};
    e.stop = StopReason::Cancelled;
    j.channel->push(std::move(e));
  }
}

EngineMetrics Engine::metrics() const {
  std::lock_guard lk(mu_);
  return m_;
}

void Engine::loop() {
  for (;;) {
    std::vector<std::pair<Slot*, Job>> starts;
    {
      std::unique_lock lk(mu_);
      const auto active = [&] {
        return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->job.has_value(); });
      };
      cv_.wait(lk, [&] { return stop_ || !queue_.empty() || active(); });
      if (stop_) break;
      // Queued jobs to free slots: the one whose history shares the longest prefix with the prompt.
      while (!queue_.empty()) {
        Slot* best = nullptr;
        size_t best_len = 0;
        for (auto& s : slots_) {
          if (s->job || std::any_of(starts.begin(), starts.end(), [&](auto& p) { return p.first == s.get(); })) continue;
          const auto& h = s->session->history();
          const auto& p = queue_.front().prompt;
          size_t k = 0;
          while (k < h.size() && k < p.size() && h[k] == p[k]) ++k;
          if (!best || k > best_len) best = s.get(), best_len = k;
        }
        if (!best) break;
        starts.emplace_back(best, std::move(queue_.front()));
        queue_.pop_front();
      }
      m_.queued = static_cast<uint32_t>(queue_.size());
    }
    for (auto& [s, job] : starts) {
      s->job = std::move(job);
      try {
        const auto todo = s->session->reuse_prefix(s->job->prompt);
        s->todo.assign(todo.begin(), todo.end());
        s->pos = 0;
        s->cached = static_cast<uint32_t>(s->job->prompt.size() - todo.size());
        s->sampler.emplace(s->job->sampler);
        for (int32_t id : s->job->prompt) s->sampler->accept(id);
        s->detok.emplace(model_.tokenizer(), /*render_special=*/false);
        s->n_gen = 0;
        s->decoding = false;
        s->logits = nullptr;
      } catch (const std::exception& e) {
        JobEvent ev{.kind = JobEvent::End};
        ev.error = e.what();
        end(*s, std::move(ev));
      }
    }
    for (auto& s : slots_)
      if (s->job) step(*s);
    std::lock_guard lk(mu_);
    m_.busy_slots = 0;
    m_.kv_cells_used = 0;
    for (auto& s : slots_) {
      m_.busy_slots += s->job ? 1 : 0;
      m_.kv_cells_used += s->session->n_past();
    }
  }
  for (auto& s : slots_)
    if (s->job) {
      JobEvent ev{.kind = JobEvent::End};
      ev.stop = StopReason::Cancelled;
      end(*s, std::move(ev));
    }
}

void Engine::step(Slot& s) {
  if (s.job->channel->cancelled()) {
    JobEvent ev{.kind = JobEvent::End};
    ev.stop = StopReason::Cancelled;
    return end(s, std::move(ev));
  }
  try {
    if (!s.decoding) {  // one prefill chunk
      const size_t n = std::min<size_t>(s.todo.size() - s.pos, std::max(1u, opt_.max_batch));
      const auto t0 = std::chrono::steady_clock::now();
      s.logits = &s.session->prefill(std::span<const int32_t>(s.todo).subspan(s.pos, n));
      s.pos += n;
      s.decoding = s.pos == s.todo.size();
      std::lock_guard lk(mu_);
      m_.prefill_s += seconds_since(t0);
      m_.prompt_tokens += n;
      return;
    }
    const Tokenizer& tok = model_.tokenizer();
    const int32_t id = s.sampler->sample(*s.logits);
    s.sampler->accept(id);
    if (tok.is_eog(id)) {
      JobEvent ev{.kind = JobEvent::End};
      ev.stop = StopReason::EndOfGeneration;
      ev.stop_token = id;
      return end(s, std::move(ev));
    }
    s.job->channel->push({.kind = JobEvent::Token, .id = id, .piece = s.detok->push(id)});
    ++s.n_gen;
    if (s.n_gen >= s.job->n_predict || s.session->n_past() >= s.session->n_ctx()) {
      JobEvent ev{.kind = JobEvent::End};
      ev.stop = s.n_gen >= s.job->n_predict ? StopReason::MaxTokens : StopReason::ContextFull;
      return end(s, std::move(ev));
    }
    const auto t0 = std::chrono::steady_clock::now();
    s.logits = &s.session->prefill(std::span<const int32_t>(&id, 1));
    std::lock_guard lk(mu_);
    m_.decode_s += seconds_since(t0);
    m_.generated_tokens += 1;
  } catch (const std::exception& e) {
    JobEvent ev{.kind = JobEvent::End};
    ev.error = e.what();
    end(s, std::move(ev));
    try {
      s.session->reset();
    } catch (const std::exception&) {
    }
  }
}

void Engine::end(Slot& s, JobEvent e) {
  if (s.detok) {
    std::string tail = s.detok->flush();
    if (!tail.empty() && e.error.empty()) s.job->channel->push({.kind = JobEvent::Token, .id = -1, .piece = std::move(tail)});
  }
  e.kind = JobEvent::End;
  e.cached_tokens = s.cached;
  {
    std::lock_guard lk(mu_);  // counted before the consumer can see the end
    m_.jobs_done += 1;
    m_.cached_tokens += s.cached;
  }
  s.job->channel->push(std::move(e));
  s.job.reset();
  s.sampler.reset();
  s.detok.reset();
  s.todo.clear();
}

} // namespace vkg::server
