// Real published-file conventions (issue 13) on the golden case tiny_real_vocab_llamacpp: the
// real 262144-token Gemma 4 vocabulary typed as llama.cpp's convert_hf_to_gguf.py writes it
// (<eos> and </s> NORMAL, the visible markup USER_DEFINED, only eos_token_id = 1), quantized by
// llama-quantize to Q4_0. Expected values come from the case's eog.json / tokens.json (made by
// llama.cpp and an HF-compatible tokenizer) and its float64 reference logits.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "device_weights.h"
#include "forward.h"
#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_fixture.h"
#include "gguf_vocab.h"
#include "golden.h"
#include "gpu.h"
#include "synth.h"
#include "template_id.h"
#include "test_util.h"
#include "tokenizer.h"

using namespace vkg;
using Ids = std::vector<int32_t>;

namespace {

constexpr const char* kCase = "tiny_real_vocab_llamacpp";

std::filesystem::path case_dir() { return test::shared_dir() / "golden" / kCase; }

nlohmann::json read_json(const std::filesystem::path& p) { return nlohmann::json::parse(std::ifstream(p)); }

// The file, its vocabulary and tokenizer, read once (the tokenizer build takes a few seconds).
struct RealFile {
  GgufFile file;
  Vocab vocab;
  Tokenizer tok;
};
const RealFile& real_file() {
  static const RealFile r = [] {
    GgufFile f = GgufFile::open(case_dir() / "model.gguf");
    Vocab v = read_vocab(f);
    Tokenizer t(v);
    return RealFile{std::move(f), std::move(v), std::move(t)};
  }();
  return r;
}

// Runs the CLI; stderr joins stdout unless args redirect it.
std::string run_cli(const std::string& args, int* rc = nullptr) {
  const std::string cmd =
      fmt::format("{}/tools/vkgemma {}{}", VKG_BINARY_DIR, args, args.find("2>") == std::string::npos ? " 2>&1" : "");
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  if (rc) *rc = status;
  else CHECK_MESSAGE(status == 0, cmd, " failed: ", out);
  return out;
}

}  // namespace

TEST_CASE("real-convention file: end-of-generation set and BOS decision equal eog.json") {
  VKG_REQUIRE_SHARED();
  const auto eog = read_json(case_dir() / "eog.json");
  const RealFile& r = real_file();
  const Ids want = eog["eog_token_ids"].get<Ids>();
  CHECK(r.vocab.eog_ids == want);  // {1, 50, 106}: <eos>, <|tool_response>, <turn|>
  CHECK(r.tok.eog_ids() == want);
  CHECK(end_of_generation_set(r.vocab) == want);
  for (int32_t id : want) CHECK(r.tok.is_eog(id));
  for (const auto& [id, text] : eog["not_eog"].items()) {  // </s> (212)
    CAPTURE(text);
    CHECK(r.vocab.tokens[std::stoi(id)] == text.get<std::string>());
    CHECK(!r.tok.is_eog(std::stoi(id)));
  }
  CHECK(!r.tok.is_eog(105));  // <|turn>
  CHECK(r.vocab.eos_id == eog["eos_token_id"].get<int32_t>());
  CHECK(r.vocab.bos_id == eog["bos_token_id"].get<int32_t>());
  CHECK(r.vocab.add_bos == eog["add_bos"].get<bool>());
  REQUIRE(r.vocab.file_add_bos.has_value());
  CHECK(*r.vocab.file_add_bos == eog["file_add_bos_token"].get<bool>());
  // The file carries only eos_token_id: the set comes from the token texts.
  CHECK(!r.file.has("tokenizer.ggml.eot_token_id"));
  CHECK(!r.file.has("tokenizer.ggml.eog_token_ids"));
}

TEST_CASE("real-convention file: the prompt tokenized with special text parsed equals tokens.json") {
  VKG_REQUIRE_SHARED();
  const auto tj = read_json(case_dir() / "tokens.json");
  const RealFile& r = real_file();
  const std::string prompt = tj["prompt"];
  const Ids want = tj["tokens"].get<Ids>();
  CHECK(r.tok.encode(prompt, r.vocab.add_bos, true) == want);  // [BOS] + the chat turn
  // "\n" (107) is NORMAL in this file (an added token in HF): the newline split still finds it.
  CHECK(r.vocab.types[107] == TokenType::Normal);
  CHECK(r.tok.decode(want, true) == "<bos>" + prompt);
  CHECK(r.tok.decode(want, false) == "user\nWhat is the capital of France?\nmodel\n");
}

