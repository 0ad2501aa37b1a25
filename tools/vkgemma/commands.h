// Subcommands of the vkgemma CLI. Each add_* function registers one subcommand on the app and
// sets its callback; callbacks throw on error and main() turns exceptions into exit codes.
#pragma once
#include <CLI/CLI.hpp>

namespace vkg::cli {

/// Exit codes (documented in --help).
enum ExitCode : int {
  kOk = 0,
  kError = 1,        // runtime error (bad model file, out of memory, ...)
  kUsage = 2,        // bad command line
  kNoDevice = 3,     // no usable Vulkan device or driver
};

void add_devices(CLI::App& app);

} // namespace vkg::cli
