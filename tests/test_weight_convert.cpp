// Weight types the host reads but no GPU kernel does (MXFP4) are re-encoded at load
// (host/engine/weight_convert.h): the type map, the re-encoding itself, and a model whose matrices and
// PLE table are MXFP4 through Model::load (resident and streamed), against the CPU reference.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "forward.h"
#include "golden.h"
#include "gpu.h"
#include "model.h"
#include "ops.h"
#include "quant.h"
#include "reference.h"
#include "synth.h"
#include "weight_convert.h"

using namespace vkg;
using vkg::test::device;

TEST_CASE("device_weight_type: kernel types stay, host-only types become Q8_0 (F16), unreadable ones nothing") {
  for (WeightTypeId id : Ops::supported_types()) {
    CAPTURE(id);
    CHECK(device_weight_type(static_cast<GgmlType>(id), 256) == static_cast<GgmlType>(id));
  }
  CHECK(device_weight_type(GgmlType::MXFP4, 64) == GgmlType::Q8_0);
  CHECK(!Ops::supports(static_cast<WeightTypeId>(GgmlType::MXFP4)));
  CHECK(!device_weight_type(GgmlType::IQ2_XXS, 256));
  CHECK(!device_weight_type(GgmlType::Q8_1, 256));
  // Every type a model file may use (the loader's list) has a form the GPU reads.
  uint32_t n_allowed = 0;
  for (uint32_t id = 0; id < 64; ++id) {
    const auto info = ggml_type_info(id);
    if (!info || !gemma4_matrix_type_allowed(info->type)) continue;
    CAPTURE(info->name);
    ++n_allowed;
    CHECK(device_weight_type(info->type, 256).has_value());
  }
  CHECK(n_allowed == 16);
}

TEST_CASE("reencode_rows MXFP4 -> Q8_0 is dequantize then quantize, row by row") {
  const uint64_t ne0 = 96, rows = 3;
  std::vector<float> x(ne0 * rows);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i)) * (1.0f + float(i % 7));
  std::vector<uint8_t> mx(ggml_row_bytes(GgmlType::MXFP4, ne0) * rows);
  quantize_row(GgmlType::MXFP4, x.data(), mx.data(), x.size());
  std::vector<uint8_t> got(ggml_row_bytes(GgmlType::Q8_0, ne0) * rows), want(got.size());
  reencode_rows(GgmlType::MXFP4, mx.data(), GgmlType::Q8_0, got.data(), ne0, rows);
  std::vector<float> y(x.size());
  dequantize_row(GgmlType::MXFP4, mx.data(), y.data(), y.size());
  quantize_row(GgmlType::Q8_0, y.data(), want.data(), y.size());
  CHECK(got == want);
  // Q8_0 of MXFP4 levels: within max|block| / 254 (+ fp16 scale rounding) of the MXFP4 values.
  std::vector<float> z(x.size());
  dequantize_row(GgmlType::Q8_0, got.data(), z.data(), z.size());
  for (size_t b = 0; b < y.size(); b += 32) {
    float amax = 0;
    for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(y[i]));
    for (size_t i = b; i < b + 32; ++i) CHECK(std::fabs(z[i] - y[i]) <= amax / 254 * 1.01f + 1e-7f);
  }
}

namespace {

std::vector<float> gpu_logits(const Model& m, const std::vector<int32_t>& tokens) {
  Gemma4Forward fwd(device(), m.gemma(), m.weights(), {.n_ctx = 64, .kv_f32 = true});
  std::vector<float> logits;
  fwd.eval(tokens, true, logits);
  return logits;
}

}  // namespace

