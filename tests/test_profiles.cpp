// Device profiles lower the capability record, and pipeline creation enforces it.
#include "device_weights.h"
#include "forward.h"
#include "gemma4_config.h"
#include "golden.h"
#include "gguf.h"
#include "gpu.h"
#include "kernel.h"
#include "ops.h"
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
    CHECK(c.max_texel_buffer_elements <= base.max_texel_buffer_elements);
    CHECK(c.max_uniform_buffer_range <= base.max_uniform_buffer_range);
    CHECK(c.max_storage_buffers_per_stage <= base.max_storage_buffers_per_stage);
    CHECK(c.max_texel_buffers_per_stage <= base.max_texel_buffers_per_stage);
    CHECK(c.min_storage_buffer_offset_alignment >= base.min_storage_buffer_offset_alignment);
    CHECK(c.min_texel_buffer_offset_alignment >= base.min_texel_buffer_offset_alignment);
    for (int i = 0; i < 3; ++i) CHECK(c.max_workgroup_count[i] <= base.max_workgroup_count[i]);
    if (!base.subgroup_size_control) CHECK(!c.subgroup_size_control);
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

namespace {
// A device above every Vulkan 1.2 required limit, with every optional feature.
DeviceCaps rich_caps() {
  DeviceCaps c;
  c.type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  c.api_version = VK_API_VERSION_1_3;
  c.fp16_arith = c.int8_arith = c.storage16 = c.storage8 = c.int64 = c.timeline_semaphore = true;
  c.subgroup_size = 32;
  c.subgroup_ops = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_VOTE_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT |
                   VK_SUBGROUP_FEATURE_BALLOT_BIT | VK_SUBGROUP_FEATURE_SHUFFLE_BIT |
                   VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT | VK_SUBGROUP_FEATURE_CLUSTERED_BIT |
                   VK_SUBGROUP_FEATURE_QUAD_BIT;
  c.subgroup_size_control = true;
  c.min_subgroup_size = 16;
  c.max_subgroup_size = 64;
  c.max_shared_memory = 65536;
  c.max_workgroup_invocations = 1024;
  for (int i = 0; i < 3; ++i) {
    c.max_workgroup_size[i] = 1024;
    c.max_workgroup_count[i] = 1u << 31;
  }
  c.max_storage_buffer_range = 1ull << 32;
  c.max_uniform_buffer_range = 1u << 16;
  c.max_push_constants = 256;
  c.max_storage_buffers_per_stage = 1u << 20;
  c.max_texel_buffers_per_stage = 1u << 20;
  c.max_allocation_size = 1ull << 34;
  c.min_storage_buffer_offset_alignment = 16;
  c.min_uniform_buffer_offset_alignment = 64;
  c.min_texel_buffer_offset_alignment = 16;
  c.max_texel_buffer_elements = 1ull << 28;
  c.heaps = {{8ull << 30, 8ull << 30, true}};
  return c;
}
}  // namespace

TEST_CASE("minimal is the Vulkan 1.2 required-limits table: it lowers every capability the code reads") {
  // Every DeviceCaps field that kernels, planning or pipeline creation read (runtime/caps.h),
  // with its value in the "Required Limits" table of the Vulkan 1.2 specification (features:
  // optional, so absent). A rich device must come out with exactly these values.
  DeviceCaps c = rich_caps();
  apply_profile(c, device_profile("minimal"));
  CHECK(c.profile == "minimal");
  CHECK(!c.fp16_arith);
  CHECK(!c.int8_arith);
  CHECK(!c.storage16);
  CHECK(!c.storage8);
  CHECK(!c.int64);
  CHECK(c.subgroup_ops == VK_SUBGROUP_FEATURE_BASIC_BIT);  // the only required subgroup operation
  CHECK(!c.subgroup_size_control);                         // Vulkan 1.3
  CHECK(c.max_shared_memory == 16384);                     // maxComputeSharedMemorySize
  CHECK(c.max_workgroup_invocations == 128);               // maxComputeWorkGroupInvocations
  CHECK(c.max_workgroup_size[0] == 128);                   // maxComputeWorkGroupSize
  CHECK(c.max_workgroup_size[1] == 128);
  CHECK(c.max_workgroup_size[2] == 64);
  for (int i = 0; i < 3; ++i) CHECK(c.max_workgroup_count[i] == 65535);  // maxComputeWorkGroupCount
  CHECK(c.max_storage_buffer_range == (1ull << 27));      // maxStorageBufferRange
  CHECK(c.max_uniform_buffer_range == 16384);              // maxUniformBufferRange
  CHECK(c.max_texel_buffer_elements == 65536);             // maxTexelBufferElements
  CHECK(c.max_push_constants == 128);                      // maxPushConstantsSize
  CHECK(c.max_storage_buffers_per_stage == 4);             // maxPerStageDescriptorStorageBuffers
  CHECK(c.max_texel_buffers_per_stage == 16);              // maxPerStageDescriptorSampledImages
  CHECK(c.max_allocation_size == (1ull << 30));            // maxMemoryAllocationSize (maintenance3)
  CHECK(c.min_storage_buffer_offset_alignment == 256);     // min...OffsetAlignment: at most 256
  CHECK(c.min_uniform_buffer_offset_alignment == 256);
  CHECK(c.min_texel_buffer_offset_alignment == 256);
  // The defaults of a DeviceCaps record are that same table.
  const DeviceCaps d;
  CHECK(d.max_storage_buffers_per_stage == c.max_storage_buffers_per_stage);
  CHECK(d.max_texel_buffer_elements == c.max_texel_buffer_elements);
  CHECK(d.max_uniform_buffer_range == c.max_uniform_buffer_range);

  // What the kernels pick from it: storage reads (1 MiB texel views cannot hold a 128 MiB
  // binding), no subgroup arithmetic, no required subgroup size; bindings up to 128 MiB.
  const OpsVariants v = select_variants(c);
  CHECK(!v.texel_reads);
  CHECK(!v.subgroup_arith);
  CHECK(v.attn_decode_required_subgroup == 0);
  CHECK(max_read_binding_bytes(c) == (1ull << 27));
  // The real device under minimal: never above the table, alignments never below it.
  DeviceCaps real = vkg::test::device().caps();
  apply_profile(real, device_profile("minimal"));
  CHECK(real.max_texel_buffer_elements <= 65536);
  CHECK(real.max_uniform_buffer_range <= 16384);
  CHECK(real.max_storage_buffers_per_stage <= 4);
  CHECK(real.max_texel_buffers_per_stage <= 16);
  CHECK(real.min_texel_buffer_offset_alignment >= 256);
  CHECK(real.min_storage_buffer_offset_alignment >= 256);
  for (int i = 0; i < 3; ++i) CHECK(real.max_workgroup_count[i] <= 65535);
}

