// vkgemma CLI: one subcommand per file (commands.h). Errors become one line on stderr and an
// exit code; no exception escapes.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "vk_check.h"

std::vector<vkg::cli::CommandAdder>& vkg::cli::command_registry() {
  static std::vector<CommandAdder> r;
  return r;
}

int main(int argc, char** argv) {
  CLI::App app{"vkgemma — run Gemma 4 E2B/E4B GGUF models on any Vulkan device"};
  app.footer(
      "Exit codes: 0 success, 1 runtime error (bad model file, out of memory, ...), 2 bad command line,\n"
      "3 no usable Vulkan device or driver.\n"
      "Environment: VKGEMMA_DEVICE=N picks a device, VKGEMMA_VALIDATION=1 enables the Khronos validation\n"
      "layer, VKGEMMA_CACHE_DIR sets the cache directory (pipeline cache, built-in model).");
  app.require_subcommand(1);
  for (auto add : vkg::cli::command_registry()) add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? vkg::cli::kOk : vkg::cli::kUsage;
  } catch (const vkg::VkError& e) {
    std::fprintf(stderr, "vkgemma: error: %s\n", e.what());
    return e.result == VK_ERROR_INCOMPATIBLE_DRIVER || e.result == VK_ERROR_INITIALIZATION_FAILED ? vkg::cli::kNoDevice
                                                                                                  : vkg::cli::kError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkgemma: error: %s\n", e.what());
    return vkg::cli::kError;
  }
  return vkg::cli::kOk;
}
