// Gemma 4 chat formatter and output parser. Every expected string below was derived by executing
// ../shared/reference/gemma-4-31B-chat-template.jinja (ChatTemplate::Large) or
// gemma-4-E2B-chat-template.jinja (Small) by hand; the comments name the branches. The formatter
// is also compared with jinja2's renderings of both templates by the chat_jinja test
// (tests/chat/jinja_compare.cpp).
// (Set VKG_CHAT_DUMP=<file> to write the conversations and outputs as JSON, e.g. to compare them
// with a jinja renderer; the test itself needs nothing but this file.)
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include "chat.h"
#include "chat_stream.h"
#include "synth.h"
#include "test_util.h"
#include "tokenizer.h"

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

ChatOptions opts(bool gen, bool think, vkg::ChatTemplate kind = vkg::ChatTemplate::Large) {
  ChatOptions o;
  o.add_generation_prompt = gen;
  o.enable_thinking = think;
  o.kind = kind;
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

TEST_CASE("chat template per model size: E2B/E4B end the generation prompt at <|turn>model") {
  // gemma-4-E2B-chat-template.jinja lacks the 31B template's
  //   {%- if not enable_thinking | default(false) -%}{{- '<|channel>thought\n<channel|>' -}}{%- endif -%}
  // after '<|turn>model\n'; everything else is the same text.
  using vkg::ChatTemplate;
  const json m = json::parse(R"([{"role": "user", "content": "Hello!"}])");
  CHECK(format_chat(m, nullptr, opts(true, false, ChatTemplate::Small)) ==
        "<bos><|turn>user\nHello!<turn|>\n<|turn>model\n");
  CHECK(format_chat(m, nullptr, opts(true, false, ChatTemplate::Large)) ==
        "<bos><|turn>user\nHello!<turn|>\n<|turn>model\n<|channel>thought\n<channel|>");
  // Thinking on: "<|think|>" in a system turn, the same generation prompt for both.
  const std::string think = "<bos><|turn>system\n<|think|>\n<turn|>\n<|turn>user\nHello!<turn|>\n<|turn>model\n";
  CHECK(format_chat(m, nullptr, opts(true, true, ChatTemplate::Small)) == think);
  CHECK(format_chat(m, nullptr, opts(true, true, ChatTemplate::Large)) == think);
  // Without a generation prompt the two agree.
  CHECK(format_chat(m, nullptr, opts(false, false, ChatTemplate::Small)) ==
        format_chat(m, nullptr, opts(false, false, ChatTemplate::Large)));
  // The default is the small template (vkgemma runs E2B/E4B); the choice follows per-layer embeddings.
  CHECK(ChatOptions{}.kind == ChatTemplate::Small);
  CHECK(vkg::chat_template_for(true) == ChatTemplate::Small);
  CHECK(vkg::chat_template_for(false) == ChatTemplate::Large);
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

namespace {

// A model turn with everything: a thought channel, an answer around two tool calls whose
// arguments use <|"|> quoting (with ',', '{', '}' and ':' inside strings), and the hand-over to
// the tool at the end.
const std::string kTurn =
    "<|channel>thought\nThe user wants the weather in \"Paris, FR\".\nTwo calls.\n<channel|>"
    "Let me check.\n<|tool_call>call:get_weather{city:<|\"|>Paris, FR {x:1}<|\"|>,days:2,"
    "opts:{metric:true,tags:[<|\"|>a,b<|\"|>,None],ratio:-0.5}}<tool_call|>"
    "<|tool_call>call:get_time{tz:<|\"|>Europe/Paris<|\"|>}<tool_call|> One moment. <|tool_response>";
const json kWeatherArgs = json::parse(
    R"({"city": "Paris, FR {x:1}", "days": 2, "opts": {"metric": true, "tags": ["a,b", null], "ratio": -0.5}})");

struct Collected {
  std::string content, reasoning;
  std::vector<json> calls;
};

/// Feed `pieces` to a ReplyParser, collecting the streamed events.
std::pair<Collected, vkg::ParsedReply> stream(const std::vector<std::string>& pieces, bool trim = true) {
  Collected c;
  vkg::ReplyParser p(
      [&](const vkg::ReplyEvent& e) {
        if (e.part == vkg::ReplyPart::Content) c.content += e.text;
        else if (e.part == vkg::ReplyPart::Reasoning) c.reasoning += e.text;
        else c.calls.push_back(e.call->to_json());
      },
      {.trim = trim});
  for (const auto& piece : pieces) p.push(piece);
  return {c, p.finish()};
}

}  // namespace

TEST_CASE("reply parser: reasoning, answer and tool calls with <|\"|> quoting") {
  const auto r = vkg::parse_model_reply(kTurn);
  CHECK(r.reasoning == "The user wants the weather in \"Paris, FR\".\nTwo calls.");
  // The answer is the text around the calls (joined, trimmed); the trailing <|tool_response> is dropped.
  CHECK(r.content == "Let me check.\n One moment.");
  REQUIRE(r.tool_calls.size() == 2);
  CHECK(r.tool_calls[0].name == "get_weather");
  CHECK(r.tool_calls[0].arguments == kWeatherArgs);
  CHECK(r.tool_calls[1].to_json() == json::parse(R"({"name": "get_time", "arguments": {"tz": "Europe/Paris"}})"));
  CHECK(r.errors.empty());

  // Two thought channels are joined by a newline; a channel without the "thought" label keeps a
  // first line that has spaces; "<|channel>thought<channel|>" is empty.
  const auto r2 = vkg::parse_model_reply("<|channel>thought\n A \n<channel|>x<|channel>B c\nd<channel|>"
                                         "<|channel>thought<channel|>y");
  CHECK(r2.reasoning == "A\nB c\nd");
  CHECK(r2.content == "xy");
  // End markers: nothing after <turn|> or <eos> belongs to the reply.
  CHECK(vkg::parse_model_reply("Answer.<turn|>\n<|turn>user\nmore").content == "Answer.");
  CHECK(vkg::parse_model_reply("Answer.<eos>more").content == "Answer.");
  // Stray markers outside a block never reach the answer.
  CHECK(vkg::parse_model_reply("a<|\"|>b<tool_response|>c<channel|>d<tool_call|>e<|think|>f<|turn>g<bos>h").content ==
        "abcdefgh");
}

TEST_CASE("reply parser: truncated blocks") {
  // Generation stopped inside a thought channel: the reasoning so far, no answer.
  auto r = vkg::parse_model_reply("<|channel>thought\nhalf a thou");
  CHECK(r.reasoning == "half a thou");
  CHECK(r.content.empty());
  // Inside the channel's label line.
  r = vkg::parse_model_reply("<|channel>thou");
  CHECK(r.reasoning == "thou");
  // A tool call without <tool_call|> is parsed up to the end when its arguments are complete.
  r = vkg::parse_model_reply("Sure <|tool_call>call:f{a:<|\"|>x<|\"|>,b:[1,2]}");
  CHECK(r.content == "Sure");
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0].to_json() == json::parse(R"({"name": "f", "arguments": {"a": "x", "b": [1, 2]}})"));
  // ... and is reported (not returned, not shown) when they are cut off.
  const auto [c, pr] = stream({"Sure <|tool_call>call:f{a:<|\"|>x<|\"|>,b:[1,"});
  CHECK(pr.content == "Sure");
  CHECK(pr.tool_calls.empty());
  REQUIRE(pr.errors.size() == 1);
  CHECK(pr.errors[0].find("tool call 'f'") != std::string::npos);
  CHECK(c.content == "Sure");
  CHECK_THROWS_AS(vkg::parse_model_reply("Sure <|tool_call>call:f{a:<|\"|>x"), vkg::ChatError);
  // A marker cut off at the very end is not a marker: it stays text.
  CHECK(vkg::parse_model_reply("Hello <|chan").content == "Hello <|chan");
}

