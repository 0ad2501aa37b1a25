// Device profiles: make a capable device (lavapipe, a desktop GPU) behave like a weaker one by
// removing capabilities and lowering limits in its capability record. Kernels, memory planning
// and pipeline creation all read the capped record, and Kernel creation rejects a pipeline that
// exceeds it, so every path the weak device would need runs and is tested here.
//
// A profile cannot raise anything, and cannot change the hardware subgroup size: kernels must
// work with the size the device actually runs (the profile's nominal size is only reported).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "caps.h"

namespace vkg {

struct DeviceProfile {
  const char* name;
  const char* description;
  const char* source;                 // public source of the numbers
  uint32_t nominal_subgroup_size;     // 0: the device's own
  bool subgroup_arith;                // false: remove arithmetic/clustered/quad subgroup ops
  bool subgroup_shuffle;              // false: remove shuffle ops too (basic/vote/ballot only)
  bool fp16_arith, int8_arith;        // false: remove
  bool storage16, storage8;           // false: remove 16/8-bit storage
  uint32_t max_shared_memory;         // 0: unchanged (else min with the device's)
  uint32_t max_workgroup_invocations;
  uint32_t max_storage_buffers_per_stage;
  uint32_t max_push_constants;
  uint64_t max_storage_buffer_range;
  uint64_t max_allocation_size;
  uint64_t heap_budget;               // device-local bytes usable
  bool requires_uma;                  // the emulated device is UMA
};

/// All built-in profiles: pi5-v3d, mali-valhall, adreno-7xx, desktop, minimal.
std::span<const DeviceProfile> device_profiles();
/// The profile called name; throws std::invalid_argument listing the valid names.
const DeviceProfile& device_profile(std::string_view name);
/// Lower caps to the profile (never raises a value). Records the profile name in caps.
void apply_profile(DeviceCaps& caps, const DeviceProfile& p);

} // namespace vkg
