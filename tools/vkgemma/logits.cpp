// `vkgemma logits`: the logits of every position, as float32 [n_tokens][n_vocab], plus a JSON
// sidecar (OUT.json) with the tokens. Evaluated as one batch (in chunks) or token by token.
#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "error.h"
#include "reference.h"

namespace vkg::cli {
namespace {

std::vector<int32_t> parse_ids(const std::string& s) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw CLI::ValidationError("--tokens", fmt::format("'{}' is not a token id", item));
    }
  }
  return ids;
}

void add_logits(CLI::App& app) {
  struct Args {
    ModelArgs model;
    std::string tokens, prompt, out;
    bool sequential = false, reference = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("logits", "Write the logits of every position of a prompt (float32, row-major)");
  add_model_args(cmd, a->model);
  auto* tok = cmd->add_option("--tokens", a->tokens, "Comma-separated token ids (evaluated exactly, nothing added)");
  auto* p = cmd->add_option("-p,--prompt", a->prompt, "Text (tokenized with BOS, special tokens parsed)");
  tok->excludes(p);
  cmd->add_flag("--sequential", a->sequential, "Evaluate one token at a time instead of as a batch");
  cmd->add_flag("--reference", a->reference, "Use the plain C++ CPU reference forward pass (for debugging)");
  cmd->add_option("-o,--output", a->out, "Output file (n_tokens x n_vocab float32)")->required();
  cmd->callback([a] {
    if (a->tokens.empty() && a->prompt.empty()) throw CLI::ValidationError("logits", "give --tokens or -p");
    const std::vector<int32_t> given = parse_ids(a->tokens);  // before any device opens
    Loaded l = load(a->model);
    Session s(*l.model, {.n_ctx = a->model.n_ctx, .max_batch = a->model.batch,
                         .matvec_split_k = a->model.session().matvec_split_k});
    const auto ids = a->tokens.empty() ? s.tokenize(a->prompt) : given;
    if (ids.empty()) throw Error(ErrorCode::bad_input, "no tokens to evaluate");
    if (ids.size() > a->model.n_ctx)
      throw Error(ErrorCode::bad_input,
                  fmt::format("{} tokens do not fit the context of {} (use -c)", ids.size(), a->model.n_ctx));
    const uint32_t n_vocab = l.model->config().n_vocab;
    std::vector<float> all, one;
    if (a->reference) {
      ReferenceModel ref(l.model->gemma());
      auto st = ref.new_state(a->model.n_ctx);
      if (a->sequential) {
        for (int32_t id : ids) {
          one = ref.eval(st, std::span<const int32_t>(&id, 1), true);
          all.insert(all.end(), one.begin(), one.end());
        }
      } else {
        all = ref.eval(st, ids, true);
      }
    }
    Gemma4Forward fwd(*l.device, l.model->gemma(), l.model->weights(),
                      {.n_ctx = a->model.n_ctx, .max_batch = a->model.batch});
    if (a->reference) {
    } else if (a->sequential) {
      all.reserve(ids.size() * n_vocab);
      for (int32_t id : ids) {
        fwd.eval(std::span<const int32_t>(&id, 1), true, one);
        all.insert(all.end(), one.begin(), one.end());
      }
    } else {
      fwd.eval(ids, true, all);
    }
    std::ofstream f(a->out, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + a->out);
    f.write(reinterpret_cast<const char*>(all.data()), static_cast<std::streamsize>(all.size() * 4));
    if (!f) throw std::runtime_error("write failed: " + a->out);
    nlohmann::json side = {{"tokens", ids}, {"n_tokens", ids.size()}, {"n_vocab", n_vocab},
                           {"layout", "float32 little-endian, n_tokens x n_vocab, row-major"},
                           {"mode", a->sequential ? "sequential" : "batch"},
                           {"backend", a->reference ? "cpu-reference" : "vulkan"}};
    std::ofstream(a->out + ".json") << side.dump(2) << "\n";
  });
}
VKG_CLI_COMMAND(add_logits);

}  // namespace
}  // namespace vkg::cli
