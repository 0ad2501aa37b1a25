// GGUF reader/writer round trip, one crafted file per defect class, vocab metadata, and the
// golden models (real llama.cpp-compatible files) against their case.json.
#include <cmath>
#include <cstring>
#include <fstream>
#include <cstdio>
#include <optional>
#include <nlohmann/json.hpp>
#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_fixture.h"
#include "gguf_vocab.h"
#include "vocab_writer.h"
#include "gguf_writer.h"
#include "test_util.h"
#include "tokenizer.h"

using namespace vkg;
using vkg::test::fill_pseudo_random;

namespace {

// The message of the GgufError that opening `bytes` throws ("" if it opens).
std::string open_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::open_memory(std::span<const uint8_t>(bytes), "crafted.gguf");
  } catch (const GgufError& e) {
    return e.what();
  }
  return "";
}

// Raw little-endian byte builder for files no well-behaved writer would produce.
struct Raw {
  std::vector<uint8_t> b;
  Raw& u32(uint32_t v) { return put(&v, 4); }
  Raw& u64(uint64_t v) { return put(&v, 8); }
  Raw& u8(uint8_t v) { return put(&v, 1); }
  Raw& str(std::string_view s) { u64(s.size()); return put(s.data(), s.size()); }
  Raw& put(const void* p, size_t n) { b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n); return *this; }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) { put("GGUF", 4); u32(version); u64(n_tensors); return u64(n_kv); }
  Raw& kv_u32(std::string_view k, uint32_t v) { str(k); u32(4); return u32(v); }
  Raw& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name); u32(static_cast<uint32_t>(ne.size()));
    for (auto n : ne) u64(n);
    u32(type);
    return u64(offset);
  }
  Raw& pad(size_t a = 32) { while (b.size() % a) b.push_back(0); return *this; }
  Raw& zeros(size_t n) { b.insert(b.end(), n, 0); return *this; }
};

}  // namespace

