#include "mmproj.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <set>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace vkg {
namespace {

constexpr uint32_t kMaxWidth = 1u << 14;   // encoder / text widths (E2B: 768, 1024, 1536)
constexpr uint32_t kMaxLayers = 256;
constexpr uint32_t kMaxHeads = 256;
constexpr uint32_t kMaxPatch = 256;
constexpr uint32_t kMaxPosTable = 1u << 16;

// Collects what the loader read, so that any other tensor of the file can be refused by name.
class Reader {
 public:
  explicit Reader(const GgufFile& f) : f_(f) {}
  const GgufFile& file() const { return f_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError(fmt::format("{}: {}", f_.source(), what));
  }
  uint32_t req_u32(const std::string& k, uint32_t max) const {
    if (!f_.has(k)) fail(fmt::format("missing key {}", k));
    const uint64_t v = f_.get_uint(k);
    if (v == 0) fail(fmt::format("{} must be > 0", k));
    if (v > max) fail(fmt::format("{} = {} is implausible (max {})", k, v, max));
    return static_cast<uint32_t>(v);
  }
  uint32_t opt_u32(const std::string& k, uint32_t def, uint32_t max) const { return f_.has(k) ? req_u32(k, max) : def; }
  bool opt_bool(const std::string& k) const { return f_.has(k) && f_.get_bool(k); }
  std::array<float, 3> f32x3(const std::string& k, float def) const {
    if (!f_.has(k)) return {def, def, def};
    const std::vector<float> a = f_.get_array<float>(k);
    if (a.size() < 3) fail(fmt::format("{} has {} entries, expected 3 (R, G, B)", k, a.size()));
    for (float v : a)
      if (!std::isfinite(v)) fail(fmt::format("{} holds a non-finite value", k));
    return {a[0], a[1], a[2]};
  }

  // A tensor of exactly this shape (ne, trailing 1s optional) and an allowed type.
  enum class Kind { Matrix, Vector, Conv, Scalar };
  const GgufTensorInfo* tensor(const std::string& name, std::vector<uint64_t> ne, Kind kind, bool required = true) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (!t) {
      if (required) fail(fmt::format("missing tensor '{}'", name));
      return nullptr;
    }
    used_.insert(name);
    const std::string want = fmt::format("[{}]", fmt::join(ne, ", "));
    ne.resize(kGgufMaxDims, 1);
    for (size_t i = 0; i < kGgufMaxDims; ++i)
      if (t->ne[i] != ne[i]) fail(fmt::format("tensor '{}' has shape {}, expected {}", name, gguf_shape_string(*t), want));
    bool ok = false;
    switch (kind) {
      case Kind::Matrix: ok = gemma4_matrix_type_allowed(t->type); break;
      case Kind::Vector: ok = gemma4_vector_type_allowed(t->type); break;
      case Kind::Conv: ok = t->type == GgmlType::F32 || t->type == GgmlType::F16; break;
      case Kind::Scalar: ok = t->type == GgmlType::F32; break;
    }
    if (!ok)
      fail(fmt::format("tensor '{}' has type {}, which vkgemma does not support there ({})", name,
                       ggml_type_name(static_cast<uint32_t>(t->type)),
                       kind == Kind::Matrix   ? gemma4_matrix_type_names()
                       : kind == Kind::Vector ? std::string("F32, F16, BF16")
                       : kind == Kind::Conv   ? std::string("F32, F16")
                                              : std::string("F32")));
    return t;
  }
  const GgufTensorInfo* vec(const std::string& name, uint64_t n, bool required = true) {
    return tensor(name, {n}, Kind::Vector, required);
  }
  // X.weight [in, out] plus the optional clip scalars X.{input,output}_{min,max}.
  ClipLinear linear(const std::string& base, uint64_t in, uint64_t out, bool clip = true) {
    ClipLinear l;
    l.w = tensor(base + ".weight", {in, out}, Kind::Matrix);
    if (!clip) return l;
    auto scalar = [&](const char* suffix, float& dst) {
      const std::string n = fmt::format("{}.{}", base, suffix);
      if (const GgufTensorInfo* t = tensor(n, {1}, Kind::Scalar, false)) {
        float v;
        std::memcpy(&v, t->data, sizeof v);
        if (std::isnan(v)) fail(fmt::format("tensor '{}' is NaN", n));
        dst = v;
      }
    };
    scalar("input_min", l.clip.in_min);
    scalar("input_max", l.clip.in_max);
    scalar("output_min", l.clip.out_min);
    scalar("output_max", l.clip.out_max);
    if (l.clip.in_min > l.clip.in_max || l.clip.out_min > l.clip.out_max)
      fail(fmt::format("clip bounds of '{}' are empty (min > max)", base));
    return l;
  }
  void refuse_unknown(const std::string& prefix_a, const std::string& prefix_b) const {
    std::vector<std::string> unknown;
    for (const GgufTensorInfo& t : f_.tensors())
      if (!used_.count(t.name)) unknown.push_back(t.name);
    if (unknown.empty()) return;
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 5; ++i) list += fmt::format("{}'{}'", i ? ", " : "", unknown[i]);
    if (unknown.size() > 5) list += fmt::format(" and {} more", unknown.size() - 5);
    fail(fmt::format("the file holds tensors vkgemma does not know for {}{}: {}", prefix_a, prefix_b, list));
  }

 private:
  const GgufFile& f_;
  std::set<std::string> used_;
};

