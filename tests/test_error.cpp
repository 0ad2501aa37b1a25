// The one error family (runtime/error.h): every error class carries the code the C API and the
// CLI map to a status / exit code, and real throw sites raise the code their kind of failure has.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "chat.h"
#include "gemma4_config.h"
#include "gguf.h"
#include "sampler.h"
#include "spirv_reflect.h"
#include "synth.h"
#include "tokenizer.h"
#include "vk_check.h"

using namespace vkg;

namespace {
/// The code of the vkg::Error f throws (fails the test when it throws something else or nothing).
template <class F>
ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no vkg::Error thrown");
  return ErrorCode::internal;
}
}  // namespace

TEST_CASE("VkResult -> ErrorCode") {
  CHECK(error_code_of(VK_ERROR_OUT_OF_HOST_MEMORY) == ErrorCode::out_of_memory);
  CHECK(error_code_of(VK_ERROR_OUT_OF_DEVICE_MEMORY) == ErrorCode::out_of_memory);
  CHECK(error_code_of(VK_ERROR_OUT_OF_POOL_MEMORY) == ErrorCode::out_of_memory);
  CHECK(error_code_of(VK_ERROR_DEVICE_LOST) == ErrorCode::device_lost);
  CHECK(error_code_of(VK_ERROR_INCOMPATIBLE_DRIVER) == ErrorCode::no_device);
  CHECK(error_code_of(VK_ERROR_INITIALIZATION_FAILED) == ErrorCode::no_device);
  CHECK(error_code_of(VK_ERROR_FEATURE_NOT_PRESENT) == ErrorCode::unsupported);
  CHECK(error_code_of(VK_ERROR_UNKNOWN) == ErrorCode::internal);
  CHECK(VkError("vkAllocateMemory failed", VK_ERROR_OUT_OF_DEVICE_MEMORY).code() == ErrorCode::out_of_memory);
  CHECK(VkError(ErrorCode::bad_input, "device index 9 out of range").code() == ErrorCode::bad_input);
  CHECK(code_of([] { check(VK_ERROR_DEVICE_LOST, "vkQueueSubmit"); }) == ErrorCode::device_lost);
  CHECK(std::string(error_code_name(ErrorCode::no_device)) == "no_device");
}

TEST_CASE("each error class has its code") {
  CHECK(GgufError("x").code() == ErrorCode::bad_model);
  CHECK(ModelError("x").code() == ErrorCode::bad_model);
  CHECK(VocabError("x").code() == ErrorCode::bad_model);
  CHECK(TokenizerError("x").code() == ErrorCode::bad_input);
  CHECK(SamplerError("x").code() == ErrorCode::bad_input);
  CHECK(ChatError("x").code() == ErrorCode::bad_input);
  CHECK(SynthError("x").code() == ErrorCode::bad_input);
  CHECK(SpirvReflectError("x").code() == ErrorCode::internal);
}

TEST_CASE("throw sites raise the code of their failure") {
  // A file that is not a GGUF: bad_model.
  const std::vector<uint8_t> junk = {'n', 'o', 't', ' ', 'g', 'g', 'u', 'f', 0, 0, 0, 0, 0, 0, 0, 0,
                                     0,   0,   0,   0,   0,   0,   0,   0,   0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(code_of([&] { GgufFile::open_memory(junk); }) == ErrorCode::bad_model);
  CHECK(code_of([] { GgufFile::open("/nonexistent/vkgemma-test.gguf"); }) == ErrorCode::bad_model);
  // A sampler parameter out of range: bad_input.
  SamplerParams p;
  p.top_p = 2.0f;
  CHECK(code_of([&] { Sampler s(p); }) == ErrorCode::bad_input);
  // A vocabulary the tokenizer cannot use: bad_model.
  CHECK(code_of([] { Tokenizer t{Vocab{}}; }) == ErrorCode::bad_model);
}
