#include "pipeline_set.h"

#include <fmt/format.h>

#include "context.h"

namespace vkg {

double PipelineReport::stat(std::string_view name) const {
  for (const auto& s : stats)
    if (s.name == name) return s.value;
  return -1;
}

bool PipelineReport::spills() const {
  for (const char* n : {"Spilled SGPRs", "Spilled VGPRs", "Scratch size"})
    if (stat(n) > 0) return true;
  return false;
}

namespace {

std::vector<PipelineStatistic> read_statistics(Device& dev, VkPipeline pipeline) {
  std::vector<PipelineStatistic> out;
  VkPipelineInfoKHR pi{VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
  pi.pipeline = pipeline;
  uint32_t n_exec = 0;
  check(vkGetPipelineExecutablePropertiesKHR(dev.handle(), &pi, &n_exec, nullptr), "vkGetPipelineExecutablePropertiesKHR");
  std::vector<VkPipelineExecutablePropertiesKHR> execs(n_exec, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR});
  check(vkGetPipelineExecutablePropertiesKHR(dev.handle(), &pi, &n_exec, execs.data()),
        "vkGetPipelineExecutablePropertiesKHR");
  for (uint32_t e = 0; e < n_exec; ++e) {
    if (!(execs[e].stages & VK_SHADER_STAGE_COMPUTE_BIT)) continue;
    VkPipelineExecutableInfoKHR ei{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
    ei.pipeline = pipeline;
    ei.executableIndex = e;
    uint32_t n = 0;
    check(vkGetPipelineExecutableStatisticsKHR(dev.handle(), &ei, &n, nullptr), "vkGetPipelineExecutableStatisticsKHR");
    std::vector<VkPipelineExecutableStatisticKHR> st(n, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
    check(vkGetPipelineExecutableStatisticsKHR(dev.handle(), &ei, &n, st.data()), "vkGetPipelineExecutableStatisticsKHR");
    for (const auto& s : st) {
      PipelineStatistic p{s.name, s.description, 0};
      switch (s.format) {
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: p.value = s.value.b32 ? 1 : 0; break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: p.value = static_cast<double>(s.value.i64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: p.value = static_cast<double>(s.value.u64); break;
        case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: p.value = s.value.f64; break;
        default: continue;
      }
      out.push_back(std::move(p));
    }
  }
  return out;
}

} // namespace

std::vector<PipelineReport> compile_pipeline_set(Device& dev, std::span<const KernelDesc> descs,
                                                 void (*progress)(const KernelDesc&, size_t, size_t)) {
  std::vector<PipelineReport> out;
  for (size_t i = 0; i < descs.size(); ++i) {
    PipelineReport r;
    r.desc = descs[i];
    r.desc.capture_statistics = dev.pipeline_statistics();
    if (progress) progress(r.desc, i, descs.size());
    try {
      Kernel k(dev, r.desc);
      const auto log = dev.pipeline_log();
      if (!log.empty()) std::copy(log.back().local_size, log.back().local_size + 3, r.local_size);
      if (dev.pipeline_statistics()) r.stats = read_statistics(dev, k.pipeline());
    } catch (const VkError& e) {
      // The capability check (Kernel::enforce_caps and the interface limits) refuses with
      // FEATURE_NOT_PRESENT / unsupported; anything else is the driver failing.
      if (e.result == VK_ERROR_FEATURE_NOT_PRESENT || e.code() == ErrorCode::unsupported)
        r.refused = e.what();
      else
        r.error = e.what();
    }
    out.push_back(std::move(r));
  }
  return out;
}

} // namespace vkg