std::string projector_type(const GgufFile& f, const char* modality) {
  const std::string per = fmt::format("clip.{}.projector_type", modality);
  if (f.has(per)) return f.get_string(per);
  if (f.has("clip.projector_type")) return f.get_string("clip.projector_type");
  throw ModelError(fmt::format("{}: missing key {} (or clip.projector_type)", f.source(), per));
}

void check_projector(Reader& r, const std::string& type, const char* want) {
  if (type == want) return;
  r.fail(fmt::format("projector type '{}' is not supported (supported: gemma4v for images, gemma4a for audio)", type));
}

VisionModel load_vision(Reader& r) {
  const GgufFile& f = r.file();
  check_projector(r, projector_type(f, "vision"), "gemma4v");
  VisionModel m;
  VisionConfig& c = m.config;
  c.n_embd = r.req_u32("clip.vision.embedding_length", kMaxWidth);
  c.n_layer = r.req_u32("clip.vision.block_count", kMaxLayers);
  c.n_head = r.req_u32("clip.vision.attention.head_count", kMaxHeads);
  c.patch = r.req_u32("clip.vision.patch_size", kMaxPatch);
  c.pool = r.opt_u32("clip.vision.projector.scale_factor", 3, 16);
  if (!f.has("clip.vision.attention.layer_norm_epsilon")) r.fail("missing key clip.vision.attention.layer_norm_epsilon");
  c.eps = static_cast<float>(f.get_float("clip.vision.attention.layer_norm_epsilon"));
  if (!(c.eps > 0 && c.eps < 1)) r.fail(fmt::format("clip.vision.attention.layer_norm_epsilon = {} is not in (0, 1)", c.eps));
  if (c.n_embd % c.n_head) r.fail(fmt::format("clip.vision.embedding_length {} is not a multiple of the {} heads", c.n_embd, c.n_head));
  c.head_dim = c.n_embd / c.n_head;
  if (c.head_dim % 4) r.fail(fmt::format("vision head size {} is not a multiple of 4 (two RoPE halves)", c.head_dim));
  c.mean = r.f32x3("clip.vision.image_mean", 0.0f);
  c.std = r.f32x3("clip.vision.image_std", 1.0f);
  for (float s : c.std)
    if (!(s > 0)) r.fail("clip.vision.image_std must be > 0");
  const bool gelu = r.opt_bool("clip.use_gelu"), silu = r.opt_bool("clip.use_silu");
  c.act = silu && !gelu ? VisionActivation::Silu : VisionActivation::GeluTanh;
  c.act_llamacpp = gelu ? VisionActivation::GeluTanh : silu ? VisionActivation::Silu : VisionActivation::GeluQuick;

  VisionWeights& w = m.weights;
  const uint64_t d = c.n_embd;
  w.patch_embd = r.tensor("v.patch_embd.weight", {c.patch, c.patch, 3, d}, Reader::Kind::Matrix);
  const GgufTensorInfo* pos = f.find_tensor("v.position_embd.weight");
  if (!pos) r.fail("missing tensor 'v.position_embd.weight'");
  if (pos->ne[1] == 0 || pos->ne[1] > kMaxPosTable) r.fail("tensor 'v.position_embd.weight' has an implausible table length");
  c.pos_size = static_cast<uint32_t>(pos->ne[1]);
  w.position_embd = r.tensor("v.position_embd.weight", {d, c.pos_size, 2}, Reader::Kind::Conv);
  const GgufTensorInfo* proj = f.find_tensor("mm.input_projection.weight");
  if (!proj) r.fail("missing tensor 'mm.input_projection.weight'");
  if (proj->ne[1] == 0 || proj->ne[1] > kMaxWidth) r.fail("tensor 'mm.input_projection.weight' has an implausible width");
  c.n_embd_text = static_cast<uint32_t>(proj->ne[1]);
  w.input_projection = r.linear("mm.input_projection", d, c.n_embd_text);
  w.std_bias = r.vec("v.std_bias", d, false);
  w.std_scale = r.vec("v.std_scale", d, false);
  if (!w.std_bias != !w.std_scale) r.fail("v.std_bias and v.std_scale must come together");

  const GgufTensorInfo* gate0 = f.find_tensor("v.blk.0.ffn_gate.weight");
  if (!gate0) r.fail("missing tensor 'v.blk.0.ffn_gate.weight'");
  if (gate0->ne[1] == 0 || gate0->ne[1] > (1u << 18)) r.fail("tensor 'v.blk.0.ffn_gate.weight' has an implausible width");
  c.n_ff = static_cast<uint32_t>(gate0->ne[1]);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const std::string b = fmt::format("v.blk.{}.", l);
    VisionLayerWeights L;
    L.ln1 = r.vec(b + "ln1.weight", d);
    L.attn_q = r.linear(b + "attn_q", d, d);
    L.attn_k = r.linear(b + "attn_k", d, d);
    L.attn_v = r.linear(b + "attn_v", d, d);
    L.attn_out = r.linear(b + "attn_out", d, d);
    L.attn_q_norm = r.vec(b + "attn_q_norm.weight", c.head_dim);
    L.attn_k_norm = r.vec(b + "attn_k_norm.weight", c.head_dim);
    L.attn_post_norm = r.vec(b + "attn_post_norm.weight", d);
    L.ln2 = r.vec(b + "ln2.weight", d);
    L.ffn_gate = r.linear(b + "ffn_gate", d, c.n_ff);
    L.ffn_up = r.linear(b + "ffn_up", d, c.n_ff);
    L.ffn_down = r.linear(b + "ffn_down", c.n_ff, d);
    L.ffn_post_norm = r.vec(b + "ffn_post_norm.weight", d);
    L.out_scale = r.tensor(b + "out_scale.weight", {1}, Reader::Kind::Scalar, false);
    w.layers.push_back(L);
  }
  return m;
}

