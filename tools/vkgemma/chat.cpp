// `vkgemma chat`: an interactive multi-turn conversation (works with piped stdin).
// Replies are shown without markup (reasoning only with --show-reasoning, on stderr; tool calls as
// [tool_call] JSON lines) and enter the history as the template wants them: the answer, the tool
// calls, and the reasoning only of turns that made tool calls.
// Commands: /reset, /tool TEXT (answer the next pending tool call), /assistant TEXT (a model turn
// written by you, parsed like a generated one), /help, /exit (or end of input).
// On a terminal: line editing and history (Debian's libedit, when the build found it); Ctrl-C
// during a reply stops it (the part shown stays in the conversation) and returns to the prompt;
// Ctrl-C at the prompt or Ctrl-D (end of input) leaves. After each reply a speed line on stderr.
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>

#include "chat.h"
#include "commands.h"
#include "common.h"
#include "reply.h"

#ifdef VKG_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace vkg::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;  // SIGINT seen since the last reset
extern "C" void on_sigint(int) { g_interrupted = 1; }

/// SIGINT sets g_interrupted instead of ending the process, while this object lives. No
/// SA_RESTART: a read blocked at the prompt returns (EINTR) so Ctrl-C there ends the chat.
class SigintGuard {
 public:
  SigintGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &old_);
  }
  ~SigintGuard() { sigaction(SIGINT, &old_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction old_ {};
};

/// One line of input: libedit's readline (editing, history) on a terminal when available, else
/// std::getline. nullopt at end of input or when Ctrl-C interrupted the read.
class LineReader {
 public:
  LineReader() : tty_(isatty(fileno(stdin)) != 0) {}
  std::optional<std::string> read(const char* prompt) {
#ifdef VKG_HAVE_LIBEDIT
    if (tty_) {
      char* raw = readline(prompt);
      if (!raw) return std::nullopt;
      std::string line(raw);
      std::free(raw);
      if (!line.empty()) add_history(line.c_str());
      return line;
    }
#endif
    if (tty_) std::fputs(prompt, stdout), std::fflush(stdout);
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    return line;
  }

 private:
  bool tty_;
};

using nlohmann::json;

constexpr const char* kHelp =
    "commands:\n"
    "  /reset            forget the conversation\n"
    "  /tool TEXT        answer the model's next pending tool call with TEXT (the tool's result);\n"
    "                    the model continues once every call of its turn has an answer\n"
    "  /assistant TEXT   add a model turn written by you instead of generating one (Gemma markup such\n"
    "                    as <|tool_call>...<tool_call|> is parsed as in a generated turn)\n"
    "  /help             this list\n"
    "  /exit, /quit      leave (so does end of input)\n"
    "In /tool and /assistant text, \\n, \\t and \\\\ stand for a newline, a tab and a backslash.\n";

/// "\n", "\t", "\\" escapes of a one-line command argument.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char c = s[++i];
      if (c == 'n') out += '\n';
      else if (c == 't') out += '\t';
      else if (c == '\\') out += '\\';
      else out += std::string{'\\', c};  // not an escape: kept as written
    } else {
      out += s[i];
    }
  }
  return out;
}

/// The argument of "/cmd ARG" when line is that command (ARG may be empty), else nullopt.
std::optional<std::string> command_arg(const std::string& line, std::string_view cmd) {
  if (!line.starts_with(cmd)) return std::nullopt;
  if (line.size() == cmd.size()) return std::string();
  if (line[cmd.size()] != ' ') return std::nullopt;
  return unescape(std::string_view(line).substr(cmd.size() + 1));
}

/// The tool calls of the last model turn that have no tool message after them yet.
std::vector<const json*> pending_calls(const json& history) {
  size_t i = history.size();
  size_t answered = 0;
  while (i > 0 && history[i - 1].value("role", "") == "tool") --i, ++answered;
  std::vector<const json*> out;
  if (i == 0 || history[i - 1].value("role", "") != "assistant" || !history[i - 1].contains("tool_calls")) return out;
  const json& calls = history[i - 1]["tool_calls"];
  for (size_t k = answered; k < calls.size(); ++k) out.push_back(&calls[k]);
  return out;
}

class ChatLoop {
 public:
  struct Args {
    ModelArgs model;
    SampleArgs sample;
    std::string system, tools, prompt_log;
    bool think = false, show_reasoning = false;
  };

  explicit ChatLoop(const Args& a) : a_(a), l_(load(a.model)), s_(*l_.model, {.n_ctx = a.model.n_ctx, .max_batch = a.model.batch}) {
    if (!a.tools.empty()) tools_ = load_tools(a.tools);
    if (!a.system.empty()) base_.push_back({{"role", "system"}, {"content", a.system}});
    history_ = base_;
    if (!a.prompt_log.empty()) {
      log_.open(a.prompt_log, std::ios::trunc);
      if (!log_) throw std::runtime_error(fmt::format("cannot write the prompt log {}", a.prompt_log));
    }
    if (a.model.verbose)
      std::fprintf(stderr, "vkgemma: seed %llu\n", static_cast<unsigned long long>(a.sample.seed_value()));
  }

