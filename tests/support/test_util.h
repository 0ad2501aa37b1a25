// Helpers shared by the tests: where ../shared is, and honest skips (test_main.cpp): a test case
// that cannot run here says so, and the executable exits 77 so that ctest reports it skipped.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>
#include <doctest/doctest.h>

namespace vkg::test {

/// Exit status of a test executable whose cases all passed or skipped, at least one skipped
/// (ctest: SKIP_RETURN_CODE).
inline constexpr int kSkipExitCode = 77;

/// Records that the current test case cannot run here (prints "SKIPPED: <case>: <reason>");
/// the caller returns from the test case. Defined in test_main.cpp.
void skip(const std::string& reason);

/// ../shared beside the checkout (VKGEMMA_SHARED_DIR overrides); empty path when absent.
inline std::filesystem::path shared_dir() {
  const char* env = std::getenv("VKGEMMA_SHARED_DIR");
  std::filesystem::path p = env ? env : VKG_SHARED_DIR;
  return std::filesystem::exists(p / "DESIGN.md") ? p : std::filesystem::path{};
}

/// A scratch directory under the build tree, created fresh for the caller (one per test driver,
/// VKGEMMA_TEST_DRIVER, so that the copies of a test on different drivers may run in parallel).
inline std::filesystem::path scratch_dir(const std::string& name) {
  const char* drv = std::getenv("VKGEMMA_TEST_DRIVER");
  auto p = std::filesystem::path(VKG_BINARY_DIR) / "test-scratch" / (drv && *drv ? name + "@" + drv : name);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

} // namespace vkg::test

/// Skip the current test case with a reason (see vkg::test::skip) and return from it.
#define VKG_SKIP(reason)          \
  do {                            \
    vkg::test::skip(reason);      \
    return;                       \
  } while (0)

/// Skip the current test case when ../shared is absent.
#define VKG_REQUIRE_SHARED()                                                          \
  do {                                                                                 \
    if (vkg::test::shared_dir().empty())                                               \
      VKG_SKIP("../shared is absent (tests that read golden data need it)");          \
  } while (0)
