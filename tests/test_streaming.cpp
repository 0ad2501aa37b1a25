// Memory budgets and layer streaming (issue 8): the residency planner, and a forward pass whose
// trailing layers stream through the two-slot window gives exactly the logits of the
// all-resident run (directly into host-visible memory and through staging + transfer).
#include <fmt/format.h>

#include <cstring>

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
  const ResidencyPlan all = plan_residency(caps, s->model, 1ull << 40, 1 << 20);
  CHECK(!all.streaming());
  CHECK(all.n_resident_layers == s->model.config.n_layer);
  CHECK(all.window_bytes == 0);
  // Everything resident needs device_bytes(); one byte less streams at least one layer.
  const ResidencyPlan tight = plan_residency(caps, s->model, all.device_bytes() - 1, 1 << 20);
  CHECK(tight.streaming());
  CHECK(tight.device_bytes() <= all.device_bytes() - 1);
  CHECK(tight.window_bytes > 0);
  CHECK(tight.streamed_bytes > 0);
  // Less memory, fewer resident layers, never more bytes than available, down to the error.
  uint32_t last = tight.n_resident_layers, plans = 0;
  for (uint64_t avail = tight.device_bytes(); avail > 0; avail -= avail / 64 + 1) {
    ResidencyPlan p;
    try {
      p = plan_residency(caps, s->model, avail, 1 << 20);
    } catch (const std::runtime_error&) {
      break;
    }
    plans++;
    CHECK(p.streaming());
    CHECK(p.device_bytes() <= avail);
    CHECK(p.n_resident_layers <= last);
    last = p.n_resident_layers;
  }
  CHECK(plans > 1);
  CHECK(last == 0);
}

TEST_CASE("too little memory even for the streaming window is refused before allocating, naming the bytes") {
  auto s = synth("q4_k_m");
  const auto& caps = device().caps();
  const ResidencyPlan all = plan_residency(caps, s->model, 1ull << 40, 1 << 20);
  const uint64_t before = device().allocator().stats().device_local_used;
  try {
    plan_residency(caps, s->model, all.global_bytes, 1 << 20);
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("needs at least") != std::string::npos);
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
  // A budget that holds embeddings, session and about half the layers (plus the allocator's
  // block-rounding slack, Allocator::plannable_bytes).
  const GgufFile file = GgufFile::open(path);
  const Gemma4Model gm = load_gemma4(file);
  const ResidencyPlan full =
      plan_residency(device().caps(), gm, 1ull << 40, Gemma4Forward::estimate_session_bytes(device(), gm, session));
  const uint64_t budget = full.device_bytes() - full.resident_layer_bytes / 2;
  alloc.set_budget(budget + alloc.stats().device_local_allocated + 2 * (1ull << 20));
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
  CHECK(alloc.stats().device_local_allocated <= alloc.budget());
}
