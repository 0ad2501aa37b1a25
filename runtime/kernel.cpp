#include "kernel.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <map>

#include "context.h"
#include "shader_registry.h"
#include "spirv_reflect.h"

namespace vkg {

std::string pipeline_limit_violation(const SpirvInfo& info, const DeviceCaps& caps) {
  const uint64_t inv = uint64_t(info.local_size[0]) * info.local_size[1] * info.local_size[2];
  if (inv > caps.max_workgroup_invocations)
    return fmt::format("uses {} invocations per workgroup, over the limit of {}", inv, caps.max_workgroup_invocations);
  for (int i = 0; i < 3; ++i)
    if (info.local_size[i] > caps.max_workgroup_size[i])
      return fmt::format("has workgroup size {} in dimension {}, over the limit of {}", info.local_size[i], i,
                         caps.max_workgroup_size[i]);
  if (info.shared_bytes > caps.max_shared_memory)
    return fmt::format("uses {} bytes of shared memory, over the limit of {}", info.shared_bytes,
                       caps.max_shared_memory);
  // Each declared capability against the device feature or subgroup operation it needs.
  for (uint32_t cap : info.capabilities) {
    VkSubgroupFeatureFlags sg = 0;
    const char* sg_name = "";
    bool have = true;
    const char* feature = "";
    switch (cap) {
      case kSpvCapShader:
      case kSpvCapSampledBuffer: break;  // required of every Vulkan device with compute
      case kSpvCapGroupNonUniform: sg = VK_SUBGROUP_FEATURE_BASIC_BIT, sg_name = "basic"; break;
      case kSpvCapGroupNonUniformVote: sg = VK_SUBGROUP_FEATURE_VOTE_BIT, sg_name = "vote"; break;
      case kSpvCapGroupNonUniformArithmetic: sg = VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, sg_name = "arithmetic"; break;
      case kSpvCapGroupNonUniformBallot: sg = VK_SUBGROUP_FEATURE_BALLOT_BIT, sg_name = "ballot"; break;
      case kSpvCapGroupNonUniformShuffle: sg = VK_SUBGROUP_FEATURE_SHUFFLE_BIT, sg_name = "shuffle"; break;
      case kSpvCapGroupNonUniformShuffleRelative:
        sg = VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, sg_name = "relative shuffle";
        break;
      case kSpvCapGroupNonUniformClustered: sg = VK_SUBGROUP_FEATURE_CLUSTERED_BIT, sg_name = "clustered"; break;
      case kSpvCapGroupNonUniformQuad: sg = VK_SUBGROUP_FEATURE_QUAD_BIT, sg_name = "quad"; break;
      case kSpvCapFloat16: have = caps.fp16_arith, feature = "fp16 arithmetic"; break;
      case kSpvCapInt8: have = caps.int8_arith, feature = "int8 arithmetic"; break;
      case kSpvCapInt64: have = caps.int64, feature = "64-bit integers"; break;
      case kSpvCapStorageBuffer16BitAccess:
      case kSpvCapUniformAndStorageBuffer16BitAccess:
        have = caps.storage16, feature = "16-bit storage buffer access";
        break;
      case kSpvCapStorageBuffer8BitAccess:
      case kSpvCapUniformAndStorageBuffer8BitAccess:
        have = caps.storage8, feature = "8-bit storage buffer access";
        break;
      default: return fmt::format("declares SPIR-V capability {}, which the runtime neither checks nor enables", cap);
    }
    if (sg && !(caps.subgroup_ops & sg)) return fmt::format("needs subgroup {} operations, which the device lacks", sg_name);
    if (!have) return fmt::format("needs {}, which the device lacks", feature);
  }
  return {};
}

std::string KernelDesc::key() const {
  std::string k = shader;
  for (uint32_t s : spec) k += fmt::format(":{}", s);
  k += fmt::format("/{}/{}/{}/{}/{}", n_buffers, push_bytes, texel_bindings, required_subgroup_size, r32_bindings);
  return k;
}

Kernel::Kernel(Device& dev, KernelDesc desc) : dev_(dev), desc_(std::move(desc)) {
  const shaders::EmbeddedShader* found = nullptr;
  for (const auto& s : shaders::all())
    if (desc_.shader == s.name) found = &s;
  if (!found) throw VkError(ErrorCode::internal, fmt::format("shader '{}' is not embedded in this build", desc_.shader));
  const auto& caps = dev.caps();
  if (desc_.push_bytes % 4 != 0 || desc_.push_bytes > caps.max_push_constants)
    throw VkError(ErrorCode::unsupported, fmt::format("shader '{}': {} push-constant bytes (device allows {})", desc_.shader,
                              desc_.push_bytes, caps.max_push_constants));
  // Texel bindings are uniform texel buffers, counted against maxPerStageDescriptorSampledImages.
  const uint32_t n_texel = static_cast<uint32_t>(std::popcount(desc_.texel_bindings));
  const uint32_t n_storage = desc_.n_buffers - n_texel;
  if (n_storage > caps.max_storage_buffers_per_stage)
    throw VkError(ErrorCode::unsupported, fmt::format("shader '{}': {} storage buffers (device allows {} per stage)", desc_.shader,
                              n_storage, caps.max_storage_buffers_per_stage));
  if (n_texel > caps.max_texel_buffers_per_stage)
    throw VkError(ErrorCode::unsupported, fmt::format("shader '{}': {} uniform texel buffers (device allows {} sampled images per stage)",
                              desc_.shader, n_texel, caps.max_texel_buffers_per_stage));
  if (desc_.required_subgroup_size &&
      (!caps.subgroup_size_control || desc_.required_subgroup_size < caps.min_subgroup_size ||
       desc_.required_subgroup_size > caps.max_subgroup_size))
    throw VkError(ErrorCode::unsupported, fmt::format("shader '{}': requires subgroup size {}, which the device cannot set (sizes {}..{}{})",
                              desc_.shader, desc_.required_subgroup_size, caps.min_subgroup_size,
                              caps.max_subgroup_size, caps.subgroup_size_control ? "" : ", no size control"));

  try {
    create(*found);
  } catch (...) {
    destroy();
    throw;
  }
}

void Kernel::create(const shaders::EmbeddedShader& shader) {
  Device& dev = dev_;
  const auto& caps = dev.caps();
  const auto* found = &shader;
  enforce_caps(shader);
  VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  smci.codeSize = found->n_words * 4;
  smci.pCode = found->words;
  check(vkCreateShaderModule(dev.handle(), &smci, nullptr, &module_), "vkCreateShaderModule");

  std::vector<VkDescriptorSetLayoutBinding> bindings(desc_.n_buffers);
  for (uint32_t i = 0; i < desc_.n_buffers; ++i)
    bindings[i] = {i,
                   (desc_.texel_bindings >> i) & 1u ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                    : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                   1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo dslci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dslci.bindingCount = desc_.n_buffers;
  dslci.pBindings = bindings.data();
  check(vkCreateDescriptorSetLayout(dev.handle(), &dslci, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");

  VkPushConstantRange pcr{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc_.push_bytes};
  VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  plci.setLayoutCount = 1;
  plci.pSetLayouts = &set_layout_;
  plci.pushConstantRangeCount = desc_.push_bytes ? 1 : 0;
  plci.pPushConstantRanges = &pcr;
  check(vkCreatePipelineLayout(dev.handle(), &plci, nullptr, &layout_), "vkCreatePipelineLayout");

  // Spec constants 0..n-1 from the description, then the device-wide ones every shader may
  // declare (ignored by those that do not): 100 = soft half conversion (shaders/half.glsl).
  std::vector<uint32_t> spec_data = desc_.spec;
  std::vector<VkSpecializationMapEntry> entries(desc_.spec.size());
  for (uint32_t i = 0; i < desc_.spec.size(); ++i) entries[i] = {i, i * 4u, 4};
  entries.push_back({kSpecSoftHalf, static_cast<uint32_t>(spec_data.size() * 4), 4});
  spec_data.push_back(caps.soft_half ? VK_TRUE : VK_FALSE);
  VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), spec_data.size() * 4,
                          spec_data.data()};
  VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss{
      VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO};
  VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cpci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpci.stage.module = module_;
  cpci.stage.pName = "main";
  cpci.stage.pSpecializationInfo = &si;
  if (desc_.required_subgroup_size) {
    rss.requiredSubgroupSize = desc_.required_subgroup_size;
    cpci.stage.pNext = &rss;
    cpci.stage.flags = VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
  }
  if (desc_.capture_statistics) cpci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
  cpci.layout = layout_;
  VkResult r = vkCreateComputePipelines(dev.handle(), dev.pipeline_cache(), 1, &cpci, nullptr, &pipeline_);
  if (r != VK_SUCCESS) {
    throw VkError(fmt::format("creating pipeline for shader '{}' failed: {}", desc_.shader, vk_result_name(r)), r);
  }
}

void Kernel::enforce_caps(const shaders::EmbeddedShader& shader) {
  // Reflect the specialized module and refuse what the capability record (possibly lowered by a
  // device profile) does not allow, naming the shader and the limit. Fail closed: a module whose
  // workgroup size or shared memory cannot be determined exactly, or that declares a capability
  // this check does not know, is refused.
  const auto& caps = dev_.caps();
  auto fail = [&](const std::string& what) {
    throw VkError(fmt::format("shader '{}' {} (device '{}'{})", desc_.shader, what, caps.name,
                              caps.profile.empty() ? "" : ", profile " + caps.profile),
                  VK_ERROR_FEATURE_NOT_PRESENT);
  };
  std::map<uint32_t, uint32_t> spec;
  for (uint32_t i = 0; i < desc_.spec.size(); ++i) spec[i] = desc_.spec[i];
  spec[kSpecSoftHalf] = caps.soft_half ? 1u : 0u;
  SpirvInfo info;
  try {
    info = reflect_spirv({shader.words, shader.n_words}, spec);
  } catch (const SpirvReflectError& e) {
    fail(fmt::format("cannot be checked against the device limits, so it is refused: {}", e.what()));
  }
  if (const std::string why = pipeline_limit_violation(info, caps); !why.empty()) fail(why);
  const bool arith = info.has(kSpvCapGroupNonUniformArithmetic) || info.has(kSpvCapGroupNonUniformClustered);
  PipelineRecord rec;
  rec.shader = desc_.shader;
  std::copy(info.local_size, info.local_size + 3, rec.local_size);
  rec.shared_bytes = info.shared_bytes;
  rec.subgroup_arith = arith;
  rec.fp16 = info.has(kSpvCapFloat16);
  rec.int8 = info.has(kSpvCapInt8);
  rec.spec = desc_.spec;
  dev_.record_pipeline(std::move(rec));
}

Kernel::~Kernel() { destroy(); }

void Kernel::destroy() {
  VkDevice d = dev_.handle();
  if (pipeline_) vkDestroyPipeline(d, pipeline_, nullptr);
  if (layout_) vkDestroyPipelineLayout(d, layout_, nullptr);
  if (set_layout_) vkDestroyDescriptorSetLayout(d, set_layout_, nullptr);
  if (module_) vkDestroyShaderModule(d, module_, nullptr);
  pipeline_ = VK_NULL_HANDLE;
  layout_ = VK_NULL_HANDLE;
  set_layout_ = VK_NULL_HANDLE;
  module_ = VK_NULL_HANDLE;
}

} // namespace vkg