AudioModel load_audio(Reader& r) {
  const GgufFile& f = r.file();
  check_projector(r, projector_type(f, "audio"), "gemma4a");
  AudioModel m;
  AudioConfig& c = m.config;
  c.n_embd = r.req_u32("clip.audio.embedding_length", kMaxWidth);
  c.n_layer = r.req_u32("clip.audio.block_count", kMaxLayers);
  c.n_head = r.req_u32("clip.audio.attention.head_count", kMaxHeads);
  c.n_mel = r.req_u32("clip.audio.num_mel_bins", 256);
  if (c.n_embd % c.n_head) r.fail(fmt::format("clip.audio.embedding_length {} is not a multiple of the {} heads", c.n_embd, c.n_head));
  if (c.n_embd % 2) r.fail("clip.audio.embedding_length must be even (sinusoidal position halves)");
  c.head_dim = c.n_embd / c.n_head;

  AudioWeights& w = m.weights;
  const uint64_t d = c.n_embd;
  const GgufTensorInfo* c0 = f.find_tensor("a.conv1d.0.weight");
  const GgufTensorInfo* c1 = f.find_tensor("a.conv1d.1.weight");
  if (!c0) r.fail("missing tensor 'a.conv1d.0.weight'");
  if (!c1) r.fail("missing tensor 'a.conv1d.1.weight'");
  if (c0->ne[3] == 0 || c0->ne[3] > 4096 || c1->ne[3] == 0 || c1->ne[3] > 4096)
    r.fail("the audio subsampling convolutions have implausible channel counts");
  c.conv0_ch = static_cast<uint32_t>(c0->ne[3]);
  c.conv1_ch = static_cast<uint32_t>(c1->ne[3]);
  w.conv0 = r.tensor("a.conv1d.0.weight", {3, 3, 1, c.conv0_ch}, Reader::Kind::Conv);
  w.conv0_norm = r.vec("a.conv1d.0.norm.weight", c.conv0_ch);
  w.conv0_bias = r.vec("a.conv1d.0.bias", c.conv0_ch, false);
  w.conv1 = r.tensor("a.conv1d.1.weight", {3, 3, c.conv0_ch, c.conv1_ch}, Reader::Kind::Conv);
  w.conv1_norm = r.vec("a.conv1d.1.norm.weight", c.conv1_ch);
  w.conv1_bias = r.vec("a.conv1d.1.bias", c.conv1_ch, false);
  w.input_projection = r.linear("a.input_projection", uint64_t(c.conv1_ch) * c.n_mel_sub(), d);

  const GgufTensorInfo* out = f.find_tensor("a.pre_encode.out.weight");
  if (!out) r.fail("missing tensor 'a.pre_encode.out.weight'");
  if (out->ne[1] == 0 || out->ne[1] > kMaxWidth) r.fail("tensor 'a.pre_encode.out.weight' has an implausible width");
  c.n_out = static_cast<uint32_t>(out->ne[1]);
  w.out = r.tensor("a.pre_encode.out.weight", {d, c.n_out}, Reader::Kind::Matrix);
  w.out_bias = r.vec("a.pre_encode.out.bias", c.n_out);
  w.soft_emb_norm = r.vec("mm.a.soft_emb_norm.weight", c.n_out, false);
  const GgufTensorInfo* proj = f.find_tensor("mm.a.input_projection.weight");
  if (!proj) r.fail("missing tensor 'mm.a.input_projection.weight'");
  if (proj->ne[1] == 0 || proj->ne[1] > kMaxWidth) r.fail("tensor 'mm.a.input_projection.weight' has an implausible width");
  c.n_embd_text = static_cast<uint32_t>(proj->ne[1]);
  w.mm_input_projection = r.linear("mm.a.input_projection", c.n_out, c.n_embd_text);

  const GgufTensorInfo* up0 = f.find_tensor("a.blk.0.ffn_up.weight");
  if (!up0) r.fail("missing tensor 'a.blk.0.ffn_up.weight'");
  if (up0->ne[1] == 0 || up0->ne[1] > (1u << 18)) r.fail("tensor 'a.blk.0.ffn_up.weight' has an implausible width");
  c.n_ff = static_cast<uint32_t>(up0->ne[1]);
  for (uint32_t l = 0; l < c.n_layer; ++l) {
    const std::string b = fmt::format("a.blk.{}.", l);
    AudioLayerWeights L;
    L.ffn_norm = r.vec(b + "ffn_norm.weight", d);
    L.ffn_up = r.linear(b + "ffn_up", d, c.n_ff);
    L.ffn_down = r.linear(b + "ffn_down", c.n_ff, d);
    L.ffn_post_norm = r.vec(b + "ffn_post_norm.weight", d);
    L.attn_pre_norm = r.vec(b + "attn_pre_norm.weight", d);
    L.attn_q = r.linear(b + "attn_q", d, d);
    L.attn_k = r.linear(b + "attn_k", d, d);
    L.attn_v = r.linear(b + "attn_v", d, d);
    L.attn_out = r.linear(b + "attn_out", d, d);
    L.attn_out_bias = r.vec(b + "attn_out.bias", d, false);
    L.attn_k_rel = r.linear(b + "attn_k_rel", d, d, /*clip=*/false).w;
    L.per_dim_scale = r.vec(b + "per_dim_scale.weight", c.head_dim);
    L.per_dim_k_scale = r.vec(b + "per_dim_k_scale.weight", c.head_dim, false);
    L.attn_post_norm = r.vec(b + "attn_post_norm.weight", d);
    L.conv_norm = r.vec(b + "conv_norm.weight", d);
    L.conv_pw1 = r.linear(b + "conv_pw1", d, 2 * d);
    L.conv_dw = r.tensor(b + "conv_dw.weight", {c.conv_kernel, d}, Reader::Kind::Conv);
    L.conv_dw_bias = r.vec(b + "conv_dw.bias", d, false);
    L.norm_conv = r.vec(b + "norm_conv.weight", d);
    L.conv_pw2 = r.linear(b + "conv_pw2", d, d);
    L.ffn_norm_1 = r.vec(b + "ffn_norm_1.weight", d);
    L.ffn_up_1 = r.linear(b + "ffn_up_1", d, c.n_ff);
    L.ffn_down_1 = r.linear(b + "ffn_down_1", c.n_ff, d);
    L.ffn_post_norm_1 = r.vec(b + "ffn_post_norm_1.weight", d);
    L.ln2 = r.vec(b + "ln2.weight", d);
    w.layers.push_back(L);
  }
  return m;
}

