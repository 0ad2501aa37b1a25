// The mmproj loader (host/model/mmproj.h) on the golden synthetic mmproj of ../shared/golden/mm
// (written by an independent GGUF writer from MULTIMODAL.md §6) and on defective copies of it.
#include <fmt/format.h>

#include "gguf.h"
#include "gguf_fixture.h"
#include "golden.h"
#include "media_prompt.h"
#include "mmproj.h"
#include "gguf_vocab.h"
#include "tokenizer.h"
#include <set>

using namespace vkg;

namespace {

std::filesystem::path mm_dir() { return vkg::test::shared_dir() / "golden" / "mm" / "vision_gelu_tanh"; }

std::string load_error(std::vector<uint8_t> bytes) {
  try {
    GgufFile f = GgufFile::open_memory(std::move(bytes), "mm.gguf");
    load_mmproj(f);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("golden mmproj: both encoders, their shapes and MULTIMODAL.md's constants") {
  VKG_REQUIRE_SHARED();
  GgufFile f = GgufFile::open(mm_dir() / "mmproj.gguf");
  const MmprojModel mm = load_mmproj(f);
  REQUIRE(mm.vision);
  REQUIRE(mm.audio);
  CHECK(mm.n_embd_text == 64);
  const VisionConfig& v = mm.vision->config;
  CHECK(v.n_embd == 64);
  CHECK(v.n_head == 4);
  CHECK(v.head_dim == 16);
  CHECK(v.n_ff == 128);
  CHECK(v.n_layer == 2);
  CHECK(v.patch == 4);
  CHECK(v.pool == 3);
  CHECK(v.align() == 12);
  CHECK(v.pos_size == 64);
  CHECK(v.eps == doctest::Approx(1e-6));
  CHECK(v.act == VisionActivation::GeluTanh);         // clip.use_gelu = true
  CHECK(v.act_llamacpp == VisionActivation::GeluTanh);
  CHECK(mm.vision->weights.layers.size() == 2);
  CHECK_FALSE(mm.vision->weights.layers[0].attn_q.clip.clamps_input());  // no clamp scalars in this file
  const AudioConfig& a = mm.audio->config;
  CHECK(a.n_embd == 64);
  CHECK(a.n_head == 4);
  CHECK(a.head_dim == 16);
  CHECK(a.n_ff == 256);
  CHECK(a.n_mel == 16);
  CHECK(a.n_mel_sub() == 4);
  CHECK(a.conv0_ch == 8);
  CHECK(a.conv1_ch == 4);
  CHECK(a.n_out == 48);
  // Every tensor of the file is read by exactly one encoder.
  uint64_t params = vision_footprint(*mm.vision).params + audio_footprint(*mm.audio).params, file_params = 0;
  for (const GgufTensorInfo& t : f.tensors()) file_params += t.n_elements;
  CHECK(params == file_params);

  // Without use_gelu: HF keeps tanh-GELU, llama.cpp's key rule says GELU_quick.
  GgufFile nog = GgufFile::open_memory(vkg::test::rewrite_gguf(f, {"clip.use_gelu"}), "nogelu.gguf");
  const MmprojModel m2 = load_mmproj(nog);
  CHECK(m2.vision->config.act == VisionActivation::GeluTanh);
  CHECK(m2.vision->config.act_llamacpp == VisionActivation::GeluQuick);
}

TEST_CASE("clip scalars: read as the clippable linear's bounds") {
  VKG_REQUIRE_SHARED();
  GgufFile f = GgufFile::open(mm_dir() / "mmproj.gguf");
  GgufFile c = GgufFile::open_memory(
      vkg::test::rewrite_gguf_tensors(f, {}, {{"v.blk.1.ffn_up.input_min", {-2.0f}}, {"v.blk.1.ffn_up.output_max", {3.0f}}}),
      "clamped.gguf");
  const MmprojModel mm = load_mmproj(c);
  const ClipBounds& b = mm.vision->weights.layers[1].ffn_up.clip;
  CHECK(b.in_min == -2.0f);
  CHECK(b.out_max == 3.0f);
  CHECK(std::isinf(b.in_max));
  CHECK(b.clamps_input());
  CHECK(b.clamps_output());
  CHECK_FALSE(mm.vision->weights.layers[0].ffn_up.clip.clamps_output());
}

TEST_CASE("defective mmproj files are refused with one clear message") {
  VKG_REQUIRE_SHARED();
  GgufFile f = GgufFile::open(mm_dir() / "mmproj.gguf");
  auto with_key = [&](const std::string& key, const std::function<void(GgufWriter&)>& set) {
    return load_error(vkg::test::rewrite_gguf(f, {key}, set));
  };
  CHECK(with_key("clip.vision.projector_type", [](GgufWriter& w) { w.add_string("clip.vision.projector_type", "gemma4uv"); })
            .find("projector type 'gemma4uv' is not supported") != std::string::npos);
  CHECK(with_key("general.architecture", [](GgufWriter& w) { w.add_string("general.architecture", "gemma4"); })
            .find("not an mmproj file (it is a text model") != std::string::npos);
  CHECK(with_key("clip.vision.attention.head_count", [](GgufWriter& w) { w.add_u32("clip.vision.attention.head_count", 5); })
            .find("not a multiple of the 5 heads") != std::string::npos);
  CHECK(with_key("clip.audio.num_mel_bins", [](GgufWriter& w) { w.add_u32("clip.audio.num_mel_bins", 32); })
            .find("'a.input_projection.weight' has shape [16, 64], expected [32, 64]") != std::string::npos);
  CHECK(with_key("clip.has_vision_encoder", [](GgufWriter& w) { w.add_bool("clip.has_vision_encoder", false); })
            .find("does not know for gemma4a: 'v.patch_embd.weight'") != std::string::npos);
  CHECK(load_error(vkg::test::rewrite_gguf_tensors(f, {"v.blk.1.attn_k_norm.weight"}))
            .find("missing tensor 'v.blk.1.attn_k_norm.weight'") != std::string::npos);
  CHECK(load_error(vkg::test::rewrite_gguf_tensors(f, {}, {{"v.blk.0.mystery.weight", {1, 2, 3, 4}}}))
            .find("'v.blk.0.mystery.weight'") != std::string::npos);
  CHECK(load_error(vkg::test::rewrite_gguf_tensors(f, {}, {{"a.blk.0.attn_q.input_min", {1, 2}}}))
            .find("'a.blk.0.attn_q.input_min' has shape [2], expected [1]") != std::string::npos);
  CHECK(load_error(vkg::test::rewrite_gguf_tensors(f, {}, {{"a.blk.0.attn_q.input_min", {5}}, {"a.blk.0.attn_q.input_max", {1}}}))
            .find("clip bounds of 'a.blk.0.attn_q' are empty") != std::string::npos);
  // A text model is not an mmproj.
  GgufFile text = GgufFile::open(mm_dir() / "model.gguf");
  CHECK_THROWS_WITH_AS(load_mmproj(text), doctest::Contains("not 'clip'"), ModelError);
}

TEST_CASE("an mmproj for another width is refused before anything is allocated") {
  VKG_REQUIRE_SHARED();
  GgufFile f = GgufFile::open(mm_dir() / "mmproj.gguf");
  const MmprojModel mm = load_mmproj(f);
  Gemma4Config text;
  text.n_embd = 1536;
  text.name = "gemma-4-e2b";
  CHECK_THROWS_WITH_AS(check_mmproj_fits(mm, text, "mm.gguf"),
                       "mm.gguf: the mmproj projects to 64 wide embeddings; the text model 'gemma-4-e2b' is 1536 wide "
                       "(an mmproj for another model?)",
                       ModelError);
  text.n_embd = 64;
  CHECK_NOTHROW(check_mmproj_fits(mm, text, "mm.gguf"));
}

TEST_CASE("media prompt: the golden chat prompts tokenize as llama.cpp's mtmd does") {
  VKG_REQUIRE_SHARED();
  for (const char* name : {"vision_gelu_tanh", "audio_1s"}) {
    CAPTURE(name);
    const auto dir = vkg::test::shared_dir() / "golden" / "mm" / name;
    GgufFile f = GgufFile::open(dir / "model.gguf");
    const Tokenizer tok(read_vocab(f));
    const MediaTokens ids = find_media_tokens(tok);
    CHECK(ids.image_begin == 505);
    CHECK(ids.audio_begin == 506);
    CHECK(ids.image_end == 509);
    CHECK(ids.audio_end == 510);
    auto tj = nlohmann::json::parse(std::ifstream(dir / "tokens.json"));
    const auto want = tj.at("tokens").get<std::vector<int32_t>>();
    const std::string prompt = tj.at("prompt").get<std::string>();
    SoftEmbeddings item;
    item.kind = std::string(name).starts_with("audio") ? MediaKind::Audio : MediaKind::Image;
    item.n_embd = 64;
    item.n_tokens = static_cast<uint32_t>(std::count(want.begin(), want.end(), -1));
    item.rows.resize(size_t(item.n_tokens) * 64);
    for (size_t i = 0; i < item.rows.size(); ++i) item.rows[i] = float(i);
    item.hash = 42;
    const MediaPrompt p = tokenize_media_prompt(tok, prompt, std::span(&item, 1), ids, /*add_bos=*/true);
    REQUIRE(p.tokens.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      if (want[i] < 0) {
        CHECK(p.tokens[i] < 0);
      } else {
        CHECK(p.tokens[i] == want[i]);
      }
    }
    CHECK(p.soft == item.rows);
    // Distinct ids inside an item; the same item gives the same ids, another hash other ids.
    std::set<int32_t> soft_ids(p.tokens.begin(), p.tokens.end());
    CHECK(std::count_if(soft_ids.begin(), soft_ids.end(), [](int32_t v) { return v < 0; }) == item.n_tokens);
    SoftEmbeddings other = item;
    other.hash = 43;
    const MediaPrompt q = tokenize_media_prompt(tok, prompt, std::span(&other, 1), ids, true);
    const size_t first_soft = std::find(want.begin(), want.end(), -1) - want.begin();
    CHECK(q.tokens[first_soft] != p.tokens[first_soft]);
    CHECK(tokenize_media_prompt(tok, prompt, std::span(&item, 1), ids, true).tokens == p.tokens);
    // Rows of a suffix: everything after the soft span has none left.
    CHECK(soft_rows_from(p.tokens, first_soft + 1, p.soft, 64).size() == p.soft.size() - 64);
    CHECK(soft_rows_from(p.tokens, p.tokens.size() - 1, p.soft, 64).empty());
    // Markers and items must agree.
    CHECK_THROWS_WITH_AS(tokenize_media_prompt(tok, prompt, {}, ids, true),
                         "the prompt has 1 media marker (<__media__>) but 0 image/audio inputs were given", Error);
  }
}
