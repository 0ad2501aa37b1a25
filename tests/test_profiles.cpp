// Device profiles lower the capability record, and pipeline creation enforces it.
#include "device_weights.h"
#include "forward.h"
#include "gemma4_config.h"
#include "golden.h"
#include "gguf.h"
#include "gpu.h"
#include "kernel.h"
#include "profiles.h"
#include "spirv_reflect.h"
#include "shader_registry.h"
#include "test_util.h"

using namespace vkg;

TEST_CASE("profiles only lower capabilities") {
  DeviceCaps base = vkg::test::device().caps();
  for (const auto& p : device_profiles()) {
    CAPTURE(p.name);
    DeviceCaps c = base;
    apply_profile(c, p);
    CHECK(c.profile == p.name);
    CHECK(c.max_shared_memory <= base.max_shared_memory);
    CHECK(c.max_workgroup_invocations <= base.max_workgroup_invocations);
    CHECK(c.max_storage_buffer_range <= base.max_storage_buffer_range);
    CHECK((c.subgroup_ops & ~base.subgroup_ops) == 0);
    CHECK(c.subgroup_size == base.subgroup_size);  // the hardware size cannot be emulated
    if (!base.fp16_arith) CHECK(!c.fp16_arith);
  }
  DeviceCaps pi = base;
  apply_profile(pi, device_profile("pi5-v3d"));
  CHECK(pi.max_shared_memory <= 16384);
  CHECK(pi.max_workgroup_invocations <= 256);
  CHECK(!pi.subgroup_arith());
  CHECK(!pi.fp16_arith);
  CHECK(!pi.int8_arith);
  CHECK(pi.max_storage_buffers_per_stage <= 8);
  CHECK_THROWS_WITH_AS(device_profile("pi4"), doctest::Contains("known: pi5-v3d"), std::invalid_argument);
}

TEST_CASE("SPIR-V reflection sees the specialized workgroup size") {
  const shaders::EmbeddedShader* fill = nullptr;
  for (const auto& s : shaders::all())
    if (std::string(s.name) == "fill_u32") fill = &s;
  REQUIRE(fill);
  const uint32_t spec[] = {96};
  auto info = reflect_spirv({fill->words, fill->n_words}, spec);
  CHECK(info.local_size[0] == 96);
  CHECK(info.local_size[1] == 1);
  CHECK(info.shared_bytes == 0);
  CHECK_THROWS(reflect_spirv(std::vector<uint32_t>{1, 2, 3, 4, 5}, std::span<const uint32_t>{}));
}

TEST_CASE("pipelines over the profile's limits are refused, within them are logged") {
  auto& inst = *vkg::test::gpu().instance;
  Device d(inst, {.pipeline_cache = false, .profile = "pi5-v3d"});
  vkg::test::ValidationGuard guard;
  CHECK(d.caps().profile == "pi5-v3d");
  CHECK_THROWS_WITH_AS(Kernel(d, {.shader = "fill_u32", .n_buffers = 1, .push_bytes = 12, .spec = {512}}),
                       doctest::Contains("over the limit of 256"), VkError);
  Kernel ok(d, {.shader = "fill_u32", .n_buffers = 1, .push_bytes = 12, .spec = {256}});
  auto log = d.pipeline_log();
  REQUIRE(log.size() == 1);
  CHECK(log[0].local_size[0] == 256);
  CHECK(!log[0].subgroup_arith);
  CHECK_THROWS_WITH_AS(Device(inst, {.profile = "nope"}), doctest::Contains("unknown device profile"), VkError);
}

TEST_CASE("a whole forward pass under pi5-v3d creates only pipelines within its limits") {
  VKG_REQUIRE_SHARED();
  auto& inst = *vkg::test::gpu().instance;
  Device d(inst, {.pipeline_cache = false, .profile = "pi5-v3d"});
  vkg::test::ValidationGuard guard;
  auto g = vkg::test::load_golden("tiny_q4_k_m");
  auto file = GgufFile::open(g.dir / "model.gguf");
  auto model = load_gemma4(file);
  auto weights = upload_weights(d, model);
  std::vector<float> logits;
  {
    Gemma4Forward fwd(d, model, weights, {.n_ctx = 64, .max_batch = 16, .kv_f32 = true});
    fwd.eval(g.tokens, true, logits);  // prefill (tiled kernels) in chunks of 16
    std::vector<int32_t> one = {g.tokens.back()};
    std::vector<float> step;
    fwd.eval(one, false, step);  // decode kernels
  }
  auto diff = vkg::test::compare_logits(logits, g.logits_ref, g.n_vocab);
  CHECK(diff.max_abs <= 1e-3 * diff.max_ref);
  const auto log = d.pipeline_log();
  CHECK(log.size() >= 10);
  for (const auto& p : log) {
    CAPTURE(p.shader);
    CHECK(uint64_t(p.local_size[0]) * p.local_size[1] * p.local_size[2] <= 256);
    CHECK(p.shared_bytes <= 16384);
    CHECK(!p.subgroup_arith);
    CHECK(!p.fp16);
    CHECK(!p.int8);
  }
}
