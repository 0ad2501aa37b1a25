// host/synth: plans (e2b, e4b at full size without writing them), write -> read round trips for
// every weight type, determinism, value distributions, fallbacks, vocabularies, and structural
// equality with the golden models made by an independent tool.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <fmt/format.h>

#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_vocab.h"
#include "vocab_writer.h"
#include "hf_tokenizer.h"
#include "quant.h"
#include "synth.h"
#include "synth_rng.h"
#include "test_util.h"
#include "tokenizer.h"

using namespace vkg;

namespace {

SynthModel plan(std::string_view preset, std::string_view type, uint64_t seed = 1) {
  SynthOptions o = synth_preset(preset);
  o.types = SynthTypes::parse(type);
  o.seed = seed;
  return synth_plan(std::move(o));
}

// Mean and standard deviation of a tensor's dequantized values.
std::pair<double, double> stats(const GgufTensorInfo& t) {
  std::vector<float> v(static_cast<size_t>(t.n_elements));
  dequantize_row(t.type, t.data, v.data(), v.size());
  double s = 0, s2 = 0;
  for (float x : v) s += x, s2 += double(x) * x;
  const double m = s / v.size();
  return {m, std::sqrt(std::max(0.0, s2 / v.size() - m * m))};
}

// Every tensor of the file has the plan's type and shape and exactly the generator's bytes.
void check_tensors_equal_plan(const GgufFile& f, const SynthModel& m) {
  REQUIRE(f.tensors().size() == m.tensors.size());
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const SynthTensor& p = m.tensors[i];
    const GgufTensorInfo& t = f.tensors()[i];
    INFO(p.name);
    CHECK(t.name == p.name);
    CHECK(t.type == p.type);
    CHECK(t.n_dims == p.n_dims);
    CHECK(t.ne == p.ne);
    const std::vector<uint8_t> want = synth_tensor_data(m, i);
    REQUIRE(t.n_bytes == want.size());
    CHECK(std::memcmp(t.data, want.data(), want.size()) == 0);
  }
}

// Keys write_vocab adds that the golden files lack (eot = <turn|>, add_eos false): allowed extras.
bool extra_key(const std::string& k) {
  return k == "tokenizer.ggml.eot_token_id" || k == "tokenizer.ggml.add_eos_token";
}

// Keys in file order, without the allowed extras.
std::vector<std::string> key_order(const GgufFile& f) {
  std::vector<std::string> keys;
  for (const auto& kv : f.kvs())
    if (!extra_key(kv.key)) keys.push_back(kv.key);
  return keys;
}

// Keys (name and type) and tensors (name, shape, type) of a file, ignoring the values.
std::string structure(const GgufFile& f, bool with_types) {
  std::string s;
  std::vector<std::string> keys;
  for (const auto& kv : f.kvs())
    if (!extra_key(kv.key)) keys.push_back(kv.key + ":" + gguf_type_name(kv.type) + (kv.is_array() ? "/" + gguf_type_name(kv.elem_type) : ""));
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) s += k + "\n";
  std::vector<std::string> ts;
  for (const auto& t : f.tensors())
    ts.push_back(t.name + " " + gguf_shape_string(t) + (with_types ? " " + std::string(ggml_type_info(t.type).name) : ""));
  std::sort(ts.begin(), ts.end());
  for (const auto& t : ts) s += t + "\n";
  return s;
}

}  // namespace

