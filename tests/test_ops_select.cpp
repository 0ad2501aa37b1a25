// Ops::argmax and Ops::top_k over up to 262144 logits against ref::argmax / ref::top_k (exact:
// same ids and values, ties broken by the lower id), with and without scratch, all modes.
#include <algorithm>

#include "ops_test.h"

using namespace vkg;
using namespace vkg::test;

namespace {

std::vector<float> logits(uint32_t n, uint32_t seed) {
  auto x = random_floats(n, seed, -30.0f, 30.0f);
  // plant ties among the largest values and a duplicated maximum
  std::mt19937 rng(seed);
  const float top = 31.0f;
  for (int i = 0; i < 5; ++i) x[rng() % n] = top;
  for (int i = 0; i < 50; ++i) x[rng() % n] = 30.5f;
  for (int i = 0; i < 20; ++i) x[rng() % n] = -1e30f;
  return x;
}

} // namespace

TEST_CASE("argmax and top_k over 262144 logits, ties to the lower id, with and without scratch") {
  ValidationGuard guard;
  for (auto mode : {ForcedCaps::Native, ForcedCaps::NoSubgroupNoFp16, ForcedCaps::SmallLimits}) {
    ForcedCaps forced(mode);
    Ops ops(device(), test_variants());
    CAPTURE(mode_name(mode));
    for (uint32_t n : {262144u, 1000u, 3u}) {
      auto x = logits(n, n);
      Buffer xb = to_device(x);
      for (bool with_scratch : {true, false}) {
        // Without scratch one workgroup does everything: k is limited (lavapipe's loop budget).
        const uint32_t max_k_alone = n == 262144 ? (mode == ForcedCaps::SmallLimits ? 1 : 40) : 256;
        CAPTURE(n);
        CAPTURE(with_scratch);
        const uint64_t sb = ops.scratch_bytes(1, 8, 256, 1024, n);
        Buffer scratch(device(), sb, MemoryUsage::Device);
        ops.set_scratch(with_scratch ? BufferRange(scratch, 0, sb) : BufferRange{});
        Buffer am = zeros<int32_t>(1);
        run([&](CommandList& cl) { ops.argmax(cl, xb, n, am); });
        CHECK(from_device<int32_t>(am, 1)[0] == ref::argmax(x.data(), n));
        for (uint32_t k : {1u, 40u, 256u}) {
          if (k > n || (!with_scratch && k > max_k_alone)) continue;
          CAPTURE(k);
          Buffer ids = zeros<int32_t>(k), vals = zeros<float>(k);
          run([&](CommandList& cl) { ops.top_k(cl, xb, n, k, ids, vals); });
          std::vector<int32_t> want_ids(k);
          std::vector<float> want_vals(k);
          ref::top_k(x.data(), n, k, want_ids.data(), want_vals.data());
          auto got_ids = from_device<int32_t>(ids, k);
          auto got_vals = from_device<float>(vals, k);
          for (uint32_t i = 0; i < k; ++i)
            if (got_ids[i] != want_ids[i]) {
              MESSAGE("first mismatch at ", i, ": got ", got_ids[i], " (", got_vals[i], ") want ", want_ids[i], " (", want_vals[i], ")");
              for (uint32_t j = (i > 3 ? i - 3 : 0); j < std::min(k, i + 4); ++j) MESSAGE(j, ": got ", got_ids[j], " ", got_vals[j], " want ", want_ids[j], " ", want_vals[j]);
              break;
            }
          CHECK(got_ids == want_ids);
          CHECK(got_vals == want_vals);
        }
        if (n == 3) {  // k == n: everything, sorted
          Buffer ids = zeros<int32_t>(3);
          run([&](CommandList& cl) { ops.top_k(cl, xb, n, 3, ids, BufferRange{}); });
          std::vector<int32_t> want_ids(3);
          std::vector<float> want_vals(3);
          ref::top_k(x.data(), n, 3, want_ids.data(), want_vals.data());
          CHECK(from_device<int32_t>(ids, 3) == want_ids);
        }
        ops.set_scratch(BufferRange{});
      }
    }
  }
}
