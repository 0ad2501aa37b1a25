// The library's messages (validation-layer reports, warnings about the pipeline cache, buffer
// overruns) go to one process-wide sink; runtime/ and host/ never write to stderr themselves.
// The CLI installs a sink that prints to stderr, the C API forwards to the callback given to
// vkgemma_set_log_callback (include/vkgemma.h), tests print.
#pragma once
#include <functional>
#include <string_view>

namespace vkg {

/// Message severity, lowest first (the C API's vkgemma_log_level has the same values).
enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3 };

/// Receives every message: level and text (one message, no trailing newline). Called on the
/// thread that produced it (validation messages arrive on driver threads), possibly
/// concurrently; it must not call back into vkgemma.
using LogSink = std::function<void(LogLevel, std::string_view)>;

/// Replace the sink (thread-safe; an empty sink drops messages). Returns the previous one.
LogSink set_log_sink(LogSink sink);

/// Send a message to the current sink (thread-safe; a no-op without a sink).
void log_message(LogLevel level, std::string_view text);

/// "debug", "info", "warning", "error".
const char* log_level_name(LogLevel level);

}  // namespace vkg
