// An mmproj loaded next to a text model: the file mapping, its description (host/model/mmproj.h)
// checked against the text model (width, media tokens in the vocabulary), and the encoders that
// turn preprocessed images and audio features into soft tokens (media_prompt.h).
//
//   auto mm = Multimodal::load(model, "mmproj-gemma-4-e2b.gguf");   // nothing allocated yet
//   SoftEmbeddings img = mm->encode_image(w, h, planar);              // weights resident meanwhile
#pragma once
#include <filesystem>
#include <memory>

#include "gguf.h"
#include "media_prompt.h"
#include "mmproj.h"
#include "model.h"

namespace vkg {

struct MultimodalOptions {
  bool keep_vision = false;  // vision weights stay on the device between images (--keep-vision)
  bool keep_audio = false;   // audio weights stay on the device between clips (--keep-audio)
};

class Multimodal {
 public:
  /// Map and validate `path` for `model`. Errors: GgufError / ModelError (not an mmproj, an
  /// unsupported projector, defects, a width other than the text model's), Error(bad_model)
  /// when the text model's vocabulary lacks the media tokens of an encoder the file has.
  /// Nothing is allocated on the device.
  static std::unique_ptr<Multimodal> load(const Model& model, const std::filesystem::path& path,
                                          MultimodalOptions opts = {});
  ~Multimodal();

  const GgufFile& file() const { return file_; }
  const MmprojModel& mmproj() const { return mm_; }
  const MediaTokens& tokens() const { return tokens_; }
  bool has_vision() const { return mm_.vision.has_value(); }
  bool has_audio() const { return mm_.audio.has_value(); }
  const MultimodalOptions& options() const { return opts_; }

 private:
  Multimodal(const Model& model, GgufFile file, MultimodalOptions opts);
  const Model& model_;
  GgufFile file_;
  MmprojModel mm_;
  MediaTokens tokens_;
  MultimodalOptions opts_;
};

}  // namespace vkg