TEST_CASE("real-convention file: stored token types and the types tokens act as") {
  VKG_REQUIRE_SHARED();
  const RealFile& r = real_file();
  const Tokenizer& tok = r.tok;
  // Stored as the converter writes them.
  for (int32_t id : {0, 2, 3, 4, 46, 47, 98, 105, 106, 255999, 256000, 258880, 258884})
    CHECK_MESSAGE(r.vocab.types[id] == TokenType::Control, id);
  for (int32_t id : {48, 49, 50, 51, 52, 100, 101}) CHECK_MESSAGE(r.vocab.types[id] == TokenType::UserDefined, id);
  CHECK(r.vocab.types[1] == TokenType::Normal);    // <eos>
  CHECK(r.vocab.types[212] == TokenType::Normal);  // </s>
  CHECK(r.vocab.types[238] == TokenType::Byte);    // <0x00>
  // Acting as (llama.cpp overrides the "control-looking" ones): <eos>, </s>, <|tool_response> control.
  for (int32_t id : {1, 50, 212}) CHECK_MESSAGE(tok.acts_as(id) == TokenType::Control, id);
  CHECK(tok.acts_as(48) == TokenType::UserDefined);
  CHECK(tok.token_text(50) == "<|tool_response>");

  // USER_DEFINED markup (<|tool_call>, <|"|>, ...) is one token whether special text is parsed or not.
  for (int32_t id : {48, 49, 51, 52, 100, 101}) {
    const std::string& t = tok.token_text(id);
    CAPTURE(t);
    CHECK(tok.encode(t, false, false) == Ids{id});
    CHECK(tok.encode(t, false, true) == Ids{id});
    CHECK(tok.decode(Ids{id}, false) == t);  // rendered as text, like llama.cpp
  }
  // CONTROL (stored or acting) only with special parsing.
  for (int32_t id : {105, 106, 98, 1, 212, 50}) {
    const std::string& t = tok.token_text(id);
    CAPTURE(t);
    CHECK(tok.encode(t, false, true) == Ids{id});
    const Ids plain = tok.encode(t, false, false);
    CHECK(plain.size() > 1);
    CHECK(tok.decode(plain, false) == t);  // its text, spelled out in ordinary tokens
    CHECK(tok.decode(Ids{id}, false).empty());  // not printed unless rendering special tokens
    CHECK(tok.decode(Ids{id}, true) == t);
  }
  // <unusedN> and whitespace runs are NORMAL: ordinary tokens, printed as text.
  const int32_t unused = tok.token_id("<unused0>");
  REQUIRE(unused >= 0);
  CHECK(r.vocab.types[unused] == TokenType::Normal);
  CHECK(tok.decode(Ids{unused}, false) == "<unused0>");
  // A streaming detokenizer (what generation prints) skips control tokens too.
  StreamingDetokenizer sd(tok);
  std::string out;
  for (int32_t id : Ids{105, 9259, 1, 212, 236764}) out += sd.push(id);
  CHECK(out == "Hello,");
}

TEST_CASE("real-convention file: tokenizer_cases.jsonl with the file's own token types") {
  VKG_REQUIRE_SHARED();
  const Tokenizer& tok = real_file().tok;
  std::ifstream f(test::shared_dir() / "data" / "tokenizer_cases.jsonl");
  REQUIRE(f);
  int total = 0, passed = 0, atomic = 0, renamed = 0;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    ++total;
    const std::string text = j["text"];
    const Ids want = j["ids"].get<Ids>();
    const Ids got = tok.encode(text, false, true);
    passed += got == want;
    INFO("case " << total << ": " << j["text"].dump());
    // Decoding spells the text (a literal U+2581 comes back as the space it stands for).
    std::string spelled = text;
    for (size_t at; (at = spelled.find("\xE2\x96\x81")) != std::string::npos;) spelled.replace(at, 3, " ");
    CHECK(tok.decode(got, true) == spelled);
    if (tok.decode(want, true) != spelled) {
      // Made with the Gemma 3 special names (<start_of_image> is <|image> in Gemma 4).
      ++renamed;
      continue;
    }
    if (j.value("needs_atomic_added_tokens", false)) {
      // HF's non-special added tokens (<b>, </table>, <unusedN>) are typed NORMAL in real files,
      // and NORMAL tokens are BPE'd like any text (as llama.cpp does with these files): the HF
      // ids need them USER_DEFINED.
      ++atomic;
      continue;
    }
    CHECK(got == want);
  }
  MESSAGE("tokenizer_cases.jsonl on the real-convention file: " << passed << "/" << total << " equal ("
                                                                << atomic << " need atomic added tokens, " << renamed
                                                                << " use Gemma 3 names)");
  CHECK(total == 150);
  CHECK(passed + atomic + renamed >= total);
}

