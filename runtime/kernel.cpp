#include "kernel.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>

#include "context.h"
#include "shader_registry.h"
#include "spirv_reflect.h"

namespace vkg {

Kernel::Kernel(Device& dev, KernelDesc desc) : dev_(dev), desc_(std::move(desc)) {
  const shaders::EmbeddedShader* found = nullptr;
  for (const auto& s : shaders::all())
    if (desc_.shader == s.name) found = &s;
  if (!found) throw VkError(fmt::format("shader '{}' is not embedded in this build", desc_.shader));
  const auto& caps = dev.caps();
  if (desc_.push_bytes % 4 != 0 || desc_.push_bytes > caps.max_push_constants)
    throw VkError(fmt::format("shader '{}': {} push-constant bytes (device allows {})", desc_.shader,
                              desc_.push_bytes, caps.max_push_constants));
  // Texel bindings are uniform texel buffers, counted against maxPerStageDescriptorSampledImages.
  const uint32_t n_texel = static_cast<uint32_t>(std::popcount(desc_.texel_bindings));
  const uint32_t n_storage = desc_.n_buffers - n_texel;
  if (n_storage > caps.max_storage_buffers_per_stage)
    throw VkError(fmt::format("shader '{}': {} storage buffers (device allows {} per stage)", desc_.shader,
                              n_storage, caps.max_storage_buffers_per_stage));
  if (n_texel > caps.max_texel_buffers_per_stage)
    throw VkError(fmt::format("shader '{}': {} uniform texel buffers (device allows {} sampled images per stage)",
                              desc_.shader, n_texel, caps.max_texel_buffers_per_stage));
  if (desc_.required_subgroup_size &&
      (!caps.subgroup_size_control || desc_.required_subgroup_size < caps.min_subgroup_size ||
       desc_.required_subgroup_size > caps.max_subgroup_size))
    throw VkError(fmt::format("shader '{}': requires subgroup size {}, which the device cannot set (sizes {}..{}{})",
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
  cpci.layout = layout_;
  VkResult r = vkCreateComputePipelines(dev.handle(), dev.pipeline_cache(), 1, &cpci, nullptr, &pipeline_);
  if (r != VK_SUCCESS) {
    throw VkError(fmt::format("creating pipeline for shader '{}' failed: {}", desc_.shader, vk_result_name(r)), r);
  }
}

void Kernel::enforce_caps(const shaders::EmbeddedShader& shader) {
  // Reflect the specialized module and refuse what the capability record (possibly lowered by a
  // device profile) does not allow, naming the shader and the limit.
  const auto& caps = dev_.caps();
  const SpirvInfo info = reflect_spirv({shader.words, shader.n_words}, desc_.spec);
  const uint64_t inv = uint64_t(info.local_size[0]) * info.local_size[1] * info.local_size[2];
  auto fail = [&](const std::string& what) {
    throw VkError(fmt::format("shader '{}' {} (device '{}'{})", desc_.shader, what, caps.name,
                              caps.profile.empty() ? "" : ", profile " + caps.profile),
                  VK_ERROR_FEATURE_NOT_PRESENT);
  };
  if (inv > caps.max_workgroup_invocations)
    fail(fmt::format("uses {} invocations per workgroup, over the limit of {}", inv, caps.max_workgroup_invocations));
  for (int i = 0; i < 3; ++i)
    if (info.local_size[i] > caps.max_workgroup_size[i])
      fail(fmt::format("has workgroup size {} in dimension {}, over the limit of {}", info.local_size[i], i,
                       caps.max_workgroup_size[i]));
  if (info.shared_bytes > caps.max_shared_memory)
    fail(fmt::format("uses {} bytes of shared memory, over the limit of {}", info.shared_bytes, caps.max_shared_memory));
  const bool arith = info.has(kSpvCapGroupNonUniformArithmetic) || info.has(kSpvCapGroupNonUniformClustered);
  if (arith && !caps.subgroup_arith()) fail("needs subgroup arithmetic, which the device lacks");
  if (info.has(kSpvCapFloat16) && !caps.fp16_arith) fail("needs fp16 arithmetic, which the device lacks");
  if (info.has(kSpvCapInt8) && !caps.int8_arith) fail("needs int8 arithmetic, which the device lacks");
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
