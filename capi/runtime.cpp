// libvkgemma plumbing: errors and status codes, the thread-local last error, the process-wide
// Vulkan instance/device registry, version and diagnostics entry points.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <optional>

#include "error.h"
#include "log.h"
#include "internal.h"

#ifndef VKGEMMA_VERSION_STRING
#error "VKGEMMA_VERSION_STRING must be defined by the build"
#endif

namespace vkg::capi {

namespace {
thread_local std::string t_last_error;
}  // namespace

void fail(vkgemma_status status, std::string message) { throw ApiError{status, std::move(message)}; }

vkgemma_status set_error(const char* fn, vkgemma_status s, const std::string& message) {
  t_last_error = fmt::format("{}: {}", fn, message);
  return s;
}

vkgemma_status status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_input: return VKGEMMA_INVALID_ARGUMENT;
    case ErrorCode::bad_model: return VKGEMMA_MODEL_ERROR;
    case ErrorCode::out_of_memory: return VKGEMMA_OUT_OF_MEMORY;
    case ErrorCode::device_lost: return VKGEMMA_DEVICE_ERROR;
    case ErrorCode::no_device: return VKGEMMA_NO_DEVICE;
    case ErrorCode::unsupported: return VKGEMMA_UNSUPPORTED;
    case ErrorCode::internal: return VKGEMMA_INTERNAL;
  }
  return VKGEMMA_INTERNAL;
}

vkgemma_status status_of(std::exception_ptr e, std::string& message) {
  try {
    std::rethrow_exception(e);
  } catch (const ApiError& x) {
    message = x.message;
    return x.status;
  } catch (const std::bad_alloc&) {
    message = "out of host memory";
    return VKGEMMA_OUT_OF_MEMORY;
  } catch (const Error& x) {  // VkError, GgufError, ModelError, TokenizerError, ...: by their code
    message = x.what();
    return status_of(x.code());
  } catch (const std::exception& x) {
    message = x.what();
    return VKGEMMA_INTERNAL;
  } catch (...) {
    message = "unknown exception";
    return VKGEMMA_INTERNAL;
  }
}

void copy_text(const std::string& s, char* buf, size_t capacity, size_t* len) {
  *len = s.size();
  if (capacity < s.size() + 1)
    fail(VKGEMMA_BUFFER_TOO_SMALL,
         fmt::format("the text needs {} bytes (with the NUL), the buffer has {}", s.size() + 1, capacity));
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
}

// ---- registry ------------------------------------------------------------------------------------

namespace {

struct Registry {
  std::mutex mu;
  std::optional<EnvironmentSettings> env;  // read once, at the first instance
  std::weak_ptr<Instance> instance;
  std::map<uint32_t, std::weak_ptr<SharedDevice>> devices;
  std::optional<std::vector<DeviceCaps>> caps;
  std::atomic<uint64_t> retired_messages{0};  // validation messages of destroyed instances
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: usable from static destructors of callers
  return *r;
}

/// The live instance, or a new one (under registry().mu). Errors keep their codes (no loader or
/// driver: no_device).
std::shared_ptr<Instance> instance_locked(Registry& r) {
  if (auto i = r.instance.lock()) return i;
  if (!r.env) r.env = read_environment();  // bad VKGEMMA_* values: VKGEMMA_INVALID_ARGUMENT
  auto inst = std::make_unique<Instance>(r.env->instance);
  std::shared_ptr<Instance> i(inst.release(), [](Instance* p) {
    registry().retired_messages += p->validation_log().count.load();
    delete p;
  });
  r.instance = i;
  if (!r.caps) r.caps = i->devices();
  return i;
}

}  // namespace

const std::vector<DeviceCaps>& device_caps() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  if (!r.caps) instance_locked(r);  // probes; a temporary instance is released right away
  return *r.caps;
}

uint32_t default_device_index() {
  const auto& caps = device_caps();
  const std::optional<uint32_t> env = environment().device;
  if (env && *env >= caps.size())
    fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("VKGEMMA_DEVICE='{}' is not a device index ({} device(s) found)", *env,
                                               caps.size()));
  return env ? *env : choose_device(caps);
}

