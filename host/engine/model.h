// A loaded Gemma 4 model: the GGUF mapping, the model description, the tokenizer, and the
// device-resident weight set. Shared read-only by any number of sessions (session.h).
#pragma once
#include <filesystem>
#include <memory>

#include "chat.h"
#include "device_weights.h"
#include "session_plan.h"
#include "gemma4_config.h"
#include "gguf.h"
#include "tokenizer.h"

namespace vkg {

class Device;

class Model {
 public:
  /// Map, validate and upload. progress(done, total) reports uploaded bytes and may cancel.
  /// Residency (residency.h) is planned for the device allocator's budget
  /// (Allocator::set_budget, e.g. `--gpu-mem`), or `budget` bytes when smaller and non-zero,
  /// with one session of `session` options reserved: the layers that do not fit are streamed by
  /// each session.
  /// Errors: GgufError / ModelError (file), VocabError (tokenizer metadata), VkError (device),
  /// std::runtime_error (unsupported weight type, device memory too small even for streaming,
  /// cancelled).
  static std::unique_ptr<Model> load(Device& dev, const std::filesystem::path& path,
                                     const UploadProgress& progress = {}, const ForwardOptions& session = {},
                                     uint64_t budget = 0);

  Device& device() const { return dev_; }
  const GgufFile& file() const { return file_; }
  const Gemma4Model& gemma() const { return gemma_; }
  const Gemma4Config& config() const { return gemma_.config; }
  const Tokenizer& tokenizer() const { return *tok_; }
  const DeviceWeights& weights() const { return weights_; }
  /// Bytes of the device set uploaded / of the host-paged PLE table in the file.
  uint64_t device_bytes() const { return weights_.bytes; }
  uint64_t host_paged_bytes() const { return gemma_.weights.per_layer_token_embd->n_bytes; }
  /// Which layers are resident and which stream (and the bytes of each part).
  const ResidencyPlan& residency() const { return weights_.plan; }
  double load_ms() const { return load_ms_; }
  /// One-line notices of the load for the user (weights re-encoded for the GPU, weight_convert.h).
  const std::vector<std::string>& notices() const { return notices_; }

 private:
  Model(Device& dev, GgufFile file);
  Device& dev_;
  GgufFile file_;
  Gemma4Model gemma_;
  std::unique_ptr<Tokenizer> tok_;
  DeviceWeights weights_;
  std::vector<std::string> notices_;
  double load_ms_ = 0;
};

/// The chat-template options of a loaded model, as format_chat (text/chat.h) needs them: the
/// template variant (E models: chat_template_for(n_ple > 0)) and the tokenizer's BOS text.
ChatOptions chat_options(const Model& model, bool add_generation_prompt, bool enable_thinking);

} // namespace vkg
