// The HTTP front of `vkgemma serve`: OpenAI-compatible endpoints on cpp-httplib, validated
// requests handed to the Engine (engine.h), one log line per request on stderr.
//
//   Server srv(opts);
//   int port = srv.bind();          // listening socket (port 0: any free port)
//   std::thread t([&] { srv.listen(); });
//   srv.attach(model);              // /health: 503 until here, then 200
//   ... srv.stop(); t.join();
//
// Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models[/ID], GET /health,
// GET /metrics (Prometheus text). Errors are OpenAI error objects with status 400 (bad request),
// 401 (--api-key mismatch; /health and /metrics stay open), 404 (no such route), 413 (body over
// --max-body), 503 (queue full, with Retry-After; or model still loading), 500 (device error).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "model.h"
#include "request.h"

namespace vkg::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                ///< 0: any free port (bind() returns it)
  std::string api_key;            ///< non-empty: /v1/* needs "Authorization: Bearer KEY"
  size_t max_body = 1 << 20;      ///< request body limit in bytes (413 above)
  uint32_t parallel = 1;          ///< slots (concurrent generations)
  uint32_t queue = 16;            ///< requests waiting for a slot at most (503 above)
  uint32_t n_ctx = 4096;          ///< context per slot
  uint32_t batch = 512;           ///< prefill chunk
  bool think = false;             ///< thinking mode unless a request says otherwise
  int read_timeout_s = 30;        ///< a client slower than this per read is dropped
  std::string model_name = "vkgemma";  ///< the id in /v1/models and responses
  RequestLimits limits;
};

class Server {
 public:
  explicit Server(ServerOptions opt);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Bind the listening socket; returns the port. Throws Error(bad_input) when it cannot bind.
  int bind();
  /// Serve until stop() (blocks the calling thread).
  void listen();
  /// The model is loaded: create the slots and the engine thread; /health turns 200.
  void attach(const Model& model);
  /// Cancel in-flight and queued requests, stop accepting; listen() returns. Idempotent,
  /// callable from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Constant-time comparison (time independent of where a and b differ).
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace vkg::server
