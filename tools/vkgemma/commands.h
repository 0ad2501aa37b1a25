// Subcommands of the vkgemma CLI. Each add_* function registers one subcommand on the app and
// sets its callback; callbacks throw on error and main() turns exceptions into exit codes.
#pragma once
#include <vector>

#include <CLI/CLI.hpp>

namespace vkg::cli {

/// Exit codes (documented in --help).
enum ExitCode : int {
  kOk = 0,
  kError = 1,        // runtime error (bad model file, out of memory, ...)
  kUsage = 2,        // bad command line
  kNoDevice = 3,     // no usable Vulkan device or driver
};

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
