#include "caps.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>

namespace vkg {

uint64_t DeviceCaps::device_local_bytes() const {
  uint64_t n = 0;
  for (const auto& h : heaps)
    if (h.device_local) n += h.budget;
  return n;
}

std::string DeviceCaps::subgroup_ops_string() const {
  static const std::pair<VkSubgroupFeatureFlagBits, const char*> names[] = {
      {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},       {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
      {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"}, {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
      {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},   {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle_relative"},
      {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"}, {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
  };
  std::string s;
  for (auto [bit, name] : names)
    if (subgroup_ops & bit) s += (s.empty() ? "" : " ") + std::string(name);
  return s.empty() ? "none" : s;
}

std::string DeviceCaps::type_string() const {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

std::string DeviceCaps::api_version_string() const {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(api_version), VK_API_VERSION_MINOR(api_version),
                     VK_API_VERSION_PATCH(api_version));
}

int device_type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

uint32_t choose_device(const std::vector<DeviceCaps>& devices) {
  uint32_t best = 0;
  for (uint32_t i = 1; i < devices.size(); ++i)
    if (device_type_rank(devices[i].type) > device_type_rank(devices[best].type)) best = i;
  return best;
}

DeviceCaps probe_caps(VkPhysicalDevice pd, uint32_t index) {
  DeviceCaps c;
  c.index = index;

  uint32_t n_ext = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, nullptr);
  std::vector<VkExtensionProperties> exts(n_ext);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, exts.data());
  bool sgc_ext = false;  // VK_EXT_subgroup_size_control (core in 1.3; the instance asks for 1.2)
  for (const auto& e : exts) {
    if (std::strcmp(e.extensionName, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME) == 0) c.memory_budget_ext = true;
    if (std::strcmp(e.extensionName, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME) == 0) sgc_ext = true;
    if (std::strcmp(e.extensionName, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME) == 0)
      c.pipeline_executable_properties = true;
  }

  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceSubgroupSizeControlProperties sgc{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &sg;
  sg.pNext = &drv;
  const bool sgc_ok = sgc_ext;  // the subgroup-size-control structs are valid to chain
  if (sgc_ok) drv.pNext = &sgc;
  vkGetPhysicalDeviceProperties2(pd, &props);
  const auto& p = props.properties;

  c.name = p.deviceName;
  c.driver_name = drv.driverName;
  c.driver_info = drv.driverInfo;
  c.vendor_id = p.vendorID;
  c.device_id = p.deviceID;
  c.type = p.deviceType;
  c.api_version = p.apiVersion;
  c.driver_version = p.driverVersion;
  c.driver_id = drv.driverID;
  c.subgroup_size = sg.subgroupSize;
  c.subgroup_ops = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) ? sg.supportedOperations : 0;
  c.min_subgroup_size = sgc_ok ? sgc.minSubgroupSize : sg.subgroupSize;
  c.max_subgroup_size = sgc_ok ? sgc.maxSubgroupSize : sg.subgroupSize;
  c.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  c.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    c.max_workgroup_size[i] = p.limits.maxComputeWorkGroupSize[i];
    c.max_workgroup_count[i] = p.limits.maxComputeWorkGroupCount[i];
  }
  c.max_storage_buffer_range = p.limits.maxStorageBufferRange;
  c.max_uniform_buffer_range = p.limits.maxUniformBufferRange;
  c.max_push_constants = p.limits.maxPushConstantsSize;
  c.max_storage_buffers_per_stage = p.limits.maxPerStageDescriptorStorageBuffers;
  c.max_texel_buffers_per_stage = p.limits.maxPerStageDescriptorSampledImages;
  c.min_storage_buffer_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
  c.min_uniform_buffer_offset_alignment = p.limits.minUniformBufferOffsetAlignment;
  c.max_texel_buffer_elements = p.limits.maxTexelBufferElements;
  c.min_texel_buffer_offset_alignment = p.limits.minTexelBufferOffsetAlignment;
  c.timestamp_period_ns = p.limits.timestampPeriod;

  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 props_m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &m3};
  vkGetPhysicalDeviceProperties2(pd, &props_m3);
  c.max_allocation_size = m3.maxMemoryAllocationSize;

  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
  VkPhysicalDeviceSubgroupSizeControlFeatures fsgc{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
  if (sgc_ok) f12.pNext = &fsgc;
  VkPhysicalDeviceFeatures2 f{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
  vkGetPhysicalDeviceFeatures2(pd, &f);
  c.fp16_arith = f12.shaderFloat16;
  c.int8_arith = f12.shaderInt8;
  c.storage16 = f11.storageBuffer16BitAccess;
  c.storage8 = f12.storageBuffer8BitAccess;
  c.timeline_semaphore = f12.timelineSemaphore;
  c.int64 = f.features.shaderInt64;
  c.subgroup_size_control = sgc_ok && fsgc.subgroupSizeControl && fsgc.computeFullSubgroups &&
                            (sgc.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;

  // lavapipe compiles shaders in this process, for this process's architecture.
#if defined(__x86_64__) || defined(__i386__)
  c.soft_half = false;
#else
  c.soft_half = drv.driverID == VK_DRIVER_ID_MESA_LLVMPIPE;
#endif

  VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
  VkPhysicalDeviceMemoryProperties2 mem{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
  if (c.memory_budget_ext) mem.pNext = &budget;
  vkGetPhysicalDeviceMemoryProperties2(pd, &mem);
  const auto& mp = mem.memoryProperties;
  for (uint32_t i = 0; i < mp.memoryHeapCount; ++i) {
    MemoryHeapInfo h;
    h.size = mp.memoryHeaps[i].size;
    h.budget = c.memory_budget_ext && budget.heapBudget[i] ? budget.heapBudget[i] : h.size;
    h.device_local = mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
    c.heaps.push_back(h);
  }
  bool any_dl = false, all_dl_visible = true;
  for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
    c.memory_types.push_back({mp.memoryTypes[i].heapIndex, mp.memoryTypes[i].propertyFlags});
    const auto fl = mp.memoryTypes[i].propertyFlags;
    if (fl & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) {
      any_dl = true;
      if (!(fl & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) all_dl_visible = false;
    }
  }
  c.uma = any_dl && all_dl_visible;

  uint32_t n_fam = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, nullptr);
  std::vector<VkQueueFamilyProperties> fams(n_fam);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, fams.data());
  for (uint32_t i = 0; i < n_fam; ++i) {
    const auto fl = fams[i].queueFlags;
    if ((fl & VK_QUEUE_COMPUTE_BIT) && c.compute_family == UINT32_MAX) {
      c.compute_family = i;
      c.timestamps = fams[i].timestampValidBits > 0 && p.limits.timestampComputeAndGraphics;
    }
    if ((fl & VK_QUEUE_TRANSFER_BIT) && !(fl & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)) &&
        c.transfer_family == UINT32_MAX) {
      c.transfer_family = i;
      c.transfer_timestamps = fams[i].timestampValidBits > 0;
    }
  }
  if (c.transfer_family == UINT32_MAX) c.transfer_timestamps = c.timestamps;
  return c;
}

} // namespace vkg
