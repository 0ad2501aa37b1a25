// `vkgemma perplexity`: perplexity over consecutive chunks of a text file, like llama-perplexity:
// each chunk of n_ctx tokens starts with BOS, and the negative log-likelihood is taken over its
// second half (the first half only provides context).
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "common.h"
#include "error.h"

namespace vkg::cli {
namespace {

void add_perplexity(CLI::App& app) {
  struct Args {
    ModelArgs model;
    std::string file;
    int chunks = -1;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  a->model.n_ctx = 512;
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a text file over consecutive chunks of -c tokens");
  add_model_args(cmd, a->model);
  cmd->add_option("-f,--file", a->file, "Text file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--chunks", a->chunks, "Evaluate at most this many chunks (-1: all)")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            const long v = std::strtol(s.c_str(), nullptr, 10);
            return v == -1 || v >= 1 ? std::string() : "must be a positive number of chunks, or -1 for all";
          },
          "N"));
  cmd->add_flag("--json", a->json, "Machine-readable output");
  cmd->callback([a] {
    if (a->model.n_ctx < 4) throw CLI::ValidationError("-c", "perplexity needs a context of at least 4 tokens");
    std::ifstream f(a->file, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    Loaded l = load(a->model);
    const auto& tok = l.model->tokenizer();
    const auto ids = tok.encode(ss.str(), /*add_bos=*/false, /*parse_special=*/false);
    const uint32_t n_ctx = a->model.n_ctx;
    const uint32_t per_chunk = n_ctx - 1;  // one position is taken by BOS
    uint64_t n_chunks = ids.size() / per_chunk;
    if (a->chunks >= 0) n_chunks = std::min<uint64_t>(n_chunks, uint64_t(a->chunks));
    if (n_chunks == 0)
      throw Error(ErrorCode::bad_input, fmt::format("{} has {} tokens, fewer than one chunk of {} (lower -c)", a->file,
                                           ids.size(), per_chunk));
    Gemma4Forward fwd(*l.device, l.model->gemma(), l.model->weights(),
                      {.n_ctx = n_ctx, .max_batch = std::min(a->model.batch, n_ctx)});
    const uint32_t n_vocab = l.model->config().n_vocab;
    double nll = 0;
    uint64_t counted = 0;
    std::vector<float> logits;
    nlohmann::json per_chunk_ppl = nlohmann::json::array();
    for (uint64_t c = 0; c < n_chunks; ++c) {
      std::vector<int32_t> chunk = {tok.bos_id()};
      chunk.insert(chunk.end(), ids.begin() + c * per_chunk, ids.begin() + (c + 1) * per_chunk);
      fwd.reset();
      fwd.eval(chunk, /*all_logits=*/true, logits);
      double chunk_nll = 0;
      uint32_t chunk_n = 0;
      for (uint32_t i = n_ctx / 2; i + 1 < chunk.size(); ++i) {  // predict chunk[i + 1] from position i
        const float* row = logits.data() + size_t(i) * n_vocab;
        float mx = row[0];
        for (uint32_t v = 1; v < n_vocab; ++v) mx = std::max(mx, row[v]);
        double sum = 0;
        for (uint32_t v = 0; v < n_vocab; ++v) sum += std::exp(double(row[v]) - mx);
        chunk_nll += -(double(row[chunk[i + 1]]) - mx - std::log(sum));
        chunk_n++;
      }
      nll += chunk_nll;
      counted += chunk_n;
      per_chunk_ppl.push_back(std::exp(chunk_nll / chunk_n));
      if (!a->json && !a->model.quiet) std::fprintf(stderr, "[%llu] %.4f\n", static_cast<unsigned long long>(c + 1), std::exp(nll / counted));
    }
    const double ppl = std::exp(nll / counted);
    if (a->json) {
      std::cout << nlohmann::json{{"perplexity", ppl}, {"chunks", n_chunks}, {"n_ctx", n_ctx}, {"tokens_scored", counted},
                                  {"per_chunk", per_chunk_ppl}}.dump(2)
                << "\n";
    } else {
      std::cout << fmt::format("perplexity {:.4f} over {} chunks of {} tokens ({} tokens scored)\n", ppl, n_chunks,
                               n_ctx, counted);
    }
  });
}
VKG_CLI_COMMAND(add_perplexity);

}  // namespace
}  // namespace vkg::cli
