// Memory budgets and layer streaming (issue 8): the residency planner, and a forward pass whose
// trailing layers stream through the two-slot window gives exactly the logits of the
// all-resident run (directly into host-visible memory and through staging + transfer).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <set>

#include "device_weights.h"
#include "forward.h"
#include "gemma4_config.h"
#include "gguf.h"
#include "gpu.h"
#include "model.h"
#include "residency.h"
#include "session.h"
#include "synth.h"
#include "test_util.h"

using namespace vkg;
using vkg::test::device;

namespace {

struct Synth {
  explicit Synth(std::vector<uint8_t> b) : bytes(std::move(b)), file(GgufFile::open_memory(bytes)), model(load_gemma4(file)) {}
  std::vector<uint8_t> bytes;
  GgufFile file;
  Gemma4Model model;
};

std::unique_ptr<Synth> synth(const char* types, uint64_t seed = 5) {
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse(types);
  o.seed = seed;
  return std::make_unique<Synth>(synth_write_memory(synth_plan(o)));
}

/// Logits of a 20-token prompt (one batch, all rows) followed by 6 decoded tokens (one by one).
std::vector<float> run(const Gemma4Model& m, const DeviceWeights& w, ForwardOptions opt, StreamStats* stats = nullptr) {
  Gemma4Forward fwd(device(), m, w, opt);
  std::vector<int32_t> prompt = {2};
  for (int i = 0; i < 19; ++i) prompt.push_back(100 + (i * 37) % 300);
  std::vector<float> all, one;
  fwd.eval(prompt, true, all);
  for (int i = 0; i < 6; ++i) {
    const int32_t id = 50 + 13 * i;
    fwd.eval(std::span<const int32_t>(&id, 1), false, one);
    all.insert(all.end(), one.begin(), one.end());
  }
  if (stats) *stats = fwd.stream_stats();
  return all;
}

}  // namespace

TEST_CASE("the residency plan keeps everything resident when it fits, else streams the trailing layers") {
  auto s = synth("q4_k_m");
  const auto& caps = device().caps();
  const MemoryRules rules = device().allocator().rules();
  const ResidencyPlan all = plan_residency(caps, rules, s->model, {.available = 1ull << 40, .session_bytes = 1 << 20});
  CHECK(!all.streaming());
  CHECK(all.n_resident_layers == s->model.config.n_layer);
  CHECK(all.window_bytes == 0);
  // The figures are the device-local bytes of the buffers upload_weights creates.
  CHECK(all.global_bytes + all.resident_layer_bytes ==
        device_local_bytes(rules, weight_buffers(caps, s->model, all.n_resident_layers)));
  CHECK(all.global_bytes == device_local_bytes(rules, weight_buffers(caps, s->model, 0)));
  // Everything resident needs device_bytes(); one byte less streams at least one layer.
  const ResidencyPlan tight =
      plan_residency(caps, rules, s->model, {.available = all.device_bytes() - 1, .session_bytes = 1 << 20});
  CHECK(tight.streaming());
  CHECK(tight.device_bytes() <= all.device_bytes() - 1);
  CHECK(tight.window_bytes > 0);
  CHECK(tight.streamed_bytes > 0);
  // Less memory, fewer resident layers, never more bytes than available, down to the error at
  // exactly one byte under the minimum.
  uint32_t plans = 0;
  for (uint64_t avail = tight.device_bytes(); avail >= tight.minimum_bytes; avail -= avail / 64 + 1) {
    const ResidencyPlan p = plan_residency(caps, rules, s->model, {.available = avail, .session_bytes = 1 << 20});
    plans++;
    CHECK(p.streaming());
    CHECK(p.device_bytes() <= avail);
    CHECK(p.minimum_bytes == tight.minimum_bytes);
  }
  CHECK(plans > 1);
  const ResidencyPlan least =
      plan_residency(caps, rules, s->model, {.available = tight.minimum_bytes, .session_bytes = 1 << 20});
  CHECK(least.n_resident_layers == 0);
  CHECK(least.device_bytes() == tight.minimum_bytes);
  CHECK_THROWS_AS(
      plan_residency(caps, rules, s->model, {.available = tight.minimum_bytes - 1, .session_bytes = 1 << 20}),
      VkError);
}

