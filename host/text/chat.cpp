// Gemma 4 chat template in C++. Each function below mirrors the jinja macro of the same name in
// gemma-4-E2B-chat-template.jinja / gemma-4-31B-chat-template.jinja; comments quote the branch
// they reproduce. tests/chat_jinja.cpp checks it against jinja2 renderings of both.
#include "chat.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace vkg {

namespace {

using json = nlohmann::json;
constexpr std::string_view kQ = "<|\"|>";  // the template's string quote token

// ---- Python / jinja semantics -----------------------------------------------------------------

/// Member lookup that yields nullptr where jinja would give Undefined (missing key, non-object).
const json* get(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

/// Python truthiness (Undefined and None are false).
bool truthy(const json* j) {
  if (!j) return false;
  switch (j->type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return j->get<bool>();
    case json::value_t::number_integer: return j->get<int64_t>() != 0;
    case json::value_t::number_unsigned: return j->get<uint64_t>() != 0;
    case json::value_t::number_float: return j->get<double>() != 0.0;
    case json::value_t::string: return !j->get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object: return !j->empty();
    default: return false;
  }
}

/// Python repr(float).
std::string py_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  std::string s(buf, res.ptr);
  const size_t e = s.find('e');
  std::string digits = s.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int decpt = std::stoi(s.substr(e + 1)) + 1;
  const int nd = static_cast<int>(digits.size());
  std::string out = d < 0 ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) out += "0." + std::string(-decpt, '0') + digits;
    else if (decpt >= nd) out += digits + std::string(decpt - nd, '0') + ".0";
    else out += digits.substr(0, decpt) + "." + digits.substr(decpt);
  } else {
    out += digits.substr(0, 1);
    if (nd > 1) out += "." + digits.substr(1);
    const int x = decpt - 1;
    out += fmt::format("e{}{:02d}", x < 0 ? '-' : '+', std::abs(x));
  }
  return out;
}

std::string py_repr_str(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == q) out += std::string("\\") + static_cast<char>(q);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  return out + q;
}

std::string py_str(const json& j, bool repr = false);

std::string py_str(const json& j, bool repr) {
  switch (j.type()) {
    case json::value_t::null: return "None";
    case json::value_t::boolean: return j.get<bool>() ? "True" : "False";
    case json::value_t::number_integer: return std::to_string(j.get<int64_t>());
    case json::value_t::number_unsigned: return std::to_string(j.get<uint64_t>());
    case json::value_t::number_float: return py_float(j.get<double>());
    case json::value_t::string: return repr ? py_repr_str(j.get<std::string>()) : j.get<std::string>();
    case json::value_t::array: {
      std::string s = "[";
      for (size_t i = 0; i < j.size(); ++i) s += (i ? ", " : "") + py_str(j[i], true);
      return s + "]";
    }
    case json::value_t::object: {
      std::string s = "{";
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it, first = false)
        s += (first ? "" : ", ") + py_repr_str(it.key()) + ": " + py_str(it.value(), true);
      return s + "}";
    }
    default: return "";
  }
}

std::string undefined_or_str(const json* j) { return j ? py_str(*j) : std::string(); }

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// `x | upper` of a possibly undefined value.
std::string upper_of(const json* j) { return upper(undefined_or_str(j)); }

/// Length of a Python-whitespace character at the start (fwd) / end (!fwd) of s, 0 if none.
size_t py_space_len(std::string_view s, bool fwd) {
  static constexpr std::string_view kMulti[] = {
      "\xC2\x85", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82",
      "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88",
      "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F",
      "\xE3\x80\x80"};
  if (s.empty()) return 0;
  const unsigned char c = static_cast<unsigned char>(fwd ? s.front() : s.back());
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  for (std::string_view m : kMulti)
    if (fwd ? s.starts_with(m) : s.ends_with(m)) return m.size();
  return 0;
}

/// `| trim` (Python str.strip()).
std::string trim(std::string_view s) {
  while (size_t n = py_space_len(s, true)) s.remove_prefix(n);
  while (size_t n = py_space_len(s, false)) s.remove_suffix(n);
  return std::string(s);
}

/// `| dictsort`: (key, value) pairs sorted by lower-cased key (stable).
std::vector<std::pair<std::string, const json*>> dictsort(const json& obj) {
  std::vector<std::pair<std::string, const json*>> items;
  if (!obj.is_object()) return items;
  for (auto it = obj.begin(); it != obj.end(); ++it) items.emplace_back(it.key(), &it.value());
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return lower(a.first) < lower(b.first); });
  return items;
}

