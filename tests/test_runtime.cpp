// Runtime core on the test device (lavapipe and SwiftShader in CI): probe, memory, kernels,
// streams, cache, pipeline checks, and the validation layer itself. Sizes come from the device's
// own limits; what a device cannot do is reported as a skip.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <fstream>
#include <numeric>
#include <random>
#include <vector>

#include "gpu.h"
#include "kernel.h"
#include "ops.h"
#include "test_util.h"

using namespace vkg;
using vkg::test::device;
using vkg::test::ValidationGuard;

TEST_CASE("validation layer is on when requested (ctest sets VKGEMMA_VALIDATION=1)") {
  const char* v = std::getenv("VKGEMMA_VALIDATION");
  if (!v || std::string(v) != "1") VKG_SKIP("VKGEMMA_VALIDATION is not 1 (run under ctest for validation)");
  // Instance creation throws when the layer is requested but missing, so this is reached only
  // with the layer loaded.
  CHECK(vkg::test::gpu().instance->validation_enabled());
}

TEST_CASE("device probe reports sane capabilities") {
  ValidationGuard guard;
  const auto& c = device().caps();
  CHECK(!c.name.empty());
  CHECK(c.api_version >= VK_API_VERSION_1_2);
  CHECK(c.subgroup_size >= 1);
  CHECK((c.subgroup_size & (c.subgroup_size - 1)) == 0);
  // Vulkan 1.2 required limits (spec table 53 "Required Limits").
  CHECK(c.max_storage_buffer_range >= (1u << 27));
  CHECK(c.max_shared_memory >= 16384);
  CHECK(c.max_workgroup_invocations >= 128);
  CHECK(c.max_push_constants >= 128);
  CHECK(c.max_storage_buffers_per_stage >= 4);
  CHECK(!c.heaps.empty());
  CHECK(c.compute_family != UINT32_MAX);
  CHECK(c.timeline_semaphore);
  if (c.name.find("llvmpipe") != std::string::npos) {
    // Mesa lavapipe 22.x: subgroups as wide as its SIMD registers ("llvmpipe (LLVM 15.0.6, 256
    // bits)": 8 floats; 128-bit NEON on arm64: 4), 128 MiB storage range, 32 KiB shared memory,
    // one UMA heap, a single queue family.
    const auto bits_at = c.name.find(" bits)");
    REQUIRE(bits_at != std::string::npos);
    const auto num_at = c.name.rfind(' ', bits_at - 1) + 1;
    CHECK(c.subgroup_size == std::stoul(c.name.substr(num_at, bits_at - num_at)) / 32);
    CHECK(c.max_storage_buffer_range == 128ull << 20);
    CHECK(c.max_shared_memory == 32768);
    CHECK(c.uma);
    CHECK(!c.has_transfer_queue());
    CHECK(c.type == VK_PHYSICAL_DEVICE_TYPE_CPU);
    // Its texel views cover the whole storage range: read-only operands go through them, and
    // its 65535-iteration loop limit is known by driver ID.
    CHECK(c.driver_id == VK_DRIVER_ID_MESA_LLVMPIPE);
    CHECK(c.max_texel_buffer_elements * 16 >= c.max_storage_buffer_range);
    const OpsVariants v = select_variants(c);
    CHECK(v.texel_reads);
    CHECK(v.max_loop_iterations == 65535);
  }
}

TEST_CASE("device choice prefers discrete > integrated > virtual > cpu") {
  std::vector<DeviceCaps> d(4);
  d[0].type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  d[1].type = VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  d[2].type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  d[3].type = VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU;
  CHECK(choose_device(d) == 2);
  d[2].type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  CHECK(choose_device(d) == 1);
  d[1].type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  CHECK(choose_device(d) == 3);
}

