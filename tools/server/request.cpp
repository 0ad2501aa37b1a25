#include "request.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <limits>

namespace vkg::server {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 64;  // JSON nesting; nlohmann's parser and dump() recurse per level

/// Deepest nesting of [ and { outside strings (a cheap pre-scan: a megabyte of "[" would
/// otherwise overflow the parser's stack).
int nesting_depth(std::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

json parse_json_text(std::string_view text, const std::string& what, const std::string& param) {
  if (nesting_depth(text) > kMaxDepth)
    throw ApiError(400, fmt::format("{} nests deeper than {} levels", what, kMaxDepth), param);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ApiError(400, fmt::format("{} is not valid JSON", what), param);
  return j;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unexpected value";
  }
}

[[noreturn]] void bad(const std::string& param, const std::string& msg) {
  throw ApiError(400, fmt::format("'{}' {}", param, msg), param);
}
[[noreturn]] void wrong_type(const std::string& param, const char* want, const json& got) {
  bad(param, fmt::format("must be {}, not {}", want, type_name(got)));
}

/// The field, or nullptr when absent or null (OpenAI treats null as absent).
const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> get_number(const json& obj, const char* key, double lo, double hi) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) bad(key, fmt::format("must be between {} and {} (got {})", lo, hi, d));
  return d;
}

std::optional<int64_t> get_int(const json& obj, const char* key, int64_t lo, int64_t hi) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  int64_t i = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) bad(key, fmt::format("must be between {} and {} (got {})", lo, hi, u));
    i = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    i = v->get<int64_t>();
  } else if (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>()) &&
             std::fabs(v->get<double>()) < 9e15) {
    i = static_cast<int64_t>(v->get<double>());  // 5.0: an integer written as a float
  } else {
    wrong_type(key, "an integer", *v);
  }
  if (i < lo || i > hi) bad(key, fmt::format("must be between {} and {} (got {})", lo, hi, i));
  return i;
}

std::optional<bool> get_bool(const json& obj, const char* key) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(key, "a boolean", *v);
  return v->get<bool>();
}

std::optional<std::string> get_string(const json& obj, const char* key) {
  const json* v = field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(key, "a string", *v);
  return v->get<std::string>();
}

