// `vkgemma run`: one prompt in, a streamed answer out, statistics on stderr.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "chat.h"
#include "commands.h"
#include "common.h"

namespace vkg::cli {
namespace {

struct RunArgs {
  ModelArgs model;
  SampleArgs sample;
  std::string prompt = "Why is the sky blue?";
  std::string system;
  bool think = false, raw = false, json = false;
};

void add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Generate a reply to one prompt (streamed to stdout)");
  add_model_args(cmd, a->model);
  add_sample_args(cmd, a->sample);
  cmd->add_option("-p,--prompt", a->prompt, "The user's message");
  cmd->add_option("--system", a->system, "System message");
  cmd->add_flag("--think", a->think, "Let the model think before answering (Gemma 4 thinking mode)");
  cmd->add_flag("--raw", a->raw, "Feed the prompt as is, without the chat template");
  cmd->add_flag("--json", a->json, "Print one JSON object (text, tokens, statistics) instead of streaming");
  cmd->callback([a] {
    Loaded l = load(a->model);
    Session s(*l.model, {.n_ctx = a->model.n_ctx, .max_batch = a->model.batch});
    std::vector<int32_t> prompt;
    if (a->raw) {
      prompt = s.tokenize(a->prompt, /*parse_special=*/true);
    } else {
      nlohmann::json msgs = nlohmann::json::array();
      if (!a->system.empty()) msgs.push_back({{"role", "system"}, {"content", a->system}});
      msgs.push_back({{"role", "user"}, {"content", a->prompt}});
      const std::string text = format_chat(msgs, nullptr, {.add_generation_prompt = true, .enable_thinking = a->think});
      prompt = s.tokenize(text, /*parse_special=*/true, /*add_bos=*/0);  // the template writes <bos>
    }
    auto r = s.generate(prompt, a->sample.gen(*l.model), [&](int32_t, std::string_view piece) {
      if (!a->json) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      return true;
    });
    if (a->json) {
      auto j = stats_json(l, s);
      j["text"] = r.text;
      j["tokens"] = r.tokens;
      j["prompt_ids"] = prompt;
      j["stop"] = stop_reason_name(r.stop);
      std::cout << j.dump(2) << "\n";
    } else {
      std::fputs("\n", stdout);
      std::fflush(stdout);
      if (!a->model.quiet) std::fprintf(stderr, "%s\n", stats_line(l, s).c_str());
    }
  });
}
VKG_CLI_COMMAND(add_run);

}  // namespace
}  // namespace vkg::cli
