// libvkgemma: model loading and description, tokenizer and chat-template entry points.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <nlohmann/json.hpp>

#include "chat.h"
#include "gemma4_config.h"
#include "internal.h"
#include "ops.h"

using namespace vkg::capi;

namespace {

constexpr uint32_t kDefaultCtx = 4096;

vkgemma_model_params model_defaults() {
  vkgemma_model_params p{};
  p.struct_size = sizeof p;
  p.device_index = -1;
  p.n_ctx = kDefaultCtx;
  p.device_memory_budget = 0;
  p.progress_callback = nullptr;
  p.progress_user_data = nullptr;
  p.device_profile = nullptr;
  return p;
}

/// FILE_ERROR unless `path` is a readable regular file.
void check_readable(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(VKGEMMA_FILE_ERROR, fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!ok) fail(VKGEMMA_FILE_ERROR, fmt::format("{}: not a regular file", path));
}

/// Forwards upload progress to the caller's callback; remembers a cancel.
struct Progress {
  vkgemma_progress_callback cb;
  void* user;
  bool cancelled = false;
  float last = -1;
  bool report(float f) {
    if (!cb || cancelled) return !cancelled;
    last = f;
    if (!cb(f, user)) cancelled = true;
    return !cancelled;
  }
};

const vkg::Tokenizer& tokenizer_of(const vkgemma_model* m) { return model_of(m).model->tokenizer(); }

}  // namespace

namespace vkg::capi {
void apply_file_sampling(vkgemma_sampler_params& p, const Model& m) {
  const SamplingDefaults& d = m.config().sampling;
  if (d.top_k) p.top_k = *d.top_k;
  if (d.top_p) p.top_p = *d.top_p;
  if (d.temp) p.temperature = *d.temp;
}
}  // namespace vkg::capi

extern "C" {

VKGEMMA_API vkgemma_status vkgemma_model_default_params(vkgemma_model_params* params) {
  return guarded(__func__, [&] {
    check_out_struct(params, "params");
    write_struct(params, model_defaults());
  });
}

VKGEMMA_API vkgemma_status vkgemma_model_load(const char* path, const vkgemma_model_params* params,
                                              vkgemma_model** out_model) {
  return guarded(__func__, [&] {
    if (!out_model) fail(VKGEMMA_INVALID_ARGUMENT, "out_model is NULL");
    *out_model = nullptr;
    if (!path) fail(VKGEMMA_INVALID_ARGUMENT, "path is NULL");
    const vkgemma_model_params p = read_struct(params, model_defaults(), "params");
    if (p.device_index < -1) fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("device_index {} (-1: automatic)", p.device_index));

    Progress progress{p.progress_callback, p.progress_user_data};
    if (!progress.report(0.0f)) fail(VKGEMMA_CANCELLED, "cancelled by the progress callback");
    check_readable(path);

    auto state = std::make_shared<ModelState>();
    state->device = open_device(p.device_index, p.device_profile);
    state->device_index = static_cast<int32_t>(state->device->device->caps().index);
    state->device_memory_budget = p.device_memory_budget;
    try {
      // Residency is planned for the budget with one session of the default context reserved.
      vkg::ForwardOptions session;
      session.n_ctx = p.n_ctx ? p.n_ctx : kDefaultCtx;
      state->model = vkg::Model::load(
          *state->device->device, path,
          [&](uint64_t done, uint64_t total) {
            return progress.report(total ? static_cast<float>(static_cast<double>(done) / total) : 1.0f);
          },
          session, p.device_memory_budget);
    } catch (...) {
      if (progress.cancelled) fail(VKGEMMA_CANCELLED, "cancelled by the progress callback");
      throw;  // status_of maps the error's code
    }
    if (progress.last < 1.0f && !progress.report(1.0f)) fail(VKGEMMA_CANCELLED, "cancelled by the progress callback");

    const uint32_t train = state->model->config().n_ctx_train;
    const uint32_t want = p.n_ctx ? p.n_ctx : kDefaultCtx;
    state->n_ctx_default = train ? std::min(want, train) : want;

    auto handle = std::make_unique<vkgemma_model>();
    handle->state = std::move(state);
    *out_model = handle.release();
  });
}

