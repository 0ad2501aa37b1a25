#include "response.h"

#include <fmt/format.h>

namespace vkg::server {

using nlohmann::json;

namespace {
/// dump() that never throws: invalid UTF-8 (the model can emit any bytes) becomes U+FFFD.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
json str_or_null(std::string_view s) { return s.empty() ? json(nullptr) : json(std::string(s)); }
}  // namespace

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

json tool_calls_json(const std::vector<ToolCall>& calls, const std::string& id_prefix, size_t first_index, bool with_index) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json c = {{"id", fmt::format("call_{}_{}", id_prefix, first_index + i)},
              {"type", "function"},
              {"function", {{"name", calls[i].name}, {"arguments", dump(calls[i].arguments)}}}};
    if (with_index) c["index"] = first_index + i;
    out.push_back(std::move(c));
  }
  return out;
}

json error_json(const ApiError& e) {
  return {{"error",
           {{"message", e.message()}, {"type", e.type()}, {"param", str_or_null(e.param())}, {"code", str_or_null(e.code())}}}};
}

json chat_completion_json(const ResponseMeta& m, const ReplyDelta& reply, std::string_view finish_reason, const Usage& u) {
  json msg = {{"role", "assistant"}, {"content", reply.calls.empty() || !reply.content.empty() ? json(reply.content) : json(nullptr)}};
  if (!reply.reasoning.empty()) msg["reasoning_content"] = reply.reasoning;
  if (!reply.calls.empty()) msg["tool_calls"] = tool_calls_json(reply.calls, m.id, 0, false);
  return {{"id", m.id},
          {"object", "chat.completion"},
          {"created", m.created},
          {"model", m.model},
          {"system_fingerprint", "vkgemma"},
          {"choices", json::array({{{"index", 0}, {"message", std::move(msg)}, {"logprobs", nullptr},
                                    {"finish_reason", std::string(finish_reason)}}})},
          {"usage", usage_json(u)}};
}

json chat_chunk_json(const ResponseMeta& m, const json& delta, std::string_view finish_reason) {
  return {{"id", m.id},
          {"object", "chat.completion.chunk"},
          {"created", m.created},
          {"model", m.model},
          {"system_fingerprint", "vkgemma"},
          {"choices", json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr},
                                    {"finish_reason", str_or_null(finish_reason)}}})}};
}

json chat_delta_json(const ReplyDelta& d, const std::string& id_prefix, size_t first_call_index) {
  json delta = json::object();
  if (!d.content.empty()) delta["content"] = d.content;
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.calls.empty()) delta["tool_calls"] = tool_calls_json(d.calls, id_prefix, first_call_index, true);
  return delta;
}

json chat_usage_chunk_json(const ResponseMeta& m, const Usage& u) {
  return {{"id", m.id},       {"object", "chat.completion.chunk"}, {"created", m.created},
          {"model", m.model}, {"system_fingerprint", "vkgemma"},   {"choices", json::array()},
          {"usage", usage_json(u)}};
}

json completion_json(const ResponseMeta& m, std::string_view text, std::string_view finish_reason, const Usage* u) {
  json j = {{"id", m.id},
            {"object", "text_completion"},
            {"created", m.created},
            {"model", m.model},
            {"system_fingerprint", "vkgemma"},
            {"choices", json::array({{{"index", 0}, {"text", std::string(text)}, {"logprobs", nullptr},
                                      {"finish_reason", str_or_null(finish_reason)}}})}};
  if (u) j["usage"] = usage_json(*u);
  return j;
}

json models_json(const std::string& model, int64_t created) {
  return {{"object", "list"},
          {"data", json::array({{{"id", model}, {"object", "model"}, {"created", created}, {"owned_by", "vkgemma"}}})}};
}

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

} // namespace vkg::server