// ---- macros -----------------------------------------------------------------------------------

std::string format_argument(const json& a, bool escape_keys) {
  if (a.is_string()) return std::string(kQ) + a.get<std::string>() + std::string(kQ);
  if (a.is_boolean()) return a.get<bool>() ? "true" : "false";
  if (a.is_object()) {
    std::string s = "{";
    bool first = true;
    for (const auto& [k, v] : dictsort(a)) {
      if (!first) s += ',';
      first = false;
      s += escape_keys ? std::string(kQ) + k + std::string(kQ) : k;
      s += ':' + format_argument(*v, escape_keys);
    }
    return s + "}";
  }
  if (a.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < a.size(); ++i) s += (i ? "," : "") + format_argument(a[i], escape_keys);
    return s + "]";
  }
  return py_str(a);
}

/// "<|"|>a<|"|>,<|"|>b<|"|>" for each item of a list (as the required:[...] loops render it).
std::string quoted_list(const json* list) {
  std::string s;
  if (!list || !(list->is_array() || list->is_object() || list->is_string())) return s;
  if (list->is_string()) {  // iterating a string yields its characters
    const std::string& str = list->get_ref<const std::string&>();
    for (size_t i = 0; i < str.size(); ++i) s += (i ? "," : "") + std::string(kQ) + str[i] + std::string(kQ);
    return s;
  }
  size_t i = 0;
  for (auto it = list->begin(); it != list->end(); ++it, ++i)
    s += (i ? "," : "") + std::string(kQ) + (list->is_object() ? it.key() : py_str(*it)) + std::string(kQ);
  return s;
}

std::string format_parameters(const json& properties) {
  static constexpr std::string_view kStandard[] = {"description", "type", "properties", "required", "nullable"};
  std::string s;
  bool found_first = false;
  for (const auto& [key, vp] : dictsort(properties)) {
    const json& value = *vp;
    if (std::find(std::begin(kStandard), std::end(kStandard), key) != std::end(kStandard)) continue;
    bool add_comma = false;
    auto comma = [&] {  // {%- if add_comma %},{%- else -%}{%- set add_comma = true -%}{% endif -%}
      if (add_comma) s += ',';
      else add_comma = true;
    };
    if (found_first) s += ',';
    found_first = true;
    s += key + ":{";
    if (truthy(get(value, "description"))) {
      s += "description:" + std::string(kQ) + py_str(*get(value, "description")) + std::string(kQ);
      add_comma = true;
    }
    const std::string type = upper_of(get(value, "type"));
    if (type == "STRING") {
      if (truthy(get(value, "enum"))) {
        comma();
        s += "enum:" + format_argument(*get(value, "enum"), true);
      }
    } else if (type == "ARRAY") {
      const json* items = get(value, "items");
      if (items && items->is_object() && !items->empty()) {
        comma();
        s += "items:{";
        bool items_first = false;
        for (const auto& [ik, iv] : dictsort(*items)) {
          if (iv->is_null()) continue;
          if (items_first) s += ',';
          items_first = true;
          if (ik == "properties") {
            s += "properties:{";
            if (iv->is_object()) s += format_parameters(*iv);
            s += "}";
          } else if (ik == "required") {
            s += "required:[" + quoted_list(iv) + "]";
          } else if (ik == "type") {
            if (iv->is_string()) {
              s += "type:" + format_argument(upper(iv->get<std::string>()), true);
            } else {
              json ups = json::array();
              if (iv->is_array())
                for (const json& t : *iv) ups.push_back(upper(py_str(t)));
              s += "type:" + format_argument(ups, true);
            }
          } else {
            s += ik + ":" + format_argument(*iv, true);
          }
        }
        s += "}";
      }
    }
    if (truthy(get(value, "nullable"))) {
      comma();
      s += "nullable:true";
    }
    if (type == "OBJECT") {
      const json* props = get(value, "properties");
      if (props && props->is_object()) {
        comma();
        s += "properties:{" + format_parameters(*props) + "}";
      } else if (value.is_object()) {
        comma();
        s += "properties:{" + format_parameters(value) + "}";
      }
      if (truthy(get(value, "required"))) {
        comma();
        s += "required:[" + quoted_list(get(value, "required")) + "]";
      }
    }
    comma();
    s += "type:" + std::string(kQ) + type + std::string(kQ) + "}";
  }
  return s;
}

