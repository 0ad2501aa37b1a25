// Gemma 4 chat formatter and output parser. Every expected string below was derived by executing
// /work/shared/reference/gemma-4-chat-template.jinja by hand; the comments name the branches.
// (Set VKG_CHAT_DUMP=<file> to write the conversations and outputs as JSON, e.g. to compare them
// with a jinja renderer; the test itself needs nothing but this file.)
#include <cstdlib>
#include <fstream>
#include "chat.h"
#include "test_util.h"

using nlohmann::json;
using vkg::ChatOptions;
using vkg::format_chat;

namespace {

json g_dump = json::array();

// Render, record (for VKG_CHAT_DUMP), return.
std::string render(const char* name, const json& messages, const json& tools, ChatOptions opt) {
  std::string out = format_chat(messages, tools, opt);
  g_dump.push_back({{"name", name}, {"messages", messages}, {"tools", tools},
                    {"add_generation_prompt", opt.add_generation_prompt},
                    {"enable_thinking", opt.enable_thinking}, {"output", out}});
  if (const char* path = std::getenv("VKG_CHAT_DUMP")) std::ofstream(path) << g_dump.dump(1);
  return out;
}

ChatOptions opts(bool gen, bool think) {
  ChatOptions o;
  o.add_generation_prompt = gen;
  o.enable_thinking = think;
  return o;
}

// get_weather with one required string parameter.
const char* kWeatherTool = R"([{"type": "function", "function": {"name": "get_weather",
  "description": "Weather lookup", "parameters": {"type": "object",
  "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";
// format_function_declaration(get_weather): "declaration:" name "{description:<|"|>..<|"|>",
// params truthy -> ",parameters:{", properties -> "properties:{" format_parameters "},"
// (city: no description, STRING without enum, so only the final "type:<|"|>STRING<|"|>}"),
// required -> "required:[<|"|>city<|"|>],", type -> "type:<|"|>OBJECT<|"|>}", then the final "}".
const std::string kWeatherDecl =
    "declaration:get_weather{description:<|\"|>Weather lookup<|\"|>,parameters:{properties:{city:{type:<|\"|>STRING"
    "<|\"|>}},required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}";

} // namespace

TEST_CASE("chat 1: one user turn, thinking off, generation prompt") {
  // No system block (no thinking, no tools, first role user). user: "<|turn>user\n" + content|trim +
  // "<turn|>\n". Generation prompt with thinking off adds the empty thought channel.
  const json m = json::parse(R"([{"role": "user", "content": "  Hello!  "}])");
  CHECK(render("one_user", m, nullptr, opts(true, false)) ==
        "<bos><|turn>user\nHello!<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  ChatOptions o = opts(false, false);
  o.bos_token = "";
  CHECK(format_chat(m, nullptr, o) == "<|turn>user\nHello!<turn|>\n");
}

TEST_CASE("chat 2: system + multi-turn history, thought stripped from model content") {
  // System block: messages[0] is system -> its content|trim, loop_messages = messages[1:].
  // assistant -> role "model"; strip_thinking drops "<|channel>...<channel|>" and trims.
  const json m = json::parse(R"([
    {"role": "system", "content": "You are a helpful assistant.\n"},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "<|channel>thought\nSimple arithmetic.<channel|>2+2 = 4."},
    {"role": "user", "content": "And 3+3?"}])");
  CHECK(render("multi_turn", m, nullptr, opts(true, false)) ==
        "<bos><|turn>system\nYou are a helpful assistant.<turn|>\n"
        "<|turn>user\nWhat is 2+2?<turn|>\n"
        "<|turn>model\n2+2 = 4.<turn|>\n"
        "<|turn>user\nAnd 3+3?<turn|>\n"
        "<|turn>model\n<|channel>thought\n<channel|>");
}

TEST_CASE("chat 3: thinking on, with and without a system message") {
  // enable_thinking -> "<|think|>\n" right after "<|turn>system\n"; the generation prompt has no
  // empty thought channel.
  const json m = json::parse(R"([{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Why is the sky blue?"}])");
  CHECK(render("thinking_system", m, nullptr, opts(true, true)) ==
        "<bos><|turn>system\n<|think|>\nBe brief.<turn|>\n<|turn>user\nWhy is the sky blue?<turn|>\n<|turn>model\n");
  // Thinking alone opens a system turn that holds only "<|think|>\n".
  const json m2 = json::parse(R"([{"role": "user", "content": "Hi"}])");
  CHECK(render("thinking_only", m2, nullptr, opts(true, true)) ==
        "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHi<turn|>\n<|turn>model\n");
}