TEST_CASE("presets and type names") {
  const SynthOptions e2b = synth_preset("e2b");
  CHECK(e2b.n_layer == 35);
  CHECK(e2b.n_embd == 1536);
  CHECK(e2b.n_head == 8);
  CHECK(e2b.n_head_kv == 1);
  CHECK(e2b.shared_kv_layers == 20);
  CHECK(e2b.n_vocab == 262144);
  const SynthOptions e4b = synth_preset("E4B");
  CHECK(e4b.n_layer == 42);
  CHECK(e4b.n_embd == 2560);
  CHECK(e4b.n_head_kv == 2);
  CHECK(e4b.n_ff == 10240);
  CHECK_FALSE(e4b.double_wide);
  CHECK_THROWS_WITH_AS(synth_preset("e8b"), doctest::Contains("unknown preset 'e8b'"), SynthError);
  CHECK(SynthTypes::parse("Q4_K_M").mix == SynthTypes::Mix::Q4_K_M);
  CHECK(SynthTypes::parse("q8_0").type == GgmlType::Q8_0);
  CHECK(SynthTypes::parse("bf16").name() == "BF16");
  CHECK_THROWS_WITH_AS(SynthTypes::parse("q2_k"), doctest::Contains("unknown weight type 'q2_k'"), SynthError);
  CHECK(synth_fallback_type(GgmlType::Q4_K, 512) == GgmlType::Q4_K);
  CHECK(synth_fallback_type(GgmlType::Q4_K, 320) == GgmlType::Q5_0);
  CHECK(synth_fallback_type(GgmlType::Q5_K, 320) == GgmlType::Q5_1);
  CHECK(synth_fallback_type(GgmlType::Q6_K, 320) == GgmlType::Q8_0);
  CHECK(synth_fallback_type(GgmlType::Q6_K, 40) == GgmlType::F16);
  CHECK(synth_fallback_type(GgmlType::Q8_0, 40) == GgmlType::F16);
}

TEST_CASE("normal generator: mean 0, variance 1, bounded tails") {
  synth_detail::Rng rng(42);
  std::vector<float> v(1 << 20);
  synth_detail::fill_normal(rng, v.data(), v.size(), 0.0f, 1.0f);
  double s = 0, s2 = 0, mx = 0;
  for (float x : v) s += x, s2 += double(x) * x, mx = std::max(mx, double(std::fabs(x)));
  CHECK(std::fabs(s / v.size()) < 0.005);
  CHECK(s2 / v.size() == doctest::Approx(1.0).epsilon(0.01));
  CHECK(mx <= 3.4642);
  CHECK(mx > 3.0);
}

