// `vkgemma serve`: an OpenAI-compatible HTTP server (tools/server). The socket is bound first (the
// URL is printed on stdout, one line, so scripts can read the port of --port 0), then the model
// loads while /health answers 503. SIGINT / SIGTERM: in-flight requests are cancelled, the
// server stops and the command exits 0.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>

#include "commands.h"
#include "common.h"
#include "server.h"

namespace vkg::cli {
namespace {

struct ServeArgs {
  ModelArgs model;
  server::ServerOptions srv;
};

/// Blocks SIGINT/SIGTERM in every thread started after it and waits for them on its own thread.
class SignalWaiter {
 public:
  explicit SignalWaiter(std::function<void()> on_signal) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);  // our own wake-up at the end
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this, f = std::move(on_signal)] {
      int sig = 0;
      sigwait(&set_, &sig);
      if (sig != SIGUSR1) f();
    });
  }
  ~SignalWaiter() {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

 private:
  sigset_t set_;
  std::thread thread_;
};

void serve(ServeArgs& a) {
  a.srv.n_ctx = a.model.n_ctx;
  a.srv.batch = a.model.batch;
  a.srv.model_name = a.model.model.empty() ? "vkgemma-builtin" : std::filesystem::path(a.model.model).stem().string();
  std::optional<Loaded> loaded;  // outlives the server (the engine's sessions use the model)
  server::Server srv(a.srv);
  SignalWaiter signals([&] {
    std::fprintf(stderr, "vkgemma: stopping\n");
    srv.stop();
  });
  const int port = srv.bind();
  std::fprintf(stdout, "vkgemma: listening on http://%s:%d\n", a.srv.host.c_str(), port);
  std::fflush(stdout);
  std::thread http([&] { srv.listen(); });
  try {
    loaded.emplace(load(a.model));
    srv.attach(*loaded->model);
    if (!a.model.quiet)
      std::fprintf(stderr, "vkgemma: model loaded (%s), %u slot(s) of %u tokens\n", a.srv.model_name.c_str(),
                   a.srv.parallel, a.srv.n_ctx);
  } catch (...) {
    srv.stop();
    http.join();
    throw;
  }
  http.join();
  srv.stop();
}

void add_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, "
                                          "/v1/models, /health, /metrics)");
  add_model_args(cmd, a->model);
  cmd->add_option("--host", a->srv.host, "Address to listen on (127.0.0.1: this machine only)");
  cmd->add_option("--port", a->srv.port, "TCP port (0: any free port; the URL is printed on stdout)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", a->srv.parallel, "Slots: requests generated at the same time")
      ->check(CLI::Range(1u, 64u));
  cmd->add_option("--queue", a->srv.queue, "Requests that may wait for a slot (more: 503 + Retry-After)")
      ->check(CLI::Range(0u, 4096u));
  cmd->add_option("--api-key", a->srv.api_key, "Require \"Authorization: Bearer KEY\" on /v1/* (401 otherwise)");
  cmd->add_option("--max-body", a->srv.max_body, "Request body limit (bytes, or 512K, 1M; larger: 413)")
      ->transform(CLI::AsSizeValue(false));
  cmd->add_option("--timeout", a->srv.read_timeout_s, "Seconds a client may stay silent mid-request")
      ->check(CLI::Range(1, 3600));
  cmd->add_flag("--think", a->srv.think, "Thinking mode by default (a request's chat_template_kwargs.enable_thinking wins)");
  cmd->callback([a] { serve(*a); });
}
VKG_CLI_COMMAND(add_serve);

}  // namespace
}  // namespace vkg::cli