TEST_CASE("GGUF write -> read round trip: every KV type, several tensor types, byte-exact data") {
  GgufWriter w;
  w.add_string("general.architecture", "test");
  w.add_u32("general.alignment", 64);
  w.add_u8("t.u8", 200);
  w.add_i8("t.i8", -100);
  w.add_u16("t.u16", 60000);
  w.add_i16("t.i16", -30000);
  w.add_u32("t.u32", 4000000000u);
  w.add_i32("t.i32", -2000000000);
  w.add_u64("t.u64", 0xFFFFFFFFFFFFFFF0ull);
  w.add_i64("t.i64", -(int64_t{1} << 62));
  w.add_f32("t.f32", 3.25f);
  w.add_f64("t.f64", -1e300);
  w.add_bool("t.bool", true);
  w.add_string("t.str", "h\xC3\xA9llo \xE2\x96\x81world");
  w.add_string("t.empty", "");
  w.add_array<uint8_t>("a.u8", std::vector<uint8_t>{1, 2, 255});
  w.add_array<int8_t>("a.i8", std::vector<int8_t>{-1, 0, 127});
  w.add_array<uint16_t>("a.u16", std::vector<uint16_t>{65535});
  w.add_array<int16_t>("a.i16", std::vector<int16_t>{-5, 5});
  w.add_array<uint32_t>("a.u32", std::vector<uint32_t>{1, 2, 3, 4});
  w.add_array<int32_t>("a.i32", std::vector<int32_t>{-7});
  w.add_array<uint64_t>("a.u64", std::vector<uint64_t>{1ull << 40});
  w.add_array<int64_t>("a.i64", std::vector<int64_t>{-(1ll << 40), 3});
  w.add_array<float>("a.f32", std::vector<float>{0.5f, -0.25f});
  w.add_array<double>("a.f64", std::vector<double>{1e-300});
  w.add_array<uint32_t>("a.empty", std::vector<uint32_t>{});
  w.add_bool_array("a.bool", {true, false, true});
  const std::vector<std::string> strs{"", "a", "\xE2\x96\x81the", std::string(1000, 'x')};
  w.add_string_array("a.str", strs);
  struct T { std::string name; GgmlType type; std::vector<uint64_t> ne; };
  const std::vector<T> ts{{"f32", GgmlType::F32, {7, 3}}, {"f16", GgmlType::F16, {5}},
                          {"q8_0", GgmlType::Q8_0, {64, 2}}, {"q4_k", GgmlType::Q4_K, {256, 1, 2}},
                          {"bf16", GgmlType::BF16, {3, 2, 2, 2}}, {"q6_k", GgmlType::Q6_K, {512, 3}}};
  for (const auto& t : ts) w.add_tensor(t.name, t.type, t.ne);
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < ts.size(); ++i) {
    data.emplace_back(w.tensors()[i].n_bytes);
    fill_pseudo_random(data.back().data(), data.back().size(), 100 + i);
  }
  const auto path = vkg::test::scratch_dir("gguf_roundtrip") / "rt.gguf";
  // Stream each tensor in odd-sized chunks through the callback.
  w.write_file(path, [&](size_t i, const GgufWriter::Tensor& t, GgufWriter& out) {
    CHECK(t.name == ts[i].name);
    for (size_t off = 0; off < data[i].size(); off += 7) out.write(data[i].data() + off, std::min<size_t>(7, data[i].size() - off));
  });
  CHECK(std::filesystem::file_size(path) == w.file_size());

  GgufFile f = GgufFile::open(path);
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 64);
  CHECK(f.data_offset() == w.data_offset());
  CHECK(f.data_offset() % 64 == 0);
  CHECK(f.kvs().size() == 28);
  CHECK(f.get_string("general.architecture") == "test");
  CHECK(f.get_u8("t.u8") == 200);
  CHECK(f.get_i8("t.i8") == -100);
  CHECK(f.get_u16("t.u16") == 60000);
  CHECK(f.get_i16("t.i16") == -30000);
  CHECK(f.get_u32("t.u32") == 4000000000u);
  CHECK(f.get_i32("t.i32") == -2000000000);
  CHECK(f.get_u64("t.u64") == 0xFFFFFFFFFFFFFFF0ull);
  CHECK(f.get_i64("t.i64") == -(int64_t{1} << 62));
  CHECK(f.get_f32("t.f32") == 3.25f);
  CHECK(f.get_f64("t.f64") == -1e300);
  CHECK(f.get_bool("t.bool"));
  CHECK(f.get_string("t.str") == "h\xC3\xA9llo \xE2\x96\x81world");
  CHECK(f.get_string("t.empty").empty());
  CHECK(f.get_array<uint8_t>("a.u8") == std::vector<uint8_t>{1, 2, 255});
  CHECK(f.get_array<int8_t>("a.i8") == std::vector<int8_t>{-1, 0, 127});
  CHECK(f.get_array<uint16_t>("a.u16") == std::vector<uint16_t>{65535});
  CHECK(f.get_array<int16_t>("a.i16") == std::vector<int16_t>{-5, 5});
  CHECK(f.get_array<uint32_t>("a.u32") == std::vector<uint32_t>{1, 2, 3, 4});
  CHECK(f.get_array<int32_t>("a.i32") == std::vector<int32_t>{-7});
  CHECK(f.get_array<uint64_t>("a.u64") == std::vector<uint64_t>{1ull << 40});
  CHECK(f.get_array<int64_t>("a.i64") == std::vector<int64_t>{-(1ll << 40), 3});
  CHECK(f.get_array<float>("a.f32") == std::vector<float>{0.5f, -0.25f});
  CHECK(f.get_array<double>("a.f64") == std::vector<double>{1e-300});
  CHECK(f.get_array<uint32_t>("a.empty").empty());
  CHECK(f.get_array<bool>("a.bool") == std::vector<bool>{true, false, true});
  CHECK(f.get_string_array("a.str") == strs);
  // Lenient getters and type errors.
  CHECK(f.get_uint("t.u8") == 200);
  CHECK(f.get_int("t.i32") == -2000000000);
  CHECK(f.get_float("t.f32") == 3.25);
  CHECK(f.get_uint_array("a.u32") == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(f.get_uint("t.i8"), doctest::Contains("negative"), GgufError);
  CHECK_THROWS_WITH_AS(f.get_u32("t.u8"), doctest::Contains("has type u8, expected u32"), GgufError);
  CHECK_THROWS_WITH_AS(f.get_u32("nope"), doctest::Contains("key 'nope' not found"), GgufError);
  CHECK_THROWS_WITH_AS(f.get_array<float>("a.u32"), doctest::Contains("array of u32"), GgufError);
  CHECK_THROWS_AS(f.tensor("nope"), GgufError);

  REQUIRE(f.tensors().size() == ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    const GgufTensorInfo& t = f.tensor(ts[i].name);
    CHECK(t.type == ts[i].type);
    CHECK(t.n_dims == ts[i].ne.size());
    for (size_t d = 0; d < 4; ++d) CHECK(t.ne[d] == (d < ts[i].ne.size() ? ts[i].ne[d] : 1));
    CHECK(t.offset % 64 == 0);
    CHECK(t.n_bytes == data[i].size());
    CHECK(std::memcmp(t.data, data[i].data(), data[i].size()) == 0);
  }
  // The in-memory output is the same bytes as the streamed file.
  std::vector<uint8_t> mem;
  GgufWriter w2;
  w2.add_u32("general.alignment", 64);
  w2.add_tensor("x", GgmlType::F16, {3});
  w2.begin(mem);
  const uint16_t h[3] = {1, 2, 3};
  w2.write(h, sizeof h);
  w2.finish();
  CHECK(mem.size() == 192);  // header (24 + KV 33 + tensor info 33) padded to 128, data 6 padded to 64
  CHECK(GgufFile::open_memory(std::span<const uint8_t>(mem)).tensor("x").n_bytes == 6);
}