TEST_CASE("e2b plan: real shapes, Q4_K_M mix, 4.63 B parameters, 2.35 B host-paged") {
  const SynthModel m = plan("e2b", "q4_k_m");
  CHECK(m.tensors.size() == 541);  // 15 KV owners x 17 + 20 sharers x 14 + 6 global
  CHECK(m.fallbacks.empty());
  CHECK(m.file_type == 15);
  CHECK(m.host_params() == 35ull * 256 * 262144);
  CHECK(m.tensors[m.index("per_layer_token_embd.weight")].ne == std::array<uint64_t, 4>{8960, 262144, 1, 1});
  CHECK(m.tensors[m.index("blk.4.attn_q.weight")].ne == std::array<uint64_t, 4>{1536, 4096, 1, 1});
  CHECK(m.tensors[m.index("blk.3.attn_k.weight")].ne == std::array<uint64_t, 4>{1536, 256, 1, 1});
  CHECK(m.tensors[m.index("blk.20.ffn_down.weight")].ne == std::array<uint64_t, 4>{12288, 1536, 1, 1});
  CHECK(m.tensors[m.index("rope_freqs.weight")].ne[0] == 256);
  CHECK_THROWS_AS(m.index("blk.15.attn_k.weight"), SynthError);  // KV-sharing layers have no K/V
  // llama-quantize Q4_K_M: use_more_bits() over the 15 attn_v and the 35 ffn_down tensors.
  std::set<int> v6, d6;
  for (const auto& t : m.tensors) {
    if (t.name.find("attn_v") != std::string::npos && t.type == GgmlType::Q6_K) v6.insert(t.layer);
    if (t.name.find("ffn_down") != std::string::npos && t.type == GgmlType::Q6_K) d6.insert(t.layer);
  }
  CHECK(v6 == std::set<int>{0, 3, 6, 9, 12, 13, 14});
  CHECK(d6 == std::set<int>{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34});
  CHECK(m.tensors[m.index("token_embd.weight")].type == GgmlType::Q6_K);
  CHECK(m.tensors[m.index("per_layer_token_embd.weight")].type == GgmlType::Q6_K);
  CHECK(m.tensors[m.index("per_layer_model_proj.weight")].type == GgmlType::F16);
  CHECK(m.tensors[m.index("blk.0.inp_gate.weight")].type == GgmlType::Q4_K);
  CHECK(m.tensors[m.index("blk.0.attn_norm.weight")].type == GgmlType::F32);
  MESSAGE("e2b: " << m.n_params() << " params (" << m.device_params() << " device, " << m.host_params()
                  << " host), " << m.data_bytes() << " data bytes");
  CHECK(m.n_params() > 4.6e9);
  CHECK(m.n_params() < 4.7e9);
  CHECK(m.device_params() > 2.25e9);  // "~2.3 B effective"
  CHECK(m.device_params() < 2.3e9);

  // At full size through the loader, without writing 3.4 GB: a sparse file.
  const auto path = test::scratch_dir("synth_e2b") / "e2b.gguf";
  const uint64_t size = synth_write_sparse(m, path);
  CHECK(size == synth_file_size(m));
  const GgufFile f = GgufFile::open(path);
  CHECK(f.file_size() == size);
  const Gemma4Model g = load_gemma4(f);
  const Gemma4Config& c = g.config;
  CHECK(c.n_layer == 35);
  CHECK(c.n_kv_layers == 15);
  CHECK(c.n_vocab == 262144);
  CHECK(c.n_ctx_train == 131072);
  CHECK(c.sliding_window == 512);
  for (uint32_t l = 0; l < 35; ++l) {
    INFO("layer " << l);
    CHECK(c.layers[l].is_sliding == (l % 5 != 4));
    CHECK(c.layers[l].n_ff == (l < 15 ? 6144u : 12288u));
    CHECK(c.layers[l].head_dim == (l % 5 != 4 ? 256u : 512u));
    CHECK(c.layers[l].kv_source == (l < 15 ? l : (l % 5 == 4 ? 14u : 13u)));
  }
  const Gemma4Footprint fp = gemma4_footprint(g, 2);
  CHECK(fp.device_params == m.device_params());
  CHECK(fp.device_bytes == m.device_bytes());
  CHECK(fp.host_params == m.host_params());
  CHECK(fp.host_bytes == m.host_bytes());
  CHECK(fp.unused_bytes == 0);
  CHECK(fp.kv_full_bytes_per_1k == 6u << 20);
  CHECK(fp.kv_sliding_ring_bytes == 6u << 20);
  std::filesystem::remove(path);
}

TEST_CASE("e4b plan: 42 layers, full every 6th, 18 shared-KV layers") {
  const SynthModel m = plan("e4b", "q4_k_m");
  CHECK(m.fallbacks.empty());
  CHECK(m.host_params() == 42ull * 256 * 262144);
  MESSAGE("e4b: " << m.n_params() << " params (" << m.device_params() << " device, " << m.host_params()
                  << " host), " << m.data_bytes() << " data bytes");
  const auto path = test::scratch_dir("synth_e4b") / "e4b.gguf";
  synth_write_sparse(m, path);
  const GgufFile f = GgufFile::open(path);
  const Gemma4Model g = load_gemma4(f);
  const Gemma4Config& c = g.config;
  CHECK(c.n_layer == 42);
  CHECK(c.n_embd == 2560);
  CHECK(c.n_kv_layers == 24);
  for (uint32_t l = 0; l < 42; ++l) {
    INFO("layer " << l);
    CHECK(c.layers[l].is_sliding == (l % 6 != 5));
    CHECK(c.layers[l].n_ff == 10240);
    CHECK(c.layers[l].n_head_kv == 2);
    CHECK(c.layers[l].kv_source == (l < 24 ? l : (l % 6 == 5 ? 23u : 22u)));
  }
  const Gemma4Footprint fp = gemma4_footprint(g, 2);
  CHECK(fp.device_params == m.device_params());
  CHECK(fp.host_bytes == m.host_bytes());
  std::filesystem::remove(path);
}

