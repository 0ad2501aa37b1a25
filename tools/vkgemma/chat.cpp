// `vkgemma chat`: an interactive multi-turn conversation (works with piped stdin).
// Commands: /reset clears the history, /exit (or end of input) quits.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "chat.h"
#include "commands.h"
#include "common.h"

namespace vkg::cli {
namespace {

void add_chat(CLI::App& app) {
  struct Args {
    ModelArgs model;
    SampleArgs sample;
    std::string system;
    bool think = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("chat", "Interactive multi-turn chat (/reset, /exit)");
  add_model_args(cmd, a->model);
  add_sample_args(cmd, a->sample);
  cmd->add_option("--system", a->system, "System message");
  cmd->add_flag("--think", a->think, "Thinking mode");
  cmd->callback([a] {
    Loaded l = load(a->model);
    Session s(*l.model, {.n_ctx = a->model.n_ctx, .max_batch = a->model.batch});
    const bool tty = isatty(fileno(stdin)) != 0;
    nlohmann::json history = nlohmann::json::array();
    if (!a->system.empty()) history.push_back({{"role", "system"}, {"content", a->system}});
    const nlohmann::json base = history;
    std::string line;
    for (;;) {
      if (tty) std::fputs("> ", stdout), std::fflush(stdout);
      if (!std::getline(std::cin, line)) break;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/reset") {
        history = base;
        s.reset();
        std::puts("(history cleared)");
        continue;
      }
      if (line.empty()) continue;
      history.push_back({{"role", "user"}, {"content", line}});
      const std::string text = format_chat(history, nullptr, {.add_generation_prompt = true, .enable_thinking = a->think});
      const auto full = s.tokenize(text, true, 0);
      const auto todo = s.reuse_prefix(full);
      if (s.n_past() + todo.size() >= s.n_ctx()) {
        std::fprintf(stderr, "vkgemma: the conversation no longer fits the context of %u tokens; use /reset or -c\n",
                     s.n_ctx());
        history.erase(history.end() - 1);
        continue;
      }
      auto r = s.generate(todo, a->sample.gen(*l.model), [&](int32_t, std::string_view piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
        return true;
      });
      std::fputs("\n", stdout);
      const auto reply = parse_model_reply(r.text);
      history.push_back({{"role", "assistant"}, {"content", reply.content}});
    }
    if (!a->model.quiet) std::fprintf(stderr, "%s\n", stats_line(l, s).c_str());
  });
}
VKG_CLI_COMMAND(add_chat);

}  // namespace
}  // namespace vkg::cli