TEST_CASE("a buffer larger than one storage range round-trips through staging bit-exact") {
  ValidationGuard guard;
  const auto& c = device().caps();
  // Just over the device's own maxStorageBufferRange (128 MiB on lavapipe, 1 GiB on SwiftShader),
  // moved in 64 MiB pieces against a pattern regenerated from the offset (little host memory).
  const uint64_t size = (c.max_storage_buffer_range + (16ull << 20)) & ~uint64_t{3};
  if (size > c.max_allocation_size)
    VKG_SKIP(fmt::format("maxMemoryAllocationSize {} MiB cannot hold a buffer over the {} MiB storage range",
                         c.max_allocation_size >> 20, c.max_storage_buffer_range >> 20));
  Buffer buf(device(), size, MemoryUsage::Device);
  const uint64_t piece = 64ull << 20;
  auto pattern = [](uint64_t word) { return static_cast<uint32_t>((word * 0x9E3779B97F4A7C15ull) >> 29); };
  std::vector<uint32_t> chunk(piece / 4);
  for (uint64_t off = 0; off < size; off += piece) {
    const uint64_t n = std::min(piece, size - off);
    for (uint64_t i = 0; i < n / 4; ++i) chunk[i] = pattern(off / 4 + i);
    upload(device(), buf, off, chunk.data(), n, /*staged=*/true);
  }
  uint64_t bad = 0;
  for (uint64_t off = 0; off < size; off += piece) {
    const uint64_t n = std::min(piece, size - off);
    std::fill(chunk.begin(), chunk.end(), 0u);
    download(device(), buf, off, chunk.data(), n, /*staged=*/true);
    for (uint64_t i = 0; i < n / 4; ++i) bad += chunk[i] != pattern(off / 4 + i);
  }
  CHECK(bad == 0);
  auto st = device().allocator().stats();
  CHECK(st.device_local_used >= size);
}

TEST_CASE("allocator suballocates small buffers from one block and frees them") {
  ValidationGuard guard;
  auto before = device().allocator().stats();
  {
    std::vector<Buffer> bufs;
    for (int i = 0; i < 16; ++i) bufs.emplace_back(device(), 1000 + i, MemoryUsage::Device);
    auto mid = device().allocator().stats();
    CHECK(mid.buffers == before.buffers + 16);
    CHECK(mid.blocks <= before.blocks + 1);
    CHECK(mid.device_local_used >= before.device_local_used + 16 * 1000);
  }
  auto after = device().allocator().stats();
  CHECK(after.buffers == before.buffers);
  CHECK(after.device_local_used == before.device_local_used);
}

TEST_CASE("fill kernel result matches C++ element by element") {
  ValidationGuard guard;
  const uint32_t n = 100003;  // not a multiple of the workgroup size
  Kernel k(device(), {.shader = "fill_u32", .n_buffers = 1, .push_bytes = 12, .spec = {64}});
  Buffer out(device(), n * 4, MemoryUsage::Device);
  CommandList cl(device());
  Stream s(device());
  struct Push { uint32_t n, value, step; } push{n, 7, 3};
  static_assert(sizeof(Push) == 12, "must match fill.comp");
  cl.begin();
  cl.dispatch(k, {out}, push, (n + 63) / 64);
  cl.end();
  s.wait(s.submit(cl));
  std::vector<uint32_t> got(n);
  download(device(), out, 0, got.data(), n * 4);
  uint32_t bad = 0;
  for (uint32_t i = 0; i < n; ++i) bad += got[i] != 7 + i * 3;
  CHECK(bad == 0);
}

TEST_CASE("transfer-queue copy is ordered before a compute dispatch by a timeline semaphore") {
  ValidationGuard guard;
  const uint32_t n = 1 << 16;
  std::vector<uint32_t> src(n);
  std::iota(src.begin(), src.end(), 1000u);
  Buffer staging(device(), n * 4, MemoryUsage::Upload);
  std::memcpy(staging.mapped(), src.data(), n * 4);
  Buffer a(device(), n * 4, MemoryUsage::Device), b(device(), n * 4, MemoryUsage::Device);
  Kernel k(device(), {.shader = "copy_add_u32", .n_buffers = 2, .push_bytes = 12, .spec = {64}});
  Stream xfer(device(), QueueKind::Transfer), comp(device());
  CommandList xl(device(), QueueKind::Transfer), cl(device());
  xl.begin();
  xl.copy(staging, 0, a, 0, n * 4);
  xl.end();
  struct Push { uint32_t n, mul, add; } push{n, 3, 5};
  cl.begin();
  cl.dispatch(k, {a, b}, push, n / 64);
  cl.end();
  const uint64_t xv = xfer.last_submitted() + 1;
  uint64_t cv = 0;
  if (device().separate_transfer_queue()) {
    // Submit the compute work first, waiting on a transfer value not yet submitted: only the
    // timeline wait can make the result right.
    std::thread t([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      CHECK(xfer.submit(xl) == xv);
    });
    cv = comp.submit(cl, {{&xfer.timeline(), xv}});
    t.join();
  } else {
    // One queue (lavapipe): a wait-before-signal on the same queue would deadlock, so the
    // transfer is submitted first; the timeline wait still orders the two submissions.
    CHECK(xfer.submit(xl) == xv);
    cv = comp.submit(cl, {{&xfer.timeline(), xv}});
  }
  comp.wait(cv);
  std::vector<uint32_t> got(n);
  download(device(), b, 0, got.data(), n * 4);
  uint32_t bad = 0;
  for (uint32_t i = 0; i < n; ++i) bad += got[i] != src[i] * 3 + 5;
  CHECK(bad == 0);
}

