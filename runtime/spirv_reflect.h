// Just enough SPIR-V reflection to enforce device limits on the pipelines we create: declared
// capabilities, the workgroup size after specialization, and the shared (Workgroup) memory.
// Source: the SPIR-V 1.x specification (module layout, OpCapability, OpDecorate SpecId,
// OpSpecConstant, OpSpecConstantComposite, OpExecutionMode LocalSize, OpVariable).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace vkg {

struct SpirvInfo {
  std::vector<uint32_t> capabilities;   // OpCapability operands (e.g. 9 Float16, 63 GroupNonUniformArithmetic)
  uint32_t local_size[3] = {1, 1, 1};   // after applying spec constants
  uint64_t shared_bytes = 0;            // Workgroup-storage variables (sizes we could resolve)
  bool shared_bytes_exact = true;       // false if some Workgroup array length could not be resolved
  bool has(uint32_t cap) const;
};

// Capability numbers used in checks.
inline constexpr uint32_t kSpvCapFloat16 = 9, kSpvCapFloat64 = 10, kSpvCapInt64 = 11, kSpvCapInt16 = 22,
                          kSpvCapInt8 = 39, kSpvCapGroupNonUniformArithmetic = 63,
                          kSpvCapGroupNonUniformClustered = 67;

/// Reflect a module with specialization constants spec[i] for SpecId i. Throws
/// std::runtime_error on a malformed module.
SpirvInfo reflect_spirv(std::span<const uint32_t> words, std::span<const uint32_t> spec);

} // namespace vkg
