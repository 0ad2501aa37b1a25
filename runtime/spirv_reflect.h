// SPIR-V reflection to enforce device limits on the pipelines we create, after specialization:
// declared capabilities, the workgroup size, and the shared (Workgroup) memory. Specialization
// constants and the constant expressions built on them (OpSpecConstantOp: a shared array sized
// gl_WorkGroupSize.x / 32, say) are evaluated exactly; whatever cannot be determined exactly makes
// reflect_spirv throw, so a pipeline whose resource use is unknown is refused (fail closed).
//
// Why not a library at run time: SPIRV-Cross (the natural choice) does not evaluate
// OpSpecConstantOp CompositeExtract, which glslang emits for every gl_WorkGroupSize-sized array,
// its C API cannot set specialization values, and neither it nor SPIRV-Tools can be installed
// for arm64 beside the host's (cross builds). tests/test_spirv_reflect.cpp checks this code
// against SPIRV-Tools' specializer (spirv-opt --freeze-spec-const --fold-spec-const-op-composite)
// plus SPIRV-Cross reflection for every embedded shader.
// Source: the SPIR-V 1.6 specification (2.3 module layout, 3.31 capabilities, 3.42.7 constant
// instructions incl. the OpSpecConstantOp opcode list, 2.12 specialization).
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "caps.h"
#include "error.h"

namespace vkg {

struct SpirvInfo {
  std::vector<uint32_t> capabilities;   // OpCapability operands (e.g. 9 Float16, 63 GroupNonUniformArithmetic)
  uint32_t local_size[3] = {1, 1, 1};   // after applying spec constants
  uint64_t shared_bytes = 0;            // Workgroup-storage variables, exact (scalar-aligned layout)
  bool has(uint32_t cap) const;
};

/// A module whose resource use cannot be determined exactly (or that is malformed).
/// Code: internal (the embedded shaders are the project's own).
struct SpirvReflectError : Error {
  explicit SpirvReflectError(const std::string& what) : Error(ErrorCode::internal, what) {}
};

// Capability numbers used in checks (SPIR-V spec 3.31).
inline constexpr uint32_t kSpvCapShader = 1, kSpvCapFloat16 = 9, kSpvCapFloat64 = 10, kSpvCapInt64 = 11,
                          kSpvCapInt16 = 22, kSpvCapInt8 = 39, kSpvCapSampledBuffer = 46,
                          kSpvCapGroupNonUniform = 61, kSpvCapGroupNonUniformVote = 62,
                          kSpvCapGroupNonUniformArithmetic = 63, kSpvCapGroupNonUniformBallot = 64,
                          kSpvCapGroupNonUniformShuffle = 65, kSpvCapGroupNonUniformShuffleRelative = 66,
                          kSpvCapGroupNonUniformClustered = 67, kSpvCapGroupNonUniformQuad = 68,
                          kSpvCapStorageBuffer16BitAccess = 4433, kSpvCapUniformAndStorageBuffer16BitAccess = 4434,
                          kSpvCapStoragePushConstant16 = 4435, kSpvCapStorageBuffer8BitAccess = 4448,
                          kSpvCapUniformAndStorageBuffer8BitAccess = 4449, kSpvCapStoragePushConstant8 = 4450;

/// Reflect a module specialized with spec[SpecId] = value (ids not in the map keep their
/// defaults). Throws SpirvReflectError on a malformed module or when the workgroup size or a
/// Workgroup variable's size depends on something it cannot evaluate.
SpirvInfo reflect_spirv(std::span<const uint32_t> words, const std::map<uint32_t, uint32_t>& spec);

/// Same, with spec[i] for SpecId i.
SpirvInfo reflect_spirv(std::span<const uint32_t> words, std::span<const uint32_t> spec);

/// Why a pipeline with this reflection cannot run on a device with these capabilities (workgroup
/// size and invocations, shared memory, and every declared capability against the feature or
/// subgroup operation it needs; an unknown capability is refused), or "" when it can. Defined in
/// kernel.cpp, which refuses such pipelines.
std::string pipeline_limit_violation(const SpirvInfo& info, const DeviceCaps& caps);

} // namespace vkg