VKGEMMA_API vkgemma_status vkgemma_model_free(vkgemma_model* model) {
  return guarded(__func__, [&] {
    if (!model) return;
    model_of(model);  // validates the handle
    model->magic = 0;
    delete model;  // sessions hold their own reference to the state
  });
}

VKGEMMA_API vkgemma_status vkgemma_model_get_info(const vkgemma_model* model, vkgemma_model_info* info) {
  return guarded(__func__, [&] {
    const ModelState& st = model_of(model);
    check_out_struct(info, "info");
    const vkg::Model& m = *st.model;
    const vkg::Gemma4Config& c = m.config();
    const uint32_t elem = vkg::Ops(m.device()).kv_type() == vkg::KvType::F16 ? 2 : 4;
    const vkg::Gemma4Footprint fp = vkg::gemma4_footprint(m.gemma(), elem);

    vkgemma_model_info d{};
    d.struct_size = sizeof d;
    std::snprintf(d.name, sizeof d.name, "%s", c.name.c_str());
    std::snprintf(d.architecture, sizeof d.architecture, "%s", "gemma4");
    d.n_layer = c.n_layer;
    d.n_embd = c.n_embd;
    d.n_embd_per_layer = c.n_ple;
    d.n_vocab = c.n_vocab;
    d.n_ctx_train = c.n_ctx_train;
    if (!c.layers.empty()) {
      d.n_head = c.layers[0].n_head;
      d.n_head_kv = c.layers[0].n_head_kv;
    }
    d.head_dim = c.head_dim_full;
    d.head_dim_swa = c.head_dim_swa;
    d.sliding_window = c.sliding_window;
    d.n_kv_layers = c.n_kv_layers;
    d.bos_token = m.tokenizer().bos_id();
    d.eos_token = m.tokenizer().eos_id();
    d.n_params_device = fp.device_params;
    d.n_params_host = fp.host_params;
    d.device_bytes = m.device_bytes();
    d.host_paged_bytes = m.host_paged_bytes();
    d.kv_elem_bytes = elem;
    d.kv_bytes_per_1k = fp.kv_full_bytes_per_1k;
    d.kv_sliding_bytes = fp.kv_sliding_ring_bytes;
    d.device_index = st.device_index;
    d.n_ctx_default = st.n_ctx_default;
    d.device_memory_budget = st.device_memory_budget;
    d.load_ms = m.load_ms();
    d.n_layer_resident = m.residency().n_resident_layers;
    d.streamed_bytes_per_step = m.residency().streamed_bytes;
    const vkg::Tokenizer& tok = m.tokenizer();
    const std::vector<int32_t>& eog = tok.eog_ids();
    d.n_eog_tokens = static_cast<uint32_t>(eog.size());
    std::fill(std::begin(d.eog_tokens), std::end(d.eog_tokens), -1);
    std::copy_n(eog.begin(), std::min(eog.size(), std::size(d.eog_tokens)), d.eog_tokens);
    d.add_bos = tok.vocab().add_bos;
    d.file_add_bos_token = tok.vocab().file_add_bos ? int32_t{*tok.vocab().file_add_bos} : -1;
    d.sampling_top_k = c.sampling.top_k.value_or(-1);
    d.sampling_top_p = c.sampling.top_p.value_or(-1.0f);
    d.sampling_temperature = c.sampling.temp.value_or(-1.0f);
    write_struct(info, d);
  });
}

VKGEMMA_API bool vkgemma_token_is_eog(const vkgemma_model* model, int32_t token) {
  try {
    return model_of(model).model->tokenizer().is_eog(token);
  } catch (...) {
    return false;
  }
}

