// vkg_server without a device: request validation (every field's type and range, the error's
// status and param), stop strings across token boundaries, the chat reply assembler (deltas sum
// to the whole reply), and the OpenAI response / chunk / error shapes.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "request.h"
#include "response.h"
#include "reply_stream.h"
#include "server.h"
#include "synth.h"
#include "tokenizer.h"

using nlohmann::json;
using namespace vkg::server;

namespace {

json chat_body(json extra = json::object()) {
  json b = {{"model", "m"}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  for (auto& [k, v] : extra.items()) b[k] = v;
  return b;
}

/// The ApiError a chat body gets (status 0 when accepted).
ApiError chat_error(const json& body) {
  try {
    parse_chat_request(body);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "accepted");
}

}  // namespace

TEST_CASE("request bodies: JSON and nesting") {
  CHECK_THROWS_AS(parse_body("{"), ApiError);
  CHECK_THROWS_AS(parse_body("[1,2]"), ApiError);
  CHECK_THROWS_AS(parse_body(""), ApiError);
  CHECK(parse_body(R"({"a": 1})")["a"] == 1);
  // A megabyte of "[" is refused before the recursive parser sees it.
  const std::string deep(1 << 20, '[');
  try {
    parse_body(deep);
    FAIL("accepted");
  } catch (const ApiError& e) {
    CHECK(e.status() == 400);
    CHECK(e.message().find("nests deeper") != std::string::npos);
  }
  // Brackets inside strings do not count.
  CHECK_NOTHROW(parse_body(R"({"a": ")" + std::string(1000, '[') + R"("})"));
}

TEST_CASE("chat requests: defaults and accepted fields") {
  const ChatRequest r = parse_chat_request(chat_body());
  CHECK(r.model == "m");
  CHECK(r.max_tokens == -1);
  CHECK_FALSE(r.stream);
  CHECK_FALSE(r.seed_given);
  CHECK(r.sampler.temperature == doctest::Approx(0.8));  // llama-server's defaults
  CHECK(r.sampler.top_k == 40);
  CHECK(r.tools.is_null());
  CHECK(r.tool_choice.kind == ToolChoice::Auto);

  const ChatRequest s = parse_chat_request(chat_body({{"temperature", 0},      {"top_p", 0.5},
                                                      {"top_k", 7},            {"min_p", 0.1},
                                                      {"seed", 42},            {"max_tokens", 9},
                                                      {"max_completion_tokens", 5},
                                                      {"stop", "END"},         {"presence_penalty", 1.5},
                                                      {"frequency_penalty", -1}, {"stream", true},
                                                      {"stream_options", {{"include_usage", true}}},
                                                      {"n", 1},                {"user", "ignored"}}));
  CHECK(s.sampler.temperature == 0);
  CHECK(s.sampler.top_p == doctest::Approx(0.5));
  CHECK(s.sampler.top_k == 7);
  CHECK(s.sampler.min_p == doctest::Approx(0.1));
  CHECK(s.sampler.seed == 42);
  CHECK(s.seed_given);
  CHECK(s.max_tokens == 5);  // max_completion_tokens wins over the deprecated max_tokens
  CHECK(s.stop == std::vector<std::string>{"END"});
  CHECK(s.sampler.presence_penalty == doctest::Approx(1.5));
  CHECK(s.sampler.frequency_penalty == doctest::Approx(-1));
  CHECK(s.stream);
  CHECK(s.include_usage);
  // seed -1: random (llama.cpp's convention); a seed above INT64_MAX is out of range.
  CHECK_FALSE(parse_chat_request(chat_body({{"seed", -1}})).seed_given);
  CHECK(chat_error(chat_body({{"seed", 18446744073709551615ull}})).status() == 400);
  // null is "absent".
  CHECK(parse_chat_request(chat_body({{"temperature", nullptr}, {"stop", nullptr}})).sampler.temperature ==
        doctest::Approx(0.8));
  // A float that is an integer counts as one.
  CHECK(parse_chat_request(chat_body({{"max_tokens", 3.0}})).max_tokens == 3);
}

TEST_CASE("chat requests: each bad field is a 400 naming it") {
  struct Case {
    json extra;
    const char* param;
  };
  const Case cases[] = {
      {{{"temperature", "hot"}}, "temperature"},
      {{{"temperature", 2.5}}, "temperature"},
      {{{"top_p", 1.5}}, "top_p"},
      {{{"top_k", -1}}, "top_k"},
      {{{"top_k", 1.5}}, "top_k"},
      {{{"min_p", -0.1}}, "min_p"},
      {{{"presence_penalty", 3}}, "presence_penalty"},
      {{{"frequency_penalty", true}}, "frequency_penalty"},
      {{{"max_tokens", 0}}, "max_tokens"},
      {{{"max_tokens", -2}}, "max_tokens"},
      {{{"max_tokens", "10"}}, "max_tokens"},
      {{{"n", 2}}, "n"},
      {{{"stream", "yes"}}, "stream"},
      {{{"stream_options", 1}}, "stream_options"},
      {{{"stop", 5}}, "stop"},
      {{{"stop", {"a", "b", "c", "d", "e"}}}, "stop"},
      {{{"stop", {""}}}, "stop"},
      {{{"stop", std::string(300, 'x')}}, "stop"},
      {{{"logprobs", true}}, "logprobs"},
      {{{"messages", "hi"}}, "messages"},
      {{{"messages", json::array()}}, "messages"},
      {{{"messages", {1}}}, "messages[0]"},
      {{{"messages", {{{"content", "x"}}}}}, "messages[0].role"},
      {{{"messages", {{{"role", "wizard"}, {"content", "x"}}}}}, "messages[0].role"},
      {{{"messages", {{{"role", "user"}}}}}, "messages[0].content"},
      {{{"messages", {{{"role", "user"}, {"content", 5}}}}}, "messages[0].content"},
      {{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, "messages[0].content[0].type"},
      {{{"messages", {{{"role", "assistant"}, {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", "{bad"}}}}}}}}}},
       "messages[0].tool_calls[0].function.arguments"},
      {{{"messages", {{{"role", "assistant"}, {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", "[1]"}}}}}}}}}},
       "messages[0].tool_calls[0].function.arguments"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "bad name!"}}}}}}}, "tools[0].function.name"},
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", "x"}}}}}}}, "tools[0].function.parameters"},
      {{{"tools", 3}}, "tools"},
      {{{"tool_choice", "required"}}, "tool_choice"},  // no tools declared
      {{{"tool_choice", "sometimes"}}, "tool_choice"},
      {{{"tool_choice", {{"type", "function"}, {"function", {{"name", "g"}}}}},
        {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}},
       "tool_choice"},  // not declared
      {{{"chat_template_kwargs", {{"enable_thinking", "yes"}}}}, "enable_thinking"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.extra.dump());
    const ApiError e = chat_error(chat_body(c.extra));
    CHECK(e.status() == 400);
    CHECK(e.param() == c.param);
    CHECK(std::string(e.type()) == "invalid_request_error");
  }
}

TEST_CASE("chat requests: messages and tools are normalized for the template") {
  const json body = chat_body(
      {{"messages",
        {{{"role", "system"}, {"content", {{{"type", "text"}, {"text", "be brief"}}}}},
         {{"role", "user"}, {"content", "weather?"}},
         {{"role", "assistant"},
          {"content", nullptr},
          {"tool_calls",
           {{{"id", "c1"}, {"type", "function"}, {"function", {{"name", "get"}, {"arguments", R"({"city": "Oslo"})"}}}}}}},
         {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "sunny"}, {"extra", 1}}}},
       {"tools",
        {{{"type", "function"},
          {"function", {{"name", "get"}, {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}},
         {{"type", "function"}, {"function", {{"name", "ping"}}}}}},
       {"tool_choice", {{"type", "function"}, {"function", {{"name", "ping"}}}}}});
  const ChatRequest r = parse_chat_request(body);
  REQUIRE(r.messages.size() == 4);
  CHECK(r.messages[2]["tool_calls"][0]["function"]["arguments"] == json{{"city", "Oslo"}});  // text -> object
  CHECK_FALSE(r.messages[3].contains("extra"));  // unknown fields dropped
  CHECK(r.tool_choice.kind == ToolChoice::Named);
  CHECK(r.tool_choice.name == "ping");
  REQUIRE(r.tools.size() == 2);
  CHECK_FALSE(tool_takes_no_arguments(*find_tool(r.tools, "get")));
  CHECK(tool_takes_no_arguments(*find_tool(r.tools, "ping")));
  CHECK(find_tool(r.tools, "nope") == nullptr);
}

TEST_CASE("completion requests") {
  CHECK(parse_completion_request({{"prompt", "abc"}}).prompt == "abc");
  CHECK(parse_completion_request({{"prompt", {"abc"}}}).prompt == "abc");
  for (const json& b : {json{{"prompt", 5}}, json{{"prompt", ""}}, json::object(), json{{"prompt", {"a", "b"}}},
                        json{{"prompt", "x"}, {"echo", true}}, json{{"prompt", "x"}, {"best_of", 2}}}) {
    CAPTURE(b.dump());
    CHECK_THROWS_AS(parse_completion_request(b), ApiError);
  }
}

TEST_CASE("stop strings across pieces") {
  vkg::StopFilter f({"STOP", "##"});
  std::string out;
  out += f.push("Hel");
  out += f.push("lo ST");
  CHECK(out == "Hello ");  // "ST" held back: it may begin STOP
  out += f.push("OP and more");
  CHECK(f.stopped());
  CHECK(out == "Hello ");
  CHECK(f.push("later").empty());
  CHECK(f.finish().empty());

  vkg::StopFilter g({"STOP"});
  std::string o = g.push("a S");
  o += g.push("Tx");  // not a stop string after all
  o += g.finish();
  CHECK(o == "a STx");
  CHECK_FALSE(g.stopped());

  vkg::StopFilter none;
  CHECK(none.push("abc") == "abc");
}

TEST_CASE("chat assembler: deltas add up to the reply; tool calls; stop strings") {
  vkg::Vocab v = vkg::synth_vocab(400, 1);
  const vkg::Tokenizer tok(v);
  const std::string text =
      "<|channel>thought\nlet me see<channel|>Sure: <|tool_call>call:get{city:<|\"|>Oslo<|\"|>}<tool_call|> done";
  // Any split gives the same total, and the deltas concatenate to it.
  for (size_t step : {1u, 3u, 7u, 1000u}) {
    CAPTURE(step);
    ChatAssembler a(tok, {}, false);
    ReplyDelta sum;
    auto add = [&](const ReplyDelta& d) {
      sum.content += d.content;
      sum.reasoning += d.reasoning;
      sum.calls.insert(sum.calls.end(), d.calls.begin(), d.calls.end());
    };
    for (size_t i = 0; i < text.size(); i += step) add(a.push_text(text.substr(i, step)));
    add(a.finish());
    CHECK(sum.content == "Sure:  done");
    CHECK(sum.reasoning == "let me see");
    REQUIRE(sum.calls.size() == 1);
    CHECK(sum.calls[0].to_json() == json::parse(R"({"name": "get", "arguments": {"city": "Oslo"}})"));
    CHECK(a.total().content == sum.content);
    CHECK(a.total().calls.size() == 1);
  }
  // stop_after_call: the turn ends at the first complete call.
  ChatAssembler forced(tok, {}, true);
  forced.push_text("<|tool_call>call:ping{");
  CHECK_FALSE(forced.ended());
  forced.push_text("}<tool_call|>more text");
  CHECK(forced.ended());
  forced.finish();
  CHECK(forced.total().content.empty());
  REQUIRE(forced.total().calls.size() == 1);
  CHECK(forced.total().calls[0].name == "ping");
  // A stop string ends the answer.
  ChatAssembler s(tok, {"END"}, false);
  s.push_text("one two EN");
  s.push_text("D three");
  CHECK(s.ended());
  CHECK(s.stopped_by_string());
  s.finish();
  CHECK(s.total().content == "one two ");
}

TEST_CASE("response shapes") {
  const ResponseMeta m{"chatcmpl-x", 123, "model"};
  ReplyDelta r;
  r.content = "hello";
  r.reasoning = "hmm";
  r.calls.push_back({"get", json{{"city", "Oslo"}}});
  const json c = chat_completion_json(m, r, "tool_calls", {5, 2, 1});
  CHECK(c["object"] == "chat.completion");
  CHECK(c["choices"][0]["message"]["content"] == "hello");
  CHECK(c["choices"][0]["message"]["reasoning_content"] == "hmm");
  CHECK(c["choices"][0]["finish_reason"] == "tool_calls");
  const json& call = c["choices"][0]["message"]["tool_calls"][0];
  CHECK(call["type"] == "function");
  CHECK(call["function"]["name"] == "get");
  CHECK(json::parse(call["function"]["arguments"].get<std::string>()) == json{{"city", "Oslo"}});  // JSON text
  CHECK(call["id"].get<std::string>().starts_with("call_"));
  CHECK(c["usage"]["total_tokens"] == 7);
  CHECK(c["usage"]["prompt_tokens_details"]["cached_tokens"] == 1);

  const json ch = chat_chunk_json(m, chat_delta_json(r, m.id, 2));
  CHECK(ch["object"] == "chat.completion.chunk");
  CHECK(ch["choices"][0]["finish_reason"].is_null());
  CHECK(ch["choices"][0]["delta"]["tool_calls"][0]["index"] == 2);
  CHECK(chat_chunk_json(m, json::object(), "stop")["choices"][0]["finish_reason"] == "stop");
  CHECK(chat_usage_chunk_json(m, {1, 2, 0})["choices"].empty());

  const json e = error_json(ApiError(401, "nope", "", "invalid_api_key"));
  CHECK(e["error"]["message"] == "nope");
  CHECK(e["error"]["type"] == "authentication_error");
  CHECK(e["error"]["param"].is_null());
  CHECK(e["error"]["code"] == "invalid_api_key");
  CHECK(error_json(ApiError(400, "x", "top_p"))["error"]["param"] == "top_p");

  // SSE framing; invalid UTF-8 from the model never makes dump() throw.
  CHECK(sse({{"a", 1}}) == "data: {\"a\":1}\n\n");
  CHECK_NOTHROW(sse(completion_json(m, std::string("\xff\xfe"), "stop", nullptr)));
  CHECK(models_json("gemma", 5)["data"][0]["id"] == "gemma");
}

TEST_CASE("API keys compare in constant time (and correctly)") {
  CHECK(constant_time_equal("secret", "secret"));
  CHECK_FALSE(constant_time_equal("secret", "secreT"));
  CHECK_FALSE(constant_time_equal("secret", "secret2"));
  CHECK_FALSE(constant_time_equal("", "x"));
  CHECK(constant_time_equal("", ""));
}