TEST_CASE("tiny: write -> read round trip for every weight type") {
  for (const char* type : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k", "q4_k_m"}) {
    CAPTURE(type);
    const SynthModel m = plan("tiny", type, 7);
    CHECK(m.fallbacks.empty());
    SynthWriteOptions wo;
    wo.threads = 2;
    uint64_t last = 0, calls = 0;
    wo.progress = [&](const SynthProgress& p) { CHECK(p.bytes_done > last); last = p.bytes_done, ++calls; };
    const std::vector<uint8_t> bytes = synth_write_memory(m, wo);
    CHECK(last == m.data_bytes());
    CHECK(calls >= m.tensors.size());
    CHECK(bytes.size() == synth_file_size(m));
    const GgufFile f = GgufFile::open_memory(bytes, type);
    GgufWriter w;
    synth_declare(m, w);
    const std::vector<uint8_t> header = w.header_bytes();
    CHECK(header.size() == f.data_offset());
    CHECK(std::equal(header.begin(), header.end(), bytes.begin()));
    // Metadata as requested.
    const SynthOptions& o = m.options;
    CHECK(f.get_string("general.architecture") == "gemma4");
    CHECK(f.get_string("general.name") == o.name);
    CHECK(f.get_u32("general.file_type") == m.file_type);
    CHECK(f.get_u32("gemma4.block_count") == o.n_layer);
    CHECK(f.get_u32("gemma4.embedding_length") == o.n_embd);
    CHECK(f.get_u32("gemma4.embedding_length_per_layer_input") == o.n_ple);
    CHECK(f.get_u32("gemma4.context_length") == o.n_ctx);
    CHECK(f.get_u32("gemma4.attention.head_count") == o.n_head);
    CHECK(f.get_u32("gemma4.attention.head_count_kv") == o.n_head_kv);
    CHECK(f.get_u32("gemma4.attention.key_length") == o.head_dim_full);
    CHECK(f.get_u32("gemma4.attention.key_length_swa") == o.head_dim_swa);
    CHECK(f.get_u32("gemma4.attention.sliding_window") == o.sliding_window);
    CHECK(f.get_u32("gemma4.attention.shared_kv_layers") == o.shared_kv_layers);
    CHECK(f.get_array<int32_t>("gemma4.feed_forward_length") == std::vector<int32_t>{256, 256, 256, 512, 512});
    CHECK(f.get_array<bool>("gemma4.attention.sliding_window_pattern") ==
          std::vector<bool>{true, true, false, true, false});
    CHECK(f.get_f32("gemma4.rope.freq_base") == o.rope_base_full);
    CHECK(f.get_f32("gemma4.rope.freq_base_swa") == o.rope_base_swa);
    CHECK(f.get_f32("gemma4.final_logit_softcapping") == o.softcap);
    CHECK(f.get_f32("gemma4.attention.layer_norm_rms_epsilon") == o.rms_eps);
    CHECK(f.has("general.quantization_version") == (m.options.types.type != GgmlType::F32 &&
                                                      m.options.types.type != GgmlType::F16 &&
                                                      m.options.types.type != GgmlType::BF16));
    check_tensors_equal_plan(f, m);
    const Gemma4Model g = load_gemma4(f);
    CHECK(g.config.layers[3].kv_source == 1);
    CHECK(g.config.layers[4].kv_source == 2);
    CHECK(g.weights.unused.empty());
    const Vocab v = read_vocab(f);
    CHECK(v.tokens == m.vocab.tokens);
    CHECK(v.merges == m.vocab.merges);
  }
}

TEST_CASE("bytes depend on the seed, not on the thread count") {
  const SynthModel m = plan("tiny", "q4_k_m", 3);
  SynthWriteOptions one, three;
  one.threads = 1;
  three.threads = 3;
  const auto a = synth_write_memory(m, one), b = synth_write_memory(m, three);
  CHECK(a == b);
  const SynthModel m2 = plan("tiny", "q4_k_m", 4);
  const size_t i = m.index("blk.2.ffn_up.weight");
  CHECK(synth_tensor_data(m, i) != synth_tensor_data(m2, i));
  // Rows are independent: a sub-range matches the whole tensor's rows.
  std::vector<uint8_t> part(static_cast<size_t>(3 * m.tensors[i].row_bytes()));
  std::vector<float> scratch;
  synth_tensor_encode(m, i, 5, 3, part.data(), scratch);
  const auto whole = synth_tensor_data(m, i);
  CHECK(std::equal(part.begin(), part.end(), whole.begin() + 5 * m.tensors[i].row_bytes()));
}

