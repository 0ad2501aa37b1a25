// vkgemma CLI: one subcommand per file (commands.h). Errors become one line on stderr,
// "vkgemma: error: ...", and an exit code from one table (exit_code_of); no exception escapes.
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include <fmt/format.h>

#include "commands.h"
#include "error.h"
#include "log.h"

#ifndef VKGEMMA_VERSION_STRING
#error "VKGEMMA_VERSION_STRING must be defined by the build"
#endif

std::vector<vkg::cli::CommandAdder>& vkg::cli::command_registry() {
  static std::vector<CommandAdder> r;
  return r;
}

namespace {

using namespace vkg::cli;

/// Print the one error line (newlines inside the message folded) and return code.
int error_line(int code, std::string msg) {
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';
  std::fflush(stdout);
  std::fprintf(stderr, "vkgemma: error: %s\n", msg.c_str());
  return code;
}

/// Command-line problems CLI11 would misread, found before it parses: a missing or unknown
/// subcommand, and single-dash words such as `-ngl` (llama.cpp's flag), which CLI11 would take
/// as `-n gl`. Throws CLI::ParseError-derived errors (exit 2).
void precheck(const CLI::App& app, int argc, char** argv) {
  if (argc < 2) throw CLI::ParseError("a subcommand is required (see vkgemma --help)", CLI::ExitCodes::RequiredError);
  const std::string first = argv[1];
  if (first.empty() || first[0] != '-') {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      known = known || sub->get_name() == first;
    if (!known) throw CLI::ParseError(fmt::format("unknown subcommand '{}' (see vkgemma --help)", first),
                                       CLI::ExitCodes::ExtrasError);
  }
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strcmp(a, "--") == 0) break;
    if (a[0] == '-' && std::isalpha(static_cast<unsigned char>(a[1])) && std::isalpha(static_cast<unsigned char>(a[2])))
      throw CLI::ParseError(fmt::format("unknown option '{}' (long options take two dashes; a short option's "
                                         "value is a separate word or a number: -n 32, -n32)",
                                         a),
                             CLI::ExitCodes::ExtrasError);
  }
}

/// Flush stdout; a full or closed stdout is a runtime error ("write failed").
void flush_stdout() {
  std::cout.flush();
  const bool bad = !std::cout || std::fflush(stdout) != 0 || std::ferror(stdout);
  if (bad) throw vkg::Error(vkg::ErrorCode::internal, fmt::format("write failed: stdout: {}", std::strerror(errno)));
}

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe makes writes fail with EPIPE (reported as "write failed") instead of killing us.
  std::signal(SIGPIPE, SIG_IGN);
  // The library's messages (validation layer, warnings) on stderr, one line each.
  vkg::set_log_sink([](vkg::LogLevel level, std::string_view text) {
    if (level == vkg::LogLevel::warn)
      std::fprintf(stderr, "vkgemma: warning: %.*s\n", static_cast<int>(text.size()), text.data());
    else
      std::fprintf(stderr, "vkgemma: %.*s\n", static_cast<int>(text.size()), text.data());
  });
  CLI::App app{"vkgemma — run Gemma 4 E2B/E4B GGUF models on any Vulkan device"};
  app.footer(
      "Exit codes: 0 success, 1 runtime error (bad model file, out of memory, ...), 2 bad command line,\n"
      "3 no usable Vulkan device or driver.\n"
      "Environment: VKGEMMA_DEVICE=N picks a device, VKGEMMA_DEVICE_PROFILE=NAME emulates a weaker one,\n"
      "VKGEMMA_VALIDATION=1 enables the Khronos validation layer, VKGEMMA_CACHE_DIR sets the cache directory\n"
      "(pipeline cache, built-in model).");
  app.set_version_flag("--version", std::string("vkgemma ") + VKGEMMA_VERSION_STRING);
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();  // every --help shows the defaults, [4096]
  for (auto add : command_registry()) add(app);
  int rc = kOk;
  try {
    precheck(app, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {  // --help, --version
      app.exit(e);
    } else {
      rc = error_line(kUsage, e.what());
    }
  } catch (const vkg::Error& e) {
    rc = error_line(exit_code_of(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    rc = error_line(kError, "out of host memory");
  } catch (const std::exception& e) {
    rc = error_line(kError, e.what());
  }
  try {
    flush_stdout();
  } catch (const vkg::Error& e) {
    if (rc == kOk) rc = error_line(exit_code_of(e.code()), e.what());
  }
  return rc;
}
