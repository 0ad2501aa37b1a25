// The one error family of vkgemma: every error the runtime and host throw on purpose is a
// vkg::Error carrying an ErrorCode, so the C API (capi/) and the CLI (tools/vkgemma) each map
// codes to their own status / exit code with one table, never by re-labelling exception types.
// This is the lowest layer: runtime/ includes it, and it includes nothing of the project.
#pragma once
#include <stdexcept>
#include <string>

namespace vkg {

/// What kind of failure an Error is; decides the C API status and the CLI exit code.
enum class ErrorCode {
  bad_input,      // a caller's argument or setting is invalid (flag value, token id, device index, ...)
  bad_model,      // the model file is malformed, truncated, or not a Gemma 4 model vkgemma can run
  out_of_memory,  // host or device memory (or a memory budget) exhausted
  device_lost,    // the device stopped working (VK_ERROR_DEVICE_LOST, a GPU hang)
  no_device,      // no Vulkan loader, driver or usable device (needs Vulkan 1.2, timeline semaphores)
  unsupported,    // valid request the device cannot do (a feature or limit it lacks)
  internal,       // a bug, or an unexpected failure of the system (a Vulkan call, a file write)
};

/// "bad_input", "bad_model", ... (the enumerator's name).
constexpr const char* error_code_name(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::bad_input: return "bad_input";
    case ErrorCode::bad_model: return "bad_model";
    case ErrorCode::out_of_memory: return "out_of_memory";
    case ErrorCode::device_lost: return "device_lost";
    case ErrorCode::no_device: return "no_device";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::internal: return "internal";
  }
  return "unknown";
}

/// Base of every vkgemma exception. what() is one line naming the problem (and the file, tensor,
/// flag or limit involved); code() says what kind it is. Subclasses (VkError, GgufError,
/// ModelError, ...) fix or derive the code.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Error(ErrorCode code, const char* what) : std::runtime_error(what), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace vkg
