#include "environment.h"

#include <fmt/format.h>

#include <cstdlib>

#include "error.h"
#include "memory.h"

namespace vkg {
namespace {

/// The variable's value, or nullopt when unset or empty.
std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

/// 0/1 (also false/true, off/on, no/yes).
std::optional<bool> env_bool(const char* name) {
  const auto v = env(name);
  if (!v) return std::nullopt;
  if (*v == "1" || *v == "true" || *v == "on" || *v == "yes") return true;
  if (*v == "0" || *v == "false" || *v == "off" || *v == "no") return false;
  throw Error(ErrorCode::bad_input, fmt::format("{}='{}' is not a boolean (use 0 or 1)", name, *v));
}

}  // namespace

uint32_t parse_device_index(std::string_view text, std::string_view what) {
  uint64_t v = 0;
  bool ok = !text.empty() && text.size() <= 9;
  for (char c : text) ok = ok && c >= '0' && c <= '9', v = v * 10 + static_cast<uint64_t>(c - '0');
  if (!ok) throw Error(ErrorCode::bad_input, fmt::format("{}='{}' is not a device index", what, text));
  return static_cast<uint32_t>(v);
}

std::filesystem::path user_cache_dir() {
  if (auto v = env("VKGEMMA_CACHE_DIR")) return *v;
  if (auto v = env("XDG_CACHE_HOME")) return std::filesystem::path(*v) / "vkgemma";
  if (auto v = env("HOME")) return std::filesystem::path(*v) / ".cache" / "vkgemma";
  return std::filesystem::temp_directory_path() / "vkgemma-cache";
}

DeviceOptions EnvironmentSettings::device_options() const {
  DeviceOptions o;
  o.index = device;
  o.profile = profile;
  o.cache_dir = cache_dir;
  return o;
}

EnvironmentSettings read_environment() {
  EnvironmentSettings s;
  s.instance.validation = env_bool("VKGEMMA_VALIDATION").value_or(false);
  s.instance.soft_half = env_bool("VKGEMMA_SOFT_HALF");
  s.guard = env_bool("VKGEMMA_GUARD").value_or(false);
  if (auto v = env("VKGEMMA_DEVICE")) s.device = parse_device_index(*v, "VKGEMMA_DEVICE");
  s.profile = env("VKGEMMA_DEVICE_PROFILE");
  if (auto v = env("VKGEMMA_MATVEC")) {
    if (*v != "rows" && *v != "split-k")
      throw Error(ErrorCode::bad_input, "VKGEMMA_MATVEC='" + *v + "' is not rows or split-k");
    s.matvec_split_k = *v == "split-k";
  }
  s.cache_dir = user_cache_dir();
  if (s.guard) set_buffer_guard(true);
  return s;
}

}  // namespace vkg