void visit(const ClipLinear& l, const std::function<void(const GgufTensorInfo&)>& fn) {
  if (l.w) fn(*l.w);
}
void visit(const GgufTensorInfo* t, const std::function<void(const GgufTensorInfo&)>& fn) {
  if (t) fn(*t);
}

}  // namespace

const char* vision_activation_name(VisionActivation a) {
  switch (a) {
    case VisionActivation::GeluTanh: return "gelu_tanh";
    case VisionActivation::GeluQuick: return "gelu_quick";
    case VisionActivation::Silu: return "silu";
  }
  return "?";
}

MmprojModel load_mmproj(const GgufFile& f) {
  Reader r(f);
  const std::string arch = f.has("general.architecture") ? f.get_string("general.architecture") : "";
  if (arch != "clip")
    r.fail(fmt::format("general.architecture is '{}', not 'clip': this is not an mmproj file{}", arch,
                       arch == "gemma4" ? " (it is a text model; pass it with -m)" : ""));
  MmprojModel mm;
  if (f.has("general.name")) mm.name = f.get_string("general.name");
  const bool has_v = f.has("clip.has_vision_encoder") && f.get_bool("clip.has_vision_encoder");
  const bool has_a = f.has("clip.has_audio_encoder") && f.get_bool("clip.has_audio_encoder");
  if (!has_v && !has_a) r.fail("the mmproj has neither clip.has_vision_encoder nor clip.has_audio_encoder set");
  if (has_v) mm.vision = load_vision(r);
  if (has_a) mm.audio = load_audio(r);
  r.refuse_unknown(has_v ? "gemma4v" : "", has_a ? (has_v ? " + gemma4a" : "gemma4a") : "");
  if (mm.vision && mm.audio && mm.vision->config.n_embd_text != mm.audio->config.n_embd_text)
    r.fail(fmt::format("the vision encoder projects to {} and the audio encoder to {}; both must match the text width",
                       mm.vision->config.n_embd_text, mm.audio->config.n_embd_text));
  mm.n_embd_text = mm.vision ? mm.vision->config.n_embd_text : mm.audio->config.n_embd_text;
  return mm;
}

