// Internals of libvkgemma: the handle types behind vkgemma.h, the exception -> status boundary,
// versioned-struct copying, and the process-wide instance/device registry.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "context.h"
#include "environment.h"
#include "chat.h"
#include "model.h"
#include "session.h"
#include "vkgemma.h"

namespace vkg::capi {

/// An error with its status, thrown inside the library and turned into a return code by guarded().
struct ApiError {
  vkgemma_status status;
  std::string message;
};
[[noreturn]] void fail(vkgemma_status status, std::string message);

/// Record `message` as this thread's last error (prefixed with the function name) and return s.
vkgemma_status set_error(const char* fn, vkgemma_status s, const std::string& message);

/// The one ErrorCode -> vkgemma_status table: bad_input INVALID_ARGUMENT, bad_model MODEL_ERROR,
/// out_of_memory OUT_OF_MEMORY, device_lost DEVICE_ERROR, no_device NO_DEVICE, unsupported
/// UNSUPPORTED, internal INTERNAL.
vkgemma_status status_of(ErrorCode code);

/// Status for an exception escaping a call: ApiError its own status, std::bad_alloc OUT_OF_MEMORY,
/// vkg::Error (VkError, GgufError, ModelError, ...) status_of(code()), anything else INTERNAL.
vkgemma_status status_of(std::exception_ptr e, std::string& message);

/// Run f (which returns nothing and reports errors by throwing) and translate any exception into
/// a status + last-error message. No exception crosses this function.
template <class F>
vkgemma_status guarded(const char* fn, F&& f) noexcept {
  try {
    f();
    return VKGEMMA_OK;
  } catch (...) {
    std::string msg;
    vkgemma_status s = status_of(std::current_exception(), msg);
    try {
      return set_error(fn, s, msg);
    } catch (...) {
      return s;  // no memory for the message
    }
  }
}

// ---- versioned structs: `size_t struct_size` first --------------------------------------------

/// Read a caller's input struct (its first struct_size bytes) over `defaults`. NULL: defaults.
template <class T>
T read_struct(const T* in, const T& defaults, const char* what) {
  T out = defaults;
  if (!in) return out;
  if (in->struct_size < sizeof(T))  // v1 is the first published layout: nothing smaller exists
    fail(VKGEMMA_INVALID_ARGUMENT, std::string(what) + ": struct_size " + std::to_string(in->struct_size) +
                                       " is smaller than the first published layout (" +
                                       std::to_string(sizeof(T)) + "): set it to sizeof the struct");
  std::memcpy(static_cast<void*>(&out), in, sizeof(T));
  out.struct_size = sizeof(T);
  return out;
}

/// Check an output struct's struct_size (before doing any work).
template <class T>
void check_out_struct(const T* out, const char* what) {
  if (!out) fail(VKGEMMA_INVALID_ARGUMENT, std::string(what) + " is NULL");
  if (out->struct_size < sizeof(T))
    fail(VKGEMMA_INVALID_ARGUMENT, std::string(what) + ": struct_size " + std::to_string(out->struct_size) +
                                       " is smaller than the first published layout (" +
                                       std::to_string(sizeof(T)) + "): set it to sizeof the struct");
}

/// Write `value` into the caller's struct: the members we know, trailing bytes we do not zeroed,
/// the caller's struct_size kept.
template <class T>
void write_struct(T* out, const T& value) {
  const size_t size = out->struct_size;
  std::memcpy(static_cast<void*>(out), &value, sizeof(T));
  if (size > sizeof(T)) std::memset(reinterpret_cast<char*>(out) + sizeof(T), 0, size - sizeof(T));
  out->struct_size = size;
}

/// Copy s into a caller buffer with the required-size rule (NUL-terminated; *len = s.size());
/// ApiError BUFFER_TOO_SMALL (buffer untouched) when it does not fit.
void copy_text(const std::string& s, char* buf, size_t capacity, size_t* len);

// ---- process-wide Vulkan instance and devices --------------------------------------------------

/// A logical device shared by every model on one physical device; keeps the instance alive.
struct SharedDevice {
  std::shared_ptr<Instance> instance;
  std::unique_ptr<Device> device;
  std::string profile;  // as requested ("" = VKGEMMA_DEVICE_PROFILE or none)
  ~SharedDevice() { device.reset(); }  // before the instance
};

/// Capability records of all physical devices (probed once per process). Throws ApiError
/// NO_DEVICE when there is no loader/driver/device.
const std::vector<DeviceCaps>& device_caps();
/// Index an automatic choice opens: VKGEMMA_DEVICE, else choose_device().
uint32_t default_device_index();
/// The environment's settings (host/engine/environment.h), read once per process on first use.
const EnvironmentSettings& environment();
/// Open (or share the open) device `index` (-1: default_device_index()).
std::shared_ptr<SharedDevice> open_device(int32_t index, const char* profile = nullptr);
/// Validation-layer messages of every instance this library created.
uint64_t validation_messages();

// ---- handles -----------------------------------------------------------------------------------

/// What a model handle and its sessions share; destroyed with the last of them.
struct ModelState {
  std::shared_ptr<SharedDevice> device;  // declared first: destroyed after the model
  std::unique_ptr<Model> model;
  int32_t device_index = 0;
  uint32_t n_ctx_default = 4096;
  uint64_t device_memory_budget = 0;
  mutable std::atomic<uint64_t> session_bytes{0};  // device bytes reserved by live sessions
  ~ModelState() { model.reset(); }
};

}  // namespace vkg::capi

