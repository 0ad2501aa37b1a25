#include "model.h"
#include "session_plan.h"

#include <algorithm>
#include <chrono>

#include "context.h"
#include "gguf_vocab.h"
#include "weight_convert.h"

namespace vkg {

Model::Model(Device& dev, GgufFile file) : dev_(dev), file_(std::move(file)) {}

std::unique_ptr<Model> Model::load(Device& dev, const std::filesystem::path& path, const UploadProgress& progress,
                                   const ForwardOptions& session, uint64_t budget) {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<Model> m(new Model(dev, GgufFile::open(path)));
  m->gemma_ = load_gemma4(m->file_);
  m->notices_ = convert_for_device(m->gemma_);
  m->tok_ = std::make_unique<Tokenizer>(read_vocab(m->file_));
  ForwardOptions reserve = session;  // a session's context is at most the model's
  if (m->gemma_.config.n_ctx_train) reserve.n_ctx = std::min(reserve.n_ctx, m->gemma_.config.n_ctx_train);
  // Exact (residency.h): the weights and a session with `reserve` options take exactly
  // plan.device_bytes(), so the plan may use every plannable byte.
  const uint64_t plannable = dev.allocator().plannable_bytes();
  ResidencyBudget b;
  b.available = plannable;
  b.in_use = dev.allocator().stats().device_local_allocated;
  if (budget && budget < plannable) {  // the caller's budget covers this model and its sessions alone
    b.available = budget;
    b.in_use = 0;
  }
  b.session_bytes = session_device_bytes(dev, m->gemma_, reserve);
  b.force_staging = reserve.force_staging;
  const ResidencyPlan plan = plan_residency(dev.caps(), dev.allocator().rules(), m->gemma_, b);
  m->weights_ = upload_weights(dev, m->gemma_, progress, &m->file_, &plan);
  m->load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return m;
}

ChatOptions chat_options(const Model& model, bool add_generation_prompt, bool enable_thinking) {
  const Tokenizer& tok = model.tokenizer();
  ChatOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.enable_thinking = enable_thinking;
  o.bos_token = tok.bos_id() >= 0 ? tok.token_text(tok.bos_id()) : "";
  o.kind = chat_template_for(model.config().n_ple > 0);
  return o;
}

} // namespace vkg