TEST_CASE("chat 4: tool declarations (JSON schema rendering)") {
  // format_parameters, keys dictsorted: city, days, unit.
  //  city: description -> add_comma; STRING without enum; final ",type:..STRING..}"
  //  days: description; INTEGER; nullable -> ",nullable:true"; final ",type:..INTEGER..}"
  //  unit: description; STRING with enum -> ",enum:" format_argument(list); final type.
  const json tools = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Get the current weather for a city.", "parameters": {"type": "object",
    "properties": {"city": {"type": "string", "description": "City name"},
                   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
                   "days": {"type": "integer", "description": "Forecast days", "nullable": true}},
    "required": ["city"]}}}])");
  const json m = json::parse(R"([{"role": "user", "content": "What's the weather in Paris?"}])");
  CHECK(render("tool_declaration", m, tools, opts(true, false)) ==
        "<bos><|turn>system\n<|tool>declaration:get_weather{description:<|\"|>Get the current weather for a city.<|\"|>"
        ",parameters:{properties:{city:{description:<|\"|>City name<|\"|>,type:<|\"|>STRING<|\"|>},"
        "days:{description:<|\"|>Forecast days<|\"|>,nullable:true,type:<|\"|>INTEGER<|\"|>},"
        "unit:{description:<|\"|>Temperature unit<|\"|>,enum:[<|\"|>celsius<|\"|>,<|\"|>fahrenheit<|\"|>],"
        "type:<|\"|>STRING<|\"|>}},required:[<|\"|>city<|\"|>],type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n"
        "<|turn>user\nWhat's the weather in Paris?<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");

  // Arrays (items: type -> format_argument(upper)), nested objects (properties + required),
  // a response declaration, and a user turn with an image part (prev_message_type 'image').
  const json tools2 = json::parse(R"([{"type": "function", "function": {"name": "search",
    "description": "Search docs", "parameters": {"type": "object", "properties": {
      "queries": {"type": "array", "description": "Queries", "items": {"type": "string"}},
      "filter": {"type": "object", "description": "Filter", "properties": {"lang": {"type": "string"}},
                 "required": ["lang"]},
      "limit": {"type": "number"}}, "required": ["queries"]},
    "response": {"type": "object", "description": "Results"}}}])");
  const json m2 = json::parse(R"([{"role": "user", "content": [{"type": "text", "text": " Find this: "},
    {"type": "image"}, {"type": "text", "text": "docs"}]}])");
  CHECK(render("tool_schema_nested", m2, tools2, opts(true, false)) ==
        "<bos><|turn>system\n<|tool>declaration:search{description:<|\"|>Search docs<|\"|>,parameters:{properties:{"
        "filter:{description:<|\"|>Filter<|\"|>,properties:{lang:{type:<|\"|>STRING<|\"|>}},required:[<|\"|>lang<|\"|>],"
        "type:<|\"|>OBJECT<|\"|>},limit:{type:<|\"|>NUMBER<|\"|>},queries:{description:<|\"|>Queries<|\"|>,"
        "items:{type:<|\"|>STRING<|\"|>},type:<|\"|>ARRAY<|\"|>}},required:[<|\"|>queries<|\"|>],type:<|\"|>OBJECT<|\"|>}"
        ",response:{description:<|\"|>Results<|\"|>,type:<|\"|>OBJECT<|\"|>}}<tool|><turn|>\n"
        "<|turn>user\nFind this:<|image|>docs<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
}

