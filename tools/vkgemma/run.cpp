// `vkgemma run`: one prompt in, a streamed answer out, statistics on stderr. The answer is shown
// without markup: reasoning only with --show-reasoning (on stderr, marked), tool calls as JSON.
#include <fmt/format.h>

#include <cstdio>
#include <iostream>

#include "chat.h"
#include "commands.h"
#include "common.h"
#include "reply.h"

namespace vkg::cli {
namespace {

struct RunArgs {
  ModelArgs model;
  SampleArgs sample;
  std::string prompt = "Why is the sky blue?";
  std::string prompt_file;  // -f: the prompt from a file, "-" for stdin
  std::string system, tools;
  bool think = false, raw = false, json = false, show_reasoning = false;
};

void add_run(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand("run", "Generate a reply to one prompt (streamed to stdout)");
  add_model_args(cmd, a->model);
  add_sample_args(cmd, a->sample);
  auto* p = cmd->add_option("-p,--prompt", a->prompt, "The user's message");
  cmd->add_option("-f,--file", a->prompt_file, "Read the user's message from a file (- for stdin)")
      ->check(CLI::Validator([](std::string& s) { return s == "-" ? std::string() : CLI::ExistingFile(s); }, "FILE"))
      ->excludes(p);
  cmd->add_option("--system", a->system, "System message");
  cmd->add_flag("--think", a->think, "Let the model think before answering (Gemma 4 thinking mode)");
  cmd->add_flag("--show-reasoning", a->show_reasoning,
                "Show the model's reasoning (thought channel) on stderr between [reasoning] and [/reasoning]");
  cmd->add_option("--tools", a->tools,
                  "JSON file with tool declarations ([{\"type\": \"function\", \"function\": {...}}]); the "
                  "model's tool calls are printed as [tool_call] JSON lines")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--raw", a->raw, "Feed the prompt as is, without the chat template");
  cmd->add_flag("--json", a->json,
                "Print one JSON object (answer, reasoning, tool calls, stop token, tokens, statistics) instead of "
                "streaming");
  cmd->callback([a] {
    if (a->raw && (!a->tools.empty() || !a->system.empty() || a->think))
      throw CLI::ValidationError("--raw", "--raw feeds the prompt as is: --system, --tools and --think need the chat template");
    const nlohmann::json tools = a->tools.empty() ? nlohmann::json() : load_tools(a->tools);
    if (!a->prompt_file.empty()) {
      a->prompt = read_text_input(a->prompt_file);
      if (a->prompt.ends_with('\n')) a->prompt.pop_back();  // the file's last line break, as llama.cpp's -f
    }
    Loaded l = load(a->model);
    Session s(*l.model, {.n_ctx = a->model.n_ctx, .max_batch = a->model.batch,
                         .matvec_split_k = a->model.session().matvec_split_k});
    const Tokenizer& tok = l.model->tokenizer();
    std::vector<int32_t> prompt;
    if (a->raw) {
      prompt = s.tokenize(a->prompt, /*parse_special=*/true);
    } else {
      nlohmann::json msgs = nlohmann::json::array();
      if (!a->system.empty()) msgs.push_back({{"role", "system"}, {"content", a->system}});
      msgs.push_back({{"role", "user"}, {"content", a->prompt}});
      const std::string text = format_chat(msgs, tools, chat_options(*l.model, true, a->think));
      prompt = s.tokenize(text, /*parse_special=*/true, /*add_bos=*/0);  // the template writes <bos>
    }
    // --raw: the answer is the text minus markup, byte for byte (no trimming).
    ReplyPrinter printer(tok, a->show_reasoning, !a->json, /*trim=*/!a->raw, a->sample.stop);
    const GenerateOptions gen = a->sample.gen(*l.model);
    if (a->model.verbose) std::fprintf(stderr, "vkgemma: seed %llu\n", static_cast<unsigned long long>(gen.sampler.seed));
    auto r = s.generate(prompt, gen,
                        [&](int32_t id, std::string_view piece) { return printer.on_token(id, piece); });
    const ParsedReply reply = printer.finish();
    if (a->json) {
      auto j = stats_json(l, s);
      j["text"] = reply.content;
      j["reasoning"] = reply.reasoning;
      nlohmann::json calls = nlohmann::json::array();
      for (const ToolCall& c : reply.tool_calls) calls.push_back(c.to_json());
      j["tool_calls"] = std::move(calls);
      j["tool_call_errors"] = reply.errors;
      j["tokens"] = r.tokens;
      j["generated_tokens"] = r.tokens.size();  // decode_steps: one fewer (the last token is not evaluated)
      j["seed"] = gen.sampler.seed;
      j["prompt_ids"] = prompt;
      add_stop_json(j, tok, r);
      if (printer.stopped()) j["stop"] = "stop_string";
      std::cout << j.dump(2) << "\n";
    } else {
      std::fputs("\n", stdout);
      std::fflush(stdout);
      if (!a->model.quiet)
        std::fprintf(stderr, "%s | stop %s\n", stats_line(l, s).c_str(),
                     printer.stopped() ? "stop_string" : stop_description(tok, r).c_str());
    }
  });
}
VKG_CLI_COMMAND(add_run);

}  // namespace
}  // namespace vkg::cli
