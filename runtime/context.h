// Vulkan instance and logical device: loader (volk), validation layer and debug messenger,
// device enumeration and selection, queues, pipeline cache. RAII throughout.
#pragma once
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "caps.h"
#include "vk_check.h"

namespace vkg {

class Allocator;
class Kernel;
struct KernelDesc;

/// Counts validation-layer messages; any message is a failure in tests.
struct ValidationLog {
  std::atomic<uint64_t> count{0};
  std::mutex mutex;
  std::string last;  // text of the most recent message
};

/// The Vulkan instance. Loads the Vulkan loader at run time through volk.
///
/// Validation: enabled when `validation` is true (the CLI and the C API set it from
/// VKGEMMA_VALIDATION, host/engine/environment.h); then VK_LAYER_KHRONOS_validation must be
/// installed (VkError otherwise) and every message it reports is counted in validation_log()
/// and sent to the log sink (log.h) at LogLevel::error.
/// Errors: VkError "no Vulkan driver found: ..." when the loader or any driver is missing.
class Instance {
 public:
  struct Options {
    bool validation = false;
    /// Override of DeviceCaps::soft_half (fp16 conversions in software) on every device;
    /// default: what probe_caps decides for the driver.
    std::optional<bool> soft_half;
  };
  Instance();
  explicit Instance(Options opts);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  /// Capability records of every physical device, in enumeration order.
  const std::vector<DeviceCaps>& devices() const { return caps_; }
  VkPhysicalDevice physical_device(uint32_t index) const { return physical_.at(index); }
  bool validation_enabled() const { return validation_; }
  ValidationLog& validation_log() const { return *log_; }

 private:
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  std::vector<VkPhysicalDevice> physical_;
  std::vector<DeviceCaps> caps_;
  bool validation_ = false;
  std::unique_ptr<ValidationLog> log_;
};

/// Which device to open and how.
struct DeviceOptions {
  std::optional<uint32_t> index;                 // default: choose_device()
  std::optional<std::filesystem::path> cache_dir;  // pipeline cache file's directory; default: none (in memory only)
  bool pipeline_cache = true;
  std::optional<std::string> profile;             // device profile (profiles.h); default: none
  // Enable VK_KHR_pipeline_executable_properties where the device has it, so pipelines created
  // with KernelDesc::capture_statistics report the driver's statistics (pipeline_set.h).
  bool pipeline_statistics = false;
};

/// What a created pipeline uses, reflected from its SPIR-V after specialization (for tests and
/// `vkgemma devices`): enforcement of the capability record is checked against this log.
struct PipelineRecord {
  std::string shader;
  uint32_t local_size[3] = {1, 1, 1};
  uint64_t shared_bytes = 0;
  bool subgroup_arith = false, fp16 = false, int8 = false;
  std::vector<uint32_t> spec;
};


/// A logical device with one compute queue and, when the device has a transfer-only queue
/// family, one transfer queue (else transfers go to the compute queue).
class Device {
 public:
  Device(Instance& instance, DeviceOptions opts = {});
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  VkDevice handle() const { return device_; }
  VkPhysicalDevice physical() const { return physical_; }
  Instance& instance() const { return instance_; }
  /// The capability record in force (probed, possibly lowered by a profile).
  const DeviceCaps& caps() const { return caps_; }
  DeviceCaps& mutable_caps() { return caps_; }
  Allocator& allocator() { return *allocator_; }

  VkQueue compute_queue() const { return compute_queue_; }
  VkQueue transfer_queue() const { return transfer_queue_; }
  uint32_t compute_family() const { return caps_.compute_family; }
  uint32_t transfer_family() const { return transfer_family_; }
  bool separate_transfer_queue() const { return transfer_family_ != caps_.compute_family; }
  /// Serializes vkQueueSubmit on a queue shared by several threads.
  std::mutex& queue_mutex(VkQueue q) { return q == compute_queue_ ? compute_mutex_ : transfer_mutex_; }

  /// Every pipeline created on this device, in order.
  std::vector<PipelineRecord> pipeline_log() const {
    std::lock_guard lock(log_mutex_);
    return pipeline_log_;
  }
  void record_pipeline(PipelineRecord r) {
    std::lock_guard lock(log_mutex_);
    pipeline_log_.push_back(std::move(r));
  }

  /// The pipeline for desc, created on first use and then shared by every Ops on this device
  /// (every session of every model): one compile per pipeline and device. Keyed by
  /// desc.key() and the capability limits the creation checks (a lowered record, as tests force,
  /// gets its own checked pipelines). Thread-safe; the reference lives as long as the device.
  /// Errors: those of Kernel's constructor (nothing is cached then).
  const Kernel& kernel(const KernelDesc& desc);
  /// Pipelines kernel() has created so far.
  size_t kernel_count() const;
  /// Whether VK_KHR_pipeline_executable_properties is enabled (DeviceOptions::pipeline_statistics
  /// on a device that has it).
  bool pipeline_statistics() const { return pipeline_statistics_; }

  VkPipelineCache pipeline_cache() const { return pipeline_cache_; }
  /// Path of the on-disk pipeline cache ("" when disabled).
  const std::filesystem::path& pipeline_cache_path() const { return cache_path_; }
  /// Whether an existing cache file was accepted at start-up.
  bool pipeline_cache_loaded() const { return cache_loaded_; }
  /// Write the pipeline cache to disk now (also done at destruction).
  void save_pipeline_cache();

 private:
  void open_pipeline_cache(const DeviceOptions& opts);

  Instance& instance_;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  DeviceCaps caps_;
  VkQueue compute_queue_ = VK_NULL_HANDLE, transfer_queue_ = VK_NULL_HANDLE;
  uint32_t transfer_family_ = 0;
  std::mutex compute_mutex_, transfer_mutex_;
  VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;
  std::filesystem::path cache_path_;
  bool cache_loaded_ = false;
  std::unique_ptr<Allocator> allocator_;
  mutable std::mutex log_mutex_;
  std::vector<PipelineRecord> pipeline_log_;
  bool pipeline_statistics_ = false;
  mutable std::mutex kernels_mutex_;
  std::map<std::string, std::unique_ptr<Kernel>> kernels_;
};

} // namespace vkg