TEST_CASE("real-convention file: sampling defaults, chat template, config") {
  VKG_REQUIRE_SHARED();
  const RealFile& r = real_file();
  const Gemma4Config c = gemma4_config_from_gguf(r.file);
  REQUIRE(c.sampling.top_k.has_value());
  REQUIRE(c.sampling.top_p.has_value());
  REQUIRE(c.sampling.temp.has_value());
  CHECK(*c.sampling.top_k == r.file.get_int("general.sampling.top_k"));
  CHECK(*c.sampling.top_p == static_cast<float>(r.file.get_float("general.sampling.top_p")));
  CHECK(*c.sampling.temp == static_cast<float>(r.file.get_float("general.sampling.temp")));
  // Written from gemma-4-chat-template.jinja (the 12B/26B/31B text).
  CHECK(identify_chat_template(r.vocab.chat_template) == KnownTemplate::Gemma4Large);
}

TEST_CASE("real-convention file: Vulkan logits match the float64 reference") {
  VKG_REQUIRE_SHARED();
  test::ValidationGuard guard;
  const auto g = test::load_golden(kCase);
  const GgufFile f = GgufFile::open(g.dir / "model.gguf");
  const Gemma4Model m = load_gemma4(f);
  REQUIRE(m.config.n_vocab == g.n_vocab);
  CHECK(m.weights.unused.size() == 3);  // attn_k / attn_v / attn_k_norm of the KV-sharing layer
  const DeviceWeights w = upload_weights(test::device(), m);
  Gemma4Forward fwd(test::device(), m, w, {.n_ctx = 64});
  std::vector<float> got;
  fwd.eval(g.tokens, true, got);
  REQUIRE(got.size() == g.logits_ref.size());
  const auto d = test::compare_logits(got, g.logits_ref, g.n_vocab);
  const auto dl = test::compare_logits(got, g.logits_llama, g.n_vocab);
  MESSAGE(fmt::format("{}: vs reference max|diff| {:.2e} mean {:.2e} (max|logit| {:.2f}), argmax mismatches {}; "
                      "vs llama.cpp max {:.3f} mean {:.4f}, argmax mismatches {}",
                      kCase, d.max_abs, d.mean_abs, d.max_ref, d.argmax_mismatch, dl.max_abs, dl.mean_abs,
                      dl.argmax_mismatch));
  CHECK(d.max_abs <= 1e-2 * d.max_ref);
  CHECK(d.argmax_mismatch == 0);
}

TEST_CASE("CLI: info --json lists the end-of-generation set of a real-convention file") {
  VKG_REQUIRE_SHARED();
  const auto j = nlohmann::json::parse(run_cli(fmt::format("info --json {} 2>/dev/null", (case_dir() / "model.gguf").string())));
  CHECK(j["eog_token_ids"].get<Ids>() == Ids{1, 50, 106});
  CHECK(j["tokenizer"]["add_bos"] == true);
  CHECK(j["chat_template"]["known"] == "Gemma 4 12B/26B/31B");
  CHECK(j["sampling"]["top_k"].is_number_integer());
}

TEST_CASE("CLI: tokenize of a raw prompt on an add_bos_token = false file starts with BOS, with a notice") {
  // An old-convention file (converted before 2026-04-06): add_bos_token = false.
  test::TinyGemma4 tiny;
  tiny.edit_vocab = [](Vocab& v) {
    v = test::TinyGemma4::tokenizer_vocab();
    v.file_add_bos = false;
    v.add_bos = false;
  };
  const auto path = test::scratch_dir("real_vocab") / "old_convention.gguf";
  const auto bytes = tiny.bytes();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  const Vocab v = read_vocab(GgufFile::open(path));
  REQUIRE(v.file_add_bos == false);
  CHECK(v.add_bos);  // forced on for gemma4
  CHECK(vocab_notices(v).size() == 1);
  const std::string out = run_cli(fmt::format("tokenize -m {} -p 'ab ab' --ids", path.string()));
  CAPTURE(out);
  CHECK(out.find("add_bos_token = false; BOS is added") != std::string::npos);
  const auto ids_at = out.rfind('[');
  REQUIRE(ids_at != std::string::npos);
  const auto ids = nlohmann::json::parse(out.substr(ids_at)).get<Ids>();
  REQUIRE(!ids.empty());
  CHECK(ids.front() == v.bos_id);
  CHECK(ids == Tokenizer(v).encode("ab ab", true, false));
  // --no-bos still leaves it out.
  const std::string no_bos = run_cli(fmt::format("tokenize -m {} -p 'ab' --ids --no-bos", path.string()));
  CHECK(no_bos.find("[" + std::to_string(v.bos_id) + ",") == std::string::npos);
}

