// libvkgemma: model turns split into reasoning, answer and tool calls (vkgemma_reply), and the
// chat template over JSON conversations (tools, tool calls, tool responses).
#include <fmt/format.h>

#include <memory>

#include "chat_stream.h"
#include "internal.h"

using namespace vkg::capi;
using nlohmann::json;

void vkgemma_reply::set(vkg::ParsedReply r) {
  parsed = std::move(r);
  json calls = json::array();
  call_args.clear();
  for (const vkg::ToolCall& c : parsed.tool_calls) {
    calls.push_back(c.to_json());
    call_args.push_back(c.arguments.dump());
  }
  tool_calls_json = calls.dump();
  json m = {{"role", "assistant"}, {"content", parsed.content}};
  if (!parsed.tool_calls.empty()) {
    json tc = json::array();
    for (size_t i = 0; i < parsed.tool_calls.size(); ++i)
      tc.push_back({{"id", fmt::format("call_{}", i)},
                    {"type", "function"},
                    {"function", {{"name", parsed.tool_calls[i].name}, {"arguments", parsed.tool_calls[i].arguments}}}});
    m["tool_calls"] = std::move(tc);
    if (!parsed.reasoning.empty()) m["reasoning"] = parsed.reasoning;
  }
  message_json = m.dump();
  error = parsed.errors.empty() ? std::string() : parsed.errors.front();
  stop = VKGEMMA_STOP_END_OF_GENERATION;
  stop_token = -1;
}

namespace vkg::capi {

vkgemma_reply& reply_of(const vkgemma_reply* r) {
  if (!r) fail(VKGEMMA_INVALID_ARGUMENT, "reply is NULL");
  if (r->magic != vkgemma_reply::kMagic) fail(VKGEMMA_INVALID_ARGUMENT, "not a reply handle (freed, or another pointer)");
  return const_cast<vkgemma_reply&>(*r);
}

}  // namespace vkg::capi

namespace {

/// JSON text from the caller, or INVALID_ARGUMENT naming `what` and the parse error.
json parse_json(const char* text, size_t len, const char* what) {
  try {
    return json::parse(std::string_view(text, len));
  } catch (const json::exception& e) {
    fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("{} is not valid JSON: {}", what, e.what()));
  }
}

}  // namespace

extern "C" {

VKGEMMA_API vkgemma_status vkgemma_reply_create(vkgemma_reply** out_reply) {
  return guarded(__func__, [&] {
    if (!out_reply) fail(VKGEMMA_INVALID_ARGUMENT, "out_reply is NULL");
    *out_reply = nullptr;
    auto r = std::make_unique<vkgemma_reply>();
    r->set({});
    *out_reply = r.release();
  });
}

VKGEMMA_API vkgemma_status vkgemma_reply_free(vkgemma_reply* reply) {
  return guarded(__func__, [&] {
    if (!reply) return;
    vkgemma_reply& r = reply_of(reply);
    r.magic = 0;
    delete &r;
  });
}

VKGEMMA_API vkgemma_status vkgemma_reply_get_info(const vkgemma_reply* reply, vkgemma_reply_info* info) {
  return guarded(__func__, [&] {
    const vkgemma_reply& r = reply_of(reply);
    check_out_struct(info, "info");
    vkgemma_reply_info d{};
    d.struct_size = sizeof d;
    d.content = r.parsed.content.c_str();
    d.content_len = r.parsed.content.size();
    d.reasoning = r.parsed.reasoning.c_str();
    d.reasoning_len = r.parsed.reasoning.size();
    d.n_tool_calls = r.parsed.tool_calls.size();
    d.tool_calls_json = r.tool_calls_json.c_str();
    d.tool_calls_json_len = r.tool_calls_json.size();
    d.message_json = r.message_json.c_str();
    d.message_json_len = r.message_json.size();
    d.error = r.error.c_str();
    d.error_len = r.error.size();
    d.stop_reason = r.stop;
    d.stop_token = r.stop_token;
    write_struct(info, d);
  });
}

VKGEMMA_API vkgemma_status vkgemma_reply_get_tool_call(const vkgemma_reply* reply, size_t index, const char** name,
                                                       size_t* name_len, const char** arguments_json,
                                                       size_t* arguments_json_len) {
  return guarded(__func__, [&] {
    const vkgemma_reply& r = reply_of(reply);
    if (!name) fail(VKGEMMA_INVALID_ARGUMENT, "name is NULL");
    if (!arguments_json) fail(VKGEMMA_INVALID_ARGUMENT, "arguments_json is NULL");
    if (index >= r.parsed.tool_calls.size())
      fail(VKGEMMA_INVALID_ARGUMENT,
           fmt::format("tool call index {} is out of range (the reply has {})", index, r.parsed.tool_calls.size()));
    const std::string& n = r.parsed.tool_calls[index].name;
    *name = n.c_str();
    if (name_len) *name_len = n.size();
    *arguments_json = r.call_args[index].c_str();
    if (arguments_json_len) *arguments_json_len = r.call_args[index].size();
  });
}

VKGEMMA_API vkgemma_status vkgemma_reply_parse(vkgemma_reply* reply, const char* text, size_t text_len) {
  return guarded(__func__, [&] {
    vkgemma_reply& r = reply_of(reply);
    if (!text && text_len) fail(VKGEMMA_INVALID_ARGUMENT, "text is NULL but text_len > 0");
    vkg::ReplyParser p;
    p.push(std::string_view(text ? text : "", text_len));
    r.set(p.finish());
  });
}

VKGEMMA_API vkgemma_status vkgemma_chat_format_json(const vkgemma_model* model, const char* messages_json,
                                                    size_t messages_json_len, const char* tools_json,
                                                    size_t tools_json_len, uint32_t flags, char* text,
                                                    size_t capacity, size_t* text_len) {
  return guarded(__func__, [&] {
    vkg::ChatOptions opt;
    if (model) {
      const ModelState& st = model_of(model);
      const vkg::Tokenizer& tok = st.model->tokenizer();
      opt.bos_token = tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : "";
      opt.kind = vkg::chat_template_for(st.model->config().n_ple > 0);
    }
    if (!text_len) fail(VKGEMMA_INVALID_ARGUMENT, "text_len is NULL");
    if (!messages_json) fail(VKGEMMA_INVALID_ARGUMENT, "messages_json is NULL");
    if (!tools_json && tools_json_len) fail(VKGEMMA_INVALID_ARGUMENT, "tools_json is NULL but tools_json_len > 0");
    if (!text && capacity) fail(VKGEMMA_INVALID_ARGUMENT, "text is NULL but capacity > 0");
    if (flags & ~uint32_t(VKGEMMA_CHAT_ADD_GENERATION_PROMPT | VKGEMMA_CHAT_THINKING))
      fail(VKGEMMA_INVALID_ARGUMENT, fmt::format("unknown flags {:#x}", flags));
    const json messages = parse_json(messages_json, messages_json_len, "messages_json");
    const json tools = tools_json_len ? parse_json(tools_json, tools_json_len, "tools_json") : json();
    opt.add_generation_prompt = (flags & VKGEMMA_CHAT_ADD_GENERATION_PROMPT) != 0;
    opt.enable_thinking = (flags & VKGEMMA_CHAT_THINKING) != 0;
    std::string out;
    try {
      out = vkg::format_chat(messages, tools, opt);
    } catch (const vkg::ChatError& e) {
      fail(VKGEMMA_INVALID_ARGUMENT, e.what());
    }
    copy_text(out, text, capacity, text_len);
  });
}

}  // extern "C"
