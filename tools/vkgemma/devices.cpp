// `vkgemma devices`: every Vulkan device with its probed capabilities (table or --json).
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "environment.h"
#include "context.h"
#include "ops.h"
#include "profiles.h"

namespace vkg::cli {
namespace {

nlohmann::json caps_json(const DeviceCaps& c) {
  nlohmann::json heaps = nlohmann::json::array(), types = nlohmann::json::array();
  for (const auto& h : c.heaps) heaps.push_back({{"size", h.size}, {"budget", h.budget}, {"device_local", h.device_local}});
  for (const auto& t : c.memory_types) types.push_back({{"heap", t.heap}, {"flags", t.flags}});
  return {
      {"index", c.index}, {"name", c.name}, {"type", c.type_string()}, {"api_version", c.api_version_string()},
      {"driver", c.driver_name}, {"driver_info", c.driver_info}, {"vendor_id", c.vendor_id}, {"device_id", c.device_id},
      {"fp16_arith", c.fp16_arith}, {"int8_arith", c.int8_arith}, {"storage16", c.storage16}, {"storage8", c.storage8},
      {"subgroup_size", c.subgroup_size}, {"subgroup_ops", c.subgroup_ops_string()},
      {"subgroup_size_control", c.subgroup_size_control}, {"min_subgroup_size", c.min_subgroup_size},
      {"max_subgroup_size", c.max_subgroup_size}, {"max_shared_memory", c.max_shared_memory},
      {"max_workgroup_invocations", c.max_workgroup_invocations},
      {"max_workgroup_size", c.max_workgroup_size}, {"max_workgroup_count", c.max_workgroup_count},
      {"max_storage_buffer_range", c.max_storage_buffer_range}, {"max_uniform_buffer_range", c.max_uniform_buffer_range},
      {"max_texel_buffer_elements", c.max_texel_buffer_elements}, {"max_push_constants", c.max_push_constants},
      {"max_storage_buffers_per_stage", c.max_storage_buffers_per_stage},
      {"max_texel_buffers_per_stage", c.max_texel_buffers_per_stage},
      {"min_storage_buffer_offset_alignment", c.min_storage_buffer_offset_alignment},
      {"min_uniform_buffer_offset_alignment", c.min_uniform_buffer_offset_alignment},
      {"min_texel_buffer_offset_alignment", c.min_texel_buffer_offset_alignment}, {"driver_id", c.driver_id},
      {"max_allocation_size", c.max_allocation_size}, {"uma", c.uma}, {"heaps", heaps}, {"memory_types", types},
      {"compute_family", c.compute_family},
      {"transfer_family", c.has_transfer_queue() ? nlohmann::json(c.transfer_family) : nlohmann::json(nullptr)},
      {"timeline_semaphore", c.timeline_semaphore}, {"memory_budget", c.memory_budget_ext},
      {"timestamps", c.timestamps}, {"profile", c.profile}, {"kernel_variants", select_variants(c).describe()},
  };
}

std::string mib(uint64_t b) { return fmt::format("{:.0f} MiB", b / 1048576.0); }

void print_table(const DeviceCaps& c, bool chosen) {
  std::cout << fmt::format("[{}]{} {} ({}, Vulkan {}, {})\n", c.index, chosen ? " *" : "", c.name, c.type_string(),
                           c.api_version_string(), c.driver_name);
  auto row = [](std::string_view k, const std::string& v) { std::cout << fmt::format("    {:<28} {}\n", k, v); };
  auto yn = [](bool b) { return std::string(b ? "yes" : "no"); };
  row("fp16 / int8 arithmetic", yn(c.fp16_arith) + " / " + yn(c.int8_arith));
  row("16 / 8-bit storage", yn(c.storage16) + " / " + yn(c.storage8));
  row("subgroup size", fmt::format("{} (min {}, max {}{})", c.subgroup_size, c.min_subgroup_size,
                                   c.max_subgroup_size, c.subgroup_size_control ? ", size control" : ""));
  row("subgroup operations", c.subgroup_ops_string());
  row("shared memory", fmt::format("{} KiB", c.max_shared_memory / 1024));
  row("workgroup invocations", std::to_string(c.max_workgroup_invocations));
  row("maxStorageBufferRange", mib(c.max_storage_buffer_range));
  row("maxTexelBufferElements", fmt::format("{} ({})", c.max_texel_buffer_elements, mib(c.max_texel_buffer_elements * 16)));
  row("buffers per stage", fmt::format("{} storage, {} sampled (texel)", c.max_storage_buffers_per_stage,
                                       c.max_texel_buffers_per_stage));
  row("max allocation", mib(c.max_allocation_size));
  row("push constants", fmt::format("{} bytes", c.max_push_constants));
  std::string heaps;
  for (const auto& h : c.heaps)
    heaps += fmt::format("{}{}{}", heaps.empty() ? "" : ", ", mib(h.budget), h.device_local ? " device-local" : " host");
  row("memory heaps", heaps + (c.uma ? " (UMA)" : ""));
  row("transfer-only queue", c.has_transfer_queue() ? fmt::format("family {}", c.transfer_family) : "none");
  row("timeline semaphores", yn(c.timeline_semaphore));
  row("VK_EXT_memory_budget", yn(c.memory_budget_ext));
  row("kernel variants", select_variants(c).describe());
  if (!c.profile.empty())
    row("profile", c.profile + (c.profile_subgroup_size ? fmt::format(" (nominal subgroup size {})",
                                                                       c.profile_subgroup_size) : ""));
}

void add_devices(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List Vulkan devices and their probed capabilities");
  auto json = std::make_shared<bool>(false);
  auto profile = std::make_shared<std::string>();
  cmd->add_flag("--json", *json, "Machine-readable output");
  cmd->add_option("--profile", *profile, "Show the capabilities as lowered by a device profile "
                                          "(pi5-v3d, mali-valhall, adreno-7xx, desktop, minimal)")
      ->check(profile_name_validator());
  cmd->callback([json, profile] {
    Instance instance(read_environment().instance);
    auto devs = instance.devices();
    if (!profile->empty()) {
      const auto& p = device_profile(*profile);
      for (auto& d : devs) apply_profile(d, p);
    }
    const uint32_t chosen = choose_device(devs);
    if (*json) {
      nlohmann::json out = {{"chosen", chosen}, {"devices", nlohmann::json::array()}};
      for (const auto& d : devs) out["devices"].push_back(caps_json(d));
      std::cout << out.dump(2) << "\n";
      return;
    }
    for (const auto& d : devs) print_table(d, d.index == chosen);
    std::cout << "(* = chosen by default; override with --device N or VKGEMMA_DEVICE=N)\n";
  });
}

VKG_CLI_COMMAND(add_devices);

} // namespace
} // namespace vkg::cli