TEST_CASE("reply parser: streamed pieces equal the whole-text parse at every split") {
  const auto whole = vkg::parse_model_reply(kTurn);
  auto check = [&](const std::vector<std::string>& pieces) {
    const auto [c, r] = stream(pieces);
    CHECK(c.content == whole.content);
    CHECK(c.reasoning == whole.reasoning);
    REQUIRE(c.calls.size() == 2);
    CHECK(c.calls[0] == whole.tool_calls[0].to_json());
    CHECK(c.calls[1] == whole.tool_calls[1].to_json());
    CHECK(r.content == whole.content);
    CHECK(r.reasoning == whole.reasoning);
  };
  for (size_t i = 0; i <= kTurn.size(); ++i) {
    CAPTURE(i);
    check({kTurn.substr(0, i), kTurn.substr(i)});
  }
  std::vector<std::string> bytes;
  for (char ch : kTurn) bytes.emplace_back(1, ch);
  check(bytes);

  // No markup in any streamed answer piece, whatever the split.
  Collected c;
  vkg::ReplyParser p([&](const vkg::ReplyEvent& e) {
    if (e.part != vkg::ReplyPart::ToolCall)
      for (std::string_view m : vkg::gemma4_markers()) CHECK(e.text.find(m) == std::string_view::npos);
  });
  for (char ch : kTurn + "<turn|>ignored") p.push(std::string_view(&ch, 1));
  CHECK(p.ended());

  // Untrimmed (run --raw): the answer is the text minus markup, byte for byte.
  const auto [raw, rr] = stream({"  a <|channel>thought\nx<channel|> b\n"}, /*trim=*/false);
  CHECK(raw.content == "  a  b\n");
  CHECK(rr.content == "  a  b\n");
  CHECK(rr.reasoning == "x");
}