TEST_CASE("pipeline cache file is written, reused, and a corrupt one is ignored") {
  auto dir = vkg::test::scratch_dir("pipeline-cache");
  auto& inst = *vkg::test::gpu().instance;
  std::filesystem::path path;
  {
    Device d(inst, {.cache_dir = dir});
    CHECK(!d.pipeline_cache_loaded());
    Kernel k(d, {.shader = "fill_u32", .n_buffers = 1, .push_bytes = 12, .spec = {64}});
    path = d.pipeline_cache_path();
  }
  REQUIRE(std::filesystem::exists(path));
  CHECK(std::filesystem::file_size(path) >= 32);
  {
    Device d(inst, {.cache_dir = dir});
    CHECK(d.pipeline_cache_loaded());
  }
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << "this is not a pipeline cache, just forty-odd bytes of junk text";
  }
  {
    Device d(inst, {.cache_dir = dir});
    CHECK(!d.pipeline_cache_loaded());
    Kernel k(d, {.shader = "fill_u32", .n_buffers = 1, .push_bytes = 12, .spec = {64}});
  }
}

TEST_CASE("the debug messenger catches a deliberately invalid Vulkan call") {
  if (!vkg::test::gpu().instance->validation_enabled()) VKG_SKIP("validation is off (VKGEMMA_VALIDATION)");
  ValidationGuard guard;
  // VUID-VkBufferCreateInfo-size-00912: size must be greater than 0.
  VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  ci.size = 0;
  ci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  VkBuffer b = VK_NULL_HANDLE;
  VkResult r = vkCreateBuffer(device().handle(), &ci, nullptr, &b);
  if (r == VK_SUCCESS && b) vkDestroyBuffer(device().handle(), b, nullptr);
  CHECK(guard.seen() >= 1);
  guard.accept_seen();
}

TEST_CASE("kernel interface errors are reported, not crashes") {
  ValidationGuard guard;
  CHECK_THROWS_WITH_AS(Kernel(device(), {.shader = "no_such_shader"}), doctest::Contains("not embedded"), VkError);
  CHECK_THROWS_AS(Kernel(device(), {.shader = "fill_u32", .n_buffers = 1, .push_bytes = 4096}), VkError);
}

TEST_CASE("shared memory sized by the workgroup size is checked after specialization") {
  // rms_norm's reduction array is red_f[gl_WorkGroupSize.x]: 4 bytes per invocation. With the
  // device's shared memory lowered below that, the pipeline must be refused with the figure.
  ValidationGuard guard;
  auto& caps = device().mutable_caps();
  const DeviceCaps saved = caps;
  const uint32_t wg = std::min<uint32_t>(512, std::min(saved.max_workgroup_invocations, saved.max_workgroup_size[0]));
  caps.max_shared_memory = wg * 4 - 4;
  const std::string want =
      fmt::format("uses {} bytes of shared memory, over the limit of {}", wg * 4, caps.max_shared_memory);
  CHECK_THROWS_WITH_AS(Kernel(device(), {.shader = "rms_norm", .n_buffers = 3, .push_bytes = 20, .spec = {wg}}),
                       doctest::Contains(want.c_str()), VkError);
  caps.max_shared_memory = wg * 4;
  CHECK_NOTHROW(Kernel(device(), {.shader = "rms_norm", .n_buffers = 3, .push_bytes = 20, .spec = {wg}}));
  caps = saved;
}