void check_mmproj_fits(const MmprojModel& mm, const Gemma4Config& text, const std::string& mmproj_source) {
  if (mm.n_embd_text == text.n_embd) return;
  throw ModelError(fmt::format("{}: the mmproj projects to {} wide embeddings; the text model{} is {} wide "
                               "(an mmproj for another model?)",
                               mmproj_source, mm.n_embd_text, text.name.empty() ? "" : fmt::format(" '{}'", text.name),
                               text.n_embd));
}

void mmproj_for_each_vision_weight(const VisionWeights& w, const std::function<void(const GgufTensorInfo&)>& fn) {
  visit(w.patch_embd, fn);
  visit(w.position_embd, fn);
  visit(w.std_bias, fn);
  visit(w.std_scale, fn);
  visit(w.input_projection, fn);
  for (const VisionLayerWeights& L : w.layers) {
    for (const GgufTensorInfo* t : {L.ln1, L.attn_q_norm, L.attn_k_norm, L.attn_post_norm, L.ln2, L.ffn_post_norm, L.out_scale})
      visit(t, fn);
    for (const ClipLinear* l : {&L.attn_q, &L.attn_k, &L.attn_v, &L.attn_out, &L.ffn_gate, &L.ffn_up, &L.ffn_down})
      visit(*l, fn);
  }
}