TEST_CASE("reply parser on tokens: markers typed CONTROL or USER_DEFINED give the same reply") {
  // Real files type the markup tokens USER_DEFINED (shown by the detokenizer); the synthetic and
  // older vocabularies type them CONTROL (skipped by it). push_token must see them either way.
  for (vkg::TokenType type : {vkg::TokenType::Control, vkg::TokenType::UserDefined}) {
    CAPTURE(static_cast<int>(type));
    vkg::Vocab v = vkg::synth_vocab(400, 1);
    for (const char* m : {"<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|\"|>", "<|tool_response>"}) {
      v.tokens.emplace_back(m);
      v.types.push_back(type);
      v.scores.push_back(0.0f);
    }
    const vkg::Tokenizer tok(v);
    const std::string text = "<|channel>thought\nwhy not<channel|>ok<|tool_call>call:f{q:<|\"|>a b<|\"|>}<tool_call|>";
    const auto ids = tok.encode(text, false, true);
    CHECK(std::count(ids.begin(), ids.end(), tok.token_id("<|\"|>")) == 2);  // the markers are single tokens
    vkg::StreamingDetokenizer detok(tok, /*render_special=*/false);  // as Session::generate
    vkg::ReplyParser p;
    for (int32_t id : ids) p.push_token(tok, id, detok.push(id));
    const auto r = p.finish();
    CHECK(r.reasoning == "why not");
    CHECK(r.content == "ok");
    REQUIRE(r.tool_calls.size() == 1);
    CHECK(r.tool_calls[0].to_json() == json::parse(R"({"name": "f", "arguments": {"q": "a b"}})"));
  }
}

TEST_CASE("tool-call round trip: parsed reply + tool response render as the template expects") {
  // The reply above enters the history as an OpenAI-style assistant message; with the tool
  // responses the next prompt is the one the template gives for the hand-written conversation
  // (chat_jinja compares conversations of this shape with jinja2: reasoning_with_tool_call).
  const auto r = vkg::parse_model_reply(
      "<|channel>thought\nI need the weather tool.<channel|><|tool_call>call:get_weather{city:<|\"|>Oslo<|\"|>}"
      "<tool_call|><|tool_response>");
  json calls = json::array();
  for (size_t i = 0; i < r.tool_calls.size(); ++i)
    calls.push_back({{"id", "c1"}, {"type", "function"},
                     {"function", {{"name", r.tool_calls[i].name}, {"arguments", r.tool_calls[i].arguments}}}});
  const json tools = json::parse(kWeatherTool);
  json history = json::array({{{"role", "user"}, {"content", "Weather in Oslo?"}},
                              {{"role", "assistant"}, {"content", r.content}, {"reasoning", r.reasoning},
                               {"tool_calls", calls}},
                              {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "-3 and snow"}}});
  CHECK(format_chat(history, tools, opts(true, false, vkg::ChatTemplate::Small)) ==
        "<bos><|turn>system\n<|tool>" + kWeatherDecl + "<tool|><turn|>\n<|turn>user\nWeather in Oslo?<turn|>\n"
        "<|turn>model\n<|channel>thought\nI need the weather tool.\n<channel|>"
        "<|tool_call>call:get_weather{city:<|\"|>Oslo<|\"|>}<tool_call|>"
        "<|tool_response>response:get_weather{value:<|\"|>-3 and snow<|\"|>}<tool_response|>");
}