void parse_generation(const json& body, const RequestLimits& lim, GenerationRequest& r) {
  if (auto m = get_string(body, "model")) r.model = *m;
  if (auto n = get_int(body, "n", 1, 1 << 20); n && *n != 1) bad("n", "must be 1 (one choice per request)");
  if (auto s = get_bool(body, "stream")) r.stream = *s;
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) wrong_type("stream_options", "an object", *so);
    if (auto u = get_bool(*so, "include_usage")) r.include_usage = *u;
  }
  if (const json* lp = field(body, "logprobs"); lp && !(lp->is_boolean() && !lp->get<bool>()))
    bad("logprobs", "is not supported");
  SamplerParams& s = r.sampler;
  if (auto v = get_number(body, "temperature", 0, 2)) s.temperature = static_cast<float>(*v);
  if (auto v = get_number(body, "top_p", 0, 1)) s.top_p = static_cast<float>(*v);
  if (auto v = get_int(body, "top_k", 0, 1 << 20)) s.top_k = static_cast<int32_t>(*v);
  if (auto v = get_number(body, "min_p", 0, 1)) s.min_p = static_cast<float>(*v);
  if (auto v = get_number(body, "presence_penalty", -2, 2)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = get_number(body, "frequency_penalty", -2, 2)) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = get_number(body, "repeat_penalty", 0.01, 10)) s.repeat_penalty = static_cast<float>(*v);
  if (auto v = get_int(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
      v && *v != -1) {
    s.seed = static_cast<uint64_t>(*v);
    r.seed_given = true;
  }
  std::optional<int64_t> mt = get_int(body, "max_completion_tokens", -1, lim.max_tokens);
  if (!mt) mt = get_int(body, "max_tokens", -1, lim.max_tokens);
  if (mt) {
    if (*mt == 0) bad(field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens", "must be at least 1 (or -1: no limit)");
    r.max_tokens = static_cast<int32_t>(*mt);
  }
  if (const json* st = field(body, "stop")) {
    std::vector<std::string> stops;
    if (st->is_string()) {
      stops.push_back(st->get<std::string>());
    } else if (st->is_array()) {
      if (st->size() > lim.max_stops) bad("stop", fmt::format("may hold at most {} strings", lim.max_stops));
      for (const json& e : *st) {
        if (!e.is_string()) wrong_type("stop", "a string or an array of strings", e);
        stops.push_back(e.get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or an array of strings", *st);
    }
    for (const std::string& x : stops) {
      if (x.empty()) bad("stop", "strings must not be empty");
      if (x.size() > lim.max_stop_bytes) bad("stop", fmt::format("strings must be at most {} bytes", lim.max_stop_bytes));
    }
    r.stop = std::move(stops);
  }
}

/// Text of a content value: a string, or an array of {type: "text", text} parts (joined).
/// Other part types (images, audio) are refused: the server has no media encoders.
json normalize_content(const json& c, const std::string& param, bool allow_null) {
  if (c.is_null()) {
    if (!allow_null) bad(param, "must not be null");
    return nullptr;
  }
  if (c.is_string()) return c;
  if (!c.is_array()) wrong_type(param, "a string or an array of content parts", c);
  json parts = json::array();
  for (size_t i = 0; i < c.size(); ++i) {
    const json& p = c[i];
    const std::string pp = fmt::format("{}[{}]", param, i);
    if (!p.is_object()) wrong_type(pp, "an object", p);
    const auto type = get_string(p, "type");
    if (!type) bad(pp + ".type", "is required");
    if (*type != "text") bad(pp + ".type", fmt::format("'{}' is not supported (text parts only)", *type));
    const json* t = field(p, "text");
    if (!t || !t->is_string()) bad(pp + ".text", "must be a string");
    parts.push_back({{"type", "text"}, {"text", *t}});
  }
  return parts;
}

bool valid_function_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (unsigned char c : n)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

json normalize_tool_calls(const json& calls, const std::string& param) {
  if (!calls.is_array()) wrong_type(param, "an array", calls);
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    const json& c = calls[i];
    const std::string pc = fmt::format("{}[{}]", param, i);
    if (!c.is_object()) wrong_type(pc, "an object", c);
    json n = {{"type", "function"}};
    if (auto id = get_string(c, "id")) n["id"] = *id;
    if (auto t = get_string(c, "type"); t && *t != "function") bad(pc + ".type", "must be 'function'");
    const json* f = field(c, "function");
    if (!f || !f->is_object()) bad(pc + ".function", "must be an object");
    const auto name = get_string(*f, "name");
    if (!name || name->empty()) bad(pc + ".function.name", "must be a non-empty string");
    json args = json::object();
    if (const json* a = field(*f, "arguments")) {
      if (a->is_string()) {
        const std::string& text = a->get_ref<const std::string&>();
        if (!text.empty()) args = parse_json_text(text, "'" + pc + ".function.arguments'", pc + ".function.arguments");
      } else {
        args = *a;
      }
      if (!args.is_object()) bad(pc + ".function.arguments", "must be a JSON object (or its text)");
    }
    n["function"] = {{"name", *name}, {"arguments", std::move(args)}};
    out.push_back(std::move(n));
  }
  return out;
}

json normalize_messages(const json& body, const RequestLimits& lim) {
  const json* ms = field(body, "messages");
  if (!ms) bad("messages", "is required");
  if (!ms->is_array()) wrong_type("messages", "an array", *ms);
  if (ms->empty()) bad("messages", "must not be empty");
  if (ms->size() > lim.max_messages) bad("messages", fmt::format("may hold at most {} messages", lim.max_messages));
  json out = json::array();
  for (size_t i = 0; i < ms->size(); ++i) {
    const json& m = (*ms)[i];
    const std::string pm = fmt::format("messages[{}]", i);
    if (!m.is_object()) wrong_type(pm, "an object", m);
    const json* role = field(m, "role");
    if (!role || !role->is_string()) bad(pm + ".role", "must be a string");
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "developer" && r != "user" && r != "assistant" && r != "tool")
      bad(pm + ".role", fmt::format("'{}' is not one of system, developer, user, assistant, tool", r));
    json n = {{"role", r}};
    const json* content = field(m, "content");
    const json* calls = r == "assistant" ? field(m, "tool_calls") : nullptr;
    if (!content && !(r == "assistant" && calls)) bad(pm + ".content", "is required");
    n["content"] = content ? normalize_content(*content, pm + ".content", false) : json(nullptr);
    if (calls) n["tool_calls"] = normalize_tool_calls(*calls, pm + ".tool_calls");
    if (auto nm = get_string(m, "name")) n["name"] = *nm;
    if (auto id = get_string(m, "tool_call_id")) n["tool_call_id"] = *id;
    if (r == "assistant") {
      if (auto rc = get_string(m, "reasoning_content")) n["reasoning_content"] = *rc;
    }
    out.push_back(std::move(n));
  }
  return out;
}

json normalize_tools(const json& body, const RequestLimits& lim) {
  const json* ts = field(body, "tools");
  if (!ts) return nullptr;
  if (!ts->is_array()) wrong_type("tools", "an array", *ts);
  if (ts->size() > lim.max_tools) bad("tools", fmt::format("may hold at most {} tools", lim.max_tools));
  json out = json::array();
  for (size_t i = 0; i < ts->size(); ++i) {
    const json& t = (*ts)[i];
    const std::string pt = fmt::format("tools[{}]", i);
    if (!t.is_object()) wrong_type(pt, "an object", t);
    if (auto ty = get_string(t, "type"); ty && *ty != "function") bad(pt + ".type", "must be 'function'");
    const json* f = field(t, "function");
    if (!f || !f->is_object()) bad(pt + ".function", "must be an object");
    const auto name = get_string(*f, "name");
    if (!name || !valid_function_name(*name))
      bad(pt + ".function.name", "must be 1-64 characters from a-z, A-Z, 0-9, _, -, .");
    json fn = {{"name", *name}};
    if (auto d = get_string(*f, "description")) fn["description"] = *d;
    if (const json* p = field(*f, "parameters")) {
      if (!p->is_object()) wrong_type(pt + ".function.parameters", "an object (a JSON schema)", *p);
      fn["parameters"] = *p;
    }
    for (const json& prev : out)
      if (prev["function"]["name"] == *name) bad(pt + ".function.name", fmt::format("'{}' is declared twice", *name));
    out.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  return out.empty() ? json(nullptr) : out;
}

ToolChoice parse_tool_choice(const json& body, const json& tools) {
  ToolChoice tc;
  const json* c = field(body, "tool_choice");
  if (!c) return tc;
  if (c->is_string()) {
    const std::string s = c->get<std::string>();
    if (s == "auto") tc.kind = ToolChoice::Auto;
    else if (s == "none") tc.kind = ToolChoice::None;
    else if (s == "required") tc.kind = ToolChoice::Required;
    else bad("tool_choice", "must be 'auto', 'none', 'required' or {\"type\": \"function\", \"function\": {\"name\": ...}}");
  } else if (c->is_object()) {
    const json* f = field(*c, "function");
    const auto name = f && f->is_object() ? get_string(*f, "name") : std::nullopt;
    if (!name) bad("tool_choice", "must name a function: {\"type\": \"function\", \"function\": {\"name\": ...}}");
    tc.kind = ToolChoice::Named;
    tc.name = *name;
  } else {
    wrong_type("tool_choice", "a string or an object", *c);
  }
  if ((tc.kind == ToolChoice::Required || tc.kind == ToolChoice::Named) && tools.is_null())
    bad("tool_choice", "asks for a tool call but no tools are declared");
  if (tc.kind == ToolChoice::Named && !find_tool(tools, tc.name))
    bad("tool_choice", fmt::format("names '{}', which is not among the declared tools", tc.name));
  return tc;
}

}  // namespace

json parse_body(std::string_view body) {
  json j = parse_json_text(body, "the request body", "");
  if (!j.is_object()) throw ApiError(400, fmt::format("the request body must be a JSON object, not {}", type_name(j)));
  return j;
}

ChatRequest parse_chat_request(const json& body, const RequestLimits& limits) {
  ChatRequest r;
  r.messages = normalize_messages(body, limits);
  r.tools = normalize_tools(body, limits);
  r.tool_choice = parse_tool_choice(body, r.tools);
  parse_generation(body, limits, r);
  if (const json* k = field(body, "chat_template_kwargs")) {
    if (!k->is_object()) wrong_type("chat_template_kwargs", "an object", *k);
    if (auto t = get_bool(*k, "enable_thinking")) r.enable_thinking = *t;
  }
  return r;
}

CompletionRequest parse_completion_request(const json& body, const RequestLimits& limits) {
  CompletionRequest r;
  const json* p = field(body, "prompt");
  if (!p) bad("prompt", "is required");
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    r.prompt = (*p)[0].get<std::string>();
  } else {
    wrong_type("prompt", "a string (or an array of one string)", *p);
  }
  if (r.prompt.empty()) bad("prompt", "must not be empty");
  if (get_bool(body, "echo").value_or(false)) bad("echo", "is not supported");
  if (auto b = get_int(body, "best_of", 1, 1 << 20); b && *b != 1) bad("best_of", "must be 1");
  parse_generation(body, limits, r);
  return r;
}

bool tool_takes_no_arguments(const json& tool) {
  const json& f = tool.at("function");
  auto p = f.find("parameters");
  if (p == f.end() || !p->is_object()) return true;
  auto props = p->find("properties");
  return props == p->end() || !props->is_object() || props->empty();
}

const json* find_tool(const json& tools, std::string_view name) {
  if (!tools.is_array()) return nullptr;
  for (const json& t : tools)
    if (t.at("function").at("name").get_ref<const std::string&>() == name) return &t;
  return nullptr;
}

} // namespace vkg::server
