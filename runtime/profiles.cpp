#include "profiles.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace vkg {
namespace {

constexpr uint64_t MiB = 1ull << 20, GiB = 1ull << 30;

// Numbers: Mesa's drivers report them in vkGetPhysicalDeviceProperties; public report pages of
// the Vulkan hardware database (gpuinfo.org) show them for real devices.
constexpr DeviceProfile kProfiles[] = {
    {.name = "pi5-v3d",
     .description = "Raspberry Pi 5, Broadcom V3D 7.1 (Mesa v3dv)",
     .source = "Mesa src/broadcom/vulkan/v3dv_device.c (maxComputeSharedMemorySize 16384, "
               "maxComputeWorkGroupInvocations 256, subgroup size 16, no subgroup arithmetic); gpuinfo.org V3D 7.1 "
               "reports",
     .nominal_subgroup_size = 16,
     .subgroup_arith = false,
     .fp16_arith = false,
     .int8_arith = false,
     .max_shared_memory = 16 * 1024,
     .max_workgroup_invocations = 256,
     .max_storage_buffers_per_stage = 8,
     .max_push_constants = 128,
     .max_storage_buffer_range = 128 * MiB,
     .max_allocation_size = 1 * GiB,
     .heap_budget = 3 * GiB,
     .requires_uma = true},
    {.name = "mali-valhall",
     .description = "Arm Mali-G7xx (Valhall), Android/Panfrost",
     .source = "gpuinfo.org Mali-G710/G715 reports (subgroup 16, 32 KiB shared memory, shaderFloat16, shaderInt8)",
     .nominal_subgroup_size = 16,
     .max_shared_memory = 32 * 1024,
     .max_workgroup_invocations = 512,
     .max_storage_buffers_per_stage = 16,
     .max_push_constants = 128,
     .max_storage_buffer_range = 128 * MiB,
     .max_allocation_size = 2 * GiB,
     .heap_budget = 4 * GiB,
     .requires_uma = true},
    {.name = "adreno-7xx",
     .description = "Qualcomm Adreno 7xx (Mesa turnip / Qualcomm driver)",
     .source = "Mesa src/freedreno/vulkan/tu_device.cc; gpuinfo.org Adreno 740 reports (subgroup 64, 32 KiB shared, "
               "maxStorageBufferRange 128 MiB, maxMemoryAllocationSize 1 GiB)",
     .nominal_subgroup_size = 64,
     .int8_arith = false,
     .max_shared_memory = 32 * 1024,
     .max_workgroup_invocations = 1024,
     .max_storage_buffers_per_stage = 24,
     .max_push_constants = 128,
     .max_storage_buffer_range = 128 * MiB,
     .max_allocation_size = 1 * GiB,
     .heap_budget = 4 * GiB,
     .requires_uma = true},
    {.name = "desktop", .description = "no caps beyond the device's own", .source = "-"},
    {.name = "minimal",
     .description = "Vulkan 1.2 required limits and no optional feature: basic subgroups only, no fp16/int8 "
                    "arithmetic, no 8/16-bit storage, no int64, no subgroup size control",
     .source = "Vulkan 1.2 specification, Required Limits table (chapters/limits.adoc, [[limits-required]]); "
               "maxMemoryAllocationSize from VK_KHR_maintenance3",
     .subgroup_arith = false,
     .subgroup_shuffle = false,
     .subgroup_size_control = false,
     .fp16_arith = false,
     .int8_arith = false,
     .storage16 = false,
     .storage8 = false,
     .int64 = false,
     .max_shared_memory = 16384,
     .max_workgroup_invocations = 128,
     .max_workgroup_size = {128, 128, 64},
     .max_workgroup_count = {65535, 65535, 65535},
     .max_storage_buffers_per_stage = 4,
     .max_texel_buffers_per_stage = 16,
     .max_push_constants = 128,
     .max_storage_buffer_range = 1ull << 27,
     .max_uniform_buffer_range = 16384,
     .max_texel_buffer_elements = 65536,
     .max_allocation_size = 1ull << 30,
     .min_storage_buffer_offset_alignment = 256,
     .min_uniform_buffer_offset_alignment = 256,
     .min_texel_buffer_offset_alignment = 256},
};

template <class T, class U>
void lower(T& v, U cap) {
  if (cap) v = std::min<T>(v, static_cast<T>(cap));
}
template <class T, class U>
void raise(T& v, U floor) {
  v = std::max<T>(v, static_cast<T>(floor));
}

}  // namespace

std::span<const DeviceProfile> device_profiles() { return kProfiles; }

const DeviceProfile& device_profile(std::string_view name) {
  std::string names;
  for (const auto& p : kProfiles) {
    if (name == p.name) return p;
    names += (names.empty() ? "" : ", ") + std::string(p.name);
  }
  throw std::invalid_argument("unknown device profile '" + std::string(name) + "' (known: " + names + ")");
}

void apply_profile(DeviceCaps& c, const DeviceProfile& p) {
  c.profile = p.name;
  if (p.nominal_subgroup_size) c.profile_subgroup_size = p.nominal_subgroup_size;
  if (!p.subgroup_arith)
    c.subgroup_ops &= ~(VK_SUBGROUP_FEATURE_ARITHMETIC_BIT | VK_SUBGROUP_FEATURE_CLUSTERED_BIT |
                        VK_SUBGROUP_FEATURE_QUAD_BIT);
  if (!p.subgroup_shuffle)
    c.subgroup_ops &= VK_SUBGROUP_FEATURE_BASIC_BIT;
  c.subgroup_size_control = c.subgroup_size_control && p.subgroup_size_control;
  c.fp16_arith = c.fp16_arith && p.fp16_arith;
  c.int8_arith = c.int8_arith && p.int8_arith;
  c.storage16 = c.storage16 && p.storage16;
  c.storage8 = c.storage8 && p.storage8;
  c.int64 = c.int64 && p.int64;
  lower(c.max_shared_memory, p.max_shared_memory);
  lower(c.max_workgroup_invocations, p.max_workgroup_invocations);
  for (int i = 0; i < 3; ++i) {
    lower(c.max_workgroup_size[i], p.max_workgroup_invocations);
    lower(c.max_workgroup_size[i], p.max_workgroup_size[i]);
    lower(c.max_workgroup_count[i], p.max_workgroup_count[i]);
  }
  lower(c.max_storage_buffers_per_stage, p.max_storage_buffers_per_stage);
  lower(c.max_texel_buffers_per_stage, p.max_texel_buffers_per_stage);
  lower(c.max_push_constants, p.max_push_constants);
  lower(c.max_storage_buffer_range, p.max_storage_buffer_range);
  lower(c.max_uniform_buffer_range, p.max_uniform_buffer_range);
  lower(c.max_texel_buffer_elements, p.max_texel_buffer_elements);
  lower(c.max_allocation_size, p.max_allocation_size);
  raise(c.min_storage_buffer_offset_alignment, p.min_storage_buffer_offset_alignment);
  raise(c.min_uniform_buffer_offset_alignment, p.min_uniform_buffer_offset_alignment);
  raise(c.min_texel_buffer_offset_alignment, p.min_texel_buffer_offset_alignment);
  if (p.heap_budget)
    for (auto& h : c.heaps)
      if (h.device_local) h.budget = std::min(h.budget, p.heap_budget);
}

} // namespace vkg
