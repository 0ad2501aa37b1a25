// Subcommands of the vkgemma CLI. Each add_* function registers one subcommand on the app and
// sets its callback; callbacks throw on error and main() turns exceptions into exit codes.
#pragma once
#include <vector>

#include <CLI/CLI.hpp>

#include "error.h"

namespace vkg::cli {

/// Exit codes (documented in --help and README).
enum ExitCode : int {
  kOk = 0,
  kError = 1,        // runtime error (bad model file, out of memory, ...)
  kUsage = 2,        // bad command line (also values found bad after parsing: --device 99, VKGEMMA_DEVICE=abc)
  kNoDevice = 3,     // no usable Vulkan device or driver
};

/// The one ErrorCode -> exit code table: bad_input 2 (the command line or the environment the
/// user gave), no_device 3, everything else (bad_model, out_of_memory, device_lost,
/// unsupported, internal) 1.
constexpr ExitCode exit_code_of(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::bad_input: return kUsage;
    case ErrorCode::no_device: return kNoDevice;
    case ErrorCode::bad_model:
    case ErrorCode::out_of_memory:
    case ErrorCode::device_lost:
    case ErrorCode::unsupported:
    case ErrorCode::internal: return kError;
  }
  return kError;
}

/// Subcommands register themselves: in a tools/vkgemma/*.cpp file,
///   static void add_info(CLI::App& app) { ... }
///   VKG_CLI_COMMAND(add_info);
using CommandAdder = void (*)(CLI::App&);
std::vector<CommandAdder>& command_registry();
struct CommandRegistrar {
  explicit CommandRegistrar(CommandAdder f) { command_registry().push_back(f); }
};
#define VKG_CLI_COMMAND(fn) static const ::vkg::cli::CommandRegistrar vkg_cli_registrar_##fn{fn}

} // namespace vkg::cli