const EnvironmentSettings& environment() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  if (!r.env) r.env = read_environment();
  return *r.env;
}

std::shared_ptr<SharedDevice> open_device(int32_t index, const char* profile) {
  const auto& caps = device_caps();
  if (index < -1 || (index >= 0 && static_cast<size_t>(index) >= caps.size()))
    fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("device index {} out of range: {} device(s) found", index, caps.size()));
  const uint32_t idx = index < 0 ? default_device_index() : static_cast<uint32_t>(index);
  const std::string want = profile ? profile : environment().profile.value_or("");
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  if (auto d = r.devices[idx].lock()) {
    if (d->profile != want)
      fail(VKGEMMA_INVALID_ARGUMENT,
           fmt::format("device {} is open with device profile '{}'; a model on it cannot ask for '{}'", idx,
                       d->profile, want));
    return d;
  }
  // The runtime loads Vulkan device functions into one process-wide table (volk): two devices
  // of different drivers open at once would call each other's entry points.
  for (const auto& [other, weak] : r.devices)
    if (other != idx && !weak.expired())
      fail(VKGEMMA_INVALID_ARGUMENT,
           fmt::format("device {} is requested while device {} is in use: one device per process at a time "
                       "(free the models on device {} first)",
                       idx, other, other));
  auto d = std::make_shared<SharedDevice>();
  d->instance = instance_locked(r);
  DeviceOptions o = r.env->device_options();  // pipeline-cache directory
  o.index = idx;
  o.profile = want.empty() ? std::nullopt : std::optional<std::string>(want);  // unknown: bad_input (Device)
  d->profile = want;
  d->device = std::make_unique<Device>(*d->instance, o);  // errors keep their codes (status_of)
  r.devices[idx] = d;
  return d;
}

uint64_t validation_messages() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  uint64_t n = r.retired_messages.load();
  if (auto i = r.instance.lock()) n += i->validation_log().count.load();
  return n;
}

const ModelState& model_of(const vkgemma_model* m) {
  if (!m) fail(VKGEMMA_INVALID_ARGUMENT, "model is NULL");
  if (m->magic != vkgemma_model::kMagic || !m->state)
    fail(VKGEMMA_INVALID_ARGUMENT, "not a model handle (freed, or another pointer)");
  return *m->state;
}

vkgemma_session& session_of(const vkgemma_session* s) {
  if (!s) fail(VKGEMMA_INVALID_ARGUMENT, "session is NULL");
  if (s->magic != vkgemma_session::kMagic || !s->session)
    fail(VKGEMMA_INVALID_ARGUMENT, "not a session handle (freed, or another pointer)");
  return const_cast<vkgemma_session&>(*s);
}

}  // namespace vkg::capi

using namespace vkg::capi;

