// Errors from Vulkan calls: every failing call becomes a VkError naming the call and VkResult.
#pragma once
#include <string>
#include <volk.h>

#include "error.h"

namespace vkg {

/// Readable name of a VkResult ("VK_ERROR_OUT_OF_DEVICE_MEMORY").
const char* vk_result_name(VkResult r);

/// The ErrorCode of a failed Vulkan call: OUT_OF_{HOST,DEVICE,POOL}_MEMORY, FRAGMENTED_POOL,
/// FRAGMENTATION, TOO_MANY_OBJECTS -> out_of_memory; DEVICE_LOST and TIMEOUT (a hung device) ->
/// device_lost; INCOMPATIBLE_DRIVER, INITIALIZATION_FAILED, LAYER_NOT_PRESENT -> no_device;
/// FEATURE_NOT_PRESENT, EXTENSION_NOT_PRESENT, FORMAT_NOT_SUPPORTED -> unsupported; else internal.
constexpr ErrorCode error_code_of(VkResult r) noexcept {
  switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTED_POOL:
    case VK_ERROR_FRAGMENTATION:
    case VK_ERROR_TOO_MANY_OBJECTS: return ErrorCode::out_of_memory;
    case VK_ERROR_DEVICE_LOST:
    case VK_TIMEOUT: return ErrorCode::device_lost;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
    case VK_ERROR_INITIALIZATION_FAILED:
    case VK_ERROR_LAYER_NOT_PRESENT: return ErrorCode::no_device;
    case VK_ERROR_FEATURE_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return ErrorCode::unsupported;
    default: return ErrorCode::internal;
  }
}

/// A failed Vulkan call, or a Vulkan-level problem (no driver, a missing feature, a device limit,
/// a bad device index). The code comes from the VkResult unless given explicitly.
class VkError : public Error {
 public:
  explicit VkError(const std::string& what, VkResult r = VK_ERROR_UNKNOWN) : Error(error_code_of(r), what), result(r) {}
  VkError(ErrorCode code, const std::string& what, VkResult r = VK_ERROR_UNKNOWN) : Error(code, what), result(r) {}
  VkResult result;
};

/// Throws VkError("vkFoo failed: VK_ERROR_...") unless r is VK_SUCCESS (or VK_INCOMPLETE when allowed).
inline void check(VkResult r, const char* call) {
  if (r != VK_SUCCESS) throw VkError(std::string(call) + " failed: " + vk_result_name(r), r);
}

} // namespace vkg
