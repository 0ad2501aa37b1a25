#include "server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>

#include "chat.h"
#include "engine.h"
#include "run.h"
#include "tokenizer.h"

namespace vkg::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer string is visited whatever the contents; lengths folded in.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace {

/// Per-request facts for the log line (the handler, the stream provider and the logger all run
/// on the connection's thread, one request after the other).
struct RequestLog {
  Clock::time_point t0;
  uint64_t prompt = 0, completion = 0;
};
thread_local RequestLog t_log;

const char* endpoint_label(const std::string& path) {
  for (const char* p : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"})
    if (path == p) return p;
  return "other";
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status();
  if (e.status() == 503) res.set_header("Retry-After", "1");
  res.set_content(error_json(e).dump(), "application/json");
}

std::string random_id() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lk(mu);
  return fmt::format("{:016x}", rng());
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  httplib::Server http;
  std::mutex mu;  // engine / model
  const Model* model = nullptr;
  std::unique_ptr<Engine> engine;
  std::atomic<bool> stopping{false};
  int64_t created = unix_now();
  std::mutex stats_mu;
  std::map<std::pair<std::string, int>, uint64_t> requests;  // (endpoint, status) -> count

  explicit Impl(ServerOptions o) : opt(std::move(o)) { setup(); }

  /// The engine, or ApiError 503 while the model loads / after stop().
  Engine* ready(const Model** m) {
    std::lock_guard lk(mu);
    if (stopping) throw ApiError(503, "the server is shutting down");
    if (!engine) throw ApiError(503, "the model is loading", "", "model_loading");
    *m = model;
    return engine.get();
  }

  /// Run a handler, turning every exception into an OpenAI error response.
  template <class F>
  void guarded(httplib::Response& res, F&& f) {
    try {
      f();
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const QueueFull& e) {
      send_error(res, ApiError(503, e.what(), "", "queue_full"));
    } catch (const json::exception& e) {
      send_error(res, ApiError(400, fmt::format("invalid request: {}", e.what())));
    } catch (const Error& e) {
      send_error(res, ApiError(e.code() == ErrorCode::bad_input ? 400 : 500, e.what()));
    } catch (const std::bad_alloc&) {
      send_error(res, ApiError(500, "out of host memory"));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, e.what()));
    }
  }

  void setup() {
    http.set_payload_max_length(opt.max_body);
    http.set_read_timeout(opt.read_timeout_s, 0);
    http.set_write_timeout(opt.read_timeout_s, 0);
    http.set_keep_alive_timeout(5);
    // Enough connection threads for every slot and queued request plus a few for /health.
    const size_t threads = std::clamp<size_t>(size_t(opt.parallel) + opt.queue + 4, 8, 512);
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };  // httplib takes ownership
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      t_log = {Clock::now(), 0, 0};
      if (!opt.api_key.empty() && req.path.starts_with("/v1/")) {
        const std::string auth = req.get_header_value("Authorization");
        const std::string_view prefix = "Bearer ";
        const std::string_view given = auth.starts_with(prefix) ? std::string_view(auth).substr(prefix.size()) : std::string_view();
        if (!constant_time_equal(given, opt.api_key)) {
          send_error(res, ApiError(401, "invalid API key (send Authorization: Bearer KEY)", "", "invalid_api_key"));
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours already
      if (res.status == 413) send_error(res, ApiError(413, "the request body is too large", "", "request_too_large"));
      else if (res.status == 404) send_error(res, ApiError(404, fmt::format("no route {} {}", req.method, req.path)));
      else send_error(res, ApiError(res.status, fmt::format("HTTP error {}", res.status)));
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, ApiError(500, "internal error"));
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t_log.t0).count();
      std::fprintf(stderr, "vkgemma: %s %s %s %d prompt=%llu completion=%llu %.0f ms\n", req.remote_addr.c_str(),
                   req.method.c_str(), req.path.c_str(), res.status, static_cast<unsigned long long>(t_log.prompt),
                   static_cast<unsigned long long>(t_log.completion), ms);
      t_log = {Clock::now(), 0, 0};  // a request refused before routing (413) starts from here
      std::lock_guard lk(stats_mu);
      ++requests[{endpoint_label(req.path), res.status}];
    });

    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lk(mu);
      if (engine && !stopping) {
        res.set_content(R"({"status":"ok"})", "application/json");
      } else {
        send_error(res, ApiError(503, stopping ? "the server is shutting down" : "the model is loading", "", "model_loading"));
      }
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { res.set_content(metrics(), "text/plain; version=0.0.4"); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(models_json(opt.model_name, created).dump(), "application/json");
    });
    http.Get(R"(/v1/models/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      if (id != opt.model_name) return send_error(res, ApiError(404, fmt::format("no model '{}'", id), "model", "model_not_found"));
      res.set_content(models_json(opt.model_name, created)["data"][0].dump(), "application/json");
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(res, [&] { generate(req, res, Run::Kind::Chat); });
    });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(res, [&] { generate(req, res, Run::Kind::Completion); });
    });
  }

  void generate(const httplib::Request& req, httplib::Response& res, Run::Kind kind) {
    const json body = parse_body(req.body);
    std::optional<ChatRequest> chat;
    std::optional<CompletionRequest> comp;
    if (kind == Run::Kind::Chat) chat = parse_chat_request(body, opt.limits);
    else comp = parse_completion_request(body, opt.limits);
    const GenerationRequest& g = chat ? static_cast<const GenerationRequest&>(*chat) : *comp;
    const Model* model = nullptr;
    Engine* eng = ready(&model);
    const Tokenizer& tok = model->tokenizer();

    std::vector<int32_t> prompt;
    std::string forced;
    bool stop_after_call = false;
    if (chat) {
      const json tools = chat->tool_choice.kind == ToolChoice::None ? json(nullptr) : chat->tools;
      std::string text;
      try {
        text = format_chat(chat->messages, tools, vkg::chat_options(*model, true, chat->enable_thinking.value_or(opt.think)));
      } catch (const ChatError& e) {
        throw ApiError(400, e.what(), "messages");
      }
      prompt = tok.encode(text, /*add_bos=*/false, /*parse_special=*/true);  // the template writes <bos>
      // tool_choice required/named: the turn starts with the call's opening, written by us.
      if (chat->tool_choice.kind == ToolChoice::Required || chat->tool_choice.kind == ToolChoice::Named) {
        stop_after_call = true;
        std::string name = chat->tool_choice.name;
        if (chat->tool_choice.kind == ToolChoice::Required && tools.size() == 1) name = tools[0]["function"]["name"];
        forced = "<|tool_call>call:";
        if (!name.empty()) {
          forced += name + "{";
          if (tool_takes_no_arguments(*find_tool(tools, name))) forced += "}<tool_call|>";
        }
      }
    } else {
      prompt = tok.encode(comp->prompt, tok.vocab().add_bos, /*parse_special=*/true);
    }
    const size_t n_prompt = prompt.size();
    const std::vector<int32_t> forced_ids = forced.empty() ? std::vector<int32_t>() : tok.encode(forced, false, true);
    prompt.insert(prompt.end(), forced_ids.begin(), forced_ids.end());
    if (prompt.empty()) throw ApiError(400, "the prompt has no tokens", kind == Run::Kind::Chat ? "messages" : "prompt");
    const uint32_t n_ctx = eng->options().n_ctx;
    if (prompt.size() >= n_ctx)
      throw ApiError(400,
                     fmt::format("the prompt ({} tokens) does not fit the context of {} tokens", prompt.size(), n_ctx),
                     kind == Run::Kind::Chat ? "messages" : "prompt", "context_length_exceeded");

    Job job;
    const int64_t room = int64_t(n_ctx) - int64_t(prompt.size());
    job.n_predict = static_cast<int32_t>(g.max_tokens < 0 ? room : std::min<int64_t>(g.max_tokens, room));
    job.sampler = g.sampler;
    if (!g.seed_given) job.sampler.seed = std::random_device{}() * 0x9E3779B97F4A7C15ull ^ std::random_device{}();
    job.prompt = std::move(prompt);

    const std::string id = random_id();
    ResponseMeta meta{kind == Run::Kind::Chat ? "chatcmpl-" + id : "cmpl-" + id, unix_now(),
                      g.model.empty() ? opt.model_name : g.model};
    auto run = std::make_shared<Run>(kind, tok, meta, g.stop, stop_after_call);
    if (!forced.empty()) run->force(forced, forced_ids.size());
    run->start(eng, std::move(job), n_prompt);
    t_log.prompt = n_prompt;

    if (!g.stream) {
      while (!run->done()) run->poll(std::chrono::milliseconds(200), false, false);
      t_log.completion = run->usage().completion_tokens;
      res.set_content(run->response().dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
      return;
    }
    const bool include_usage = g.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [run, include_usage](size_t, httplib::DataSink& sink) {
          if (!sink.is_writable()) {
            run->cancel();
            return false;
          }
          const std::string out = run->poll(std::chrono::milliseconds(100), true, include_usage);
          t_log.completion = run->usage().completion_tokens;
          if (!out.empty() && !sink.write(out.data(), out.size())) {
            run->cancel();
            return false;
          }
          if (run->done()) sink.done();
          return true;
        },
        [run](bool success) {
          if (!success || !run->done()) run->cancel();
        });
  }

  std::string metrics() {
    EngineMetrics m;
    bool loaded = false;
    {
      std::lock_guard lk(mu);
      if (engine) m = engine->metrics(), loaded = true;
    }
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help, auto value) {
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    out += "# HELP vkgemma_requests_total HTTP requests answered, by endpoint and status.\n"
           "# TYPE vkgemma_requests_total counter\n";
    {
      std::lock_guard lk(stats_mu);
      for (const auto& [k, n] : requests)
        out += fmt::format("vkgemma_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", k.first, k.second, n);
    }
    metric("vkgemma_model_loaded", "gauge", "1 when the model is loaded and requests are served.", loaded ? 1 : 0);
    metric("vkgemma_generations_total", "counter", "Generation jobs finished (any reason).", m.jobs_done);
    metric("vkgemma_prompt_tokens_total", "counter", "Prompt tokens evaluated (prefill).", m.prompt_tokens);
    metric("vkgemma_prompt_tokens_cached_total", "counter", "Prompt tokens reused from a slot's KV cache.", m.cached_tokens);
    metric("vkgemma_decode_tokens_total", "counter", "Tokens evaluated while decoding.", m.generated_tokens);
    metric("vkgemma_prefill_seconds_total", "counter", "Time spent in prefill.", m.prefill_s);
    metric("vkgemma_decode_seconds_total", "counter", "Time spent decoding.", m.decode_s);
    metric("vkgemma_prefill_tokens_per_second", "gauge", "Prefill throughput so far.",
           m.prefill_s > 0 ? m.prompt_tokens / m.prefill_s : 0.0);
    metric("vkgemma_decode_tokens_per_second", "gauge", "Decode throughput so far (all slots).",
           m.decode_s > 0 ? m.generated_tokens / m.decode_s : 0.0);
    metric("vkgemma_queue_length", "gauge", "Requests waiting for a slot.", m.queued);
    metric("vkgemma_slots_busy", "gauge", "Slots generating.", m.busy_slots);
    metric("vkgemma_slots_total", "gauge", "Slots (--parallel).", m.n_slots);
    metric("vkgemma_kv_cells_used", "gauge", "KV cache cells holding tokens, all slots.", m.kv_cells_used);
    metric("vkgemma_kv_cells_total", "gauge", "KV cache cells, all slots.", m.kv_cells_total);
    return out;
  }
};