extern "C" {

VKGEMMA_API const char* vkgemma_version(void) { return VKGEMMA_VERSION_STRING; }

VKGEMMA_API const char* vkgemma_status_string(vkgemma_status status) {
  switch (status) {
    case VKGEMMA_OK: return "VKGEMMA_OK";
    case VKGEMMA_INVALID_ARGUMENT: return "VKGEMMA_INVALID_ARGUMENT";
    case VKGEMMA_NO_DEVICE: return "VKGEMMA_NO_DEVICE";
    case VKGEMMA_FILE_ERROR: return "VKGEMMA_FILE_ERROR";
    case VKGEMMA_MODEL_ERROR: return "VKGEMMA_MODEL_ERROR";
    case VKGEMMA_OUT_OF_MEMORY: return "VKGEMMA_OUT_OF_MEMORY";
    case VKGEMMA_CANCELLED: return "VKGEMMA_CANCELLED";
    case VKGEMMA_CONTEXT_FULL: return "VKGEMMA_CONTEXT_FULL";
    case VKGEMMA_BUFFER_TOO_SMALL: return "VKGEMMA_BUFFER_TOO_SMALL";
    case VKGEMMA_DEVICE_ERROR: return "VKGEMMA_DEVICE_ERROR";
    case VKGEMMA_INTERNAL: return "VKGEMMA_INTERNAL";
    case VKGEMMA_UNSUPPORTED: return "VKGEMMA_UNSUPPORTED";
  }
  return "unknown status";
}

VKGEMMA_API const char* vkgemma_last_error(void) { return t_last_error.c_str(); }

VKGEMMA_API vkgemma_status vkgemma_device_count(uint32_t* count) {
  return guarded(__func__, [&] {
    if (!count) fail(VKGEMMA_INVALID_ARGUMENT, "count is NULL");
    *count = 0;
    *count = static_cast<uint32_t>(device_caps().size());
  });
}

VKGEMMA_API vkgemma_status vkgemma_device_get_info(uint32_t index, vkgemma_device_info* info) {
  return guarded(__func__, [&] {
    check_out_struct(info, "info");
    const auto& all = device_caps();
    if (index >= all.size())
      fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("device index {} out of range: {} device(s) found", index, all.size()));
    const vkg::DeviceCaps& c = all[index];
    vkgemma_device_info d{};
    d.struct_size = sizeof d;
    d.index = c.index;
    std::snprintf(d.name, sizeof d.name, "%s", c.name.c_str());
    std::snprintf(d.driver_name, sizeof d.driver_name, "%s", c.driver_name.c_str());
    d.type = static_cast<vkgemma_device_type>(c.type <= VK_PHYSICAL_DEVICE_TYPE_CPU ? c.type : 0);
    d.vendor_id = c.vendor_id;
    d.device_id = c.device_id;
    d.api_version = c.api_version;
    d.device_local_bytes = c.device_local_bytes();
    d.max_allocation_bytes = c.max_allocation_size;
    d.max_storage_buffer_range = c.max_storage_buffer_range;
    d.subgroup_size = c.subgroup_size;
    d.max_shared_memory = c.max_shared_memory;
    d.uma = c.uma;
    d.fp16_arithmetic = c.fp16_arith;
    d.int8_arithmetic = c.int8_arith;
    d.storage16 = c.storage16;
    d.storage8 = c.storage8;
    d.subgroup_arithmetic = c.subgroup_arith();
    d.transfer_queue = c.has_transfer_queue();
    d.usable = c.api_version >= VK_API_VERSION_1_2 && c.timeline_semaphore && c.compute_family != UINT32_MAX;
    d.is_default = vkg::choose_device(all) == index;
    if (const auto env = environment().device) d.is_default = *env == index;
    write_struct(info, d);
  });
}

namespace {
/// The default sink: warnings and errors on stderr.
void log_to_stderr(vkg::LogLevel level, std::string_view text) {
  if (level < vkg::LogLevel::warn) return;
  std::fprintf(stderr, "vkgemma: %s%.*s\n", level == vkg::LogLevel::warn ? "warning: " : "",
               static_cast<int>(text.size()), text.data());
}
/// Installed when libvkgemma is loaded, replaced by vkgemma_set_log_callback.
const bool g_default_log_sink = (vkg::set_log_sink(log_to_stderr), true);
}  // namespace

VKGEMMA_API vkgemma_status vkgemma_set_log_callback(vkgemma_log_callback callback, void* user_data) {
  return guarded(__func__, [&] {
    (void)g_default_log_sink;
    if (!callback) {
      vkg::set_log_sink(log_to_stderr);
      return;
    }
    vkg::set_log_sink([callback, user_data](vkg::LogLevel level, std::string_view text) {
      const std::string s(text);  // NUL-terminated copy
      callback(static_cast<vkgemma_log_level>(level), s.c_str(), user_data);
    });
  });
}

VKGEMMA_API vkgemma_status vkgemma_validation_message_count(uint64_t* count) {
  return guarded(__func__, [&] {
    if (!count) fail(VKGEMMA_INVALID_ARGUMENT, "count is NULL");
    *count = validation_messages();
  });
}

}  // extern "C"
