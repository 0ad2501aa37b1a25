// `vkgemma tokenize -m FILE -p TEXT`: the model's tokenization of a text, printed like
// llama-tokenize ("id -> 'piece'" per line, or "[id, id, ...]" with --ids).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "commands.h"
#include "common.h"
#include "gguf.h"
#include "gguf_vocab.h"
#include "tokenizer.h"

namespace vkg::cli {
namespace {

struct TokenizeArgs {
  std::string model, prompt;
  bool ids = false, no_bos = false, special = false;
};

void add_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Tokenize a text with a GGUF's vocabulary");
  auto a = std::make_shared<TokenizeArgs>();
  cmd->add_option("-m,--model", a->model,
                  "GGUF model file (its tokenizer.ggml.* metadata is used; default: the built-in tiny model)");
  cmd->add_option("-p,--prompt", a->prompt, "Text to tokenize")->required();
  cmd->add_flag("--ids", a->ids, "Print only the ids, as [1, 2, 3]");
  cmd->add_flag("--no-bos", a->no_bos, "Do not prepend the BOS token");
  cmd->add_flag("--special", a->special, "Parse control-token text such as <|turn> into those tokens");
  cmd->callback([a] {
    const GgufFile f = GgufFile::open(a->model.empty() ? builtin_model_path(/*quiet=*/true).string() : a->model);
    if (!gguf_has_vocab(f)) throw GgufError(fmt::format("{}: no tokenizer metadata (tokenizer.ggml.model)", f.source()));
    const Tokenizer tok(read_vocab(f));
    // BOS per the vocabulary: forced on for Gemma 4 (a notice says so when the file disagrees).
    const bool add_bos = !a->no_bos && tok.vocab().add_bos && tok.bos_id() >= 0;
    if (add_bos)
      for (const std::string& n : vocab_notices(tok.vocab())) std::cerr << "vkgemma: " << n << "\n";
    const std::vector<int32_t> ids = tok.encode(a->prompt, add_bos, a->special);
    std::string out;
    if (a->ids) {
      out = "[";
      for (size_t i = 0; i < ids.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", ids[i]);
      out += "]\n";
    } else {
      for (int32_t id : ids) out += fmt::format("{:>6} -> '{}'\n", id, tok.piece(id));
    }
    std::cout << out;
  });
}

VKG_CLI_COMMAND(add_tokenize);

}  // namespace
}  // namespace vkg::cli