TEST_CASE("GgufWriter rejects misuse") {
  GgufWriter w;
  w.add_u32("k", 1);
  CHECK_THROWS_WITH_AS(w.add_f32("k", 1), doctest::Contains("duplicate key 'k'"), GgufError);
  CHECK_THROWS_AS(w.add_u32("general.alignment", 48), GgufError);
  CHECK_THROWS_AS(w.add_u64("general.alignment", 64), GgufError);
  w.add_tensor("t", GgmlType::Q8_0, {32});
  CHECK_THROWS_WITH_AS(w.add_tensor("t", GgmlType::F32, {1}), doctest::Contains("duplicate tensor name"), GgufError);
  CHECK_THROWS_WITH_AS(w.add_tensor("u", GgmlType::Q8_0, {33}), doctest::Contains("block size 32"), GgufError);
  CHECK_THROWS_AS(w.add_tensor(std::string(64, 'n'), GgmlType::F32, {1}), GgufError);
  CHECK_THROWS_AS(w.add_tensor("z", GgmlType::F32, {0}), GgufError);
  CHECK_THROWS_AS(w.add_tensor("d5", GgmlType::F32, {1, 1, 1, 1, 1}), GgufError);
  std::vector<uint8_t> out;
  w.begin(out);
  CHECK_THROWS_AS(w.add_u32("late", 1), GgufError);
  CHECK_THROWS_WITH_AS(w.finish(), doctest::Contains("incomplete"), GgufError);
  std::vector<uint8_t> block(34 + 1);
  CHECK_THROWS_WITH_AS(w.write(block.data(), block.size()), doctest::Contains("past the last tensor"), GgufError);
}

