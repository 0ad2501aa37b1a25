// Helpers shared by the tests: where ../shared is, and skipping when it is absent.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>
#include <doctest/doctest.h>

namespace vkg::test {

/// ../shared beside the checkout (VKGEMMA_SHARED_DIR overrides); empty path when absent.
inline std::filesystem::path shared_dir() {
  const char* env = std::getenv("VKGEMMA_SHARED_DIR");
  std::filesystem::path p = env ? env : VKG_SHARED_DIR;
  return std::filesystem::exists(p / "DESIGN.md") ? p : std::filesystem::path{};
}

/// A scratch directory under the build tree, created fresh for the caller.
inline std::filesystem::path scratch_dir(const std::string& name) {
  auto p = std::filesystem::path(VKG_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

} // namespace vkg::test

/// Skip the current test case (with a message) when ../shared is absent.
#define VKG_REQUIRE_SHARED()                                                              \
  do {                                                                                     \
    if (vkg::test::shared_dir().empty()) {                                                 \
      MESSAGE("SKIPPED: ../shared is absent (tests that read golden data need it)");      \
      return;                                                                              \
    }                                                                                      \
  } while (0)
