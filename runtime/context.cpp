#include "context.h"
#include "log.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <unistd.h>

#include "kernel.h"
#include "memory.h"
#include "profiles.h"

namespace vkg {

const char* vk_result_name(VkResult r) {
  switch (r) {
#define C(x) case x: return #x;
    C(VK_SUCCESS) C(VK_NOT_READY) C(VK_TIMEOUT) C(VK_EVENT_SET) C(VK_EVENT_RESET) C(VK_INCOMPLETE)
    C(VK_ERROR_OUT_OF_HOST_MEMORY) C(VK_ERROR_OUT_OF_DEVICE_MEMORY) C(VK_ERROR_INITIALIZATION_FAILED)
    C(VK_ERROR_DEVICE_LOST) C(VK_ERROR_MEMORY_MAP_FAILED) C(VK_ERROR_LAYER_NOT_PRESENT)
    C(VK_ERROR_EXTENSION_NOT_PRESENT) C(VK_ERROR_FEATURE_NOT_PRESENT) C(VK_ERROR_INCOMPATIBLE_DRIVER)
    C(VK_ERROR_TOO_MANY_OBJECTS) C(VK_ERROR_FORMAT_NOT_SUPPORTED) C(VK_ERROR_FRAGMENTED_POOL)
    C(VK_ERROR_UNKNOWN) C(VK_ERROR_OUT_OF_POOL_MEMORY) C(VK_ERROR_FRAGMENTATION)
#undef C
    default: return "VK_RESULT_UNKNOWN";
  }
}

namespace {

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT type,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                     void* user) {
  auto* log = static_cast<ValidationLog*>(user);
  const char* msg = data && data->pMessage ? data->pMessage : "(no message)";
  // The loader's own general messages are about the machine, not our API use (e.g. on a
  // multiarch system it cannot load the other architecture's drivers listed in icd.d): not
  // validation failures, and silent as without validation (VK_LOADER_DEBUG=all shows them).
  if (type == VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT && data && data->pMessageIdName &&
      std::strcmp(data->pMessageIdName, "Loader Message") == 0)
    return VK_FALSE;
  {
    std::lock_guard lock(log->mutex);
    log->last = msg;
  }
  log->count++;
  log_message(LogLevel::error, std::string("[vulkan validation] ") + msg);
  (void)severity;
  return VK_FALSE;
}

bool layer_available(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (const auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

/// A failed vkCreateInstance / vkCreateDevice: the result's code, and no_device where that would
/// be internal (the driver refused for a reason of its own: no usable device).
VkError open_error(const char* call, VkResult r) {
  const ErrorCode c = error_code_of(r);
  return VkError(c == ErrorCode::internal ? ErrorCode::no_device : c, std::string(call) + " failed: " + vk_result_name(r), r);
}

} // namespace

Instance::Instance() : Instance(Options{}) {}

Instance::Instance(Options opts) : log_(std::make_unique<ValidationLog>()) {
  if (volkInitialize() != VK_SUCCESS)
    throw VkError("no Vulkan loader found (libvulkan.so.1); install a Vulkan driver, e.g. mesa-vulkan-drivers",
                  VK_ERROR_INITIALIZATION_FAILED);
  validation_ = opts.validation;
  if (validation_ && !layer_available(kValidationLayer))
    throw VkError("validation requested but VK_LAYER_KHRONOS_validation is not installed "
                  "(Debian: vulkan-validationlayers)", VK_ERROR_LAYER_NOT_PRESENT);

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vkgemma";
  app.pEngineName = "vkgemma";
  app.apiVersion = VK_API_VERSION_1_2;
  std::vector<const char*> layers, exts;
  VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  dbg.pfnUserCallback = on_validation_message;
  dbg.pUserData = log_.get();
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  if (validation_) {
    layers.push_back(kValidationLayer);
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    ci.pNext = &dbg;
  }
  ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  VkResult r = vkCreateInstance(&ci, nullptr, &instance_);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw VkError("no Vulkan driver found: vkCreateInstance returned VK_ERROR_INCOMPATIBLE_DRIVER", r);
  if (r != VK_SUCCESS) throw open_error("vkCreateInstance", r);
  volkLoadInstanceOnly(instance_);
  if (validation_) {
    r = vkCreateDebugUtilsMessengerEXT(instance_, &dbg, nullptr, &messenger_);
    if (r != VK_SUCCESS) {
      vkDestroyInstance(instance_, nullptr);
      check(r, "vkCreateDebugUtilsMessengerEXT");
    }
  }

  uint32_t n = 0;
  r = vkEnumeratePhysicalDevices(instance_, &n, nullptr);
  if (r == VK_SUCCESS && n > 0) {
    physical_.resize(n);
    r = vkEnumeratePhysicalDevices(instance_, &n, physical_.data());
  }
  if (r != VK_SUCCESS && r != VK_INCOMPLETE) n = 0;
  if (n == 0) {
    if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
    vkDestroyInstance(instance_, nullptr);
    instance_ = VK_NULL_HANDLE;
    throw VkError("no Vulkan device found: the loader reports no physical device (is a driver such as "
                  "mesa-vulkan-drivers installed, and VK_ICD_FILENAMES / VK_DRIVER_FILES valid?)",
                  VK_ERROR_INCOMPATIBLE_DRIVER);
  }
  physical_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    caps_.push_back(probe_caps(physical_[i], i));
    if (opts.soft_half) caps_.back().soft_half = *opts.soft_half;
  }
}

Instance::~Instance() {
  if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

Device::Device(Instance& instance, DeviceOptions opts) : instance_(instance) {
  const auto& all = instance.devices();
  uint32_t index = choose_device(all);
  if (opts.index) index = *opts.index;
  if (index >= all.size())
    throw VkError(ErrorCode::bad_input, fmt::format("device index {} out of range: {} device(s) found", index, all.size()));
  caps_ = all[index];
  physical_ = instance.physical_device(index);
  const std::string profile = opts.profile.value_or("");
  if (!profile.empty()) {
    const DeviceProfile* p = nullptr;
    try {
      p = &device_profile(profile);
    } catch (const std::invalid_argument& e) {
      throw VkError(ErrorCode::bad_input, e.what());
    }
    if (p->requires_uma && !caps_.uma)
      throw VkError(ErrorCode::unsupported, fmt::format("profile '{}' emulates a unified-memory device, but '{}' is not UMA", p->name,
                                caps_.name), VK_ERROR_FEATURE_NOT_PRESENT);
    apply_profile(caps_, *p);
  }
  if (caps_.api_version < VK_API_VERSION_1_2)
    throw VkError(ErrorCode::no_device, fmt::format("device '{}' supports Vulkan {} but vkgemma needs 1.2", caps_.name,
                              caps_.api_version_string()), VK_ERROR_FEATURE_NOT_PRESENT);
  if (!caps_.timeline_semaphore)
    throw VkError(ErrorCode::no_device, fmt::format("device '{}' lacks timeline semaphores (Vulkan 1.2 feature)", caps_.name),
                  VK_ERROR_FEATURE_NOT_PRESENT);
  if (caps_.compute_family == UINT32_MAX)
    throw VkError(ErrorCode::no_device, fmt::format("device '{}' has no compute queue", caps_.name), VK_ERROR_FEATURE_NOT_PRESENT);

  transfer_family_ = caps_.has_transfer_queue() ? caps_.transfer_family : caps_.compute_family;
  const float prio = 1.0f;
  VkDeviceQueueCreateInfo qci[2]{};
  uint32_t n_q = 1;
  qci[0] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, caps_.compute_family, 1, &prio};
  if (transfer_family_ != caps_.compute_family) {
    qci[1] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, transfer_family_, 1, &prio};
    n_q = 2;
  }

