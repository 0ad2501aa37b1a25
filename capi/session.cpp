// libvkgemma: sessions, prompt evaluation, generation (vkg::Session: the same loop as the CLI),
// replies parsed while they are generated, statistics.
#include <fmt/format.h>

#include <algorithm>

#include "chat_stream.h"
#include "internal.h"
#include "kv_cache.h"
#include "memory.h"
#include "ops.h"

using namespace vkg::capi;

namespace {

constexpr uint32_t kDefaultBatch = 512;

vkgemma_session_params session_defaults() {
  vkgemma_session_params p{};
  p.struct_size = sizeof p;
  p.n_ctx = 0;
  p.n_batch = kDefaultBatch;
  return p;
}

vkgemma_sampler_params sampler_defaults() {
  const vkg::SamplerParams d;  // llama.cpp's defaults, penalties off
  vkgemma_sampler_params p{};
  p.struct_size = sizeof p;
  p.n_predict = vkg::GenerateOptions{}.n_predict;
  p.seed = d.seed;
  p.temperature = d.temperature;
  p.top_k = d.top_k;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repeat_penalty = d.repeat_penalty;
  p.penalty_last_n = d.penalty_last_n;
  p.frequency_penalty = d.frequency_penalty;
  p.presence_penalty = d.presence_penalty;
  return p;
}

/// Marks a session busy for the duration of a call; INVALID_ARGUMENT when it already is
/// (called from its own token callback, or from two threads at once).
class BusyGuard {
 public:
  explicit BusyGuard(vkgemma_session& s) : s_(s) {
    if (s_.busy.exchange(true))
      fail(VKGEMMA_INVALID_ARGUMENT,
           "the session is busy (called from its own token callback, or from two threads at once)");
  }
  ~BusyGuard() { s_.busy.store(false); }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  vkgemma_session& s_;
};

/// INVALID_ARGUMENT for ids outside the vocabulary, CONTEXT_FULL when they do not fit.
void check_tokens(const vkg::Session& s, const int32_t* tokens, size_t n, const char* what) {
  if (!tokens) fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("{} is NULL", what));
  if (n == 0) fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("{} has no tokens", what));
  const uint32_t n_vocab = s.model().config().n_vocab;
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= n_vocab)
      fail(VKGEMMA_INVALID_ARGUMENT,
           fmt::format("{}[{}] = {} is outside the vocabulary (0..{})", what, i, tokens[i], n_vocab - 1));
  if (uint64_t(s.n_past()) + n > s.n_ctx())
    fail(VKGEMMA_CONTEXT_FULL, fmt::format("{} tokens do not fit the context of {} tokens ({} already used)", n,
                                           s.n_ctx(), s.n_past()));
}

vkgemma_stop_reason stop_of(vkg::StopReason r) {
  switch (r) {
    case vkg::StopReason::EndOfGeneration: return VKGEMMA_STOP_END_OF_GENERATION;
    case vkg::StopReason::MaxTokens: return VKGEMMA_STOP_MAX_TOKENS;
    case vkg::StopReason::ContextFull: return VKGEMMA_STOP_CONTEXT_FULL;
    case vkg::StopReason::Cancelled: return VKGEMMA_STOP_CALLBACK;
  }
  return VKGEMMA_STOP_MAX_TOKENS;
}

/// The generation both vkgemma_generate and vkgemma_generate_reply run (session marked busy by the
/// caller): checks the prompt and sampler, generates, records the stop on the handle.
vkg::GenerateResult run_generate(vkgemma_session& s, const int32_t* prompt, size_t n_prompt,
                                 const vkgemma_sampler_params* sampler, const vkg::TokenCallback& on_token) {
  vkgemma_sampler_params sp = read_struct(sampler, sampler_defaults(), "sampler");
  if (!sampler) apply_file_sampling(sp, s.session->model());  // the file's general.sampling.*
  check_tokens(*s.session, prompt, n_prompt, "prompt");

  vkg::GenerateOptions opt;
  opt.n_predict = sp.n_predict;
  opt.sampler.seed = sp.seed;
  opt.sampler.temperature = sp.temperature;
  opt.sampler.top_k = sp.top_k;
  opt.sampler.top_p = sp.top_p;
  opt.sampler.min_p = sp.min_p;
  opt.sampler.repeat_penalty = sp.repeat_penalty;
  opt.sampler.penalty_last_n = sp.penalty_last_n;
  opt.sampler.frequency_penalty = sp.frequency_penalty;
  opt.sampler.presence_penalty = sp.presence_penalty;
  opt.sampler.greedy = sp.temperature <= 0;  // as the CLI does
  try {
    vkg::Sampler check(opt.sampler);  // validate before anything is evaluated
  } catch (const vkg::SamplerError& e) {
    fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("sampler: {}", e.what()));
  }

  vkg::GenerateResult r;
  try {
    r = s.session->generate(std::span<const int32_t>(prompt, n_prompt), opt, on_token);
  } catch (const vkg::SamplerError& e) {  // the parameters were checked above: bad logits
    fail(VKGEMMA_INTERNAL, fmt::format("sampling failed: {}", e.what()));
  }
  s.last_stop = stop_of(r.stop);
  s.last_stop_token = r.stop_token;
  return r;
}

}  // namespace

