// The capability record of one Vulkan physical device: everything kernels, memory planning and
// the CLI need to know, probed once. Profiles (weaker devices) only lower these values.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <volk.h>

namespace vkg {

struct MemoryHeapInfo {
  uint64_t size = 0;       // bytes
  uint64_t budget = 0;     // bytes the driver says we may use (VK_EXT_memory_budget), else size
  bool device_local = false;
};

struct MemoryTypeInfo {
  uint32_t heap = 0;
  VkMemoryPropertyFlags flags = 0;
};

/// Probed capabilities. All sizes in bytes.
struct DeviceCaps {
  uint32_t index = 0;                       // physical-device index in enumeration order
  std::string name;
  std::string driver_name, driver_info;
  uint32_t vendor_id = 0, device_id = 0;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t api_version = 0, driver_version = 0;
  VkDriverId driver_id = static_cast<VkDriverId>(0);  // VkPhysicalDeviceDriverProperties::driverID

  // Arithmetic and storage features (Vulkan 1.2 core feature bits).
  bool fp16_arith = false, int8_arith = false;
  bool storage16 = false, storage8 = false;   // 16/8-bit storage buffer access
  bool timeline_semaphore = false;
  bool int64 = false;

  // Subgroups.
  uint32_t subgroup_size = 1;
  VkSubgroupFeatureFlags subgroup_ops = 0;    // supported operations in compute
  // A compute pipeline may require a subgroup size in [min_subgroup_size, max_subgroup_size]
  // (VK_EXT_subgroup_size_control, core in Vulkan 1.3 and enabled as the extension since the
  // instance asks for 1.2: subgroupSizeControl + computeFullSubgroups, compute in
  // requiredSubgroupSizeStages).
  bool subgroup_size_control = false;
  uint32_t min_subgroup_size = 1, max_subgroup_size = 1;

  // Limits (VkPhysicalDeviceLimits; defaults are the Vulkan 1.2 required limits).
  uint32_t max_shared_memory = 16384;                   // maxComputeSharedMemorySize
  uint32_t max_workgroup_invocations = 128;             // maxComputeWorkGroupInvocations
  uint32_t max_workgroup_size[3] = {128, 128, 64};      // maxComputeWorkGroupSize
  uint32_t max_workgroup_count[3] = {65535, 65535, 65535};  // maxComputeWorkGroupCount
  uint64_t max_storage_buffer_range = 1u << 27;         // maxStorageBufferRange
  uint64_t max_uniform_buffer_range = 16384;            // maxUniformBufferRange
  uint32_t max_push_constants = 128;                    // maxPushConstantsSize
  uint32_t max_storage_buffers_per_stage = 4;           // maxPerStageDescriptorStorageBuffers
  uint32_t max_texel_buffers_per_stage = 16;            // maxPerStageDescriptorSampledImages (uniform texel buffers count here)
  uint64_t max_allocation_size = 1ull << 30;            // maxMemoryAllocationSize
  uint64_t min_storage_buffer_offset_alignment = 256;   // minStorageBufferOffsetAlignment
  uint64_t min_uniform_buffer_offset_alignment = 256;   // minUniformBufferOffsetAlignment
  uint64_t max_texel_buffer_elements = 65536;           // maxTexelBufferElements: texels per uniform texel buffer view
  uint64_t min_texel_buffer_offset_alignment = 256;     // minTexelBufferOffsetAlignment
  float timestamp_period_ns = 1.0f;
  bool timestamps = false;           // timestamps on the compute queue
  bool transfer_timestamps = false;  // ... on the transfer queue (the compute queue's when there is no transfer family)

  // Memory.
  std::vector<MemoryHeapInfo> heaps;
  std::vector<MemoryTypeInfo> memory_types;
  bool uma = false;                           // every device-local type is also host-visible

  // Queues and extensions.
  uint32_t compute_family = UINT32_MAX;
  uint32_t transfer_family = UINT32_MAX;      // a transfer-only family, or UINT32_MAX if none
  bool memory_budget_ext = false;
  bool pipeline_executable_properties = false;  // VK_KHR_pipeline_executable_properties (driver statistics)

  // Driver workarounds (probed from the driver, not features):
  // soft_half: the driver's compiler mishandles unpackHalf2x16, so shaders convert halves with
  // integer ops (shaders/half.glsl, spec constant 100). Mesa lavapipe on hosts without x86's F16C
  // path (64-bit Arm: LLVM 15 aborts in instruction selection). Instance::Options::soft_half
  // (VKGEMMA_SOFT_HALF=0/1 in the CLI and the C API) overrides.
  bool soft_half = false;

  // Device profile in force (profiles.h): "" when none.
  std::string profile;
  uint32_t profile_subgroup_size = 0;  // the emulated device's nominal subgroup size (informational)

  bool subgroup_arith() const { return (subgroup_ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0; }
  bool has_transfer_queue() const { return transfer_family != UINT32_MAX; }
  uint64_t device_local_bytes() const;
  /// Short names of the supported subgroup operations ("basic vote arithmetic ...").
  std::string subgroup_ops_string() const;
  std::string type_string() const;  // "discrete", "integrated", "virtual", "cpu", "other"
  std::string api_version_string() const;
};

/// Probe one physical device (instance must have been created with volk loaded).
DeviceCaps probe_caps(VkPhysicalDevice pd, uint32_t index);

/// Rank used by device selection: discrete > integrated > virtual > CPU > other.
int device_type_rank(VkPhysicalDeviceType t);

/// Pick the preferred device among caps (highest rank, then lowest index). Pure; testable.
uint32_t choose_device(const std::vector<DeviceCaps>& devices);

} // namespace vkg