TEST_CASE("chat 5: tool call + tool response (OpenAI style), thinking on") {
  // System: "<|think|>\n" + content + "<|tool>" decl "<tool|>" (no newline between).
  // assistant (index 1 > last user index 0, has tool_calls) -> reasoning in a thought channel;
  // tool call args dictsorted (city, days); the following role:tool message is resolved by
  // tool_call_id and rendered as a string response "{value:<|"|>...<|"|>}". Content "" and a
  // response was emitted -> no "<turn|>"; prev type tool_response -> no generation prompt.
  const json m = json::parse(R"([
    {"role": "system", "content": "You can check the weather."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "reasoning": "Need the weather tool.", "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"days": 2, "city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 18, \"sky\": \"clear\"}"}])");
  const std::string& decl = kWeatherDecl;
  CHECK(render("tool_call_response", m, json::parse(kWeatherTool), opts(true, true)) ==
        "<bos><|turn>system\n<|think|>\nYou can check the weather.<|tool>" + decl + "<tool|><turn|>\n"
        "<|turn>user\nWeather in Paris?<turn|>\n"
        "<|turn>model\n<|channel>thought\nNeed the weather tool.\n<channel|>"
        "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:2}<tool_call|>"
        "<|tool_response>response:get_weather{value:<|\"|>{\"temp\": 18, \"sky\": \"clear\"}<|\"|>}<tool_response|>");

  // The round continues: the final assistant message continues the same model turn (previous
  // non-tool message is an assistant: no "<|turn>model\n"); the reasoning is now before the last
  // user message and is dropped; thinking off -> empty thought channel in the generation prompt.
  json m2 = m;
  m2.push_back(json::parse(R"({"role": "assistant", "content": "It is 18°C and clear in Paris."})"));
  m2.push_back(json::parse(R"({"role": "user", "content": "Thanks! And tomorrow?"})"));
  CHECK(render("tool_round_complete", m2, json::parse(kWeatherTool), opts(true, false)) ==
        "<bos><|turn>system\nYou can check the weather.<|tool>" + decl + "<tool|><turn|>\n"
        "<|turn>user\nWeather in Paris?<turn|>\n"
        "<|turn>model\n<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>,days:2}<tool_call|>"
        "<|tool_response>response:get_weather{value:<|\"|>{\"temp\": 18, \"sky\": \"clear\"}<|\"|>}<tool_response|>"
        "It is 18°C and clear in Paris.<turn|>\n"
        "<|turn>user\nThanks! And tomorrow?<turn|>\n"
        "<|turn>model\n<|channel>thought\n<channel|>");
}

TEST_CASE("chat 6: pending tool call, legacy tool_responses, nested arguments") {
  // A tool call with no response yet: prev type tool_call and no response -> "<|tool_response>"
  // instead of "<turn|>", and no generation prompt.
  const json m = json::parse(R"([{"role": "user", "content": "Call it"},
    {"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "ping", "arguments": {}}}]}])");
  CHECK(render("pending_call", m, nullptr, opts(true, false)) ==
        "<bos><|turn>user\nCall it<turn|>\n<|turn>model\n<|tool_call>call:ping{}<tool_call|><|tool_response>");

  // Nested arguments use format_argument(escape_keys=False) all the way down, dictsort is
  // case-insensitive (done, none, Priority, score), None prints as None; legacy tool_responses
  // with a mapping -> "response:NAME{k:v,...}"; content present -> "<turn|>\n".
  const json m2 = json::parse(R"([{"role": "user", "content": "Add a note"},
    {"role": "assistant", "content": "Saved.", "tool_calls": [{"function": {"name": "save_note", "arguments":
      {"title": "Groceries", "tags": ["food", "weekly"], "meta": {"Priority": 1, "done": false, "score": 0.5, "none": null}}}}],
     "tool_responses": [{"name": "save_note", "response": {"ok": true, "id": 42}}]}])");
  CHECK(render("legacy_tool_responses", m2, nullptr, opts(false, false)) ==
        "<bos><|turn>user\nAdd a note<turn|>\n<|turn>model\n"
        "<|tool_call>call:save_note{meta:{done:false,none:None,Priority:1,score:0.5},"
        "tags:[<|\"|>food<|\"|>,<|\"|>weekly<|\"|>],title:<|\"|>Groceries<|\"|>}<tool_call|>"
        "<|tool_response>response:save_note{id:42,ok:true}<tool_response|>Saved.<turn|>\n");
}