  // Enable exactly the optional features the device has; kernels pick variants from caps_.
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &f12};
  VkPhysicalDeviceFeatures2 have{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f11};
  vkGetPhysicalDeviceFeatures2(physical_, &have);
  VkPhysicalDeviceVulkan12Features e12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features e11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, &e12};
  VkPhysicalDeviceFeatures2 want{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &e11};
  want.features.shaderInt64 = have.features.shaderInt64;
  want.features.shaderInt16 = have.features.shaderInt16;
  // Optional features follow the capability record (a profile may have removed them: then a
  // shader that needs them fails validation instead of silently working).
  e11.storageBuffer16BitAccess = caps_.storage16 && f11.storageBuffer16BitAccess;
  e11.uniformAndStorageBuffer16BitAccess = caps_.storage16 && f11.uniformAndStorageBuffer16BitAccess;
  e12.storageBuffer8BitAccess = caps_.storage8 && f12.storageBuffer8BitAccess;
  e12.uniformAndStorageBuffer8BitAccess = caps_.storage8 && f12.uniformAndStorageBuffer8BitAccess;
  e12.shaderFloat16 = caps_.fp16_arith && f12.shaderFloat16;
  e12.shaderInt8 = caps_.int8_arith && f12.shaderInt8;
  e12.timelineSemaphore = VK_TRUE;
  e12.hostQueryReset = f12.hostQueryReset;
  VkPhysicalDeviceSubgroupSizeControlFeatures sgc{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
  if (caps_.subgroup_size_control) {
    sgc.subgroupSizeControl = VK_TRUE;
    sgc.computeFullSubgroups = VK_TRUE;
    e12.pNext = &sgc;
  }
  std::vector<const char*> exts;
  if (caps_.memory_budget_ext) exts.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  if (caps_.subgroup_size_control) exts.push_back(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pep{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
  if (opts.pipeline_statistics && caps_.pipeline_executable_properties) {
    pep.pipelineExecutableInfo = VK_TRUE;
    pep.pNext = e12.pNext;
    e12.pNext = &pep;
    exts.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
    pipeline_statistics_ = true;
  }

  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &want};
  dci.queueCreateInfoCount = n_q;
  dci.pQueueCreateInfos = qci;
  dci.enabledExtensionCount = static_cast<uint32_t>(exts.size());
  dci.ppEnabledExtensionNames = exts.data();
  if (VkResult rd = vkCreateDevice(physical_, &dci, nullptr, &device_); rd != VK_SUCCESS)
    throw open_error("vkCreateDevice", rd);
  volkLoadDevice(device_);
  vkGetDeviceQueue(device_, caps_.compute_family, 0, &compute_queue_);
  vkGetDeviceQueue(device_, transfer_family_, 0, &transfer_queue_);
  allocator_ = std::make_unique<Allocator>(*this);
  if (opts.pipeline_cache) open_pipeline_cache(opts);
}

void Device::open_pipeline_cache(const DeviceOptions& opts) {
  VkPhysicalDeviceProperties p{};
  vkGetPhysicalDeviceProperties(physical_, &p);
  // Without a directory the cache lives in memory only (nothing read or written).
  if (opts.cache_dir) cache_path_ = *opts.cache_dir / fmt::format("pipelines-{:04x}-{:04x}.bin", p.vendorID, p.deviceID);

  std::vector<char> blob;
  if (std::ifstream f(cache_path_, std::ios::binary); !cache_path_.empty() && f) {
    blob.assign(std::istreambuf_iterator<char>(f), {});
    // VkPipelineCacheHeaderVersionOne: size, version, vendorID, deviceID, UUID[16].
    bool ok = blob.size() >= 32;
    uint32_t hdr[4] = {};
    if (ok) std::memcpy(hdr, blob.data(), 16);
    ok = ok && hdr[0] >= 32 && hdr[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && hdr[2] == p.vendorID &&
         hdr[3] == p.deviceID && std::memcmp(blob.data() + 16, p.pipelineCacheUUID, VK_UUID_SIZE) == 0;
    if (!ok) {
      log_message(LogLevel::warn, fmt::format("ignoring pipeline cache {} (corrupt or from another device/driver)",
                                              cache_path_.string()));
      blob.clear();
    }
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = blob.size();
  ci.pInitialData = blob.empty() ? nullptr : blob.data();
  VkResult r = vkCreatePipelineCache(device_, &ci, nullptr, &pipeline_cache_);
  if (r != VK_SUCCESS && !blob.empty()) {
    log_message(LogLevel::warn, fmt::format("driver rejected pipeline cache {}; starting empty", cache_path_.string()));
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    blob.clear();
    r = vkCreatePipelineCache(device_, &ci, nullptr, &pipeline_cache_);
  }
  check(r, "vkCreatePipelineCache");
  cache_loaded_ = !blob.empty();
}

void Device::save_pipeline_cache() {
  if (!pipeline_cache_ || cache_path_.empty()) return;
  size_t n = 0;
  if (vkGetPipelineCacheData(device_, pipeline_cache_, &n, nullptr) != VK_SUCCESS || n == 0) return;
  std::vector<char> blob(n);
  if (vkGetPipelineCacheData(device_, pipeline_cache_, &n, blob.data()) != VK_SUCCESS) return;
  std::error_code ec;
  std::filesystem::create_directories(cache_path_.parent_path(), ec);
  auto tmp = cache_path_;
  tmp += fmt::format(".{}.tmp", ::getpid());  // processes sharing the cache dir each write their own, then rename
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return;  // an unwritable cache dir only costs start-up time
    f.write(blob.data(), static_cast<std::streamsize>(n));
    if (!f) return;
  }
  std::filesystem::rename(tmp, cache_path_, ec);
}

namespace {
/// The capability fields Kernel's creation checks (and specializes on): part of the cache key.
std::string caps_key(const DeviceCaps& c) {
  return fmt::format("{}:{}:{}:{}:{}:{}:{}:{}.{}.{}:{}:{}:{}:{}:{}:{}:{}", c.soft_half, c.subgroup_ops, c.fp16_arith,
                     c.int8_arith, c.int64, c.storage16, c.storage8, c.max_workgroup_size[0], c.max_workgroup_size[1],
                     c.max_workgroup_size[2], c.max_workgroup_invocations, c.max_shared_memory, c.max_push_constants,
                     c.max_storage_buffers_per_stage, c.max_texel_buffers_per_stage, c.subgroup_size_control,
                     c.min_subgroup_size * 1000 + c.max_subgroup_size);
}
} // namespace

const Kernel& Device::kernel(const KernelDesc& desc) {
  const std::string key = desc.key() + "|" + caps_key(caps_);
  std::lock_guard lock(kernels_mutex_);
  auto it = kernels_.find(key);
  if (it != kernels_.end()) return *it->second;
  auto k = std::make_unique<Kernel>(*this, desc);
  return *kernels_.emplace(key, std::move(k)).first->second;
}

size_t Device::kernel_count() const {
  std::lock_guard lock(kernels_mutex_);
  return kernels_.size();
}

Device::~Device() {
  if (device_) {
    // The RADV null device (RADV_FORCE_FAMILY without the GPU: compiles, executes nothing, has no
    // memory types) crashes in vkDeviceWaitIdle; nothing can have been submitted there.
    if (!caps_.memory_types.empty()) vkDeviceWaitIdle(device_);
    kernels_.clear();
    save_pipeline_cache();
    allocator_.reset();
    if (pipeline_cache_) vkDestroyPipelineCache(device_, pipeline_cache_, nullptr);
    vkDestroyDevice(device_, nullptr);
  }
}

} // namespace vkg