TEST_CASE("GGUF defect table: one crafted file per error class, each named precisely") {
  struct Case { const char* what; std::vector<uint8_t> bytes; std::vector<std::string> expect; };
  const std::string long_key(40, 'k');
  std::vector<Case> cases;
  cases.push_back({"empty file", {}, {"empty"}});
  cases.push_back({"bad magic", Raw().put("GGUX", 4).u32(3).u64(0).u64(0).b, {"bad magic", "byte 0"}});
  cases.push_back({"unsupported version", Raw().header(0, 0, 4).b, {"unsupported GGUF version 4", "byte 4"}});
  cases.push_back({"obsolete version 1", Raw().header(0, 0, 1).b, {"unsupported GGUF version 1"}});
  cases.push_back({"big-endian", Raw().header(0, 0, 0x03000000).b, {"big-endian"}});
  cases.push_back({"truncated header", Raw().put("GGUF", 4).u32(3).u32(0).b, {"truncated header", "needs 24"}});
  cases.push_back({"KV count past the end", Raw().header(0, 1ull << 60).b, {"KV count 1152921504606846976", "byte 16"}});
  cases.push_back({"tensor count past the end", Raw().header(1ull << 60, 0).b, {"tensor count", "byte 8"}});
  cases.push_back({"truncated KV", Raw().header(0, 1).str(long_key).u32(4).u8(1).b, {"truncated KV #0 '" + long_key + "' value", "byte 76"}});
  cases.push_back({"key string length past the end", Raw().header(0, 1).u64(1ull << 40).zeros(16).b,
                   {"KV #0 key", "string length 1099511627776 at byte 24 runs past the end"}});
  cases.push_back({"string value length past the end", Raw().header(0, 1).str("k").u32(8).u64(1000).zeros(8).b,
                   {"KV #0 'k' string value", "string length 1000", "runs past the end"}});
  cases.push_back({"array length past the end", Raw().header(0, 1).str("arr").u32(9).u32(4).u64(1ull << 40).zeros(8).b,
                   {"key 'arr'", "array length 1099511627776", "runs past the end"}});
  cases.push_back({"string array element past the end", Raw().header(0, 1).str("arr").u32(9).u32(8).u64(2).str("ok").u64(99).b,
                   {"KV #0 'arr' array element", "string length 99"}});
  cases.push_back({"unknown KV value type", Raw().header(0, 1).str("k").u32(13).u32(0).b, {"key 'k'", "unknown value type 13", "byte 33"}});
  cases.push_back({"unknown array element type", Raw().header(0, 1).str("k").u32(9).u32(77).u64(0).b, {"unknown array element type 77"}});
  cases.push_back({"nested array", Raw().header(0, 1).str("k").u32(9).u32(9).u64(0).b, {"nested arrays"}});
  cases.push_back({"invalid bool", Raw().header(0, 1).str("flag").u32(7).u8(2).zeros(8).b, {"'flag'", "invalid bool value 2"}});
  cases.push_back({"duplicate key", Raw().header(0, 2).kv_u32("dup", 1).kv_u32("dup", 2).b, {"duplicate key 'dup'", "byte 43", "byte 24"}});
  cases.push_back({"alignment not a power of two", Raw().header(0, 1).kv_u32("general.alignment", 48).b, {"general.alignment", "not a power of two"}});
  cases.push_back({"alignment of the wrong type", Raw().header(0, 1).str("general.alignment").u32(10).u64(32).b, {"general.alignment", "expected u32"}});
  auto one_tensor = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data_bytes) {
    return Raw().header(1, 0).tensor("w.weight", std::move(ne), type, offset).pad().zeros(data_bytes).b;
  };
  cases.push_back({"truncated tensor table", Raw().header(1, 0).str("a.fairly.long.tensor.name.weight").u32(2).u64(4).b,
                   {"truncated tensor info #0 'a.fairly.long.tensor.name.weight' ne"}});
  cases.push_back({"tensor name length past the end", Raw().header(1, 0).u64(5000).zeros(40).b, {"tensor info #0 name", "string length 5000"}});
  cases.push_back({"unknown ggml type", one_tensor({32}, 4, 0, 32), {"tensor 'w.weight'", "unknown ggml type 4"}});
  cases.push_back({"n_dims > 4", Raw().header(1, 0).str("w").u32(5).zeros(64).b, {"tensor 'w'", "n_dims 5 is out of range"}});
  cases.push_back({"n_dims 0", Raw().header(1, 0).str("w").u32(0).zeros(64).b, {"n_dims 0 is out of range"}});
  cases.push_back({"0-size dimension", one_tensor({4, 0}, 0, 0, 32), {"tensor 'w.weight'", "dimension 1 is 0"}});
  cases.push_back({"element count overflow", one_tensor({1ull << 32, 1ull << 32}, 0, 0, 32), {"tensor 'w.weight'", "overflows int64"}});
  cases.push_back({"row not a multiple of the block", one_tensor({33, 2}, 8, 0, 128), {"tensor 'w.weight'", "ne[0] = 33", "Q8_0 block size 32"}});
  cases.push_back({"misaligned offset", one_tensor({4}, 0, 16, 64), {"tensor 'w.weight'", "offset 16", "misaligned", "alignment 32"}});
  cases.push_back({"data out of bounds", one_tensor({4}, 0, 1 << 20, 64), {"tensor 'w.weight'", "offset 1048576 is out of bounds"}});
  cases.push_back({"truncated data", one_tensor({16}, 0, 0, 10), {"tensor 'w.weight'", "truncated data", "file ends at byte"}});
  cases.push_back({"data section missing", Raw().header(1, 0).tensor("w.weight", {16}, 0, 0).pad().b, {"truncated data", "should start at byte 64"}});
  cases.push_back({"overlapping tensors", Raw().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad().zeros(128).b,
                   {"tensor 'b'", "overlaps tensor 'a'"}});
  cases.push_back({"duplicate tensor name", Raw().header(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32).pad().zeros(64).b,
                   {"duplicate tensor name 't'", "byte 57", "byte 24"}});
  for (const auto& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    const std::string msg = open_error(c.bytes);
    if (std::getenv("VKG_PRINT_ERRORS")) MESSAGE(msg);
    CHECK_MESSAGE(!msg.empty(), "opened without error");
    CHECK(msg.rfind("crafted.gguf: ", 0) == 0);
    for (const auto& e : c.expect) CHECK_MESSAGE(msg.find(e) != std::string::npos, "'", e, "' not in: ", msg);
  }
  // Sanity: the builder makes valid files when nothing is wrong.
  CHECK(open_error(one_tensor({8}, 0, 0, 32)).empty());
  CHECK(open_error(Raw().header(0, 0).b).empty());
  CHECK_THROWS_WITH_AS(GgufFile::open("/nonexistent/x.gguf"), doctest::Contains("cannot open"), GgufError);
}

