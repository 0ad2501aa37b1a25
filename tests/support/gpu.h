// One Vulkan instance + device per test process, and a guard that fails the current test case
// when the validation layer reported anything while it was alive.
#pragma once
#include <memory>

#include <doctest/doctest.h>

#include "context.h"
#include "environment.h"
#include "memory.h"
#include "stream.h"

namespace vkg::test {

struct Gpu {
  std::unique_ptr<Instance> instance;
  std::unique_ptr<Device> device;
};

/// The process-wide test device (validation on when VKGEMMA_VALIDATION=1, as ctest sets it).
inline Gpu& gpu() {
  static Gpu g = [] {
    Gpu x;
    const EnvironmentSettings env = read_environment();  // VKGEMMA_VALIDATION, VKGEMMA_GUARD, ... as ctest sets them
    x.instance = std::make_unique<Instance>(env.instance);
    x.device = std::make_unique<Device>(*x.instance, env.device_options());
    return x;
  }();
  return g;
}
inline Device& device() { return *gpu().device; }

/// Fails the test case if validation messages appeared during its lifetime.
class ValidationGuard {
 public:
  ValidationGuard() : start_(gpu().instance->validation_log().count.load()), overruns_(buffer_guard_violations()) {}
  ~ValidationGuard() {
    auto& log = gpu().instance->validation_log();
    const uint64_t n = log.count.load() - start_;
    CHECK_MESSAGE(n == 0, "validation layer reported ", n, " message(s); last: ", log.last);
    CHECK_MESSAGE(buffer_guard_violations() == overruns_, "a kernel wrote past the end of a buffer");
  }
  /// Messages seen since construction (for the test that provokes one on purpose).
  uint64_t seen() const { return gpu().instance->validation_log().count.load() - start_; }
  void accept_seen() { start_ = gpu().instance->validation_log().count.load(); }

 private:
  uint64_t start_;
  uint64_t overruns_;
};

} // namespace vkg::test