extern "C" {

VKGEMMA_API vkgemma_status vkgemma_session_default_params(vkgemma_session_params* params) {
  return guarded(__func__, [&] {
    check_out_struct(params, "params");
    write_struct(params, session_defaults());
  });
}

VKGEMMA_API vkgemma_status vkgemma_sampler_default_params(vkgemma_sampler_params* params) {
  return guarded(__func__, [&] {
    check_out_struct(params, "params");
    write_struct(params, sampler_defaults());
  });
}

VKGEMMA_API vkgemma_status vkgemma_session_create(vkgemma_model* model, const vkgemma_session_params* params,
                                                  vkgemma_session** out_session) {
  return guarded(__func__, [&] {
    if (!out_session) fail(VKGEMMA_INVALID_ARGUMENT, "out_session is NULL");
    *out_session = nullptr;
    const ModelState& st = model_of(model);
    const vkgemma_session_params p = read_struct(params, session_defaults(), "params");
    const vkg::Model& m = *st.model;
    const vkg::Gemma4Config& c = m.config();
    const uint32_t n_ctx = p.n_ctx ? p.n_ctx : st.n_ctx_default;
    if (c.n_ctx_train && n_ctx > c.n_ctx_train)
      fail(VKGEMMA_INVALID_ARGUMENT,
           fmt::format("n_ctx {} exceeds the model's maximum context of {} tokens", n_ctx, c.n_ctx_train));
    if (p.n_batch == 0) fail(VKGEMMA_INVALID_ARGUMENT, "n_batch is 0");

    // The KV cache must fit the device: say so as OUT_OF_MEMORY before allocating anything.
    vkg::Device& dev = m.device();
    const uint32_t elem = vkg::Ops(dev).kv_type() == vkg::KvType::F16 ? 2 : 4;
    const vkg::KvPlan plan = vkg::plan_kv_cache(c, n_ctx, std::min(p.n_batch, n_ctx), elem);
    const uint64_t avail = dev.caps().device_local_bytes();
    const uint64_t used = dev.allocator().stats().device_local_allocated;
    if (plan.total_bytes + used > avail)
      fail(VKGEMMA_OUT_OF_MEMORY,
           fmt::format("the KV cache for a context of {} tokens needs {:.1f} MiB of device memory, but only {:.1f} "
                       "MiB are free (use a smaller n_ctx)",
                       n_ctx, plan.total_bytes / 1048576.0, (avail - std::min(avail, used)) / 1048576.0));
    for (const auto& l : plan.layers)
      if (l.allocated && l.bytes / 2 > dev.caps().max_storage_buffer_range)
        fail(VKGEMMA_OUT_OF_MEMORY,
             fmt::format("the KV cache for a context of {} tokens needs {:.1f} MiB in one binding, over the "
                         "device's maxStorageBufferRange of {:.1f} MiB (use a smaller n_ctx)",
                         n_ctx, l.bytes / 2 / 1048576.0, dev.caps().max_storage_buffer_range / 1048576.0));

    // The model's memory budget covers its resident weights and all its sessions.
    const vkg::ForwardOptions fo{.n_ctx = n_ctx, .max_batch = p.n_batch};
    const uint64_t need =
        vkg::session_device_bytes(dev, m.gemma(), fo) + m.residency().window_bytes;
    if (st.device_memory_budget) {
      const uint64_t resident = m.residency().global_bytes + m.residency().resident_layer_bytes;
      const uint64_t taken = resident + st.session_bytes.load();
      const uint64_t left = st.device_memory_budget > taken ? st.device_memory_budget - taken : 0;
      if (need > left)
        fail(VKGEMMA_OUT_OF_MEMORY,
             fmt::format("the session needs {:.1f} MiB of device memory but only {:.1f} MiB of the model's budget of "
                         "{:.1f} MiB are left (use a smaller n_ctx or free other sessions)",
                         need / 1048576.0, left / 1048576.0, st.device_memory_budget / 1048576.0));
    }

    auto h = std::make_unique<vkgemma_session>();
    h->model = model->state;
    h->session = std::make_unique<vkg::Session>(m, vkg::SessionOptions{.n_ctx = n_ctx, .max_batch = p.n_batch});
    h->reserved = need;
    st.session_bytes += need;
    *out_session = h.release();
  });
}

VKGEMMA_API vkgemma_status vkgemma_session_free(vkgemma_session* session) {
  return guarded(__func__, [&] {
    if (!session) return;
    vkgemma_session& s = session_of(session);
    if (s.busy.load())
      fail(VKGEMMA_INVALID_ARGUMENT, "the session is busy (called from its own token callback?): not freed");
    s.magic = 0;
    delete &s;  // the session first, then (possibly) the model state
  });
}

VKGEMMA_API vkgemma_status vkgemma_session_reset(vkgemma_session* session) {
  return guarded(__func__, [&] {
    vkgemma_session& s = session_of(session);
    BusyGuard busy(s);
    s.session->reset();
  });
}

VKGEMMA_API vkgemma_status vkgemma_session_eval(vkgemma_session* session, const int32_t* tokens, size_t n_tokens) {
  return guarded(__func__, [&] {
    vkgemma_session& s = session_of(session);
    BusyGuard busy(s);
    check_tokens(*s.session, tokens, n_tokens, "tokens");
    s.session->prefill(std::span<const int32_t>(tokens, n_tokens));
  });
}

VKGEMMA_API vkgemma_status vkgemma_generate(vkgemma_session* session, const int32_t* prompt, size_t n_prompt,
                                            const vkgemma_sampler_params* sampler, vkgemma_token_callback callback,
                                            void* user_data, vkgemma_stop_reason* stop_reason) {
  return guarded(__func__, [&] {
    vkgemma_session& s = session_of(session);
    BusyGuard busy(s);
    const vkg::GenerateResult r = run_generate(s, prompt, n_prompt, sampler, [&](int32_t id, std::string_view piece) {
      return callback ? callback(id, piece.data(), piece.size(), user_data) : true;
    });
    if (stop_reason) *stop_reason = stop_of(r.stop);
  });
}

VKGEMMA_API vkgemma_status vkgemma_generate_reply(vkgemma_session* session, const int32_t* prompt, size_t n_prompt,
                                                  const vkgemma_sampler_params* sampler,
                                                  vkgemma_reply_callback callback, void* user_data,
                                                  vkgemma_reply* reply) {
  return guarded(__func__, [&] {
    vkgemma_session& s = session_of(session);
    vkgemma_reply* out = reply ? &reply_of(reply) : nullptr;
    BusyGuard busy(s);
    bool stopped = false;  // the callback returned false
    std::string json;
    vkg::ReplyParser parser([&](const vkg::ReplyEvent& e) {
      if (!callback || stopped) return;
      if (e.part == vkg::ReplyPart::ToolCall) {
        json = e.call->to_json().dump();
        stopped = !callback(VKGEMMA_REPLY_TOOL_CALL, json.data(), json.size(), user_data);
      } else {
        stopped = !callback(e.part == vkg::ReplyPart::Content ? VKGEMMA_REPLY_CONTENT : VKGEMMA_REPLY_REASONING,
                            e.text.data(), e.text.size(), user_data);
      }
    });
    const vkg::Tokenizer& tok = s.session->model().tokenizer();
    const vkg::GenerateResult r = run_generate(s, prompt, n_prompt, sampler, [&](int32_t id, std::string_view piece) {
      parser.push_token(tok, id, piece);
      return !stopped && !parser.ended();
    });
    vkg::ParsedReply parsed = parser.finish();  // may still deliver held-back text
    if (out) {
      out->set(std::move(parsed));
      out->stop = stop_of(r.stop);
      out->stop_token = r.stop_token;
    }
  });
}

VKGEMMA_API vkgemma_status vkgemma_session_get_last_stop(const vkgemma_session* session,
                                                         vkgemma_stop_reason* stop_reason, int32_t* stop_token) {
  return guarded(__func__, [&] {
    const vkgemma_session& s = session_of(session);
    if (stop_reason) *stop_reason = s.last_stop;
    if (stop_token) *stop_token = s.last_stop_token;
  });
}

VKGEMMA_API vkgemma_status vkgemma_session_get_stats(const vkgemma_session* session, vkgemma_stats* stats) {
  return guarded(__func__, [&] {
    const vkgemma_session& s = session_of(session);
    check_out_struct(stats, "stats");
    const vkg::SessionStats st = s.session->stats();
    const vkg::MemoryStats mem = s.session->model().device().allocator().stats();
    vkgemma_stats d{};
    d.struct_size = sizeof d;
    d.n_ctx = s.session->n_ctx();
    d.n_past = s.session->n_past();
    d.prompt_tokens = st.prompt_tokens;
    d.generated_tokens = st.generated_tokens;
    d.prefill_ms = st.prefill_ms;
    d.decode_ms = st.decode_ms;
    d.sample_ms = st.sample_ms;
    d.prefill_tokens_per_s = st.prefill_tok_s();
    d.decode_tokens_per_s = st.decode_tok_s();
    d.ple_rows_paged = st.ple.rows;
    d.ple_bytes_paged = st.ple.bytes;
    d.gpu_stall_ms = 0;  // not measured yet
    d.session_device_bytes = st.session_device_bytes;
    d.model_device_bytes = s.session->model().device_bytes();
    d.device_allocated_bytes = mem.device_local_allocated;
    d.device_used_bytes = mem.device_local_used;
    write_struct(stats, d);
  });
}

}  // extern "C"