void mmproj_for_each_audio_weight(const AudioWeights& w, const std::function<void(const GgufTensorInfo&)>& fn) {
  for (const GgufTensorInfo* t : {w.conv0, w.conv0_norm, w.conv0_bias, w.conv1, w.conv1_norm, w.conv1_bias, w.out,
                                  w.out_bias, w.soft_emb_norm})
    visit(t, fn);
  visit(w.input_projection, fn);
  visit(w.mm_input_projection, fn);
  for (const AudioLayerWeights& L : w.layers) {
    for (const GgufTensorInfo* t : {L.ffn_norm, L.ffn_post_norm, L.attn_pre_norm, L.attn_k_rel, L.per_dim_scale,
                                    L.per_dim_k_scale, L.attn_post_norm, L.conv_norm, L.conv_dw, L.conv_dw_bias,
                                    L.norm_conv, L.ffn_norm_1, L.ffn_post_norm_1, L.ln2, L.attn_out_bias})
      visit(t, fn);
    for (const ClipLinear* l : {&L.ffn_up, &L.ffn_down, &L.attn_q, &L.attn_k, &L.attn_v, &L.attn_out, &L.conv_pw1,
                                &L.conv_pw2, &L.ffn_up_1, &L.ffn_down_1})
      visit(*l, fn);
  }
}

EncoderFootprint vision_footprint(const VisionModel& v) {
  EncoderFootprint fp;
  mmproj_for_each_vision_weight(v.weights, [&](const GgufTensorInfo& t) {
    fp.bytes += t.n_bytes;
    fp.params += t.n_elements;
  });
  return fp;
}

EncoderFootprint audio_footprint(const AudioModel& a) {
  EncoderFootprint fp;
  mmproj_for_each_audio_weight(a.weights, [&](const GgufTensorInfo& t) {
    fp.bytes += t.n_bytes;
    fp.params += t.n_elements;
  });
  return fp;
}

}  // namespace vkg
