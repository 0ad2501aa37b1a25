// OpenAI response bodies: chat.completion, chat.completion.chunk, text_completion, model lists,
// error objects, and server-sent-event framing. Field names and shapes follow OpenAI's API
// reference (and llama-server's reasoning_content extension).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_error.h"
#include "reply_stream.h"

namespace vkg::server {

/// Identity of one response: "chatcmpl-..." / "cmpl-..." id, creation time (Unix s), model name.
struct ResponseMeta {
  std::string id;
  int64_t created = 0;
  std::string model;
};

/// Token counts of one request.
struct Usage {
  uint64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};
nlohmann::json usage_json(const Usage& u);

/// OpenAI tool_calls entries for calls; ids "call_<request id suffix>_<first_index + i>".
/// arguments are JSON text (OpenAI's form). index: the position in the turn (for stream deltas).
nlohmann::json tool_calls_json(const std::vector<ToolCall>& calls, const std::string& id_prefix, size_t first_index,
                               bool with_index);

/// {"error": {"message", "type", "param", "code"}} (param/code null when empty).
nlohmann::json error_json(const ApiError& e);

/// A whole chat.completion (non-streamed). finish_reason: "stop", "length" or "tool_calls".
nlohmann::json chat_completion_json(const ResponseMeta& m, const ReplyDelta& reply, std::string_view finish_reason,
                                    const Usage& u);

/// One chat.completion.chunk with choices[0].delta = delta (finish_reason null when empty).
nlohmann::json chat_chunk_json(const ResponseMeta& m, const nlohmann::json& delta, std::string_view finish_reason = {});
/// The delta object of a ReplyDelta: {content?, reasoning_content?, tool_calls?} (tool call
/// indices from first_call_index).
nlohmann::json chat_delta_json(const ReplyDelta& d, const std::string& id_prefix, size_t first_call_index);
/// The usage chunk after the last one (stream_options.include_usage): choices empty.
nlohmann::json chat_usage_chunk_json(const ResponseMeta& m, const Usage& u);

/// text_completion (whole or one streamed chunk: the same shape, text = the delta).
nlohmann::json completion_json(const ResponseMeta& m, std::string_view text, std::string_view finish_reason,
                               const Usage* u);

/// GET /v1/models.
nlohmann::json models_json(const std::string& model, int64_t created);

/// One server-sent event: "data: <compact JSON>\n\n".
std::string sse(const nlohmann::json& j);
/// The stream's end: "data: [DONE]\n\n".
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

} // namespace vkg::server