TEST_CASE("format_gemma4_argument: Python number rendering") {
  using vkg::format_gemma4_argument;
  CHECK(format_gemma4_argument(json(3.0)) == "3.0");
  CHECK(format_gemma4_argument(json(0.1)) == "0.1");
  CHECK(format_gemma4_argument(json(-2.5)) == "-2.5");
  CHECK(format_gemma4_argument(json(1e-5)) == "1e-05");
  CHECK(format_gemma4_argument(json(1e16)) == "1e+16");
  CHECK(format_gemma4_argument(json(1e15)) == "1000000000000000.0");
  CHECK(format_gemma4_argument(json(0.0001)) == "0.0001");
  CHECK(format_gemma4_argument(json(-7)) == "-7");
  CHECK(format_gemma4_argument(json::parse(R"({"B": [1, "x"], "a": true})")) ==
        "{<|\"|>a<|\"|>:true,<|\"|>B<|\"|>:[1,<|\"|>x<|\"|>]}");
  CHECK(format_gemma4_argument(json::parse(R"({"B": 1})"), false) == "{B:1}");
}

TEST_CASE("tool-call parser") {
  // Round trip through the formatter's rendering of arguments.
  const json args = json::parse(
      R"({"title": "Groceries, weekly {x}", "tags": ["food", "weekly"], "n": -3, "ratio": 0.25,
          "meta": {"done": false, "none": null, "deep": {"k": [1, 2.5, "z"]}}})");
  std::string text = "Sure.<|tool_call>call:save_note{";
  bool first = true;
  for (auto it = args.begin(); it != args.end(); ++it, first = false)
    text += (first ? "" : ",") + it.key() + ":" + vkg::format_gemma4_argument(it.value(), false);
  text += "}<tool_call|><|tool_call>call:ping{}<tool_call|>";
  const auto calls = vkg::parse_tool_calls(text);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].name == "save_note");
  CHECK(calls[0].arguments == args);
  CHECK(calls[0].to_json() == json{{"name", "save_note"}, {"arguments", args}});
  CHECK(calls[1].name == "ping");
  CHECK(calls[1].arguments == json::object());

  // Quoted keys and JSON-style strings are accepted too; a truncated block is parsed to the end.
  const auto c2 = vkg::parse_tool_calls("<|tool_call>call:f{<|\"|>a b<|\"|>:\"x\\\"y\", c: 1e3}");
  REQUIRE(c2.size() == 1);
  CHECK(c2[0].arguments == json{{"a b", "x\"y"}, {"c", 1000.0}});

  CHECK_THROWS_AS(vkg::parse_tool_calls("<|tool_call>call:f{a:<|\"|>x}<tool_call|>"), vkg::ChatError);
  CHECK_THROWS_AS(vkg::parse_tool_calls("<|tool_call>f{a:1}<tool_call|>"), vkg::ChatError);
  CHECK_THROWS_AS(vkg::parse_tool_calls("<|tool_call>call:{a:1}<tool_call|>"), vkg::ChatError);
  CHECK_THROWS_AS(vkg::parse_tool_calls("<|tool_call>call:f{a 1}<tool_call|>"), vkg::ChatError);
  CHECK(vkg::parse_tool_calls("no calls here").empty());
}

TEST_CASE("model reply parser") {
  const auto r = vkg::parse_model_reply(
      "<|channel>thought\nThe user wants weather.\n<channel|><|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}"
      "<tool_call|><|tool_response>");
  CHECK(r.reasoning == "The user wants weather.");
  CHECK(r.content.empty());
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].to_json() == json::parse(R"({"name": "get_weather", "arguments": {"city": "Paris"}})"));

  const auto r2 = vkg::parse_model_reply("  The answer is 4.<turn|>\nignored");
  CHECK(r2.content == "The answer is 4.");
  CHECK(r2.reasoning.empty());
  CHECK(r2.tool_calls.empty());
}

TEST_CASE("chat errors") {
  CHECK_THROWS_AS(format_chat(json::object()), vkg::ChatError);
  CHECK_THROWS_AS(format_chat(json::parse(R"([{"content": "x"}])")), vkg::ChatError);
  CHECK_THROWS_AS(format_chat(json::parse(R"([{"role": "user", "content": "x"}])"), json::object()), vkg::ChatError);
}
