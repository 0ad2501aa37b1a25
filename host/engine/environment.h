// The settings vkgemma takes from the environment, read in this one place: the CLI and the C API
// call read_environment() and pass the result to the runtime (runtime/ reads no variable).
//
//   VKGEMMA_VALIDATION=1        Khronos validation layer on (Instance::Options::validation)
//   VKGEMMA_GUARD=1             canaries after every host-visible buffer (set_buffer_guard)
//   VKGEMMA_SOFT_HALF=0|1       override the fp16-conversion workaround (Instance::Options::soft_half)
//   VKGEMMA_DEVICE=N            device index (DeviceOptions::index)
//   VKGEMMA_DEVICE_PROFILE=NAME emulate a weaker device (DeviceOptions::profile, runtime/profiles.h)
//   VKGEMMA_CACHE_DIR=DIR       cache directory (else $XDG_CACHE_HOME/vkgemma, ~/.cache/vkgemma)
//   VKGEMMA_MATVEC=rows|split-k force the matrix-vector kernel (ForwardOptions::matvec_split_k)
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "context.h"

namespace vkg {

struct EnvironmentSettings {
  Instance::Options instance;            // validation, soft_half
  std::optional<uint32_t> device;        // VKGEMMA_DEVICE
  std::optional<std::string> profile;    // VKGEMMA_DEVICE_PROFILE
  bool guard = false;                    // VKGEMMA_GUARD
  std::filesystem::path cache_dir;       // user_cache_dir()
  std::optional<bool> matvec_split_k;    // VKGEMMA_MATVEC: split-k true, rows false

  /// DeviceOptions with the environment's device, profile and pipeline-cache directory.
  DeviceOptions device_options() const;
};

/// Read every variable above. A malformed value (VKGEMMA_DEVICE=abc, VKGEMMA_VALIDATION=maybe)
/// throws Error(bad_input) naming the variable; unset or empty variables take the defaults.
/// VKGEMMA_GUARD also switches guard mode on (set_buffer_guard) for buffers created afterwards.
EnvironmentSettings read_environment();

/// A device index written by a person ("0", "2"): a non-negative decimal integer, else
/// Error(bad_input) "<what>='<text>' is not a device index". The one parser for --device values
/// and VKGEMMA_DEVICE.
uint32_t parse_device_index(std::string_view text, std::string_view what);

/// The per-user cache directory: $VKGEMMA_CACHE_DIR, else $XDG_CACHE_HOME/vkgemma, else
/// ~/.cache/vkgemma, else a folder in the temporary directory. Not created by this call.
std::filesystem::path user_cache_dir();

}  // namespace vkg
