// Device profiles: make a capable device (lavapipe, a desktop GPU) behave like a weaker one by
// removing capabilities and lowering limits in its capability record. Kernels, memory planning
// and pipeline creation all read the capped record, and Kernel creation rejects a pipeline that
// exceeds it, so every path the weak device would need runs and is tested here.
//
// A profile cannot raise anything, and cannot change the hardware subgroup size: kernels must
// work with the size the device actually runs (the profile's nominal size is only reported).
// Minimum offset alignments are "lowered" by raising them (a stricter requirement).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "caps.h"

namespace vkg {

/// One profile. Limits of 0 leave the device's value; feature flags of true keep the device's.
/// Fields mirror DeviceCaps (see there for the Vulkan names).
struct DeviceProfile {
  const char* name;
  const char* description;
  const char* source;                 // public source of the numbers
  uint32_t nominal_subgroup_size = 0; // 0: the device's own
  bool subgroup_arith = true;         // false: remove arithmetic/clustered/quad subgroup ops
  bool subgroup_shuffle = true;       // false: remove everything but basic subgroup ops
  bool subgroup_size_control = true;  // false: no required subgroup sizes (a Vulkan 1.3 feature)
  bool fp16_arith = true, int8_arith = true;  // false: remove
  bool storage16 = true, storage8 = true;     // false: remove 16/8-bit storage
  bool int64 = true;                  // false: remove shaderInt64
  uint32_t max_shared_memory = 0;
  uint32_t max_workgroup_invocations = 0;  // also caps each workgroup size dimension
  uint32_t max_workgroup_size[3] = {0, 0, 0};
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  uint32_t max_storage_buffers_per_stage = 0;
  uint32_t max_texel_buffers_per_stage = 0;
  uint32_t max_push_constants = 0;
  uint64_t max_storage_buffer_range = 0;
  uint64_t max_uniform_buffer_range = 0;
  uint64_t max_texel_buffer_elements = 0;
  uint64_t max_allocation_size = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;  // raised to at least this
  uint64_t min_uniform_buffer_offset_alignment = 0;
  uint64_t min_texel_buffer_offset_alignment = 0;
  uint64_t heap_budget = 0;           // device-local bytes usable
  bool requires_uma = false;          // the emulated device is UMA
};

/// All built-in profiles: pi5-v3d, mali-valhall, adreno-7xx, desktop, minimal. `minimal` is the
/// Vulkan 1.2 "Required Limits" table exactly, with no optional feature.
std::span<const DeviceProfile> device_profiles();
/// The profile called name; throws std::invalid_argument listing the valid names.
const DeviceProfile& device_profile(std::string_view name);
/// Lower caps to the profile (never raises a limit, never adds a feature; alignments only grow).
/// Records the profile name in caps.
void apply_profile(DeviceCaps& caps, const DeviceProfile& p);

} // namespace vkg