TEST_CASE("vocab: write -> read round trip and malformed tokenizer metadata") {
  test::TinyGemma4 tiny;
  const Vocab v = tiny.vocab();
  GgufFile f = GgufFile::open_memory(tiny.bytes());
  const Vocab r = read_vocab(f);
  CHECK(r.model == v.model);
  CHECK(r.tokens == v.tokens);
  CHECK(r.scores == v.scores);
  CHECK(r.types == v.types);
  CHECK(r.merges == v.merges);
  CHECK(r.bos_id == v.bos_id);
  CHECK(r.eos_id == v.eos_id);
  CHECK(r.pad_id == v.pad_id);
  CHECK(r.unk_id == v.unk_id);
  CHECK(r.add_bos == v.add_bos);
  CHECK(r.add_eos == v.add_eos);
  CHECK(r.eog_ids == v.eog_ids);
  CHECK(r.chat_template == v.chat_template);

  auto vocab_error = [](const std::function<void(GgufWriter&)>& keys) {
    GgufWriter w;
    keys(w);
    std::vector<uint8_t> out;
    w.begin(out);
    w.finish();
    try {
      read_vocab(GgufFile::open_memory(std::move(out)));
    } catch (const GgufError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::vector<std::string> toks{"a", "b", "c"};
  CHECK(vocab_error([](GgufWriter& w) { w.add_string("tokenizer.ggml.model", "gemma4"); }).find("tokenizer.ggml.tokens is missing") != std::string::npos);
  CHECK(vocab_error([&](GgufWriter& w) { w.add_string("tokenizer.ggml.model", "gemma4"); w.add_string_array("tokenizer.ggml.tokens", toks); })
            .find("tokenizer.ggml.merges is missing or empty but model 'gemma4' is BPE") != std::string::npos);
  CHECK(vocab_error([&](GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "llama"); w.add_string_array("tokenizer.ggml.tokens", toks);
          w.add_array<int32_t>("tokenizer.ggml.token_type", std::vector<int32_t>{1, 1});
        }).find("tokenizer.ggml.token_type has 2 entries but tokenizer.ggml.tokens has 3") != std::string::npos);
  CHECK(vocab_error([&](GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "llama"); w.add_string_array("tokenizer.ggml.tokens", toks);
          w.add_array<int32_t>("tokenizer.ggml.token_type", std::vector<int32_t>{1, 9, 1});
        }).find("tokenizer.ggml.token_type[1] = 9 is not a token type") != std::string::npos);
  CHECK(vocab_error([&](GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "llama"); w.add_string_array("tokenizer.ggml.tokens", toks);
          w.add_u32("tokenizer.ggml.bos_token_id", 3);
        }).find("tokenizer.ggml.bos_token_id = 3 is out of range (the vocabulary has 3 tokens)") != std::string::npos);
  CHECK(vocab_error([&](GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "llama"); w.add_string_array("tokenizer.ggml.tokens", toks);
          w.add_array<float>("tokenizer.ggml.scores", std::vector<float>{0});
        }).find("tokenizer.ggml.scores has 1 entries") != std::string::npos);
  CHECK(vocab_error([&](GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "gemma4"); w.add_string_array("tokenizer.ggml.tokens", toks);
          w.add_string_array("tokenizer.ggml.merges", std::vector<std::string>{"a b", "ab"});
        }).find("tokenizer.ggml.merges[1] = 'ab' is not of the form 'left right'") != std::string::npos);
  CHECK(vocab_error([&](GgufWriter& w) {
          w.add_string("tokenizer.ggml.model", "llama"); w.add_string_array("tokenizer.ggml.tokens", toks);
          w.add_u32("tokenizer.ggml.eot_token_id", 7);
        }).find("eot_token_id = 7 is out of range") != std::string::npos);
  // Absent optional keys: types default to Normal, out-of-range default ids become -1.
  GgufWriter w;
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", toks);
  std::vector<uint8_t> out;
  w.begin(out);
  w.finish();
  const Vocab m = read_vocab(GgufFile::open_memory(std::move(out)));
  CHECK(m.types == std::vector<TokenType>(3, TokenType::Normal));
  CHECK(m.bos_id == 2);
  CHECK(m.unk_id == -1);
}