TEST_CASE("weight distributions follow the golden recipe") {
  const SynthModel m = plan("tiny", "f32", 11);
  const std::vector<uint8_t> bytes = synth_write_memory(m);
  const GgufFile f = GgufFile::open_memory(bytes);
  const SynthOptions& o = m.options;
  auto st = [&](const char* n) { return stats(f.tensor(n)); };
  CHECK(st("token_embd.weight").second == doctest::Approx(o.logit_std / std::sqrt(256.0)).epsilon(0.03));
  CHECK(st("per_layer_token_embd.weight").second == doctest::Approx(1 / 16.0).epsilon(0.03));
  CHECK(st("blk.0.attn_q.weight").second == doctest::Approx(1 / 16.0).epsilon(0.03));
  CHECK(st("blk.2.attn_output.weight").second == doctest::Approx(1 / std::sqrt(512.0)).epsilon(0.03));
  CHECK(st("blk.4.ffn_down.weight").second == doctest::Approx(1 / std::sqrt(512.0)).epsilon(0.03));
  CHECK(std::fabs(st("blk.1.ffn_gate.weight").first) < 0.01);
  for (const char* n : {"blk.0.attn_norm.weight", "blk.3.post_norm.weight", "output_norm.weight"}) {
    CAPTURE(n);
    CHECK(st(n).first == doctest::Approx(1.0).epsilon(0.02));
    CHECK(st(n).second == doctest::Approx(o.norm_noise).epsilon(0.3));
  }
  CHECK(st("blk.0.attn_q_norm.weight").first == doctest::Approx(std::sqrt(3.0 / 8)).epsilon(0.03));
  CHECK(st("blk.2.attn_k_norm.weight").first == doctest::Approx(std::sqrt(3.0 / std::sqrt(128.0))).epsilon(0.03));
  const GgufTensorInfo& rf = f.tensor("rope_freqs.weight");
  const float* r = reinterpret_cast<const float*>(rf.data);
  for (int i = 0; i < 64; ++i) CHECK(r[i] == (i < 16 ? 1.0f : 1e30f));
  for (int l = 0; l < 5; ++l) {
    const float s = *reinterpret_cast<const float*>(f.tensor(fmt::format("blk.{}.layer_output_scale.weight", l)).data);
    CHECK(s >= 0.5f);
    CHECK(s < 1.0f);
  }
}

