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
    {"pi5-v3d", "Raspberry Pi 5, Broadcom V3D 7.1 (Mesa v3dv)",
     "Mesa src/broadcom/vulkan/v3dv_device.c (maxComputeSharedMemorySize 16384, maxComputeWorkGroupInvocations 256, "
     "subgroup size 16, no subgroup arithmetic); gpuinfo.org V3D 7.1 reports",
     16, false, true, false, false, true, true, 16 * 1024, 256, 8, 128, 128 * MiB, 1 * GiB, 3 * GiB, true},
    {"mali-valhall", "Arm Mali-G7xx (Valhall), Android/Panfrost", "gpuinfo.org Mali-G710/G715 reports (subgroup 16, "
     "32 KiB shared memory, shaderFloat16, shaderInt8)",
     16, true, true, true, true, true, true, 32 * 1024, 512, 16, 128, 128 * MiB, 2 * GiB, 4 * GiB, true},
    {"adreno-7xx", "Qualcomm Adreno 7xx (Mesa turnip / Qualcomm driver)",
     "Mesa src/freedreno/vulkan/tu_device.cc; gpuinfo.org Adreno 740 reports (subgroup 64, 32 KiB shared, "
     "maxStorageBufferRange 128 MiB, maxMemoryAllocationSize 1 GiB)",
     64, true, true, true, false, true, true, 32 * 1024, 1024, 24, 128, 128 * MiB, 1 * GiB, 4 * GiB, true},
    {"desktop", "no caps beyond the device's own", "-", 0, true, true, true, true, true, true, 0, 0, 0, 0, 0, 0, 0,
     false},
    {"minimal", "Vulkan 1.2 core minimum: basic subgroups, no fp16/int8 arithmetic or 8/16-bit storage, 16 KiB shared, "
     "128 invocations",
     "Vulkan 1.2 specification, Required Limits table", 0, false, false, false, false, false, false, 16 * 1024, 128,
     4, 128, 128 * MiB, 1 * GiB, 0, false},
};

template <class T>
void lower(T& v, T cap) {
  if (cap) v = std::min(v, cap);
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
  c.fp16_arith = c.fp16_arith && p.fp16_arith;
  c.int8_arith = c.int8_arith && p.int8_arith;
  c.storage16 = c.storage16 && p.storage16;
  c.storage8 = c.storage8 && p.storage8;
  lower(c.max_shared_memory, p.max_shared_memory);
  lower(c.max_workgroup_invocations, p.max_workgroup_invocations);
  for (auto& s : c.max_workgroup_size) lower(s, p.max_workgroup_invocations);
  lower(c.max_storage_buffers_per_stage, p.max_storage_buffers_per_stage);
  lower(c.max_push_constants, p.max_push_constants);
  lower(c.max_storage_buffer_range, p.max_storage_buffer_range);
  lower(c.max_allocation_size, p.max_allocation_size);
  if (p.heap_budget)
    for (auto& h : c.heaps)
      if (h.device_local) h.budget = std::min(h.budget, p.heap_budget);
}

} // namespace vkg