TEST_CASE("vocab: Ollama blobs (model llama + pre gemma4 + merges, eos_token_ids, vision tensors) load") {
  test::TinyGemma4 tiny;
  tiny.edit_vocab = [](Vocab& v) {
    v = test::TinyGemma4::tokenizer_vocab();
    v.model = "llama";
    v.pre = "gemma4";
    v.eog_ids.clear();
  };
  tiny.extra_keys = [](GgufWriter& w) {
    w.add_array<int32_t>("tokenizer.ggml.eos_token_ids", std::vector<int32_t>{1, 15});  // <eos>, "\n"
  };
  tiny.tensors.push_back({"v.patch_embd.weight", GgmlType::F16, {8, 4}});
  tiny.tensors.push_back({"a.blk.0.attn_q.weight", GgmlType::F32, {4}});
  tiny.tensors.push_back({"mm.a.fc.weight", GgmlType::F32, {4}});
  const GgufFile f = GgufFile::open_memory(tiny.bytes());
  CHECK(f.get_string("tokenizer.ggml.model") == "llama");
  const Vocab v = read_vocab(f);
  CHECK(v.model == "gemma4");
  CHECK(v.pre == "gemma4");
  CHECK(v.eog_ids == std::vector<int32_t>{1, 15});
  const Tokenizer tok(v);
  CHECK(tok.encode("ab ab", true, false) == std::vector<int32_t>{2, 6, 8});
  CHECK(tok.is_eog(15));
  const Gemma4Model m = load_gemma4(f);
  CHECK(m.weights.unused.size() == 3);

  // "llama" without the gemma4 pre-tokenizer stays "llama" (a SentencePiece model): refused by
  // the tokenizer, naming it; "llama" + gemma4 without merges is refused at read.
  tiny.edit_vocab = [](Vocab& v) {
    v = test::TinyGemma4::tokenizer_vocab();
    v.model = "llama";
  };
  const Vocab spm = read_vocab(GgufFile::open_memory(tiny.bytes()));
  CHECK(spm.model == "llama");
  CHECK_THROWS_WITH_AS(Tokenizer{spm}, doctest::Contains("tokenizer model \"llama\" is not supported"), VocabError);
  tiny.edit_vocab = [](Vocab& v) {
    v = test::TinyGemma4::tokenizer_vocab();
    v.model = "llama";
    v.pre = "gemma4";
    v.merges.clear();
  };
  CHECK_THROWS_WITH_AS(read_vocab(GgufFile::open_memory(tiny.bytes())),
                       doctest::Contains("tokenizer.ggml.merges is missing or empty but model 'gemma4' is BPE"),
                       GgufError);
}