TEST_CASE("same structure as the golden models (independent tool)") {
  VKG_REQUIRE_SHARED();
  const auto golden = test::shared_dir() / "golden";
  {  // tiny_q4_k_m: our tiny preset at the golden's vocabulary size.
    SynthOptions o = synth_preset("tiny");
    o.n_vocab = 384;
    o.types = SynthTypes::parse("q4_k_m");
    const SynthModel m = synth_plan(o);
    const auto bytes = synth_write_memory(m);
    const GgufFile ours = GgufFile::open_memory(bytes);
    const GgufFile ref = GgufFile::open(golden / "tiny_q4_k_m" / "model.gguf");
    CHECK(structure(ours, true) == structure(ref, true));
    CHECK(ours.get_uint_array("gemma4.feed_forward_length") == ref.get_uint_array("gemma4.feed_forward_length"));
    CHECK(ours.get_array<bool>("gemma4.attention.sliding_window_pattern") ==
          ref.get_array<bool>("gemma4.attention.sliding_window_pattern"));
    CHECK(ours.array_size("tokenizer.ggml.merges") == ref.array_size("tokenizer.ggml.merges"));
  }
  {  // tiny_f32 (convert_hf_to_gguf order: tensors in the same order too).
    SynthOptions o;
    o.n_layer = 6, o.n_embd = 64, o.n_head = 4, o.n_head_kv = 1, o.head_dim_swa = 32, o.head_dim_full = 64;
    o.n_ff = 128, o.swa_period = 3, o.shared_kv_layers = 3, o.n_ple = 32, o.n_vocab = 512;
    const SynthModel m = synth_plan(o);
    const auto bytes = synth_write_memory(m);
    const GgufFile ours = GgufFile::open_memory(bytes);
    const GgufFile ref = GgufFile::open(golden / "tiny_f32" / "model.gguf");
    CHECK(structure(ours, true) == structure(ref, true));
    REQUIRE(ours.tensors().size() == ref.tensors().size());
    for (size_t i = 0; i < ref.tensors().size(); ++i) CHECK(ours.tensors()[i].name == ref.tensors()[i].name);
    CHECK(key_order(ours) == key_order(ref));
    for (const char* n : {"token_embd.weight", "blk.0.attn_q.weight", "blk.2.attn_q_norm.weight",
                          "per_layer_token_embd.weight", "blk.4.proj.weight", "output_norm.weight"}) {
      CAPTURE(n);
      const auto [m1, s1] = stats(ours.tensor(n));
      const auto [m2, s2] = stats(ref.tensor(n));
      CHECK(std::fabs(m1 - m2) < 0.1 * s2 + 0.02 * std::fabs(m2));
      CHECK(s1 == doctest::Approx(s2).epsilon(0.15));
    }
  }
}

TEST_CASE("row-length fallbacks like llama-quantize") {
  SynthOptions o;
  o.n_embd = 320;  // Q4_K -> Q5_0, Q6_K -> Q8_0
  o.n_ple = 40;    // proj rows of 40: Q4_K -> Q5_0 does not fit either -> F16
  o.types = SynthTypes::parse("q4_k_m");
  const SynthModel m = synth_plan(o);
  CHECK(m.tensors[m.index("token_embd.weight")].type == GgmlType::Q8_0);
  CHECK(m.tensors[m.index("blk.0.attn_q.weight")].type == GgmlType::Q5_0);
  CHECK(m.tensors[m.index("blk.0.attn_q.weight")].requested == GgmlType::Q4_K);
  CHECK(m.tensors[m.index("blk.0.proj.weight")].type == GgmlType::F16);
  CHECK(m.tensors[m.index("blk.0.attn_output.weight")].type == GgmlType::Q4_K);  // rows of 4 x 64 = 256
  CHECK(m.tensors[m.index("per_layer_token_embd.weight")].type == GgmlType::F16);  // rows of 5 x 40 = 200
  CHECK(!m.fallbacks.empty());
  const auto bytes = synth_write_memory(m);
  const GgufFile f = GgufFile::open_memory(bytes);
  check_tensors_equal_plan(f, m);
  CHECK_NOTHROW(load_gemma4(f));
}

TEST_CASE("type overrides and option errors") {
  SynthOptions o;
  o.type_overrides = {{"ffn_down.weight", GgmlType::Q8_0}, {"blk.1.attn_q.weight", GgmlType::BF16}};
  const SynthModel m = synth_plan(o);
  CHECK(m.tensors[m.index("blk.4.ffn_down.weight")].type == GgmlType::Q8_0);
  CHECK(m.tensors[m.index("blk.1.attn_q.weight")].type == GgmlType::BF16);
  CHECK(m.tensors[m.index("blk.0.attn_q.weight")].type == GgmlType::F32);
  auto bad = [](auto edit, const char* msg) {
    SynthOptions b;
    edit(b);
    CHECK_THROWS_WITH_AS(synth_plan(b), doctest::Contains(msg), SynthError);
  };
  bad([](SynthOptions& b) { b.n_head = 3; }, "multiple of n_head_kv");
  bad([](SynthOptions& b) { b.shared_kv_layers = 5; }, "shared_kv_layers = 5 must be < n_layer = 5");
  bad([](SynthOptions& b) { b.n_layer = 4, b.swa_period = 10, b.shared_kv_layers = 1; },
      "layer 3 (full) shares a KV cache but no KV-owning layer");
  bad([](SynthOptions& b) { b.type_overrides = {{"nope.weight", GgmlType::F16}}; }, "matches no tensor");
  bad([](SynthOptions& b) { b.n_vocab = 100; }, "too small");
  bad([](SynthOptions& b) { b.head_dim_swa = 33; }, "even");
  bad([](SynthOptions& b) { b.partial_rotary_full = 0; }, "partial_rotary_full");
}

