// Compile a set of pipelines and read the driver's statistics for each (registers, spills,
// scratch, shared memory, occupancy): `vkgemma kernels` and its CI checks on RADV's null
// device, where AMD's compiler (ACO) builds every pipeline without a GPU.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernel.h"

namespace vkg {

/// One statistic as the driver reports it (VkPipelineExecutableStatisticKHR), e.g. RADV:
/// "SGPRs", "VGPRs", "Spilled SGPRs", "Spilled VGPRs", "Scratch size" (bytes per lane),
/// "LDS size", "Code size", "Subgroups per SIMD".
struct PipelineStatistic {
  std::string name;
  std::string description;
  double value = 0;  // the value as a number (booleans 0/1)
};

/// What creating one pipeline gave.
struct PipelineReport {
  KernelDesc desc;
  uint32_t local_size[3] = {0, 0, 0};  // reflected after specialization (0 when not created)
  std::string refused;                 // why the capability check refused it ("" when created)
  std::string error;                   // why the driver failed to create it ("" when created)
  std::vector<PipelineStatistic> stats;  // empty where the device reports none
  /// The statistic named `name` (exact match), or -1 when absent.
  double stat(std::string_view name) const;
  /// Spilled SGPRs + spilled VGPRs + scratch size, as far as reported (0 when none reported).
  bool spills() const;
};

/// Create every description's pipeline on dev (outside Device::kernel's cache, not kept) with
/// statistics capture when dev.pipeline_statistics(), and report each. Allocates no device
/// memory (works on devices without memory heaps). A pipeline the capability check refuses, or
/// the driver fails to create, is reported as such; the others are not affected. progress (may
/// be empty) is called with each description before it is compiled.
std::vector<PipelineReport> compile_pipeline_set(Device& dev, std::span<const KernelDesc> descs,
                                                 void (*progress)(const KernelDesc&, size_t i, size_t n) = nullptr);

} // namespace vkg
