// Errors from Vulkan calls: every failing call becomes a VkError naming the call and VkResult.
#pragma once
#include <stdexcept>
#include <string>
#include <volk.h>

namespace vkg {

/// Readable name of a VkResult ("VK_ERROR_OUT_OF_DEVICE_MEMORY").
const char* vk_result_name(VkResult r);

/// A failed Vulkan call (or a Vulkan-level problem: no driver, missing feature).
class VkError : public std::runtime_error {
 public:
  VkError(const std::string& what, VkResult r = VK_ERROR_UNKNOWN) : std::runtime_error(what), result(r) {}
  VkResult result;
};

/// Throws VkError("vkFoo failed: VK_ERROR_...") unless r is VK_SUCCESS (or VK_INCOMPLETE when allowed).
inline void check(VkResult r, const char* call) {
  if (r != VK_SUCCESS) throw VkError(std::string(call) + " failed: " + vk_result_name(r), r);
}

} // namespace vkg