  void run() {
    SigintGuard sigint;
    LineReader reader;
    for (;;) {
      g_interrupted = 0;
      const std::optional<std::string> got = reader.read("> ");
      if (!got) {
        if (g_interrupted) std::fputs("\n", stdout);  // Ctrl-C at the prompt: leave on a fresh line
        break;
      }
      const std::string& line = *got;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/help") {
        std::fputs(kHelp, stdout);
      } else if (line == "/reset") {
        history_ = base_;
        s_.reset();
        std::puts("(history cleared)");
      } else if (auto text = command_arg(line, "/tool")) {
        tool_response(*text);
      } else if (auto text = command_arg(line, "/assistant")) {
        ParsedReply reply;
        try {
          reply = parse_model_reply(*text);
        } catch (const ChatError& e) {
          std::fprintf(stderr, "vkgemma: /assistant: %s\n", e.what());
          continue;
        }
        add_reply(reply);
      } else if (!line.empty()) {
        history_.push_back({{"role", "user"}, {"content", line}});
        if (!generate()) history_.erase(history_.end() - 1);
      }
    }
    if (!a_.model.quiet) std::fprintf(stderr, "%s\n", stats_line(l_, s_).c_str());
  }

 private:
  void tool_response(const std::string& text) {
    const auto pending = pending_calls(history_);
    if (pending.empty()) {
      std::fprintf(stderr, "vkgemma: /tool: no tool call is waiting for an answer\n");
      return;
    }
    const json& call = *pending.front();
    history_.push_back({{"role", "tool"},
                        {"tool_call_id", call["id"]},
                        {"name", call["function"]["name"]},
                        {"content", text}});
    if (pending.size() == 1 && !generate()) history_.erase(history_.end() - 1);  // all answered: continue
  }

  /// Render the history, generate the model's turn and add it. False (history unchanged by this
  /// call) when the conversation no longer fits the context.
  bool generate() {
    const ChatOptions opt = chat_options(*l_.model, true, a_.think);
    const std::string text = format_chat(history_, tools_, opt);
    const auto full = s_.tokenize(text, true, 0);
    const auto todo = s_.reuse_prefix(full);
    if (s_.n_past() + todo.size() >= s_.n_ctx()) {
      std::fprintf(stderr, "vkgemma: the conversation no longer fits the context of %u tokens; use /reset or -c\n",
                   s_.n_ctx());
      return false;
    }
    if (log_.is_open()) {
      log_ << json{{"messages", history_},
                   {"tools", tools_},
                   {"enable_thinking", opt.enable_thinking},
                   {"template", opt.kind == ChatTemplate::Small ? "small" : "large"},
                   {"prompt", text}}
                  .dump()
           << "\n";
      log_.flush();
    }
    const Tokenizer& tok = l_.model->tokenizer();
    ReplyPrinter printer(tok, a_.show_reasoning, true, true, a_.sample.stop);
    const SessionStats before = s_.stats();
    g_interrupted = 0;
    auto r = s_.generate(todo, a_.sample.gen(*l_.model), [&](int32_t id, std::string_view piece) {
      return printer.on_token(id, piece) && !g_interrupted;
    });
    const bool interrupted = r.stop == StopReason::Cancelled && !printer.stopped();
    g_interrupted = 0;
    const ParsedReply reply = printer.finish();
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (!a_.model.quiet) {
      const std::string why = interrupted ? "interrupted" : printer.stopped() ? "stop_string" : stop_description(tok, r);
      std::fprintf(stderr, "[stop: %s | %s]\n", why.c_str(), turn_speed(before, s_.stats()).c_str());
    }
    add_reply(reply);
    return true;
  }

  /// "prompt N tok, X tok/s | reply M tok, Y tok/s" for one turn (the difference of two snapshots).
  static std::string turn_speed(const SessionStats& a, const SessionStats& b) {
    const auto rate = [](uint64_t n, double ms) { return ms > 0 ? n * 1000.0 / ms : 0.0; };
    const uint64_t np = b.prompt_tokens - a.prompt_tokens, ng = b.generated_tokens - a.generated_tokens;
    return fmt::format("prompt {} tok, {:.1f} tok/s | reply {} tok, {:.1f} tok/s", np, rate(np, b.prefill_ms - a.prefill_ms),
                       ng, rate(ng, b.decode_ms - a.decode_ms));
  }

  void add_reply(const ParsedReply& reply) {
    history_.push_back(assistant_message(reply, next_call_id_));
    next_call_id_ += reply.tool_calls.size();
  }

  const Args& a_;
  Loaded l_;
  Session s_;
  json tools_;  // null or the declarations
  json base_ = json::array(), history_;
  std::ofstream log_;
  size_t next_call_id_ = 0;
};

void add_chat(CLI::App& app) {
  auto a = std::make_shared<ChatLoop::Args>();
  auto* cmd = app.add_subcommand("chat", "Interactive multi-turn chat (/help lists the commands)");
  add_model_args(cmd, a->model);
  add_sample_args(cmd, a->sample);
  cmd->add_option("--system", a->system, "System message");
  cmd->add_flag("--think", a->think, "Thinking mode");
  cmd->add_flag("--show-reasoning", a->show_reasoning,
                "Show the model's reasoning on stderr between [reasoning] and [/reasoning]");
  cmd->add_option("--tools", a->tools,
                  "JSON file with tool declarations ([{\"type\": \"function\", \"function\": {...}}]); answer "
                  "the model's calls with /tool")
      ->check(CLI::ExistingFile);
  cmd->add_option("--prompt-log", a->prompt_log,
                  "Write each rendered prompt (with the messages it was rendered from) to FILE, one JSON line each");
  cmd->callback([a] { ChatLoop(*a).run(); });
}
VKG_CLI_COMMAND(add_chat);

}  // namespace
}  // namespace vkg::cli
