// Gemma 4 model description on synthetic GGUFs: derived per-layer facts, KV sharing, the weight
// map's presence/shape/type rules, error messages, and KV/byte accounting at E2B size.
#include <cmath>
#include "gemma4_config.h"
#include "gguf_fixture.h"
#include "test_util.h"

using namespace vkg;
using vkg::test::TinyGemma4;

namespace {

std::string load_error(const TinyGemma4& t) {
  try {
    const GgufFile f = GgufFile::open_memory(t.bytes(), "tiny.gguf");
    load_gemma4(f);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("tiny Gemma 4: per-layer description, KV sharing, weight map, accounting") {
  TinyGemma4 t;
  const GgufFile f = GgufFile::open_memory(t.bytes(), "tiny.gguf");
  const Gemma4Model m = load_gemma4(f);
  const Gemma4Config& c = m.config;
  CHECK(c.name == "tiny-test");
  CHECK(c.n_layer == 4);
  CHECK(c.n_vocab == 16);
  CHECK(c.n_kv_layers == 2);
  CHECK(c.final_logit_softcap == 30.0f);
  const uint32_t want_src[] = {0, 1, 0, 1};
  for (uint32_t l = 0; l < 4; ++l) {
    CAPTURE(l);
    const Gemma4Layer& L = c.layers[l];
    CHECK(L.is_sliding == (l % 2 == 0));
    CHECK(L.head_dim == (L.is_sliding ? 16u : 32u));
    CHECK(L.n_rot == L.head_dim);
    CHECK(L.rope_base == (L.is_sliding ? 1e4f : 1e6f));
    CHECK(L.n_ff == t.n_ff[l]);
    CHECK(L.n_head == 2);
    CHECK(L.n_head_kv == 1);
    CHECK(L.owns_kv == (l < 2));
    CHECK(L.kv_source == want_src[l]);
  }
  CHECK(m.weights.unused.empty());
  CHECK(m.weights.rope_freqs->ne[0] == 16);
  CHECK(m.weights.layers[2].attn_k == nullptr);
  CHECK(m.weights.layers[0].attn_v != nullptr);

  // Accounting. KV per position: layer 0 (sliding) 2 * 1 * 16 * 2 B = 64, layer 1 (full) 128.
  const Gemma4Footprint fp = gemma4_footprint(m, 2);
  CHECK(fp.host_bytes == 4ull * 8 * 16 * 4);
  CHECK(fp.host_params == 4ull * 8 * 16);
  uint64_t total = 0;
  for (const auto& ti : f.tensors()) total += ti.n_bytes;
  CHECK(fp.device_bytes == total - fp.host_bytes);
  CHECK(fp.unused_bytes == 0);
  CHECK(fp.kv_full_bytes_per_token == 128);
  CHECK(fp.kv_full_bytes_per_1k == 128 * 1024);
  CHECK(fp.kv_sliding_bytes_per_token == 64);
  CHECK(fp.kv_sliding_ring_bytes == 4 * 64);
  CHECK(gemma4_kv_cache_bytes(c, 2, 2) == 2 * 128 + 2 * 64);
  CHECK(gemma4_kv_cache_bytes(c, 100, 2) == 100 * 128 + 4 * 64);
  CHECK(gemma4_kv_cache_bytes(c, 100, 4) == 2 * (100 * 128 + 4 * 64));
  int visited = 0;
  gemma4_for_each_weight(m.weights, [&](const GgufTensorInfo&, int, Residency) { ++visited; });
  CHECK(visited == static_cast<int>(f.tensors().size()));
}

TEST_CASE("Gemma 4 config: optional keys and tensors") {
  SUBCASE("missing final_logit_softcapping means 30; 0 disables") {
    TinyGemma4 t;
    t.omit_keys = {"gemma4.final_logit_softcapping"};
    CHECK(gemma4_config_from_gguf(GgufFile::open_memory(t.bytes())).final_logit_softcap == 30.0f);
    t.extra_keys = [](GgufWriter& w) { w.add_f32("gemma4.final_logit_softcapping", 0.0f); };
    CHECK(gemma4_config_from_gguf(GgufFile::open_memory(t.bytes())).final_logit_softcap == 0.0f);
  }
  SUBCASE("head_count_kv and feed_forward_length as per-layer arrays or scalars") {
    TinyGemma4 t;
    t.omit_keys = {"gemma4.attention.head_count_kv", "gemma4.feed_forward_length"};
    t.n_ff = {32, 32, 32, 32};
    t.declare_tensors();
    t.extra_keys = [](GgufWriter& w) {
      w.add_array<int32_t>("gemma4.attention.head_count_kv", std::vector<int32_t>{1, 1, 1, 1});
      w.add_u64("gemma4.feed_forward_length", 32);
    };
    const Gemma4Config c = load_gemma4(GgufFile::open_memory(t.bytes())).config;
    CHECK(c.layers[3].n_ff == 32);
    CHECK(c.layers[3].n_head_kv == 1);
  }
  SUBCASE("attn_v absent on a KV-owning layer (V from K), layer_output_scale absent, output present") {
    TinyGemma4 t;
    t.erase("blk.0.attn_v.weight");
    t.erase("blk.2.layer_output_scale.weight");
    t.tensors.push_back({"output.weight", GgmlType::F16, {32, 16}});
    const GgufFile f = GgufFile::open_memory(t.bytes());
    const Gemma4Model m = load_gemma4(f);
    CHECK(m.weights.layers[0].attn_v == nullptr);
    CHECK(m.weights.layers[2].layer_output_scale == nullptr);
    CHECK(m.weights.output != nullptr);
    CHECK(gemma4_footprint(m, 2).device_bytes > 0);
  }
  SUBCASE("K/V tensors on a KV-sharing layer and vision/audio tensors are reported unused") {
    TinyGemma4 t;
    t.tensors.push_back({"blk.3.attn_k.weight", GgmlType::F32, {32, 32}});
    t.tensors.push_back({"v.blk.0.attn_q.weight", GgmlType::F32, {4}});   // Ollama blobs carry the towers
    t.tensors.push_back({"a.conv1d.0.weight", GgmlType::F16, {4, 2}});
    t.tensors.push_back({"mm.input_projection.weight", GgmlType::F32, {4}});
    const GgufFile f = GgufFile::open_memory(t.bytes());
    const Gemma4Model m = load_gemma4(f);
    REQUIRE(m.weights.unused.size() == 4);
    CHECK(m.weights.unused[0]->name == "blk.3.attn_k.weight");
    CHECK(m.weights.layers[3].attn_k == nullptr);
    CHECK(gemma4_footprint(m, 2).unused_bytes == 32 * 32 * 4 + 16 + 16 + 16);
  }
  SUBCASE("unknown tensors are refused, naming them") {
    TinyGemma4 t;
    t.tensors.push_back({"something.else", GgmlType::F32, {4}});
    t.tensors.push_back({"blk.0.attn_q.scale", GgmlType::F32, {1}});  // a per-tensor scale
    const std::string msg = load_error(t);
    CHECK(contains(msg, "2 unknown tensors ('something.else', 'blk.0.attn_q.scale')"));
    TinyGemma4 t1;
    t1.tensors.push_back({"blk.9.ffn_gate.weight", GgmlType::F32, {32, 32}});  // a layer the model lacks
    CHECK(contains(load_error(t1), "1 unknown tensor ('blk.9.ffn_gate.weight')"));
    TinyGemma4 many;
    for (int i = 0; i < 10; ++i) many.tensors.push_back({"x" + std::to_string(i), GgmlType::F32, {4}});
    CHECK(contains(load_error(many), "'x7' and 2 more"));
    TinyGemma4 vis;  // the prefix must be "v." exactly
    vis.tensors.push_back({"vision.weight", GgmlType::F32, {4}});
    CHECK(contains(load_error(vis), "unknown tensor ('vision.weight')"));
  }
  SUBCASE("rope.freq_base_swa is optional (10000)") {
    TinyGemma4 t;
    t.omit_keys = {"gemma4.rope.freq_base_swa"};
    const Gemma4Config c = load_gemma4(GgufFile::open_memory(t.bytes())).config;
    CHECK(c.rope_base_swa == 10000.0f);
    CHECK(c.layers[0].rope_base == 10000.0f);
    CHECK(c.layers[1].rope_base == 1e6f);
  }
  SUBCASE("rope_freqs has key_length / 2 entries, also when rope.dimension_count is smaller") {
    TinyGemma4 t;
    t.omit_keys = {"gemma4.rope.dimension_count"};
    t.extra_keys = [](GgufWriter& w) { w.add_u32("gemma4.rope.dimension_count", 8); };
    const GgufFile file = GgufFile::open_memory(t.bytes());  // the model's tensor pointers point into it
    const Gemma4Model m = load_gemma4(file);
    CHECK(m.config.n_rot_full == 8);
    CHECK(m.weights.rope_freqs->ne[0] == 16);  // hd_full 32 / 2
    t.find("rope_freqs.weight")->ne = {4};     // n_rot / 2: the older synthetic layout, accepted
    CHECK(load_gemma4(GgufFile::open_memory(t.bytes())).weights.rope_freqs->ne[0] == 4);
    t.find("rope_freqs.weight")->ne = {12};
    CHECK(contains(load_error(t), "tensor 'rope_freqs.weight' has the wrong shape: expected [16], found [12]"));
  }
  SUBCASE("general.sampling.* are the file's sampling defaults") {
    TinyGemma4 t;
    CHECK(!load_gemma4(GgufFile::open_memory(t.bytes())).config.sampling.top_k);
    t.extra_keys = [](GgufWriter& w) {
      w.add_i32("general.sampling.top_k", 64);
      w.add_f32("general.sampling.top_p", 0.95f);
      w.add_f32("general.sampling.temp", 1.0f);
    };
    const SamplingDefaults s = load_gemma4(GgufFile::open_memory(t.bytes())).config.sampling;
    CHECK(s.top_k == 64);
    CHECK(s.top_p == 0.95f);
    CHECK(s.temp == 1.0f);
    t.extra_keys = [](GgufWriter& w) { w.add_f32("general.sampling.top_p", 1.5f); };
    CHECK(contains(load_error(t), "general.sampling.top_p = 1.5 must be in [0, 1]"));
    t.extra_keys = [](GgufWriter& w) { w.add_i32("general.sampling.top_k", -3); };
    CHECK(contains(load_error(t), "general.sampling.top_k = -3 must be in 0.."));
    t.extra_keys = [](GgufWriter& w) { w.add_f32("general.sampling.temp", std::nanf("")); };
    CHECK(contains(load_error(t), "general.sampling.temp = nan must be finite"));
  }
}

TEST_CASE("Gemma 4 config: every dimension is capped") {
  struct Case { const char* key; uint64_t value; const char* expect; };
  const std::vector<Case> cases{
      {"gemma4.embedding_length", 1u << 20, "gemma4.embedding_length = 1048576 is implausible (max 65536)"},
      {"gemma4.embedding_length_per_layer_input", 1u << 17, "embedding_length_per_layer_input = 131072 is implausible"},
      {"gemma4.context_length", 1u << 30, "gemma4.context_length = 1073741824 is implausible (max 16777216)"},
      {"gemma4.attention.sliding_window", 4000000000u, "sliding_window = 4000000000 is implausible"},
      {"gemma4.attention.key_length", 1u << 20, "gemma4.attention.key_length = 1048576 is implausible (max 8192)"},
      {"gemma4.attention.key_length_swa", 1u << 14, "key_length_swa = 16384 is implausible"},
      {"gemma4.attention.head_count", 1u << 16, "gemma4.attention.head_count[0] = 65536 is implausible (max 1024)"},
      {"gemma4.attention.head_count_kv", 4096, "head_count_kv[0] = 4096 is implausible"},
      {"gemma4.feed_forward_length", 1u << 30, "feed_forward_length[0] = 1073741824 is implausible (max 1048576)"},
      {"gemma4.block_count", 5000, "block_count = 5000 is implausible (max 4096)"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    TinyGemma4 t;
    t.omit_keys = {c.key};
    if (std::string(c.key) == "gemma4.attention.key_length" || std::string(c.key) == "gemma4.attention.key_length_swa")
      t.omit_keys.insert(std::string(c.key) == "gemma4.attention.key_length" ? "gemma4.attention.value_length"
                                                                            : "gemma4.attention.value_length_swa");
    t.extra_keys = [&c](GgufWriter& w) {
      w.add_u32(c.key, static_cast<uint32_t>(c.value));
      const std::string k = c.key;
      if (k.ends_with("key_length")) w.add_u32("gemma4.attention.value_length", static_cast<uint32_t>(c.value));
      if (k.ends_with("key_length_swa")) w.add_u32("gemma4.attention.value_length_swa", static_cast<uint32_t>(c.value));
    };
    const std::string msg = load_error(t);
    CHECK_MESSAGE(contains(msg, c.expect), msg);
  }
  // The vocabulary size too (token count of the tokenizer, or vocab_size).
  TinyGemma4 t;
  t.omit_keys = {"tokenizer"};
  t.extra_keys = [](GgufWriter& w) { w.add_u32("gemma4.vocab_size", 1u << 28); };
  CHECK(contains(load_error(t), "the vocabulary size = 268435456 is implausible"));
}

TEST_CASE("Gemma 4 config: each defect gets a clear error") {
  struct Case { const char* what; std::function<void(TinyGemma4&)> edit; std::vector<std::string> expect; };
  const std::vector<Case> cases{
      {"architecture", [](TinyGemma4& t) { t.omit_keys = {"general.architecture"}; t.extra_keys = [](GgufWriter& w) { w.add_string("general.architecture", "llama"); }; },
       {"architecture 'llama' is not supported (supported: gemma4)"}},
      {"no architecture", [](TinyGemma4& t) { t.omit_keys = {"general.architecture"}; }, {"missing key general.architecture"}},
      {"no pattern", [](TinyGemma4& t) { t.omit_keys = {"gemma4.attention.sliding_window_pattern"}; },
       {"missing key gemma4.attention.sliding_window_pattern"}},
      {"pattern length", [](TinyGemma4& t) { t.omit_keys = {"gemma4.attention.sliding_window_pattern"};
         t.extra_keys = [](GgufWriter& w) { w.add_bool_array("gemma4.attention.sliding_window_pattern", {true, false}); }; },
       {"sliding_window_pattern has 2 entries, expected one per layer (4)"}},
      {"n_ff length", [](TinyGemma4& t) { t.omit_keys = {"gemma4.feed_forward_length"};
         t.extra_keys = [](GgufWriter& w) { w.add_array<uint32_t>("gemma4.feed_forward_length", std::vector<uint32_t>{1, 2, 3}); }; },
       {"feed_forward_length has 3 entries"}},
      {"missing block_count", [](TinyGemma4& t) { t.omit_keys = {"gemma4.block_count"}; }, {"missing key gemma4.block_count"}},
      {"key of the wrong type", [](TinyGemma4& t) { t.omit_keys = {"gemma4.embedding_length"};
         t.extra_keys = [](GgufWriter& w) { w.add_f32("gemma4.embedding_length", 32); }; },
       {"gemma4.embedding_length", "expected an integer"}},
      {"shared >= n_layer", [](TinyGemma4& t) { t.shared = 4; }, {"shared_kv_layers = 4 leaves no layer owning a KV cache"}},
      {"no owner of the kind", [](TinyGemma4& t) { t.sliding = {true, true, false, false}; },
       {"layer 2 (full) shares a KV cache, but none of the KV-owning layers 0..1 is full"}},
      {"GQA", [](TinyGemma4& t) { t.n_head = 3; t.n_head_kv = 2; }, {"layer 0: head_count 3 is not a multiple of head_count_kv 2"}},
      {"K/V head mismatch", [](TinyGemma4& t) { t.omit_keys = {"gemma4.attention.value_length"};
         t.extra_keys = [](GgufWriter& w) { w.add_u32("gemma4.attention.value_length", 16); }; },
       {"value_length = 16 differs from the key length 32"}},
      {"odd rope dims", [](TinyGemma4& t) { t.omit_keys = {"gemma4.rope.dimension_count_swa"};
         t.extra_keys = [](GgufWriter& w) { w.add_u32("gemma4.rope.dimension_count_swa", 15); }; },
       {"rope.dimension_count_swa = 15 must be even"}},
      {"missing tensor", [](TinyGemma4& t) { t.erase("blk.1.attn_k.weight"); },
       {"missing tensor 'blk.1.attn_k.weight' (expected shape [32, 32])"}},
      {"missing PLE table", [](TinyGemma4& t) { t.erase("per_layer_token_embd.weight"); }, {"missing tensor 'per_layer_token_embd.weight'"}},
      {"missing rope_freqs", [](TinyGemma4& t) { t.erase("rope_freqs.weight"); }, {"missing tensor 'rope_freqs.weight'"}},
      {"wrong shape", [](TinyGemma4& t) { t.find("blk.3.ffn_gate.weight")->ne = {32, 32}; },
       {"tensor 'blk.3.ffn_gate.weight' has the wrong shape: expected [32, 64], found [32, 32]"}},
      {"transposed", [](TinyGemma4& t) { t.find("blk.0.proj.weight")->ne = {32, 8}; },
       {"tensor 'blk.0.proj.weight' has the wrong shape: expected [8, 32], found [32, 8]"}},
      {"matrix type", [](TinyGemma4& t) { t.find("blk.0.attn_q.weight")->type = GgmlType::I32; },
       {"tensor 'blk.0.attn_q.weight' has type I32, which is not supported for weight matrices"}},
      {"matrix type nothing reads", [](TinyGemma4& t) { t.find("blk.0.ffn_up.weight")->type = GgmlType::Q8_1; },
       {"tensor 'blk.0.ffn_up.weight' has type Q8_1, which is not supported for weight matrices", "IQ4_NL, IQ4_XS, BF16, MXFP4)"}},
      {"PLE table type nothing reads", [](TinyGemma4& t) { t.find("per_layer_token_embd.weight")->type = GgmlType::Q8_1; },
       {"tensor 'per_layer_token_embd.weight' has type Q8_1, which is not supported for weight matrices"}},
      {"vector type", [](TinyGemma4& t) { t.find("blk.0.attn_norm.weight")->type = GgmlType::Q8_0; },
       {"tensor 'blk.0.attn_norm.weight' has type Q8_0, which is not supported for vectors"}},
      {"vocab mismatch", [](TinyGemma4& t) { t.find("token_embd.weight")->ne = {32, 17}; },
       {"tensor 'token_embd.weight' has the wrong shape: expected [32, 16], found [32, 17]"}},
  };
  for (const auto& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    TinyGemma4 t;
    c.edit(t);
    const std::string msg = load_error(t);
    if (std::getenv("VKG_PRINT_ERRORS")) MESSAGE(msg);
    CHECK_MESSAGE(!msg.empty(), "loaded without error");
    CHECK(msg.rfind("tiny.gguf: ", 0) == 0);
    for (const auto& e : c.expect) CHECK_MESSAGE(contains(msg, e), "'", e, "' not in: ", msg);
  }
}

TEST_CASE("E2B-shaped config: KV sources and KV cache bytes") {
  // Keys of the real E2B (DESIGN.md §2); no tensors are needed for the config.
  TinyGemma4 t;
  t.n_layer = 35;
  t.n_embd = 1536;
  t.n_ple = 256;
  t.hd_swa = 256;
  t.hd_full = 512;
  t.n_head = 8;
  t.n_head_kv = 1;
  t.window = 512;
  t.shared = 20;
  t.ctx = 131072;
  t.n_ff.assign(35, 12288);
  std::fill(t.n_ff.begin(), t.n_ff.begin() + 15, 6144);
  t.sliding.assign(35, true);
  for (uint32_t l = 4; l < 35; l += 5) t.sliding[l] = false;
  t.tensors.clear();
  t.omit_keys = {"tokenizer"};
  t.extra_keys = [](GgufWriter& w) { w.add_u32("gemma4.vocab_size", 262144); };
  const Gemma4Config c = gemma4_config_from_gguf(GgufFile::open_memory(t.bytes()));
  CHECK(c.n_vocab == 262144);
  CHECK(c.n_kv_layers == 15);
  for (uint32_t l = 15; l < 35; ++l) CHECK(c.layers[l].kv_source == (c.layers[l].is_sliding ? 13u : 14u));
  CHECK(c.layers[34].n_ff == 12288);
  Gemma4Model m;
  m.config = c;
  const Gemma4Footprint fp = gemma4_footprint(m, 2);
  CHECK(fp.kv_full_bytes_per_token == 3 * 2 * 512 * 2);      // layers 4, 9, 14
  CHECK(fp.kv_full_bytes_per_1k == 6u << 20);                // 6 MiB per 1K positions
  CHECK(fp.kv_sliding_bytes_per_token == 12 * 2 * 256 * 2);  // 12 sliding owners
  CHECK(fp.kv_sliding_ring_bytes == 6u << 20);               // 512-position ring
  CHECK(gemma4_kv_cache_bytes(c, 4096, 2) == (24u << 20) + (6u << 20));
  CHECK(gemma4_kv_cache_bytes(c, 4096, 4) == 2 * ((24u << 20) + (6u << 20)));
}