TEST_CASE("vocab: BOS is forced on for gemma4; the file's value is kept; eos_token_ids out of range") {
  test::TinyGemma4 tiny;
  for (const std::optional<bool> file : {std::optional<bool>{}, std::optional<bool>{false}, std::optional<bool>{true}}) {
    tiny.edit_vocab = [file](Vocab& v) {
      v = test::TinyGemma4::tokenizer_vocab();
      v.file_add_bos = file;
      v.add_bos = file.value_or(true);
    };
    const Vocab v = read_vocab(GgufFile::open_memory(tiny.bytes()));
    CHECK(v.add_bos);
    CHECK(v.file_add_bos == file.value_or(true));  // write_vocab always writes the key
    CHECK(vocab_notices(v).size() == (file == false ? 1u : 0u));
    CHECK(Tokenizer(v).encode("a", v.add_bos, false) == std::vector<int32_t>{2, 4});
  }
  // Not a gemma4 tokenizer: the file's value stands. Ollama's eos_token_ids are range-checked.
  auto llama_file = [](bool bad_list) {
    GgufWriter w;
    w.add_string("tokenizer.ggml.model", "llama");
    w.add_string_array("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b", "c"});
    w.add_bool("tokenizer.ggml.add_bos_token", false);
    w.add_array<int32_t>("tokenizer.ggml.eos_token_ids", std::vector<int32_t>{0, bad_list ? 3 : 1});
    std::vector<uint8_t> out;
    w.begin(out);
    w.finish();
    return out;
  };
  const Vocab l = read_vocab(GgufFile::open_memory(llama_file(false)));
  CHECK(!l.add_bos);
  CHECK(l.eog_ids == std::vector<int32_t>{0, 1});
  CHECK_THROWS_WITH_AS(read_vocab(GgufFile::open_memory(llama_file(true))),
                       doctest::Contains("tokenizer.ggml.eos_token_ids = 3 is out of range"), GgufError);
}

// ------------------------------------------------------------------------------------------------
// Golden models: real files written by llama.cpp's gguf-py (see ../shared/golden/README.md).