TEST_CASE("memory layout: exact blocks per usage and type, split at the largest allocation") {
  MemoryRules r;
  r.size_granularity = 64;
  r.offset_alignment = 256;
  r.guard_bytes = 0;
  r.max_block = 4096;
  r.device = {0, true, true};
  r.upload = {0, true, true};
  r.readback = {1, false, true};
  CHECK(buffer_footprint(r, 1) == 256);
  CHECK(buffer_footprint(r, 256) == 256);
  CHECK(buffer_footprint(r, 257) == 512);
  r.guard_bytes = 4096;
  CHECK(buffer_footprint(r, 256) == 256 + 4096);  // 256 rounded to 64, + guard, rounded to 256
  r.guard_bytes = 0;
  const std::vector<BufferRequest> req = {{3000, MemoryUsage::Device}, {1000, MemoryUsage::Device},
                                          {100, MemoryUsage::Upload},  {2000, MemoryUsage::Device},
                                          {10, MemoryUsage::Readback}, {5000, MemoryUsage::Device}};
  const MemoryLayout L = memory_layout(r, req);
  // Device: 3072 + 1024 = 4096 | 2048 | 5120 (alone: larger than a block); Upload 256; Readback 256.
  REQUIRE(L.blocks.size() == 5);
  CHECK(L.blocks[0].bytes == 4096);
  CHECK(L.blocks[0].buffers == 2);
  CHECK(L.blocks[1].usage == MemoryUsage::Upload);
  CHECK(L.blocks[1].bytes == 256);
  CHECK(L.blocks[2].bytes == 2048);
  CHECK(L.blocks[3].usage == MemoryUsage::Readback);
  CHECK(!L.blocks[3].device_local);
  CHECK(L.blocks[4].bytes == 5120);
  CHECK(L.device_local_bytes() == 4096 + 256 + 2048 + 5120);
  CHECK(L.bytes() == L.device_local_bytes() + 256);
}

TEST_CASE("the allocator's rules predict every buffer's memory requirement") {
  const MemoryRules r = device().allocator().rules();
  for (uint64_t size : {1ull, 4ull, 63ull, 64ull, 255ull, 256ull, 1000ull, 4096ull, 65537ull, 1ull << 20, 3000001ull}) {
    CAPTURE(size);
    const VkMemoryRequirements req = device().allocator().buffer_requirements(size);
    CHECK(req.size + r.guard_bytes <= buffer_footprint(r, size));
    CHECK(buffer_footprint(r, size) % req.alignment == 0);
    CHECK(buffer_footprint(r, size) < size + r.guard_bytes + 2 * r.offset_alignment + r.size_granularity);
  }
}

TEST_CASE("an arena allocates exactly its layout and frees its blocks with their last buffer") {
  vkg::test::ValidationGuard guard;
  Allocator& alloc = device().allocator();
  const MemoryRules r = alloc.rules();
  const std::vector<BufferRequest> req = {
      {1000, MemoryUsage::Device}, {64, MemoryUsage::Upload}, {300000, MemoryUsage::Device}, {16, MemoryUsage::Readback}};
  const MemoryLayout L = memory_layout(r, req);
  const MemoryStats before = alloc.stats();
  std::vector<Buffer> bufs;
  {
    const Arena arena(alloc, L);
    CHECK(alloc.stats().device_local_allocated - before.device_local_allocated == L.device_local_bytes());
    const ArenaScope scope(arena);
    for (const BufferRequest& q : req) bufs.emplace_back(device(), q.size, q.usage);
  }
  const MemoryStats mid = alloc.stats();
  CHECK(mid.arena_misses == before.arena_misses);
  CHECK(mid.device_local_allocated - before.device_local_allocated == L.device_local_bytes());
  // Buffers outside a scope do not land in the (closed) arena.
  bufs.clear();
  CHECK(alloc.stats().device_local_allocated == before.device_local_allocated);
  CHECK(alloc.stats().blocks == before.blocks);
}

TEST_CASE("too little memory even for the streaming window is refused before allocating, naming the bytes") {
  auto s = synth("q4_k_m");
  const auto& caps = device().caps();
  const MemoryRules rules = device().allocator().rules();
  const uint64_t before = device().allocator().stats().device_local_used;
  const ResidencyPlan all = plan_residency(caps, rules, s->model, {.available = 1ull << 40, .session_bytes = 1 << 20});
  try {
    plan_residency(caps, rules, s->model, {.available = all.global_bytes, .session_bytes = 1 << 20});
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(fmt::format("needs at least {} MiB", (all.minimum_bytes + 1048575) / 1048576)) != std::string::npos);
    CHECK(msg.find("MiB of device memory (have") != std::string::npos);
  }
  CHECK(device().allocator().stats().device_local_used == before);
}

