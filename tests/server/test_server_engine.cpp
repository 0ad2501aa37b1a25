// The server's engine on the device (tiny synthetic model): jobs interleaved over two slots, with
// prefix reuse where the model's sliding window allows it, produce exactly the tokens Session::generate gives each prompt on a fresh
// session (same seed, full-logits sampling); cancelling stops a job before its next token; a
// full queue refuses; stop() ends queued jobs.
#include <doctest/doctest.h>

#include <chrono>

#include "engine.h"
#include "gpu.h"
#include "model.h"
#include "session.h"
#include "synth.h"
#include "test_util.h"

using namespace vkg;
using namespace vkg::server;
using vkg::test::device;

namespace {

std::unique_ptr<Model> tiny_model() {
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q8_0");
  o.seed = 5;
  const auto path = vkg::test::scratch_dir("server_engine") / "tiny.gguf";
  synth_write(synth_plan(std::move(o)), path);
  return Model::load(device(), path);
}

struct Outcome {
  std::vector<int32_t> tokens;
  JobEvent end;
};

/// All events of a job (bounded wait).
Outcome drain(Channel& ch) {
  Outcome o;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    auto e = ch.next(std::chrono::milliseconds(100));
    if (!e) continue;
    if (e->kind == JobEvent::End) {
      o.end = *e;
      return o;
    }
    if (e->id >= 0) o.tokens.push_back(e->id);
  }
  FAIL("job did not end");
  return o;
}

}  // namespace

TEST_CASE("engine: interleaved slots with prefix reuse give Session::generate's tokens") {
  vkg::test::ValidationGuard guard;
  auto m = tiny_model();
  const std::vector<int32_t> base = {2, 310, 311, 312, 313, 314, 315, 316, 317, 318};
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 4; ++i) {
    auto p = base;  // shared prefix: later jobs reuse a slot's KV cache
    for (int k = 0; k < 3 + i; ++k) p.push_back(320 + 7 * i + k);
    prompts.push_back(p);
  }
  auto params = [](int i) {
    SamplerParams s;
    s.seed = 100 + i;
    s.temperature = 1.0f;
    s.top_k = 0;  // full logits in Session::generate too
    s.top_p = 1.0f;
    s.min_p = 0.0f;
    if (i % 2) s.presence_penalty = 0.5f;
    return s;
  };
  const int32_t n = 24;
  std::vector<std::vector<int32_t>> want;
  for (int i = 0; i < 4; ++i) {
    Session s(*m, {.n_ctx = 128, .max_batch = 4});
    GenerateOptions g;
    g.n_predict = n;
    g.sampler = params(i);
    g.device_select = false;
    want.push_back(s.generate(prompts[i], g, nullptr).tokens);
  }
  Engine eng(*m, {.n_parallel = 2, .queue = 8, .n_ctx = 128, .max_batch = 4});  // prompts span several steps
  for (int round = 0; round < 2; ++round) {  // the second round reuses the slots' caches
    std::vector<std::shared_ptr<Channel>> chans;
    for (int i = 0; i < 4; ++i) {
      chans.push_back(std::make_shared<Channel>());
      eng.submit({.prompt = prompts[i], .n_predict = n, .sampler = params(i), .channel = chans.back()});
    }
    for (int i = 0; i < 4; ++i) {
      CAPTURE(round);
      CAPTURE(i);
      const Outcome o = drain(*chans[i]);
      CHECK(o.end.error.empty());
      CHECK(o.tokens == want[i]);
      CHECK((o.end.stop == StopReason::MaxTokens || o.end.stop == StopReason::EndOfGeneration));
    }
  }
  const EngineMetrics mt = eng.metrics();
  CHECK(mt.jobs_done == 8);
  CHECK(mt.n_slots == 2);
}

TEST_CASE("engine: cancel, full queue, stop") {
  vkg::test::ValidationGuard guard;
  auto m = tiny_model();
  Engine eng(*m, {.n_parallel = 1, .queue = 1, .n_ctx = 256, .max_batch = 32});
  SamplerParams greedy;
  greedy.greedy = true;
  const std::vector<int32_t> prompt = {2, 300, 301, 302};
  auto a = std::make_shared<Channel>(), b = std::make_shared<Channel>(), c = std::make_shared<Channel>();
  eng.submit({.prompt = prompt, .n_predict = 200, .sampler = greedy, .channel = a});
  // Wait for a's first token: a holds the only slot.
  std::optional<JobEvent> first;
  for (int i = 0; i < 1200 && !first; ++i) first = a->next(std::chrono::milliseconds(100));
  REQUIRE(first);
  eng.submit({.prompt = prompt, .n_predict = 5, .sampler = greedy, .channel = b});  // waits in the queue
  CHECK_THROWS_AS(eng.submit({.prompt = prompt, .n_predict = 5, .sampler = greedy, .channel = c}), QueueFull);
  a->cancel();
  const Outcome oa = drain(*a);
  if (first->kind == JobEvent::Token) {
    CHECK(oa.end.stop == StopReason::Cancelled);
    CHECK(oa.tokens.size() < 199);  // stopped long before n_predict
  }
  const Outcome ob = drain(*b);  // the queued job runs once the slot is free
  CHECK(ob.end.error.empty());
  CHECK(ob.tokens.size() <= 5);
  // stop(): a running job and a queued one both end (cancelled).
  Engine eng2(*m, {.n_parallel = 1, .queue = 4, .n_ctx = 256, .max_batch = 32});
  auto d = std::make_shared<Channel>(), e = std::make_shared<Channel>();
  eng2.submit({.prompt = prompt, .n_predict = 200, .sampler = greedy, .channel = d});
  eng2.submit({.prompt = prompt, .n_predict = 200, .sampler = greedy, .channel = e});
  eng2.stop();
  CHECK(drain(*d).end.stop != StopReason::MaxTokens);
  CHECK(drain(*e).end.stop == StopReason::Cancelled);
  CHECK_THROWS(eng2.submit({.prompt = prompt, .n_predict = 5, .sampler = greedy, .channel = c}));
}

TEST_CASE("engine: a slot reused right after its history filled the sliding window") {
  vkg::test::ValidationGuard guard;
  auto m = tiny_model();
  Engine eng(*m, {.n_parallel = 1, .queue = 4, .n_ctx = 256, .max_batch = 32});
  SamplerParams greedy;
  greedy.greedy = true;
  const std::vector<int32_t> prompt = {2, 300, 301, 302};
  for (int n : {5, 5, 30, 3}) {
    auto ch = std::make_shared<Channel>();
    eng.submit({.prompt = prompt, .n_predict = n, .sampler = greedy, .channel = ch});
    const Outcome o = drain(*ch);
    CHECK(o.end.error.empty());
  }
}