Server::Server(ServerOptions opt) : impl_(std::make_unique<Impl>(std::move(opt))) {}

Server::~Server() {
  stop();
}

int Server::bind() {
  const int port = impl_->opt.port == 0 ? impl_->http.bind_to_any_port(impl_->opt.host)
                                         : (impl_->http.bind_to_port(impl_->opt.host, impl_->opt.port) ? impl_->opt.port : -1);
  if (port <= 0)
    throw Error(ErrorCode::bad_input, fmt::format("cannot listen on {}:{}", impl_->opt.host, impl_->opt.port));
  return port;
}

void Server::listen() { impl_->http.listen_after_bind(); }

void Server::attach(const Model& model) {
  auto engine = std::make_unique<Engine>(model, EngineOptions{.n_parallel = impl_->opt.parallel,
                                                              .queue = impl_->opt.queue,
                                                              .n_ctx = impl_->opt.n_ctx,
                                                              .max_batch = impl_->opt.batch});
  std::lock_guard lk(impl_->mu);
  impl_->model = &model;
  impl_->engine = std::move(engine);
}

void Server::stop() {
  Engine* e = nullptr;
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
    e = impl_->engine.get();
  }
  if (e) e->stop();  // in-flight and queued requests end (cancelled)
  impl_->http.stop();
}

} // namespace vkg::server
