// doctest main for every test executable, with honest skips: a test case that cannot run here
// (../shared absent, a device feature missing) calls vkg::test::skip() (VKG_SKIP), and the
// executable then exits with kSkipExitCode (77) instead of 0 when nothing failed, so ctest
// (SKIP_RETURN_CODE 77) reports the test as skipped rather than passed. Each skip is printed as
// "SKIPPED: <test case>: <reason>" (tests/support/check_skips.sh compares those with the CI
// allowlist).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "log.h"
#include "test_util.h"

namespace vkg::test {
namespace {
struct SkipState {
  std::mutex mu;
  std::string current_case;
  std::vector<std::string> skipped;  // "<test case>: <reason>"
};
SkipState& state() {
  static SkipState s;
  return s;
}

/// Tracks the name of the running test case for skip().
struct CaseTracker : doctest::IReporter {
  explicit CaseTracker(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& tc) override {
    std::lock_guard lock(state().mu);
    state().current_case = tc.m_name;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("vkg_case_tracker", 1, CaseTracker);
}  // namespace

void skip(const std::string& reason) {
  std::string line;
  {
    std::lock_guard lock(state().mu);
    line = state().current_case + ": " + reason;
    // A test case may loop over items and skip several; report each reason once.
    for (const auto& s : state().skipped)
      if (s == line) return;
    state().skipped.push_back(line);
  }
  std::printf("SKIPPED: %s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace vkg::test

int main(int argc, char** argv) {
  // The library's messages (validation layer, buffer overruns, warnings) on stderr.
  vkg::set_log_sink([](vkg::LogLevel level, std::string_view text) {
    std::fprintf(stderr, "vkgemma: %s: %.*s\n", vkg::log_level_name(level), static_cast<int>(text.size()), text.data());
  });
  doctest::Context ctx(argc, argv);
  const int rc = ctx.run();
  if (ctx.shouldExit() || rc != 0) return rc;
  auto& skipped = vkg::test::state().skipped;
  if (skipped.empty()) return 0;
  std::printf("%zu test case(s) skipped (the rest passed):\n", skipped.size());
  for (const auto& s : skipped) std::printf("  SKIPPED: %s\n", s.c_str());
  return vkg::test::kSkipExitCode;
}
