#include "reply.h"

#include <fmt/format.h>

#include <cstdio>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model.h"

namespace vkg::cli {

ReplyPrinter::ReplyPrinter(const Tokenizer& tok, bool show_reasoning, bool print, bool trim,
                           std::vector<std::string> stops)
    : tok_(tok),
      show_reasoning_(show_reasoning),
      print_(print),
      parser_([this](const ReplyEvent& e) { on_event(e); }, ReplyParser::Options{.trim = trim}),
      stops_(stops),
      stop_(std::move(stops)) {}

bool ReplyPrinter::on_token(int32_t id, std::string_view piece) {
  parser_.push_token(tok_, id, piece);
  return !parser_.ended() && !stop_.stopped();
}


void ReplyPrinter::content(std::string_view text) {
  if (!stop_.stopped()) write_content(stop_.push(text));
}

void ReplyPrinter::write_content(std::string_view text) {
  if (!print_ || text.empty()) return;
  end_reasoning();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  stdout_mid_line_ = text.back() != '\n';
}

void ReplyPrinter::end_reasoning() {
  if (!in_reasoning_) return;
  std::fputs("\n[/reasoning]\n", stderr);
  in_reasoning_ = false;
}

void ReplyPrinter::on_event(const ReplyEvent& e) {
  if (e.part == ReplyPart::Content) return content(e.text);
  if (!print_) return;
  switch (e.part) {
    case ReplyPart::Reasoning:
      if (!show_reasoning_) return;
      if (!in_reasoning_) {
        std::fflush(stdout);
        std::fputs("[reasoning]\n", stderr);
        in_reasoning_ = true;
      }
      std::fwrite(e.text.data(), 1, e.text.size(), stderr);
      return;
    case ReplyPart::Content: return;  // content() above
    case ReplyPart::ToolCall:
      end_reasoning();
      if (stdout_mid_line_) std::fputs("\n", stdout);
      std::fprintf(stdout, "[tool_call] %s\n", e.call->to_json().dump().c_str());
      std::fflush(stdout);
      stdout_mid_line_ = false;
      return;
  }
}

ParsedReply ReplyPrinter::finish() {
  ParsedReply r = parser_.finish();
  write_content(stop_.finish());  // what was held back was no stop string after all (empty once stopped)
  if (const size_t cut = find_stop(r.content, stops_); stop_.stopped() && cut != std::string::npos) r.content.resize(cut);
  if (print_) {
    end_reasoning();
    for (const std::string& err : r.errors) std::fprintf(stderr, "vkgemma: the model wrote a malformed %s\n", err.c_str());
  }
  return r;
}

std::string stop_description(const Tokenizer& tok, const GenerateResult& r) {
  if (r.stop == StopReason::EndOfGeneration && r.stop_token >= 0)
    return fmt::format("{} {} ({})", stop_reason_name(r.stop), tok.token_text(r.stop_token), r.stop_token);
  return stop_reason_name(r.stop);
}

void add_stop_json(nlohmann::json& j, const Tokenizer& tok, const GenerateResult& r) {
  j["stop"] = stop_reason_name(r.stop);
  if (r.stop_token >= 0) {
    j["stop_token"] = r.stop_token;
    j["stop_token_text"] = tok.token_text(r.stop_token);
  } else {
    j["stop_token"] = nullptr;
    j["stop_token_text"] = nullptr;
  }
}

nlohmann::json load_tools(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(fmt::format("cannot open the tools file {}", path));
  std::stringstream ss;
  ss << f.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("the tools file {} is not valid JSON: {}", path, e.what()));
  }
  if (!j.is_array())
    throw std::runtime_error(fmt::format("the tools file {} must hold a JSON array of tool declarations "
                                         "([{{\"type\": \"function\", \"function\": {{...}}}}])",
                                         path));
  for (size_t i = 0; i < j.size(); ++i)
    if (!j[i].is_object() || !j[i].contains("function") || !j[i]["function"].is_object() ||
        !j[i]["function"].contains("name") || !j[i]["function"]["name"].is_string())
      throw std::runtime_error(
          fmt::format("the tools file {}: entry {} is not {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}", path, i));
  return j;
}

nlohmann::json assistant_message(const ParsedReply& reply, size_t first_id) {
  nlohmann::json m = {{"role", "assistant"}, {"content", reply.content}};
  if (!reply.tool_calls.empty()) {
    nlohmann::json calls = nlohmann::json::array();
    for (size_t i = 0; i < reply.tool_calls.size(); ++i)
      calls.push_back({{"id", fmt::format("call_{}", first_id + i)},
                       {"type", "function"},
                       {"function", {{"name", reply.tool_calls[i].name}, {"arguments", reply.tool_calls[i].arguments}}}});
    m["tool_calls"] = std::move(calls);
    if (!reply.reasoning.empty()) m["reasoning"] = reply.reasoning;
  }
  return m;
}


} // namespace vkg::cli
