// SPIR-V embedded at build time (see shaders/CMakeLists.txt), looked up by variant name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace vkg::shaders {

struct EmbeddedShader {
  const char* name;      // variant name as given to vkg_shader() in shaders/shaders.cmake
  const uint32_t* words; // SPIR-V words
  size_t n_words;
};

/// Every embedded shader variant.
std::span<const EmbeddedShader> all();

} // namespace vkg::shaders