VKGEMMA_API vkgemma_status vkgemma_tokenize(const vkgemma_model* model, const char* text, size_t text_len,
                                            uint32_t flags, int32_t* tokens, size_t capacity, size_t* n_tokens) {
  return guarded(__func__, [&] {
    const vkg::Tokenizer& tok = tokenizer_of(model);
    if (!n_tokens) fail(VKGEMMA_INVALID_ARGUMENT, "n_tokens is NULL");
    if (!text && text_len) fail(VKGEMMA_INVALID_ARGUMENT, "text is NULL");
    if (!tokens && capacity) fail(VKGEMMA_INVALID_ARGUMENT, "tokens is NULL but capacity > 0");
    if (flags & ~uint32_t(VKGEMMA_TOKENIZE_ADD_SPECIAL | VKGEMMA_TOKENIZE_PARSE_SPECIAL))
      fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("unknown flags {:#x}", flags));
    const bool add_bos = (flags & VKGEMMA_TOKENIZE_ADD_SPECIAL) && tok.vocab().add_bos;
    const bool parse_special = flags & VKGEMMA_TOKENIZE_PARSE_SPECIAL;
    const auto ids = tok.encode(std::string_view(text ? text : "", text_len), add_bos, parse_special);
    *n_tokens = ids.size();
    if (capacity < ids.size())
      fail(VKGEMMA_BUFFER_TOO_SMALL, fmt::format("the text has {} tokens, the buffer holds {}", ids.size(), capacity));
    std::copy(ids.begin(), ids.end(), tokens);
  });
}

VKGEMMA_API vkgemma_status vkgemma_detokenize(const vkgemma_model* model, const int32_t* tokens, size_t n_tokens,
                                              uint32_t flags, char* text, size_t capacity, size_t* text_len) {
  return guarded(__func__, [&] {
    const vkg::Tokenizer& tok = tokenizer_of(model);
    if (!text_len) fail(VKGEMMA_INVALID_ARGUMENT, "text_len is NULL");
    if (!tokens && n_tokens) fail(VKGEMMA_INVALID_ARGUMENT, "tokens is NULL");
    if (!text && capacity) fail(VKGEMMA_INVALID_ARGUMENT, "text is NULL but capacity > 0");
    if (flags & ~uint32_t(VKGEMMA_DETOKENIZE_RENDER_SPECIAL))
      fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("unknown flags {:#x}", flags));
    for (size_t i = 0; i < n_tokens; ++i)
      if (tokens[i] < 0 || static_cast<size_t>(tokens[i]) >= tok.n_vocab())
        fail(VKGEMMA_INVALID_ARGUMENT,
             fmt::format("tokens[{}] = {} is outside the vocabulary (0..{})", i, tokens[i], tok.n_vocab() - 1));
    const std::string out = tok.decode(std::span<const int32_t>(tokens, n_tokens),
                                       (flags & VKGEMMA_DETOKENIZE_RENDER_SPECIAL) != 0);
    copy_text(out, text, capacity, text_len);
  });
}

VKGEMMA_API vkgemma_status vkgemma_chat_format(const vkgemma_model* model, const vkgemma_chat_message* messages,
                                               size_t n_messages, uint32_t flags, char* text, size_t capacity,
                                               size_t* text_len) {
  return guarded(__func__, [&] {
    std::string bos = "<bos>";
    vkg::ChatTemplate kind = vkg::ChatTemplate::Small;
    if (model) {
      const vkg::Tokenizer& tok = tokenizer_of(model);
      bos = tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : "";
      kind = vkg::chat_template_for(model_of(model).model->config().n_ple > 0);
    }
    if (!text_len) fail(VKGEMMA_INVALID_ARGUMENT, "text_len is NULL");
    if (!messages && n_messages) fail(VKGEMMA_INVALID_ARGUMENT, "messages is NULL");
    if (!text && capacity) fail(VKGEMMA_INVALID_ARGUMENT, "text is NULL but capacity > 0");
    if (flags & ~uint32_t(VKGEMMA_CHAT_ADD_GENERATION_PROMPT | VKGEMMA_CHAT_THINKING))
      fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("unknown flags {:#x}", flags));
    nlohmann::json msgs = nlohmann::json::array();
    for (size_t i = 0; i < n_messages; ++i) {
      if (!messages[i].role) fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("messages[{}].role is NULL", i));
      nlohmann::json m = {{"role", messages[i].role}};
      m["content"] = messages[i].content ? nlohmann::json(messages[i].content) : nlohmann::json(nullptr);
      msgs.push_back(std::move(m));
    }
    const std::string out =
        vkg::format_chat(msgs, nullptr,
                         {.add_generation_prompt = (flags & VKGEMMA_CHAT_ADD_GENERATION_PROMPT) != 0,
                          .enable_thinking = (flags & VKGEMMA_CHAT_THINKING) != 0,
                          .bos_token = bos,
                          .kind = kind});
    copy_text(out, text, capacity, text_len);
  });
}

}  // extern "C"
