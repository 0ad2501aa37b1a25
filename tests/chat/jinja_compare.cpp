// chat_jinja: the C++ chat formatter (host/text/chat.cpp) against jinja2 renderings of Google's two
// Gemma 4 templates (../shared/reference/gemma-4-E2B-chat-template.jinja and
// gemma-4-31B-chat-template.jinja), for every conversation of tests/data/chat_conversations.json
// and every combination of add_generation_prompt / enable_thinking it lists.
//
//   chat_jinja_compare PYTHON RENDER_SCRIPT TEMPLATE_DIR CONVERSATIONS.json SCRATCH_DIR
//
// Exit 0 when every rendering matches, 1 on a mismatch (each is printed with the first
// differing position), 77 (skipped) when the templates are absent.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "chat.h"

using nlohmann::json;

namespace {

json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str());
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// The text around byte `pos` of s, escaped for one line.
std::string around(const std::string& s, size_t pos) {
  const size_t b = pos > 40 ? pos - 40 : 0;
  return json(s.substr(b, 80)).dump();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s PYTHON RENDER_SCRIPT TEMPLATE_DIR CONVERSATIONS.json SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  const std::string python = argv[1], script = argv[2], tdir = argv[3], conv_path = argv[4];
  const std::filesystem::path scratch = argv[5];
  try {
    std::filesystem::create_directories(scratch);
    const auto out_path = scratch / "jinja_renderings.json";
    const std::string cmd = shell_quote(python) + " " + shell_quote(script) + " " + shell_quote(tdir) + " " +
                            shell_quote(conv_path) + " " + shell_quote(out_path.string());
    const int st = std::system(cmd.c_str());
    const int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc == 77) return 77;  // the script printed why
    if (rc != 0) {
      std::fprintf(stderr, "FAIL: %s exited with %d\n", cmd.c_str(), rc);
      return 1;
    }
    const json data = read_json(conv_path);
    const json renders = read_json(out_path);
    std::map<std::string, json> convs;
    for (const json& c : data["conversations"]) convs[c["name"]] = c;

    size_t ok = 0, bad = 0;
    std::set<std::string> names;
    std::set<std::pair<bool, bool>> option_sets;
    for (const json& r : renders) {
      const std::string name = r["name"];
      const json& c = convs.at(name);
      json tools = c.value("tools", json());
      if (tools.is_string()) tools = data["tool_sets"][tools.get<std::string>()];
      vkg::ChatOptions opt;
      opt.add_generation_prompt = r["add_generation_prompt"];
      opt.enable_thinking = r["enable_thinking"];
      opt.kind = r["template"] == "small" ? vkg::ChatTemplate::Small : vkg::ChatTemplate::Large;
      const std::string label = name + " [" + r["template"].get<std::string>() +
                                (opt.add_generation_prompt ? ", generation prompt" : "") +
                                (opt.enable_thinking ? ", thinking" : "") + "]";
      if (r["output"].is_null()) {
        std::printf("FAIL %s: jinja2 failed: %s\n", label.c_str(), r.value("error", "?").c_str());
        ++bad;
        continue;
      }
      const std::string want = r["output"];
      std::string got;
      try {
        got = vkg::format_chat(c["messages"], tools, opt);
      } catch (const std::exception& e) {
        std::printf("FAIL %s: format_chat threw: %s\n", label.c_str(), e.what());
        ++bad;
        continue;
      }
      if (got != want) {
        size_t i = 0;
        while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
        std::printf("FAIL %s: differs at byte %zu\n  jinja2: %s\n  C++:    %s\n", label.c_str(), i,
                    around(want, i).c_str(), around(got, i).c_str());
        ++bad;
        continue;
      }
      ++ok;
      names.insert(name);
      option_sets.insert({opt.add_generation_prompt, opt.enable_thinking});
    }
    std::printf("%zu renderings identical to jinja2 (%zu conversations x 2 templates x options), %zu differ\n", ok,
                names.size(), bad);
    if (bad || ok == 0 || names.size() < 20 || option_sets.size() < 4) {
      if (!bad) std::printf("FAIL: expected >= 20 conversations and all four option combinations\n");
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: %s\n", e.what());
    return 1;
  }
}