TEST_CASE("variant choice: texel reads where the texel limit covers a binding, loop limit by driver ID, "
          "required subgroup size for decode attention") {
  DeviceCaps c = rich_caps();
  CHECK(!select_variants(c).texel_reads);  // a GPU: storage buffers
  c.type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  c.max_storage_buffer_range = 1ull << 31;
  c.max_texel_buffer_elements = 1ull << 27;  // lavapipe-like: 2 GiB views
  CHECK(select_variants(c).texel_reads);
  CHECK(max_read_binding_bytes(c) == (1ull << 31));
  c.max_texel_buffer_elements = 65536;  // SwiftShader-like: 1 MiB views
  CHECK(!select_variants(c).texel_reads);
  CHECK(max_read_binding_bytes(c) == (1ull << 31));
  // Weight parts follow the storage limit there, not the 1 MiB texel views: a 34 MiB Q8_0
  // matrix (16384 rows of 2048) is one part; under minimal (128 MiB ranges) 280 MiB is 3.
  const uint64_t q8_row = 2048 / 32 * 34;
  CHECK(matrix_parts(c, 8, 2048, 16384, q8_row).size() == 1);
  DeviceCaps m = c;
  apply_profile(m, device_profile("minimal"));
  const auto parts = matrix_parts(m, 8, 2048, 131072, q8_row);
  CHECK(parts.size() == 3);
  for (const auto& p : parts) CHECK(p.bytes + kMatrixPad <= (1ull << 27));
  // The 65535-iteration loop budget is llvmpipe's, nobody else's.
  CHECK(select_variants(c).max_loop_iterations == 0);
  c.driver_id = VK_DRIVER_ID_MESA_LLVMPIPE;
  CHECK(select_variants(c).max_loop_iterations == 65535);
  // Subgroup size 32 within 16..64 with size control: decode attention requires 32.
  c = rich_caps();
  OpsVariants v = select_variants(c);
  CHECK(v.attn_decode_subgroup);
  CHECK(v.attn_decode_required_subgroup == 32);
  c.subgroup_size_control = false;  // varying size, no control: no decode-subgroup kernel
  CHECK(!select_variants(c).attn_decode_subgroup);
  c.min_subgroup_size = c.max_subgroup_size = 32;  // fixed size: nothing to require
  v = select_variants(c);
  CHECK(v.attn_decode_subgroup);
  CHECK(v.attn_decode_required_subgroup == 0);
}

TEST_CASE("a required subgroup size is requested where the device can set it, refused where it cannot") {
  vkg::test::ValidationGuard guard;
  Device& dev = vkg::test::device();
  const DeviceCaps& c = dev.caps();
  KernelDesc d{.shader = "fill_u32", .n_buffers = 1, .push_bytes = 12, .spec = {c.subgroup_size},
               .required_subgroup_size = c.subgroup_size};
  if (c.subgroup_size_control) {
    Kernel k(dev, d);  // full subgroups of the device's size: one subgroup per workgroup
    CHECK(k.pipeline() != VK_NULL_HANDLE);
  } else {
    CHECK_THROWS_WITH_AS(Kernel(dev, d), doctest::Contains("cannot set"), VkError);
  }
  d.required_subgroup_size = c.max_subgroup_size * 2;
  d.spec = {d.required_subgroup_size};
  CHECK_THROWS_WITH_AS(Kernel(dev, d), doctest::Contains("cannot set"), VkError);
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