TEST_CASE("streamed layers give exactly the logits of the all-resident run (direct and staged)") {
  for (const char* types : {"q4_k_m", "f32"}) {
    CAPTURE(types);
    vkg::test::ValidationGuard guard;
    auto s = synth(types);
    const uint32_t n_layer = s->model.config.n_layer;
    const DeviceWeights resident = upload_weights(device(), s->model);
    REQUIRE(!resident.plan.streaming());
    const std::vector<float> want = run(s->model, resident, {.n_ctx = 64, .max_batch = 16, .kv_f32 = true});
    // 0 resident layers (all stream), 2 (an odd count streams: slots alternate across steps),
    // n_layer - 1 (one streamed layer stays in its slot).
    for (uint32_t k : {0u, 2u, n_layer - 1}) {
      for (bool staged : {false, true}) {
        CAPTURE(k);
        CAPTURE(staged);
        ResidencyPlan plan = resident.plan;
        plan.n_resident_layers = k;
        const DeviceWeights w = upload_weights(device(), s->model, {}, nullptr, &plan);
        CHECK(w.bytes < resident.bytes);
        StreamStats st;
        const std::vector<float> got =
            run(s->model, w, {.n_ctx = 64, .max_batch = 16, .force_staging = staged, .kv_f32 = true}, &st);
        REQUIRE(got.size() == want.size());
        CHECK(std::memcmp(got.data(), want.data(), want.size() * 4) == 0);
        // 2 prefill steps (20 tokens in chunks of 16) + 6 decode steps.
        uint64_t per_step = 0;
        for (uint32_t l = k; l < n_layer; ++l)
          for (const GgufTensorInfo* t : layer_matrices(s->model.weights.layers[l])) per_step += t->n_bytes;
        MESSAGE(fmt::format("{} resident of {}: {} uploads, {} bytes, upload {:.2f} ms, GPU stall {:.2f} ms", k,
                            n_layer, st.uploads, st.bytes, st.upload_ms, st.gpu_stall_ms));
        // The thread prefetches up to two layers of the next step. With 4+ streamed layers every
        // step reloads them all; with fewer, a layer alone in its slot stays loaded.
        uint64_t max_layer = 0;
        for (uint32_t l = k; l < n_layer; ++l) {
          uint64_t b = 0;
          for (const GgufTensorInfo* t : layer_matrices(s->model.weights.layers[l])) b += t->n_bytes;
          max_layer = std::max(max_layer, b);
        }
        CHECK(st.bytes >= (n_layer - k >= 4 ? 8 * per_step : per_step));
        CHECK(st.bytes <= 8 * per_step + 2 * max_layer);
        CHECK(st.hidden_share() >= 0.0);
        CHECK(st.hidden_share() <= 1.0);
      }
    }
  }
}

TEST_CASE("a device memory budget makes Model::load stream layers; sessions stay within it; output unchanged") {
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q8_0");
  o.seed = 11;
  const auto path = vkg::test::scratch_dir("streaming") / "budget.gguf";
  synth_write(synth_plan(o), path);
  const ForwardOptions session{.n_ctx = 64, .max_batch = 16};
  std::vector<int32_t> prompt = {2, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410};
  GenerateOptions g;
  g.n_predict = 24;
  g.sampler.greedy = true;

  GenerateResult want;
  uint64_t weights_bytes = 0;
  {
    auto m = Model::load(device(), path, {}, session);
    REQUIRE(!m->residency().streaming());
    weights_bytes = m->device_bytes();
    Session s(*m, {.n_ctx = session.n_ctx, .max_batch = session.max_batch});
    want = s.generate(prompt, g, nullptr);
  }
  Allocator& alloc = device().allocator();
  struct Reset {
    Allocator& a;
    ~Reset() { a.set_budget(0); }
  } reset{alloc};
  // A budget that holds embeddings, session and about half the layers: exact, no slack.
  const GgufFile file = GgufFile::open(path);
  const Gemma4Model gm = load_gemma4(file);
  const MemoryRules rules = alloc.rules();
  const ResidencyPlan full =
      plan_residency(device().caps(), rules, gm,
                     {.available = 1ull << 40, .session_bytes = Gemma4Forward::estimate_session_bytes(device(), gm, session)});
  const uint64_t budget = full.device_bytes() - full.resident_layer_bytes / 2;
  const uint64_t in_use = alloc.stats().device_local_allocated;
  alloc.set_budget(budget + in_use);
  auto m = Model::load(device(), path, {}, session);
  const ResidencyPlan& plan = m->residency();
  MESSAGE(fmt::format("budget {} B: {} of {} layers resident, window {} B, {} B streamed per step", alloc.budget(),
                      plan.n_resident_layers, plan.n_layer, plan.window_bytes, plan.streamed_bytes));
  REQUIRE(plan.streaming());
  CHECK(m->device_bytes() < weights_bytes);
  Session s(*m, {.n_ctx = session.n_ctx, .max_batch = session.max_batch});
  const GenerateResult got = s.generate(prompt, g, nullptr);
  CHECK(got.tokens == want.tokens);
  CHECK(s.stats().stream.bytes > 0);
  CHECK(alloc.stats().device_local_allocated - in_use == plan.device_bytes());
  CHECK(alloc.stats().device_local_allocated <= alloc.budget());
}