std::string format_function_declaration(const json& tool) {
  const json* fn = get(tool, "function");
  static const json kNull;
  const json& f = fn ? *fn : kNull;
  std::string s = "declaration:" + undefined_or_str(get(f, "name")) + "{description:" + std::string(kQ) +
                  undefined_or_str(get(f, "description")) + std::string(kQ);
  const json* params = get(f, "parameters");
  if (truthy(params)) {
    s += ",parameters:{";
    if (truthy(get(*params, "properties")))
      s += "properties:{" + format_parameters(*get(*params, "properties")) + "},";
    if (truthy(get(*params, "required"))) s += "required:[" + quoted_list(get(*params, "required")) + "],";
    if (truthy(get(*params, "type"))) s += "type:" + std::string(kQ) + upper_of(get(*params, "type")) + std::string(kQ) + "}";
  }
  if (const json* resp = get(f, "response")) {
    s += ",response:{";
    if (truthy(get(*resp, "description")))
      s += "description:" + std::string(kQ) + py_str(*get(*resp, "description")) + std::string(kQ) + ",";
    if (upper_of(get(*resp, "type")) == "OBJECT")
      s += "type:" + std::string(kQ) + upper_of(get(*resp, "type")) + std::string(kQ) + "}";
  }
  return s + "}";
}

std::string strip_thinking(const std::string& text) {
  std::string result;
  size_t pos = 0;
  while (true) {  // for part in text.split('<channel|>')
    const size_t end = text.find("<channel|>", pos);
    const std::string part = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    const size_t open = part.find("<|channel>");
    result += open == std::string::npos ? part : part.substr(0, open);
    if (end == std::string::npos) break;
    pos = end + std::string_view("<channel|>").size();
  }
  return trim(result);
}

std::string format_tool_response_block(const std::string& name, const json* response) {
  std::string s = "<|tool_response>";
  if (response && response->is_object()) {
    s += "response:" + name + "{";
    const auto items = dictsort(*response);
    for (size_t i = 0; i < items.size(); ++i)
      s += items[i].first + ":" + format_argument(*items[i].second, false) + (i + 1 < items.size() ? "," : "");
    s += "}";
  } else {
    // An Undefined response passes jinja's "is sequence" test: format_argument renders "[]".
    s += "response:" + name + "{value:" + (response ? format_argument(*response, false) : std::string("[]")) + "}";
  }
  return s + "<tool_response|>";
}

std::string role_of(const json& m) {
  const json* r = get(m, "role");
  return r && r->is_string() ? r->get<std::string>() : std::string();
}

} // namespace

std::string format_gemma4_argument(const json& v, bool escape_keys) { return format_argument(v, escape_keys); }

