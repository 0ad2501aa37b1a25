// Residency at true Gemma 4 E2B size (issue 5): after loading the e2b preset (a sparse GGUF with
// the exact tensor table: every weight reads as zero, which residency does not depend on), the
// device holds only the device set + KV + scratch, per_layer_token_embd stays on the host (the
// process's RSS does not grow by its 1.8 GiB), and decoding pages one PLE row per token. Budgets
// are exact (issue 14): the golden cases run at exactly the minimum the planner names, with
// every layer streaming.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <regex>

#include "forward.h"
#include "golden.h"
#include "gpu.h"
#include "model.h"
#include "session.h"
#include "synth.h"
#include "test_util.h"

using namespace vkg;
using vkg::test::device;

namespace {
uint64_t rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}
double mib(uint64_t b) { return b / 1048576.0; }
}  // namespace

TEST_CASE("e2b preset: device-local bytes <= device set + KV + scratch; the PLE table stays on the host") {
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("e2b");
  o.types = SynthTypes::parse("q4_k_m");
  const auto path = vkg::test::scratch_dir("residency") / "e2b-q4_k_m-sparse.gguf";
  synth_write_sparse(synth_plan(o), path);

  const ForwardOptions session{.n_ctx = 1024, .max_batch = 64};
  const MemoryStats before = device().allocator().stats();
  const uint64_t rss0 = rss_bytes();
  auto m = Model::load(device(), path, {}, session);
  const uint64_t ple_bytes = m->host_paged_bytes();
  const ResidencyPlan& plan = m->residency();
  if (plan.streaming()) {
    MESSAGE(fmt::format("this device's memory ({} MiB budget) streams {} of {} layers: checking that plan instead",
                        mib(plan.available), plan.n_layer - plan.n_resident_layers, plan.n_layer));
  }
  Session s(*m, {.n_ctx = session.n_ctx, .max_batch = session.max_batch});
  std::vector<int32_t> prompt = {2, 1000, 2000, 3000, 4000, 5000, 6000, 7000};
  s.prefill(prompt);
  const auto st = s.stats();
  const MemoryStats mem = device().allocator().stats();
  const uint64_t rss1 = rss_bytes();

  // Device: weights (as uploaded) + this session (KV, activations, PLE slots, window).
  const uint64_t budget = m->device_bytes() + st.session_device_bytes;
  MESSAGE(fmt::format("device-local used {:.1f} MiB, allocated {:.1f} MiB; weights {:.1f} MiB + session {:.1f} MiB "
                      "(KV + scratch + PLE slots); PLE table {:.1f} MiB; RSS +{:.1f} MiB",
                      mib(mem.device_local_used), mib(mem.device_local_allocated), mib(m->device_bytes()),
                      mib(st.session_device_bytes), mib(ple_bytes), mib(rss1 - rss0)));
  CHECK(mem.device_local_used - before.device_local_used <= budget + uint64_t{mem.buffers} * (256 + buffer_guard_bytes()));  // + alignment, guards
  // Exact (arenas, no block rounding): the plan's weights and the session it reserved.
  CHECK(mem.device_local_allocated - before.device_local_allocated == plan.device_bytes());
  CHECK(st.session_device_bytes == plan.session_bytes + plan.window_bytes);
  CHECK(mem.device_local_used < ple_bytes);                         // the table itself never went up
  // Only the rows of the 8 prompt tokens were paged.
  CHECK(st.ple.rows == prompt.size());
  CHECK(st.ple.bytes == prompt.size() * (ple_bytes / m->config().n_vocab));
  // Host: lavapipe's device memory is host memory, so RSS grows by what was allocated on the
  // device (plus the model's host structures), never by the PLE table.
  CHECK(rss1 - rss0 < mem.device_local_allocated + 256ull * 1048576);
  CHECK(rss1 - rss0 < mem.device_local_allocated + ple_bytes / 4);
}

TEST_CASE("the golden cases run at exactly the minimum budget a refusal names, every layer streaming") {
  VKG_REQUIRE_SHARED();
  Allocator& alloc = device().allocator();
  struct Reset {
    Allocator& a;
    ~Reset() { a.set_budget(0); }
  } reset{alloc};
  const ForwardOptions session{.n_ctx = 256, .kv_f32 = true};
  for (const char* name : vkg::test::kGoldenCases) {
    CAPTURE(name);
    vkg::test::ValidationGuard guard;
    const auto g = vkg::test::load_golden(name);
    const uint64_t in_use = alloc.stats().device_local_allocated;
    // A budget far too small: the refusal names the minimum in MiB.
    alloc.set_budget(in_use + (1ull << 20));
    uint64_t named_mib = 0;
    try {
      Model::load(device(), g.dir / "model.gguf", {}, session);
      FAIL("a 1 MiB budget should be refused");
    } catch (const VkError& e) {
      const std::string msg = e.what();
      INFO(msg);
      std::smatch mm;
      REQUIRE(std::regex_search(msg, mm, std::regex("needs at least ([0-9]+) MiB of device memory")));
      named_mib = std::stoull(mm[1]);
    }
    CHECK(alloc.stats().device_local_allocated == in_use);
    // The planner's exact minimum, and the named MiB that holds it.
    const GgufFile file = GgufFile::open(g.dir / "model.gguf");
    const Gemma4Model gm = load_gemma4(file);
    const uint64_t minimum =
        plan_residency(device().caps(), alloc.rules(), gm,
                       {.available = 1ull << 40, .session_bytes = Gemma4Forward::estimate_session_bytes(device(), gm, session)})
            .minimum_bytes;
    CHECK(named_mib == (minimum + 1048575) / 1048576);
    for (const uint64_t budget : {minimum, named_mib << 20}) {
      CAPTURE(budget);
      alloc.set_budget(in_use + budget);
      auto m = Model::load(device(), g.dir / "model.gguf", {}, session);
      const ResidencyPlan& plan = m->residency();
      REQUIRE(plan.streaming());
      if (budget == minimum) CHECK(plan.n_resident_layers == 0);
      Gemma4Forward fwd(device(), m->gemma(), m->weights(), session);
      CHECK(alloc.stats().device_local_allocated - in_use == plan.device_bytes());
      CHECK(plan.device_bytes() <= budget);
      // Batch and token by token: the golden logits.
      for (bool sequential : {false, true}) {
        CAPTURE(sequential);
        fwd.reset();
        std::vector<float> got, one;
        if (sequential) {
          for (int32_t id : g.tokens) {
            fwd.eval(std::span<const int32_t>(&id, 1), true, one);
            got.insert(got.end(), one.begin(), one.end());
          }
        } else {
          fwd.eval(g.tokens, true, got);
        }
        const auto d = vkg::test::compare_logits(got, g.logits_ref, g.n_vocab);
        MESSAGE(fmt::format("{} at {} B ({} of {} layers resident, {}): max|diff| {:.2e} (max|logit| {:.2f})", name,
                            budget, plan.n_resident_layers, plan.n_layer, sequential ? "token by token" : "one batch",
                            d.max_abs, d.max_ref));
        CHECK(d.max_abs <= 1e-3 * d.max_ref);
        CHECK(d.argmax_mismatch == 0);
        CHECK(fwd.stream_stats().bytes > 0);
      }
    }
  }
}