TEST_CASE("golden models: load, validate as Gemma 4, match case.json, rewrite byte-identically") {
  VKG_REQUIRE_SHARED();
  int loaded = 0;
  for (const std::string name : {"tiny_f32", "tiny_q8_0", "tiny_q4_k_m"}) {
    CAPTURE(name);
    const auto dir = vkg::test::shared_dir() / "golden" / name;
    if (!std::filesystem::exists(dir / "model.gguf")) {
      vkg::test::skip(dir.string() + " is absent");
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(std::ifstream(dir / "case.json"));
    const nlohmann::json& cfg = j.at("config");
    const GgufFile f = GgufFile::open(dir / "model.gguf");
    const Gemma4Model m = load_gemma4(f);
    const Gemma4Config& c = m.config;
    ++loaded;

    CHECK(f.file_size() == j.at("model_bytes").get<uint64_t>());
    CHECK(f.alignment() == cfg.at("alignment").get<uint32_t>());
    CHECK(c.n_layer == cfg.at("n_layer").get<uint32_t>());
    CHECK(c.n_embd == cfg.at("n_embd").get<uint32_t>());
    CHECK(c.n_ple == cfg.at("n_embd_per_layer").get<uint32_t>());
    CHECK(c.n_vocab == cfg.at("n_vocab").get<uint32_t>());
    CHECK(c.n_ctx_train == cfg.at("ctx").get<uint32_t>());
    CHECK(c.head_dim_full == cfg.at("head_dim_full").get<uint32_t>());
    CHECK(c.head_dim_swa == cfg.at("head_dim_swa").get<uint32_t>());
    CHECK(c.n_rot_full == cfg.at("rope_dim_full").get<uint32_t>());
    CHECK(c.n_rot_swa == cfg.at("rope_dim_swa").get<uint32_t>());
    CHECK(c.sliding_window == cfg.at("n_swa").get<uint32_t>());
    CHECK(c.n_shared_kv_layers == cfg.at("shared_kv_layers").get<uint32_t>());
    CHECK(c.n_kv_layers == cfg.at("kv_start").get<uint32_t>());
    CHECK(c.rope_base_full == doctest::Approx(cfg.at("rope_base").get<double>()));
    CHECK(c.rope_base_swa == doctest::Approx(cfg.at("rope_base_swa").get<double>()));
    CHECK(c.rms_eps == doctest::Approx(cfg.at("eps").get<double>()));
    CHECK(c.final_logit_softcap == doctest::Approx(cfg.at("softcap").get<double>()));
    const auto n_ff = cfg.at("n_ff_arr").get<std::vector<uint32_t>>();
    const auto swa = cfg.at("swa_layers").get<std::vector<int>>();
    const auto n_head_kv = cfg.at("n_head_kv_arr").get<std::vector<uint32_t>>();
    REQUIRE(c.layers.size() == n_ff.size());
    for (uint32_t l = 0; l < c.n_layer; ++l) {
      CAPTURE(l);
      const Gemma4Layer& L = c.layers[l];
      CHECK(L.n_ff == n_ff[l]);
      CHECK(L.is_sliding == (swa[l] != 0));
      CHECK(L.n_head == cfg.at("n_head").get<uint32_t>());
      CHECK(L.n_head_kv == n_head_kv[l]);
      CHECK(L.head_dim == (L.is_sliding ? c.head_dim_swa : c.head_dim_full));
      CHECK(L.owns_kv == (l < c.n_kv_layers));
      CHECK(m.weights.layers[l].layer_output_scale != nullptr);
      CHECK((m.weights.layers[l].attn_k != nullptr) == L.owns_kv);
    }
    // "shared KV: last 3 layers (layers >= 3) reuse layer 1 (sliding) / 2 (full)"
    bool found_feature = false;
    for (const auto& feat : j.at("features")) {
      const std::string s = feat.get<std::string>();
      const size_t at = s.find("layers >= ");
      unsigned start = 0, src_swa = 0, src_full = 0;
      if (at == std::string::npos ||
          std::sscanf(s.c_str() + at, "layers >= %u) reuse layer %u (sliding) / %u (full)", &start, &src_swa, &src_full) != 3)
        continue;
      found_feature = true;
      CHECK(start == c.n_kv_layers);
      for (uint32_t l = 0; l < c.n_layer; ++l)
        CHECK(c.layers[l].kv_source == (l < start ? l : c.layers[l].is_sliding ? src_swa : src_full));
    }
    CHECK(found_feature);

    // Every tensor in the file is read by the forward pass, with the type case.json lists.
    CHECK(m.weights.unused.empty());
    CHECK(m.weights.output == nullptr);  // tied LM head
    CHECK(f.tensors().size() == j.at("tensor_types").size());
    for (const auto& [tname, ttype] : j.at("tensor_types").items())
      CHECK(ggml_type_name(static_cast<uint32_t>(f.tensor(tname).type)) == ttype.get<std::string>());

    // Byte accounting: the PLE table is the host set, everything else the device set.
    const Gemma4Footprint fp = gemma4_footprint(m, 2);
    uint64_t all_bytes = 0, all_params = 0;
    for (const auto& t : f.tensors()) all_bytes += t.n_bytes, all_params += t.n_elements;
    CHECK(fp.host_bytes == f.tensor("per_layer_token_embd.weight").n_bytes);
    CHECK(fp.host_params == uint64_t{c.n_layer} * c.n_ple * c.n_vocab);
    CHECK(fp.device_bytes + fp.host_bytes == all_bytes);
    CHECK(fp.device_params + fp.host_params == all_params);
    uint64_t full_tok = 0, swa_tok = 0;
    for (uint32_t l = 0; l < c.n_kv_layers; ++l)
      (swa[l] ? swa_tok : full_tok) += 2ull * n_head_kv[l] * (swa[l] ? c.head_dim_swa : c.head_dim_full) * 2;
    CHECK(fp.kv_full_bytes_per_1k == 1024 * full_tok);
    CHECK(fp.kv_sliding_ring_bytes == c.sliding_window * swa_tok);
    CHECK(gemma4_kv_cache_bytes(c, 1024, 2) == fp.kv_full_bytes_per_1k + fp.kv_sliding_ring_bytes);
    CHECK(gemma4_kv_cache_bytes(c, 3, 4) == 3 * 2 * (full_tok + swa_tok));

    const Vocab v = read_vocab(f);
    CHECK(v.tokens.size() == c.n_vocab);
    CHECK(v.bos_id == 2);

    // Our writer reproduces the file byte for byte from its KVs and tensors.
    GgufWriter w;
    for (const auto& kv : f.kvs()) test::copy_kv(f, kv, w);
    for (const auto& t : f.tensors())
      w.add_tensor(t.name, t.type, std::span<const uint64_t>(t.ne.data(), t.n_dims));
    std::vector<uint8_t> out;
    w.begin(out);
    for (const auto& t : f.tensors()) w.write_tensor(t.name, t.bytes());
    w.finish();
    CHECK(out.size() == f.file_size());
    CHECK(std::memcmp(out.data(), f.bytes().data(), std::min<size_t>(out.size(), f.file_size())) == 0);
  }
  MESSAGE(loaded, " golden models checked");
}