TEST_CASE("a model with MXFP4 matrices and PLE table loads, converts once, and runs resident and streamed") {
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q8_0");
  o.seed = 23;
  o.type_overrides = {{"attn_q.weight", GgmlType::MXFP4},
                      {"ffn_gate.weight", GgmlType::MXFP4},
                      {"ffn_up.weight", GgmlType::MXFP4},
                      {"per_layer_token_embd.weight", GgmlType::MXFP4}};
  const auto path = vkg::test::scratch_dir("weight_convert") / "mxfp4.gguf";
  synth_write(synth_plan(o), path);
  const std::vector<int32_t> tokens = {2, 400, 17, 401, 99, 402, 3, 403, 250, 404, 11, 405};
  const ForwardOptions session{.n_ctx = 64, .kv_f32 = true};

  auto m = Model::load(device(), path, {}, session);
  const auto& notes = m->notices();
  for (const auto& n : notes) MESSAGE(n);
  REQUIRE(notes.size() == 2);
  const uint32_t L = m->config().n_layer;
  CHECK(notes[0].find(fmt::format("{} weight tensors of types without a GPU kernel converted at load ({} MXFP4 -> "
                                  "Q8_0;",
                                  3 * L, 3 * L)) != std::string::npos);
  CHECK(notes[1].find("per_layer_token_embd has type MXFP4") != std::string::npos);
  // The model the GPU sees: Q8_0 copies (owned by the model), the PLE table itself untouched.
  const Gemma4Weights& w = m->gemma().weights;
  CHECK(w.layers[0].ffn_up->type == GgmlType::Q8_0);
  CHECK(w.layers[L - 1].attn_q->type == GgmlType::Q8_0);
  CHECK(w.layers[0].ffn_down->type == GgmlType::Q8_0);  // was Q8_0 in the file
  CHECK(w.per_layer_token_embd->type == GgmlType::MXFP4);
  CHECK(m->weights().layers[0].ffn_gate.type == static_cast<WeightTypeId>(GgmlType::Q8_0));
  const auto got = gpu_logits(*m, tokens);

  // Tight: the CPU reference on exactly what the GPU reads (converted matrices, and the PLE table
  // re-encoded the way the pager re-encodes its rows).
  Gemma4Model rm = m->gemma();
  GgufTensorInfo ple = *w.per_layer_token_embd;
  ple.type = GgmlType::Q8_0;
  ple.n_bytes = ggml_row_bytes(GgmlType::Q8_0, ple.ne[0]) * ple.n_rows();
  std::vector<uint8_t> ple_q8(ple.n_bytes);
  reencode_rows(GgmlType::MXFP4, w.per_layer_token_embd->data, GgmlType::Q8_0, ple_q8.data(), ple.ne[0],
                ple.n_rows());
  ple.data = ple_q8.data();
  rm.weights.per_layer_token_embd = &ple;
  ReferenceModel ref(rm);
  ReferenceState st = ref.new_state(64);
  const auto want = ref.eval(st, tokens, true);
  const uint32_t n_vocab = m->config().n_vocab;
  const auto d = vkg::test::compare_logits(got, want, n_vocab);
  // Loose: the reference on the file's own MXFP4 weights (the Q8_0 re-encoding adds <= 1/254 of
  // each block's largest weight).
  const GgufFile file = GgufFile::open(path);
  ReferenceModel ref_file(load_gemma4(file));
  ReferenceState st2 = ref_file.new_state(64);
  const auto orig = ref_file.eval(st2, tokens, true);
  const auto d_file = vkg::test::compare_logits(got, orig, n_vocab);
  MESSAGE(fmt::format("vs reference on the converted weights: max|diff| {:.2e} (max|logit| {:.2f}), argmax "
                      "mismatches {}; vs reference on the file's MXFP4: max {:.3f} mean {:.4f}, mismatches {}",
                      d.max_abs, d.max_ref, d.argmax_mismatch, d_file.max_abs, d_file.mean_abs,
                      d_file.argmax_mismatch));
  CHECK(d.max_abs <= 1e-3 * d.max_ref);
  CHECK(d.argmax_mismatch == 0);
  CHECK(d_file.max_abs <= 5e-2 * d_file.max_ref);
  CHECK(d_file.mean_abs <= 5e-3 * d_file.max_ref);

  // Streamed: the layer streamer uploads the converted copies; the logits do not change.
  Allocator& alloc = device().allocator();
  struct Reset {
    Allocator& a;
    ~Reset() { a.set_budget(0); }
  } reset{alloc};
  const ResidencyPlan full = m->residency();  // every layer resident, one session reserved
  REQUIRE(!full.streaming());
  m.reset();
  // Budgets are exact (residency.h): half a layer short of full residency streams.
  alloc.set_budget(full.device_bytes() - full.resident_layer_bytes / 2 + alloc.stats().device_local_allocated);
  auto ms = Model::load(device(), path, {}, session);
  REQUIRE(ms->residency().streaming());
  const auto streamed = gpu_logits(*ms, tokens);
  const auto ds = vkg::test::compare_logits(streamed, got, n_vocab);
  MESSAGE(fmt::format("streamed ({} of {} layers resident) vs resident: max|diff| {:.2e}",
                      ms->residency().n_resident_layers, L, ds.max_abs));
  CHECK(ds.max_abs <= 1e-5 * ds.max_ref);
}