TEST_CASE("chat template fingerprints: the two official Gemma 4 templates, and anything else") {
  CHECK(identify_chat_template("") == KnownTemplate::None);
  CHECK(normalize_chat_template("\r\n  a\r\nb \n\n") == "a\nb");
  CHECK(chat_template_fingerprint("x\r\ny\n") == chat_template_fingerprint("x\ny"));
  VKG_REQUIRE_SHARED();
  auto read = [](const char* name) {
    std::ifstream f(test::shared_dir() / "reference" / name, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  const std::string small = read("gemma-4-E2B-chat-template.jinja"), large = read("gemma-4-31B-chat-template.jinja");
  REQUIRE(small.size() > 10000);
  REQUIRE(large.size() > 10000);
  CHECK(identify_chat_template(small) == KnownTemplate::Gemma4Small);
  CHECK(identify_chat_template(large) == KnownTemplate::Gemma4Large);
  CHECK(identify_chat_template(read("gemma-4-chat-template.jinja")) == KnownTemplate::Gemma4Large);
  // Line endings and surrounding whitespace do not matter; any other edit does.
  std::string crlf;
  for (char c : small) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  CHECK(identify_chat_template("\n" + crlf + "\n\n") == KnownTemplate::Gemma4Small);
  std::string edited = small;
  edited[edited.size() / 2] ^= 1;
  CHECK(identify_chat_template(edited) == KnownTemplate::None);
  CHECK(identify_chat_template(small + " ") == KnownTemplate::Gemma4Small);
  CHECK(identify_chat_template(small + "{# #}") == KnownTemplate::None);
}

TEST_CASE("CLI: info warns about an unknown chat template and shows it with --template") {
  test::TinyGemma4 tiny;  // tokenizer.chat_template "{{ messages }}"
  const auto path = test::scratch_dir("real_vocab_template") / "custom_template.gguf";
  const auto bytes = tiny.bytes();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  const std::string out = run_cli(fmt::format("info {}", path.string()));
  CHECK(out.find("warning: the file's chat template (14 bytes") != std::string::npos);
  CHECK(out.find("is neither of the known Gemma 4 templates") != std::string::npos);
  CHECK(out.find("not a known Gemma 4 template") != std::string::npos);
  CHECK(run_cli(fmt::format("info --template {} 2>/dev/null", path.string())) == "{{ messages }}\n");
  const auto j = nlohmann::json::parse(run_cli(fmt::format("info --json {} 2>/dev/null", path.string())));
  CHECK(j["chat_template"]["known"].is_null());
  CHECK(j["chat_template"]["text"] == "{{ messages }}");
  if (test::shared_dir().empty()) return;
  // A known template: no warning.
  const std::string real = run_cli(fmt::format("info {}", (case_dir() / "model.gguf").string()));
  CHECK(real.find("warning") == std::string::npos);
  CHECK(real.find("16448 bytes, the Gemma 4 12B/26B/31B template") != std::string::npos);
}

TEST_CASE("CLI: run samples with the file's general.sampling.* unless flags are given") {
  // A tiny synthetic model whose file recommends a hot, untruncated distribution.
  SynthOptions o = synth_preset("tiny");
  o.seed = 5;
  o.logit_std = 0.5f;  // a flat distribution: the tokens depend on the sampling parameters
  const std::vector<uint8_t> plain = synth_write_memory(synth_plan(o));
  const std::vector<uint8_t> bytes =
      test::rewrite_gguf(GgufFile::open_memory(std::span<const uint8_t>(plain)), {}, [](GgufWriter& w) {
        w.add_i32("general.sampling.top_k", 0);
        w.add_f32("general.sampling.top_p", 1.0f);
        w.add_f32("general.sampling.temp", 4.0f);
      });
  const auto path = test::scratch_dir("real_vocab_sampling") / "hot.gguf";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  const std::string base = fmt::format("run -m {} --raw -p 'hello there' -n 24 --seed 7 --json -q 2>/dev/null", path.string());
  auto tokens = [&](const std::string& flags) {
    return nlohmann::json::parse(run_cli(base + " " + flags))["tokens"].get<Ids>();
  };
  const Ids file_defaults = tokens("");
  CHECK(file_defaults == tokens("--temp 4 --top-k 0 --top-p 1"));   // the file's values
  CHECK(file_defaults != tokens("--temp 0.8 --top-k 40 --top-p 0.95"));  // the built-in defaults
  CHECK(tokens("--top-k 1") == tokens("--greedy"));  // a flag given wins over the file
}
