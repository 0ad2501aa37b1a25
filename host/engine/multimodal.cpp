#include "multimodal.h"

#include <fmt/format.h>

namespace vkg {

Multimodal::Multimodal(const Model& model, GgufFile file, MultimodalOptions opts)
    : model_(model), file_(std::move(file)), opts_(opts) {}

Multimodal::~Multimodal() = default;

std::unique_ptr<Multimodal> Multimodal::load(const Model& model, const std::filesystem::path& path,
                                             MultimodalOptions opts) {
  std::unique_ptr<Multimodal> m(new Multimodal(model, GgufFile::open(path), opts));
  m->mm_ = load_mmproj(m->file_);
  check_mmproj_fits(m->mm_, model.config(), m->file_.source());
  m->tokens_ = find_media_tokens(model.tokenizer());
  auto need = [&](bool has, int32_t a, int32_t b, const char* what) {
    if (has && (a < 0 || b < 0))
      throw Error(ErrorCode::bad_model, fmt::format("{}: the text model's vocabulary has no {} tokens, so its {} encoder "
                                                    "cannot be used with it", m->file_.source(), what,
                                                    what[2] == 'i' ? "image" : "audio"));
  };
  need(m->has_vision(), m->tokens_.image_begin, m->tokens_.image_end, "<|image> / <image|>");
  need(m->has_audio(), m->tokens_.audio_begin, m->tokens_.audio_end, "<|audio> / <audio|>");
  return m;
}

}  // namespace vkg
