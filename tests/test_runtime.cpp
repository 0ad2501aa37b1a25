// Runtime core on the test device (lavapipe in CI): probe, memory, kernels, streams, cache,
// and the validation layer itself.
#include <chrono>
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

TEST_CASE("validation layer is on under ctest") {
  CHECK(vkg::test::gpu().instance->validation_enabled());
}

TEST_CASE("device probe reports sane capabilities") {
  ValidationGuard guard;
  const auto& c = device().caps();
  CHECK(!c.name.empty());
  CHECK(c.api_version >= VK_API_VERSION_1_2);
  CHECK(c.subgroup_size >= 1);
  CHECK((c.subgroup_size & (c.subgroup_size - 1)) == 0);
  CHECK(c.max_storage_buffer_range >= (1u << 27) - 1);
  CHECK(c.max_shared_memory >= 16384);
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

TEST_CASE("300 MiB buffer (over one storage range) round-trips through staging bit-exact") {
  ValidationGuard guard;
  const uint64_t size = 300ull << 20;
  REQUIRE(size > device().caps().max_storage_buffer_range);
  std::vector<uint32_t> src(size / 4);
  std::mt19937 rng(42);
  for (auto& v : src) v = rng();
  Buffer buf(device(), size, MemoryUsage::Device);
  upload(device(), buf, 0, src.data(), size, /*staged=*/true);
  std::vector<uint32_t> back(size / 4, 0);
  download(device(), buf, 0, back.data(), size, /*staged=*/true);
  CHECK(std::memcmp(src.data(), back.data(), size) == 0);
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