std::string format_chat(const json& messages, const json& tools, const ChatOptions& opt) {
  if (!messages.is_array()) throw ChatError("format_chat: messages must be a JSON array");
  for (size_t i = 0; i < messages.size(); ++i)
    if (!messages[i].is_object() || !get(messages[i], "role") || !messages[i]["role"].is_string())
      throw ChatError(fmt::format("format_chat: message {} must be an object with a string \"role\"", i));
  if (!tools.is_null() && !tools.is_array()) throw ChatError("format_chat: tools must be null or a JSON array");
  const bool has_tools = tools.is_array() && !tools.empty();

  std::string out = opt.bos_token;
  std::string prev_type;  // ns.prev_message_type ("" = None)
  size_t first = 0;       // loop_messages = messages[first:]
  const std::string role0 = messages.empty() ? "" : role_of(messages[0]);
  const bool sys0 = role0 == "system" || role0 == "developer";
  if (opt.enable_thinking || has_tools || sys0) {
    out += "<|turn>system\n";
    if (opt.enable_thinking) {
      out += "<|think|>\n";
      prev_type = "think";
    }
    if (sys0) {
      const json* c = get(messages[0], "content");
      std::string text;
      if (c && c->is_array()) {
        for (const json& part : *c)
          if (const json* t = get(part, "text"); t && t->is_string()) text += t->get<std::string>();
      } else {
        text = undefined_or_str(c);
      }
      out += trim(text);
      first = 1;
    }
    if (has_tools) {
      for (const json& tool : tools) out += "<|tool>" + trim(format_function_declaration(tool)) + "<tool|>";
      prev_type = "tool";
    }
    out += "<turn|>\n";
  }

  const size_t n = messages.size();
  long last_user = -1;  // index into loop_messages
  for (size_t i = first; i < n; ++i)
    if (role_of(messages[i]) == "user") last_user = static_cast<long>(i - first);

  for (size_t i = first; i < n; ++i) {
    const json& msg = messages[i];
    const std::string mrole = role_of(msg);
    if (mrole == "tool") continue;
    const long idx0 = static_cast<long>(i - first);
    prev_type.clear();
    const std::string role = mrole == "assistant" ? "model" : mrole;
    std::string prev_nt;  // role of the previous non-tool message
    for (size_t j = i; j-- > first;)
      if (role_of(messages[j]) != "tool") {
        prev_nt = role_of(messages[j]);
        break;
      }
    if (!(role == "model" && prev_nt == "assistant")) out += "<|turn>" + role + "\n";

    const json* thinking = get(msg, "reasoning");
    if (!truthy(thinking)) thinking = get(msg, "reasoning_content");
    const json* tool_calls = get(msg, "tool_calls");
    if (truthy(thinking) && idx0 > last_user && truthy(tool_calls))
      out += "<|channel>thought\n" + py_str(*thinking) + "\n<channel|>";

    if (truthy(tool_calls)) {
      for (const json& tc : *tool_calls) {
        const json* fn = get(tc, "function");
        out += "<|tool_call>call:" + undefined_or_str(fn ? get(*fn, "name") : nullptr) + "{";
        const json* args = fn ? get(*fn, "arguments") : nullptr;
        if (args && args->is_object()) {
          bool first_arg = true;
          for (const auto& [k, v] : dictsort(*args)) {
            if (!first_arg) out += ',';
            first_arg = false;
            out += k + ":" + format_argument(*v, false);
          }
        } else if (args && args->is_string()) {
          out += args->get<std::string>();
        }
        out += "}<tool_call|>";
      }
      prev_type = "tool_call";
    }

    bool tr_out = false;
    if (const json* trs = get(msg, "tool_responses"); truthy(trs)) {  // legacy, Gemma native
      for (const json& tr : *trs) {
        const json* name = get(tr, "name");
        out += format_tool_response_block(name ? py_str(*name) : "unknown", get(tr, "response"));
        tr_out = true;
        prev_type = "tool_response";
      }
    } else if (truthy(tool_calls)) {  // OpenAI style: the consecutive role:tool messages that follow
      for (size_t k = i + 1; k < n && role_of(messages[k]) == "tool"; ++k) {
        const json& follow = messages[k];
        const json* fname = get(follow, "name");
        std::string name = fname && !fname->is_null() ? py_str(*fname) : "unknown";
        const json* fid = get(follow, "tool_call_id");
        for (const json& tc : *tool_calls) {
          const json* tid = get(tc, "id");
          const bool same = (tid ? *tid : json()) == (fid ? *fid : json());  // None == None matches
          if (same) {
            const json* fn = get(tc, "function");
            name = undefined_or_str(fn ? get(*fn, "name") : nullptr);
          }
        }
        const json* body = get(follow, "content");
        if (body && body->is_array()) {
          std::string txt;
          for (const json& part : *body)
            if (const json* ty = get(part, "type"); ty && *ty == "text")
              if (const json* t = get(part, "text"); t && !t->is_null()) txt += py_str(*t);
          const json s = txt;
          out += format_tool_response_block(name, &s);
        } else {
          const json none;
          out += format_tool_response_block(name, body ? body : &none);
        }
        tr_out = true;
        prev_type = "tool_response";
      }
    }

    const json* content = get(msg, "content");
    if (content && content->is_string()) {
      out += role == "model" ? strip_thinking(content->get<std::string>()) : trim(content->get<std::string>());
    } else if (content && (content->is_array() || content->is_object())) {
      if (content->is_array())
        for (const json& item : *content) {
          const std::string ty = undefined_or_str(get(item, "type"));
          if (ty == "text") {
            const std::string t = undefined_or_str(get(item, "text"));
            out += role == "model" ? strip_thinking(t) : trim(t);
          } else if (ty == "image" || ty == "audio" || ty == "video") {
            out += "<|" + ty + "|>";
            prev_type = ty;
          }
        }
    }

    if (prev_type == "tool_call" && !tr_out) out += "<|tool_response>";
    else if (!(tr_out && !truthy(content))) out += "<turn|>\n";
  }

  if (opt.add_generation_prompt && prev_type != "tool_response" && prev_type != "tool_call") {
    out += "<|turn>model\n";
    // Only the 31B template (12B/26B/31B) opens and closes an empty thought channel here.
    if (!opt.enable_thinking && opt.kind == ChatTemplate::Large) out += "<|channel>thought\n<channel|>";
  }
  return out;
}

} // namespace vkg
