#include "log.h"

#include <memory>
#include <mutex>

namespace vkg {
namespace {
std::mutex g_mutex;
std::shared_ptr<const LogSink> g_sink;  // copied under the lock, called outside it
}  // namespace

LogSink set_log_sink(LogSink sink) {
  auto next = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
  std::lock_guard lock(g_mutex);
  LogSink prev = g_sink ? *g_sink : LogSink{};
  g_sink = std::move(next);
  return prev;
}

void log_message(LogLevel level, std::string_view text) {
  std::shared_ptr<const LogSink> sink;
  {
    std::lock_guard lock(g_mutex);
    sink = g_sink;
  }
  if (sink) (*sink)(level, text);
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warning";
    case LogLevel::error: return "error";
  }
  return "error";
}

}  // namespace vkg