struct vkgemma_model {
  static constexpr uint64_t kMagic = 0x4c45444f4d4b56ull;  // "VKMODEL"
  uint64_t magic = kMagic;
  std::shared_ptr<vkg::capi::ModelState> state;
};

struct vkgemma_session {
  static constexpr uint64_t kMagic = 0x5353455347ull;  // "GSESS"
  uint64_t magic = kMagic;
  std::shared_ptr<vkg::capi::ModelState> model;  // declared first: outlives the session
  std::unique_ptr<vkg::Session> session;
  std::atomic<bool> busy{false};  // inside eval/generate (re-entrancy / concurrent-use guard)
  uint64_t reserved = 0;          // device bytes counted against the model's budget
  vkgemma_stop_reason last_stop = VKGEMMA_STOP_MAX_TOKENS;  // of the last generate call
  int32_t last_stop_token = -1;
  ~vkgemma_session() {
    session.reset();
    if (model) model->session_bytes -= reserved;
  }
};

/// A parsed model turn and the JSON / text views vkgemma_reply_get_info hands out.
struct vkgemma_reply {
  static constexpr uint64_t kMagic = 0x594c504552ull;  // "REPLY"
  uint64_t magic = kMagic;
  vkg::ParsedReply parsed;
  std::string tool_calls_json, message_json, error;
  std::vector<std::string> call_args;  // arguments JSON of each tool call
  vkgemma_stop_reason stop = VKGEMMA_STOP_END_OF_GENERATION;
  int32_t stop_token = -1;
  /// Take a parsed turn: fill the JSON views.
  void set(vkg::ParsedReply r);
};

namespace vkg::capi {

/// The reply of a handle, or ApiError INVALID_ARGUMENT for NULL / a handle that is not a reply.
vkgemma_reply& reply_of(const vkgemma_reply* r);

/// The model of a handle, or ApiError INVALID_ARGUMENT for NULL / a handle that is not a model.
const ModelState& model_of(const vkgemma_model* m);
/// The session of a handle, or ApiError INVALID_ARGUMENT.
vkgemma_session& session_of(const vkgemma_session* s);
/// Overwrite top_k / top_p / temperature of p with the model file's general.sampling.* values
/// where it has them.
void apply_file_sampling(vkgemma_sampler_params& p, const Model& m);

}  // namespace vkg::capi