TEST_CASE("synthetic vocabulary") {
  const Vocab v = synth_vocab(1000, 5);
  REQUIRE(v.tokens.size() == 1000);
  CHECK(v.merges.size() == 1000 - kSynthMinVocab + 1);
  CHECK(v.tokens[4] == "<|turn>");
  CHECK(v.tokens[5] == "<turn|>");
  CHECK(v.tokens[6] == "<0x00>");
  CHECK(v.types[6] == TokenType::Byte);
  CHECK(v.types[2] == TokenType::Control);
  CHECK(synth_vocab(1000, 5).tokens == v.tokens);
  CHECK(synth_vocab(1000, 6).tokens != v.tokens);
  const Tokenizer tok(v);
  CHECK(tok.is_eog(5));
  for (const char* s : {"Hello, World! 123\n\nabc", "caf\xC3\xA9 \xE2\x82\xAC", "  leading spaces"}) {
    const auto ids = tok.encode(s, true, false);
    CHECK(ids[0] == 2);
    CHECK(tok.decode(std::span(ids).subspan(1)) == s);
  }
  CHECK(tok.encode("<|turn>hi<turn|>", false, true).front() == 4);
  CHECK(tok.encode("<|turn>hi<turn|>", false, true).back() == 5);
}

TEST_CASE("the real Gemma vocabulary survives the round trip") {
  VKG_REQUIRE_SHARED();
  SynthOptions o;
  o.vocab = load_hf_tokenizer(test::shared_dir() / "data" / "gemma-tokenizer.json.xz", {Gemma4Names::Full});
  const Vocab orig = *o.vocab;
  // Small layers; the 262144-row embeddings in Q8_0 / Q4_0 keep the file at ~30 MB.
  o.n_layer = 2, o.n_embd = 64, o.n_head = 2, o.n_head_kv = 1, o.head_dim_swa = 32, o.head_dim_full = 64;
  o.n_ff = 64, o.n_ple = 16, o.shared_kv_layers = 0, o.swa_period = 2;
  o.types = SynthTypes::parse("q8_0");
  o.type_overrides = {{"per_layer_token_embd.weight", GgmlType::Q4_0}};
  const SynthModel m = synth_plan(std::move(o));
  CHECK(m.tensors[m.index("blk.0.proj.weight")].type == GgmlType::F16);  // rows of 16
  const auto bytes = synth_write_memory(m);
  const GgufFile f = GgufFile::open_memory(bytes);
  const Gemma4Model g = load_gemma4(f);
  CHECK(g.config.n_vocab == 262144);
  const Vocab v = read_vocab(f);
  CHECK(v.tokens == orig.tokens);
  CHECK(v.merges == orig.merges);
  CHECK(v.types == orig.types);
  CHECK(v.scores == orig.scores);
  CHECK(v.bos_id == orig.bos_id);
  CHECK(v.eos_id == orig.eos_id);
  CHECK(v.eog_ids == end_of_generation_set(orig));  // read_vocab derives the full set: {1, 50, 106}
  const Tokenizer a(orig), b(v);
  for (const char* s : {"Hello world!", "<|turn>user\nWhat is 2+2?<turn|>", "Grüße aus Köln — 東京 🙂",
                        "    indented\n\n\tcode();"}) {
    CAPTURE(s);
    CHECK(a.encode(s, true, true) == b.encode(s, true, true));
    CHECK(a.encode(s, false, false) == b.encode(s, false, false));
  }
  const auto t0 = m.index("token_embd.weight");
  CHECK(std::memcmp(f.tensors()[t0].data, synth_tensor_data(m, t0).data(), f.tensors()[t0].n_bytes) == 0);
}