TEST_CASE("every budget from the minimum to full residency loads with the planned layers, in exactly the planned bytes") {
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q6_k");
  o.seed = 3;
  const auto path = vkg::test::scratch_dir("streaming") / "sweep.gguf";
  synth_write(synth_plan(o), path);
  const ForwardOptions session{.n_ctx = 128, .max_batch = 32};
  const std::vector<int32_t> prompt = {2, 17, 300, 301, 5, 77, 78, 79, 80, 81, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99};
  Allocator& alloc = device().allocator();
  struct Reset {
    Allocator& a;
    ~Reset() { a.set_budget(0); }
  } reset{alloc};

  const GgufFile file = GgufFile::open(path);
  const Gemma4Model gm = load_gemma4(file);
  const auto& caps = device().caps();
  const MemoryRules rules = alloc.rules();
  const uint32_t n_layer = gm.config.n_layer;
  const uint64_t session_bytes = Gemma4Forward::estimate_session_bytes(device(), gm, session);
  CHECK(session_bytes == device_local_bytes(rules, Gemma4Forward::session_buffers(device(), gm, session)));
  // need[k]: the least budget with layers [0, k) resident (independently of the planner: the
  // device-local bytes of the buffers upload_weights and the session create).
  std::vector<uint64_t> need(n_layer + 1);
  const bool staging = !rules.device.host_visible;
  for (uint32_t k = 0; k <= n_layer; ++k)
    need[k] = device_local_bytes(rules, weight_buffers(caps, gm, k)) + session_bytes +
              (k < n_layer ? device_local_bytes(rules, window_buffers(window_slot_bytes(caps, gm, k), staging)) : 0);
  auto expected = [&](uint64_t budget) {  // the most resident layers that fit
    int32_t best = -1;
    for (uint32_t k = 0; k <= n_layer; ++k)
      if (need[k] <= budget) best = static_cast<int32_t>(k);
    return best;
  };
  const uint64_t lo = need[0], hi = need[n_layer];
  REQUIRE(lo < hi);
  std::vector<uint64_t> budgets;
  for (uint64_t k = 0; k <= n_layer; ++k) {  // every threshold and one byte under it
    budgets.push_back(need[k]);
    if (need[k] > lo) budgets.push_back(need[k] - 1);
  }
  for (uint64_t b = lo; b < hi; b += (hi - lo) / 7 + 1) budgets.push_back(b);  // and some in between

  std::vector<float> want;
  {
    auto m = Model::load(device(), path, {}, session);
    REQUIRE(!m->residency().streaming());
    Gemma4Forward fwd(device(), m->gemma(), m->weights(), session);
    fwd.eval(prompt, true, want);
  }
  MESSAGE(fmt::format("least budget for k resident layers: {}", fmt::join(need, ", ")));
  std::set<uint32_t> seen, planned;
  for (uint64_t budget : budgets) planned.insert(static_cast<uint32_t>(expected(budget)));
  for (uint64_t budget : budgets) {
    CAPTURE(budget);
    const int32_t k = expected(budget);
    REQUIRE(k >= 0);
    const MemoryStats before = alloc.stats();
    alloc.set_budget(before.device_local_allocated + budget);
    auto m = Model::load(device(), path, {}, session);
    const ResidencyPlan& plan = m->residency();
    CHECK(plan.n_resident_layers == static_cast<uint32_t>(k));
    CHECK(plan.minimum_bytes == lo);
    CHECK(plan.device_bytes() == need[k]);
    Gemma4Forward fwd(device(), m->gemma(), m->weights(), session);
    const MemoryStats after = alloc.stats();
    CHECK(after.device_local_allocated - before.device_local_allocated == plan.device_bytes());
    CHECK(after.device_local_allocated - before.device_local_allocated <= budget);
    CHECK(after.arena_misses == before.arena_misses);
    // Every residency computes the same logits (streamed layers hold the same bytes).
    if (seen.insert(plan.n_resident_layers).second) {
      std::vector<float> got;
      fwd.eval(prompt, true, got);
      REQUIRE(got.size() == want.size());
      CHECK(std::memcmp(got.data(), want.data(), want.size() * 4) == 0);
    }
  }
  // Every residency a budget in the range can get was loaded, streaming and not.
  CHECK(seen == planned);
  CHECK(seen.count(0) == 1);
  CHECK(seen.count(n_layer) == 1);
  CHECK(seen.size() >= 3);
  // One byte under the minimum is refused before anything is allocated.
  const MemoryStats before = alloc.stats();
  alloc.set_budget(before.device_local_allocated + lo - 1);
  CHECK_THROWS_WITH_AS(Model::load(device(), path, {}, session), doctest::Contains("needs at least"), VkError);
  CHECK(alloc.stats().device_local_allocated == before.device_local_allocated);
}
