// Compute pipelines built from the embedded SPIR-V (shaders/), with specialization constants.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <volk.h>

namespace vkg {
namespace shaders { struct EmbeddedShader; }

class Device;

/// Device-wide specialization constant (shaders/half.glsl): integer-only half conversion.
constexpr uint32_t kSpecSoftHalf = 100;

/// What a kernel is: shader variant, interface and specialization.
///
/// Interface convention shared by all shaders: descriptor set 0 holds n_buffers storage
/// buffers at bindings 0..n_buffers-1; one push-constant block of push_bytes bytes;
/// specialization constant i = spec[i] (constant_id 0 is the workgroup size X by convention);
/// constant_id kSpecSoftHalf is set for every pipeline from DeviceCaps::soft_half.
/// Bindings flagged in texel_bindings are read-only uniform texel buffers of
/// VK_FORMAT_R32G32B32A32_UINT texels (16 bytes; GLSL `uniform utextureBuffer`) instead of
/// storage buffers: on CPU drivers (lavapipe) texel fetches are several times cheaper than
/// storage-buffer loads. CommandList::dispatch creates the buffer views.
struct KernelDesc {
  std::string shader;           // variant name in shaders/shaders.cmake
  uint32_t n_buffers = 1;
  uint32_t push_bytes = 0;      // must be a multiple of 4 and <= caps.max_push_constants
  std::vector<uint32_t> spec;   // specialization constants, ids 0..n-1
  uint32_t required_subgroup_size = 0;  // 0: driver's choice; else required with full subgroups
                                        // (needs DeviceCaps::subgroup_size_control, else VkError)
  uint32_t texel_bindings = 0;          // bit i: binding i is a uniform texel buffer (RGBA32UI)
  uint32_t r32_bindings = 0;            // subset of texel_bindings viewed as R32_UINT (4-byte texels)
  // Not part of the pipeline's identity (key()):
  std::string variant;                  // how the op runs ("row per invocation", ...): for listings
  bool capture_statistics = false;      // VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR (pipeline_set.h)

  /// Identity of the pipeline: shader, interface and specialization ("matvec_q4_k_g:64:64:1/3/0/0/0").
  std::string key() const;
};

/// A compute pipeline with its layouts. Created through the device's pipeline cache.
/// Errors: VkError naming the shader when it is not embedded or pipeline creation fails.
class Kernel {
 public:
  Kernel(Device& dev, KernelDesc desc);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const KernelDesc& desc() const { return desc_; }
  VkPipeline pipeline() const { return pipeline_; }
  VkPipelineLayout layout() const { return layout_; }
  VkDescriptorSetLayout set_layout() const { return set_layout_; }

 private:
  void create(const shaders::EmbeddedShader& shader);
  void enforce_caps(const shaders::EmbeddedShader& shader);
  void destroy();
  Device& dev_;
  KernelDesc desc_;
  VkShaderModule module_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
};

} // namespace vkg
