// Tokenizer + HF tokenizer.json loader. The synthetic tests run everywhere; the rest use the real
// Gemma vocabulary from ../shared/data and skip when it is absent.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>
#include "hf_tokenizer.h"
#include "test_util.h"
#include "tokenizer.h"

using vkg::TokenType;
using vkg::Tokenizer;
using vkg::Vocab;
using Ids = std::vector<int32_t>;

namespace {

// Independent strict UTF-8 validator for the checks (not the code under test).
bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned c = p[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// ---- a small synthetic vocabulary ----------------------------------------------------------
//  0 <pad> 1 <eos> 2 <bos> (Control) 3 <unk> (Unknown) 4 <|turn> 5 <turn|> (Control)
//  6 "\n" 7 "<b>" (UserDefined)  8..263 <0x00>..<0xFF> (Byte)
//  264.. normal: a b c ▁ ab bc abc ▁a aa
// merges by rank: "b c" (0), "a b" (1), "ab c" (2), "▁ a" (3), "a a" (4)
Vocab synthetic_vocab() {
  Vocab v;
  v.model = "gemma4";
  auto add = [&](std::string t, TokenType ty) {
    v.tokens.push_back(std::move(t));
    v.types.push_back(ty);
  };
  add("<pad>", TokenType::Control);
  add("<eos>", TokenType::Control);
  add("<bos>", TokenType::Control);
  add("<unk>", TokenType::Unknown);
  add("<|turn>", TokenType::Control);
  add("<turn|>", TokenType::Control);
  add("\n", TokenType::UserDefined);
  add("<b>", TokenType::UserDefined);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, TokenType::Byte);
  }
  for (const char* t : {"a", "b", "c", "\xE2\x96\x81", "ab", "bc", "abc", "\xE2\x96\x81" "a", "aa"})
    add(t, TokenType::Normal);
  v.merges = {"b c", "a b", "ab c", "\xE2\x96\x81 a", "a a"};
  v.bos_id = 2;
  v.eos_id = 1;
  v.pad_id = 0;
  v.unk_id = 3;
  v.eog_ids = {5};
  return v;
}
constexpr int32_t kA = 264, kB = 265, kC = 266, kSp = 267, kAB = 268, kBC = 269, kABC = 270, kSpA = 271,
                  kAA = 272;
constexpr int32_t byte_tok(int b) { return 8 + b; }

std::filesystem::path real_tokenizer_path() {
  return vkg::test::shared_dir() / "data" / "gemma-tokenizer.json.xz";
}

// The real vocabulary with the 105/106 renames (how tokenizer_cases.jsonl was produced), loaded once.
const Vocab& real_vocab() {
  static const Vocab v = vkg::load_hf_tokenizer(real_tokenizer_path(), {vkg::Gemma4Names::Turn});
  return v;
}
const Tokenizer& real_tok() {
  static const Tokenizer t(real_vocab());
  return t;
}

} // namespace

// ================================ synthetic (no ../shared) ====================================

TEST_CASE("synthetic: BPE merges by rank, leftmost on ties") {
  Tokenizer tok(synthetic_vocab());
  // "abc": candidate pairs (a,b)=rank 1 and (b,c)=rank 0; rank 0 wins -> a + bc; no "a bc" merge.
  CHECK(tok.encode("abc", false, false) == Ids{kA, kBC});
  CHECK(tok.encode("ab", false, false) == Ids{kAB});
  // "aaa": (a,a) at 0-1 and 1-2 tie on rank; the leftmost merges first -> aa + a.
  CHECK(tok.encode("aaa", false, false) == Ids{kAA, kA});
  CHECK(tok.encode("aaaa", false, false) == Ids{kAA, kAA});
  // spaces become ▁, no dummy prefix: " a" -> "▁a"; "a a" -> a, ▁a
  CHECK(tok.encode(" a", false, false) == Ids{kSpA});
  CHECK(tok.encode("a a", false, false) == Ids{kA, kSpA});
  CHECK(tok.encode("c ", false, false) == Ids{kC, kSp});
  CHECK(tok.encode("", false, false).empty());
  CHECK(tok.encode("", true, false) == Ids{2});
  CHECK(tok.encode("ab", true, false) == Ids{2, kAB});
  (void)kABC;
}

TEST_CASE("synthetic: byte fallback, added tokens, special parsing") {
  Tokenizer tok(synthetic_vocab());
  // é = C3 A9 is not a token -> <0xC3> <0xA9>
  CHECK(tok.encode("\xC3\xA9", false, false) == Ids{byte_tok(0xC3), byte_tok(0xA9)});
  // An invalid lone byte is a one-byte character -> its byte token.
  CHECK(tok.encode("\xFF" "a", false, false) == Ids{byte_tok(0xFF), kA});
  // UserDefined tokens are always whole tokens, even without parse_special.
  CHECK(tok.encode("a<b>b", false, false) == Ids{kA, 7, kB});
  CHECK(tok.encode("a\n\nb", false, false) == Ids{kA, 6, 6, kB});
  // Control tokens only with parse_special; otherwise their text is ordinary (here: bytes).
  CHECK(tok.encode("<|turn>a", false, true) == Ids{4, kA});
  const Ids plain = tok.encode("<|turn>", false, false);
  REQUIRE(plain.size() == 7);
  CHECK(plain[0] == byte_tok('<'));
  CHECK(tok.encode("<unk>", false, true) == Ids{3});
  CHECK(tok.decode(tok.encode("x<|turn>ab c<turn|>\n", true, true)) == "<bos>x<|turn>ab c<turn|>\n");
  CHECK(tok.decode(tok.encode("x<|turn>ab c<turn|>\n", true, true), false) == "xab c\n");
  CHECK(tok.is_eog(1));
  CHECK(tok.is_eog(5));
  CHECK(!tok.is_eog(4));
  CHECK(tok.token_id("ab") == kAB);
  CHECK(tok.token_id("zz") == -1);
  CHECK_THROWS_AS(tok.decode(Ids{9999}), vkg::TokenizerError);
}

TEST_CASE("synthetic: decode and the streaming detokenizer") {
  Tokenizer tok(synthetic_vocab());
  // "€" = E2 82 AC as three byte tokens: nothing comes out until the last one.
  vkg::StreamingDetokenizer sd(tok);
  CHECK(sd.push(kA) == "a");
  CHECK(sd.push(byte_tok(0xE2)).empty());
  CHECK(sd.push(byte_tok(0x82)).empty());
  CHECK(sd.pending_bytes() == 2);
  CHECK(sd.push(byte_tok(0xAC)) == "\xE2\x82\xAC");
  CHECK(sd.push(kSpA) == " a");
  CHECK(sd.push(4).empty());  // control skipped
  // Ill-formed: E2 followed by 'a' -> U+FFFD then "a".
  CHECK(sd.push(byte_tok(0xE2)).empty());
  CHECK(sd.push(kA) == "\xEF\xBF\xBD" "a");
  CHECK(sd.push(byte_tok(0xF0)).empty());
  CHECK(sd.flush() == "\xEF\xBF\xBD");
  vkg::StreamingDetokenizer sd2(tok, true);
  CHECK(sd2.push(4) == "<|turn>");
  CHECK(tok.decode(Ids{byte_tok(0xE2), byte_tok(0x82)}) == "\xEF\xBF\xBD");
}

TEST_CASE("synthetic: malformed vocabularies are rejected") {
  auto expect_error = [](Vocab v, const char* needle) {
    try {
      Tokenizer t(v);
      FAIL("no error for: " << needle);
    } catch (const vkg::VocabError& e) {
      INFO("message: " << e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  CHECK_NOTHROW(Tokenizer{synthetic_vocab()});
  { Vocab v = synthetic_vocab(); v.merges.clear(); expect_error(v, "merges are missing"); }
  { Vocab v = synthetic_vocab(); v.types.pop_back(); expect_error(v, "token_type has"); }
  { Vocab v = synthetic_vocab(); v.types[10] = static_cast<TokenType>(9); expect_error(v, "token_type[10] = 9"); }
  { Vocab v = synthetic_vocab(); v.scores = {1.0f}; expect_error(v, "scores has 1 entries"); }
  { Vocab v = synthetic_vocab(); v.merges.push_back("a zz"); expect_error(v, "unknown token \"zz\""); }
  { Vocab v = synthetic_vocab(); v.merges.push_back("ab"); expect_error(v, "not of the form"); }
  { Vocab v = synthetic_vocab(); v.merges.push_back("c a"); expect_error(v, "\"ca\", which is not a token"); }
  { Vocab v = synthetic_vocab(); v.bos_id = 100000; expect_error(v, "bos_token_id = 100000"); }
  { Vocab v = synthetic_vocab(); v.eos_id = -5; expect_error(v, "eos_token_id = -5"); }
  { Vocab v = synthetic_vocab(); v.unk_id = static_cast<int32_t>(v.tokens.size()); expect_error(v, "unknown_token_id"); }
  { Vocab v = synthetic_vocab(); v.eog_ids = {70000}; expect_error(v, "eog id = 70000"); }
  { Vocab v = synthetic_vocab(); v.bos_id = -1; expect_error(v, "add_bos_token is set"); }
  { Vocab v = synthetic_vocab(); v.model = "llama"; expect_error(v, "\"llama\" is not supported"); }
  { Vocab v = synthetic_vocab(); v.tokens.clear(); v.types.clear(); expect_error(v, "no tokens"); }
}

TEST_CASE("hf loader: a small tokenizer.json") {
  using nlohmann::json;
  json j = json::parse(R"({
    "added_tokens": [
      {"id": 0, "content": "<pad>", "special": true}, {"id": 1, "content": "<eos>", "special": true},
      {"id": 2, "content": "<bos>", "special": true}, {"id": 3, "content": "<unk>", "special": true},
      {"id": 4, "content": "<tab>", "special": false}, {"id": 9, "content": "<img>", "special": true}],
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true,
      "vocab": {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<tab>": 4, "<0x41>": 5, "a": 6, "b": 7, "ab": 8},
      "merges": [["a", "b"]]}})");
  Vocab v = vkg::vocab_from_hf_json(j);
  REQUIRE(v.tokens.size() == 9);  // id 9 is outside model.vocab -> dropped
  CHECK(v.tokens[8] == "ab");
  CHECK(v.merges == std::vector<std::string>{"a b"});
  CHECK(v.types[0] == TokenType::Control);
  CHECK(v.types[3] == TokenType::Unknown);
  CHECK(v.types[4] == TokenType::UserDefined);
  CHECK(v.types[5] == TokenType::Byte);
  CHECK(v.types[6] == TokenType::Normal);
  CHECK(v.scores[0] == -1000.0f);
  CHECK(v.scores[6] == 0.0f);
  CHECK(v.bos_id == 2);
  CHECK(v.eos_id == 1);
  CHECK(v.pad_id == 0);
  CHECK(v.unk_id == 3);
  CHECK(v.add_bos);
  CHECK(v.model == "gemma4");
  Tokenizer tok(v);
  CHECK(tok.encode("ab<tab>", true, false) == Ids{2, 8, 4});

  // vocab_size larger than the file: padded with [PADn] (Unused); the added id 9 now fits.
  Vocab v12 = vkg::vocab_from_hf_json(j, {vkg::Gemma4Names::None, 12});
  REQUIRE(v12.tokens.size() == 12);
  CHECK(v12.tokens[9] == "<img>");
  CHECK(v12.types[9] == TokenType::Control);
  CHECK(v12.tokens[10] == "[PAD10]");
  CHECK(v12.types[10] == TokenType::Unused);

  // Malformed files.
  json bad = j;
  bad["model"]["type"] = "Unigram";
  CHECK_THROWS_WITH_AS(vkg::vocab_from_hf_json(bad), doctest::Contains("expected \"BPE\""), vkg::HfTokenizerError);
  bad = j;
  bad["model"].erase("merges");
  CHECK_THROWS_WITH_AS(vkg::vocab_from_hf_json(bad), doctest::Contains("missing \"merges\""), vkg::HfTokenizerError);
  bad = j;
  bad["added_tokens"][4]["content"] = "<tab2>";
  CHECK_THROWS_WITH_AS(vkg::vocab_from_hf_json(bad), doctest::Contains("disagrees"), vkg::HfTokenizerError);
  // Gemma 4 renames need a big enough vocabulary.
  CHECK_THROWS_AS(vkg::vocab_from_hf_json(j, {vkg::Gemma4Names::Turn}), vkg::HfTokenizerError);
  CHECK_THROWS_AS(vkg::load_hf_tokenizer("/nonexistent/tokenizer.json"), vkg::HfTokenizerError);
}

// ================================ the real Gemma vocabulary ====================================

TEST_CASE("real vocab: loads with the expected shape") {
  VKG_REQUIRE_SHARED();
  const auto t0 = std::chrono::steady_clock::now();
  const Vocab& v = real_vocab();
  const Tokenizer& tok = real_tok();
  MESSAGE("load + tokenizer build: "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
  CHECK(v.tokens.size() == 262144);
  CHECK(v.merges.size() == 514906);
  CHECK(v.bos_id == 2);
  CHECK(v.eos_id == 1);
  CHECK(v.pad_id == 0);
  CHECK(v.unk_id == 3);
  CHECK(v.add_bos);
  CHECK(v.tokens[105] == "<|turn>");
  CHECK(v.tokens[106] == "<turn|>");
  CHECK(v.types[105] == TokenType::Control);
  CHECK(v.types[107] == TokenType::UserDefined);  // "\n" is a non-special added token
  CHECK(v.types[238] == TokenType::Byte);          // <0x00>
  CHECK(v.types[3] == TokenType::Unknown);
  CHECK(tok.is_eog(106));
  CHECK(tok.is_eog(1));
}

TEST_CASE("real vocab: tokenizer_cases.jsonl") {
  VKG_REQUIRE_SHARED();
  const Tokenizer& tok = real_tok();
  std::ifstream f(vkg::test::shared_dir() / "data" / "tokenizer_cases.jsonl");
  REQUIRE(f);
  int total = 0, passed = 0;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    const std::string text = j["text"];
    const Ids want = j["ids"].get<Ids>();
    const Ids got = tok.encode(text, false, true);
    ++total;
    if (got == want) ++passed;
    INFO("case " << total << " (" << j["category"].get<std::string>() << "): " << j["text"].dump());
    CHECK(got == want);
  }
  MESSAGE("tokenizer_cases.jsonl: " << passed << "/" << total << " passed");
  CHECK(total == 150);
}

TEST_CASE("real vocab: ids derived by hand from the vocabulary and merges") {
  VKG_REQUIRE_SHARED();
  const Tokenizer& tok = real_tok();
  const Vocab& v = real_vocab();
  auto rank = [&](const std::string& m) {
    return std::find(v.merges.begin(), v.merges.end(), m) - v.merges.begin();
  };
  // Single characters are tokens: vocab["a"] = 236746, vocab["▁"] = 236743.
  CHECK(tok.token_id("a") == 236746);
  CHECK(tok.encode("a", false, false) == Ids{236746});
  CHECK(tok.encode(" ", false, false) == Ids{236743});
  // "Hello": H e l l o. Lowest-rank applicable merges in turn: "e l" (rank 1446) -> el,
  // "el l" (1723) -> ell, "ell o" (11064) -> ello, "H ello" (24983) -> Hello = 9259.
  CHECK(rank("e l") == 1446);
  CHECK(rank("el l") == 1723);
  CHECK(rank("ell o") == 11064);
  CHECK(rank("H ello") == 24983);
  CHECK(tok.token_id("Hello") == 9259);
  CHECK(tok.encode("Hello", false, false) == Ids{9259});
  // "Hello world" -> "Hello▁world": o r (1405), ▁ w (1418), e l, l d (1649), el l, ▁w or (3362),
  // ▁wor ld (4471) -> ▁world = 1902, ... Hello; no merge "Hello ▁world" -> [9259, 1902].
  CHECK(rank("\xE2\x96\x81wor ld") == 4471);
  CHECK(tok.token_id("\xE2\x96\x81world") == 1902);
  CHECK(rank("Hello \xE2\x96\x81world") == static_cast<long>(v.merges.size()));
  CHECK(tok.encode("Hello world", false, false) == Ids{9259, 1902});
  // "the cat": h e (1400) -> he, a t (1403) -> at, ▁ c (1406) -> ▁c, t he (3293) -> the = 1437,
  // ▁c at (15375) -> ▁cat = 5866.
  CHECK(rank("t he") == 3293);
  CHECK(rank("\xE2\x96\x81" "c at") == 15375);
  CHECK(tok.encode("the cat", false, false) == Ids{1437, 5866});
  // "naïve": v e (1473) -> ve = 560, n a (4171) -> na = 1789; "ï" (238527) has no merge with
  // its neighbours -> [na, ï, ve].
  CHECK(tok.token_id("\xC3\xAF") == 238527);
  CHECK(tok.encode("na\xC3\xAFve", false, false) == Ids{1789, 238527, 560});
  // Byte tokens <0x00>..<0xFF> are ids 238..493 (id = 238 + byte). NBSP U+00A0 = C2 A0 is not a
  // token -> [238 + 0xC2, 238 + 0xA0] = [432, 398].
  CHECK(tok.token_id("<0x00>") == 238);
  CHECK(tok.token_id("<0xFF>") == 493);
  CHECK(tok.token_id("\xC2\xA0") == -1);
  CHECK(tok.encode("\xC2\xA0", false, false) == Ids{432, 398});
  // "\n" is the added (UserDefined) token 107, matched whole even without parse_special.
  CHECK(tok.encode("a\nb", false, false) == Ids{236746, 107, 236763});
  // "<|turn>" is Control 105: a token only with parse_special; else "<" (236820) "|" (236909)
  // "turn" (887) ">" (236813).
  CHECK(tok.encode("<|turn>", false, true) == Ids{105});
  CHECK(tok.encode("<|turn>", false, false) == Ids{236820, 236909, 887, 236813});
  CHECK(tok.encode("Hello", true, false) == Ids{2, 9259});
}

TEST_CASE("real vocab: decode(encode(s)) == s over a multilingual corpus") {
  VKG_REQUIRE_SHARED();
  const Tokenizer& tok = real_tok();
  const std::vector<std::string> corpus = {
      "The quick brown fox jumps over the lazy dog.",
      "  Leading spaces, trailing spaces   ",
      "Ceci n'est pas une pipe. Größenwahn, señor, naïve café, Ærøskøbing.",
      "机器学习是人工智能的一个分支。东京は日本の首都です。한국어 문장입니다.",
      "مرحبا بالعالم، كيف حالك اليوم؟",
      "हिन्दी भाषा में वाक्य। नमस्ते दुनिया",
      "Emoji: 👍🏽 👨‍👩‍👧‍👦 🇺🇸🇯🇵 🦙 ❤️ 🫨 𠮷野家 𒀀",
      "int main(int argc, char** argv) {\n\tfor (int i = 0; i < argc; ++i) {\n\t\tprintf(\"%s\\n\", argv[i]);\n\t}\n}\n",
      "def f(x):\n    return x ** 2  # square\n\n\n\nprint(f(3))",
      "tabs\t\t\tand\tnewlines\n\n\n\r\nand a very long run of spaces:" + std::string(100, ' ') + "end",
      std::string(50, '\n') + std::string(70, '\t') + "x",
      "Control text <|turn>user\nHi<turn|>\n<bos> <unk> <mask> <0x41> <table> </s>",
      "Math: ∑_{i=1}^{n} i² = n(n+1)/2, ∞, √2 ≈ 1.414, ∀x∈ℝ",
      "\xEE\x80\x80 private use, \xF3\xB0\x80\x80 plane 15, \xEF\xBF\xBD replacement",
      "",
  };
  for (const auto& s : corpus) {
    INFO("text: " << s);
    CHECK(tok.decode(tok.encode(s, false, true)) == s);
    CHECK(tok.decode(tok.encode(s, false, false)) == s);
  }
}

TEST_CASE("real vocab: streaming detokenizer never emits invalid UTF-8") {
  VKG_REQUIRE_SHARED();
  const Tokenizer& tok = real_tok();
  // Byte-fallback characters (4-byte emoji and rare CJK) fed one id at a time.
  const std::string s = "𠮷野家 🦙🫨 \xF3\xB0\x80\x80 Ⅻ 𖩀𪛖 mixed with text";
  const Ids ids = tok.encode(s, false, true);
  int byte_tokens = 0;
  for (int32_t id : ids) byte_tokens += tok.token_type(id) == TokenType::Byte;
  CHECK(byte_tokens >= 16);
  vkg::StreamingDetokenizer sd(tok);
  std::string all;
  for (int32_t id : ids) {
    const std::string piece = sd.push(id);
    CHECK(valid_utf8(piece));
    all += piece;
  }
  all += sd.flush();
  CHECK(all == s);

  // Random byte-token soup: every chunk is valid UTF-8 whatever the bytes.
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    vkg::StreamingDetokenizer d(tok);
    std::string out;
    for (int k = 0; k < 64; ++k) {
      int32_t id = (rng() % 4 == 0) ? static_cast<int32_t>(rng() % 262144) : 238 + static_cast<int32_t>(rng() % 256);
      const std::string p = d.push(id);
      REQUIRE(valid_utf8(p));
      out += p;
    }
    const std::string tail = d.flush();
    REQUIRE(valid_utf8(tail));
  }
}

TEST_CASE("real vocab: damaged copies are rejected") {
  VKG_REQUIRE_SHARED();
  {  // "Hello" renamed: the merge "H ello" now makes a string that is not a token.
    Vocab v = real_vocab();
    v.tokens[9259] = "Hello-renamed";
    CHECK_THROWS_WITH_AS(Tokenizer{v}, doctest::Contains("\"Hello\", which is not a token"), vkg::VocabError);
  }
  {  // One token type missing.
    Vocab v = real_vocab();
    v.types.pop_back();
    CHECK_THROWS_WITH_AS(Tokenizer{v}, doctest::Contains("token_type has 262143 entries"), vkg::VocabError);
  }
  {
    Vocab v = real_vocab();
    v.eos_id = 262144;
    CHECK_THROWS_WITH_AS(Tokenizer{v}, doctest::Contains("eos_token_id = 262144"), vkg::VocabError);
  }
}

TEST_CASE("real vocab: Gemma 4 full special-token names") {
  VKG_REQUIRE_SHARED();
  Vocab v = real_vocab();
  vkg::apply_gemma4_names(v, vkg::Gemma4Names::Full);
  Tokenizer tok(v);
  CHECK(tok.encode("<|tool_call>call:f{a:<|\"|>x<|\"|>}<tool_call|>", false, true).front() == 48);
  for (const auto& s : vkg::gemma4_special_tokens()) {
    INFO(s.name);
    CHECK(tok.encode(s.name, false, true) == Ids{s.id});
    CHECK(tok.token_type(s.id) == s.type);
  }
  CHECK(tok.is_eog(50));
  CHECK(tok.is_eog(106));
  CHECK(!tok.is_eog(105));
  // With the full names, the Gemma 3 name "<start_of_image>" is plain text again.
  CHECK(tok.encode("<start_of_image>", false, true).size() > 1);
}

// ================================ real-file token types (no ../shared) =========================

namespace {
// The synthetic vocabulary retyped the way real Gemma 4 GGUFs are: <eos> NORMAL (1), </s> NORMAL,
// <|tool_response> and <|"|> USER_DEFINED, <turn|> CONTROL; only eos_token_id, no eog ids.
struct RealTyped {
  Vocab v;
  int32_t eos = 1, slash_s, tool_response, quote, turn_end = 5;
};
RealTyped real_typed_vocab() {
  RealTyped r;
  r.v = synthetic_vocab();
  r.v.types[1] = TokenType::Normal;  // <eos>
  r.v.eog_ids.clear();
  auto add = [&](std::string t, TokenType ty) {
    r.v.tokens.push_back(std::move(t));
    r.v.types.push_back(ty);
    return static_cast<int32_t>(r.v.tokens.size() - 1);
  };
  r.slash_s = add("</s>", TokenType::Normal);
  r.tool_response = add("<|tool_response>", TokenType::UserDefined);
  r.quote = add("<|\"|>", TokenType::UserDefined);
  return r;
}
}  // namespace

TEST_CASE("token types: end of generation by token text, never </s>") {
  const RealTyped r = real_typed_vocab();
  Tokenizer tok(r.v);
  CHECK(tok.eog_ids() == Ids{r.eos, r.turn_end, r.tool_response});
  CHECK(vkg::end_of_generation_set(r.v) == tok.eog_ids());
  CHECK(tok.is_eog(r.eos));            // NORMAL-typed <eos> still ends generation
  CHECK(tok.is_eog(r.turn_end));       // by text; no eot key
  CHECK(tok.is_eog(r.tool_response));  // USER_DEFINED, by text
  CHECK(!tok.is_eog(r.slash_s));
  CHECK(!tok.is_eog(4));
  CHECK(!tok.is_eog(-1));
  CHECK(!tok.is_eog(1 << 20));
  // Keys still count: an eog id given by the file (here <|turn>) joins the set.
  Vocab v = r.v;
  v.eog_ids = {4};
  CHECK(Tokenizer(v).eog_ids() == Ids{r.eos, 4, r.turn_end, r.tool_response});
  // Another eos id (Ollama's eos_token_ids, or a different eos_token_id) joins too.
  v.eog_ids.clear();
  v.eos_id = 2;
  CHECK(Tokenizer(v).eog_ids() == Ids{r.eos, 2, r.turn_end, r.tool_response});
}

TEST_CASE("token types: USER_DEFINED always whole, CONTROL only with special parsing") {
  const RealTyped r = real_typed_vocab();
  Tokenizer tok(r.v);
  // Acting types: the control-looking texts are control whatever is stored (as llama.cpp).
  CHECK(tok.token_type(r.eos) == TokenType::Normal);
  CHECK(tok.acts_as(r.eos) == TokenType::Control);
  CHECK(tok.acts_as(r.slash_s) == TokenType::Control);
  CHECK(tok.acts_as(r.tool_response) == TokenType::Control);
  CHECK(tok.acts_as(r.quote) == TokenType::UserDefined);
  CHECK(tok.acts_as(kA) == TokenType::Normal);
  // USER_DEFINED: one token with or without special parsing, and printed.
  CHECK(tok.encode("a<|\"|>b", false, false) == Ids{kA, r.quote, kB});
  CHECK(tok.encode("a<|\"|>b", false, true) == Ids{kA, r.quote, kB});
  CHECK(tok.decode(Ids{kA, r.quote, kB}, false) == "a<|\"|>b");
  // CONTROL (stored or acting): a token only when special text is parsed.
  for (int32_t id : {r.eos, r.slash_s, r.tool_response, r.turn_end}) {
    const std::string t = r.v.tokens[id];
    CAPTURE(t);
    CHECK(tok.encode(t, false, true) == Ids{id});
    const Ids plain = tok.encode(t, false, false);
    CHECK(plain.size() == t.size());  // its characters, here all byte fallback
    CHECK(tok.decode(plain, false) == t);
    // Not printed unless special tokens are rendered (llama.cpp skips control tokens too).
    CHECK(tok.decode(Ids{kA, id, kB}, false) == "ab");
    CHECK(tok.decode(Ids{kA, id, kB}, true) == "a" + t + "b");
    vkg::StreamingDetokenizer sd(tok);
    CHECK(sd.push(id).empty());
  }
}

TEST_CASE("hostile vocabularies: byte tokens are parsed strictly") {
  CHECK(vkg::parse_byte_token("<0x00>") == 0);
  CHECK(vkg::parse_byte_token("<0xFF>") == 255);
  CHECK(vkg::parse_byte_token("<0x0a>") == 10);
  CHECK(vkg::parse_byte_token("<0xA9>") == 0xA9);
  for (const char* bad : {"<0x-1>", "<0xZZ>", "<0x+1>", "<0x 1>", "<0x1>", "<0x123>", "<0X41>", "<0x41", "0x41>",
                          "<0x4g>", "", "<0x>"})
    CHECK_MESSAGE(vkg::parse_byte_token(bad) == -1, bad);

  // A BYTE-typed token whose text is not <0xNN>: a clear vocabulary error naming it (std::stoi
  // used to accept "-1" and write byte_id[-1], and to throw std::invalid_argument for "ZZ").
  for (const char* bad : {"<0x-1>", "<0xZZ>", "<0x+F>", "<0x1>", "x"}) {
    Vocab v = synthetic_vocab();
    v.tokens[byte_tok(0x41)] = bad;
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(Tokenizer{v}, doctest::Contains("is typed BYTE but its text"), vkg::VocabError);
  }
  // The same texts typed NORMAL are ordinary tokens: the tokenizer builds and round-trips them.
  {
    Vocab v = synthetic_vocab();
    v.tokens.push_back("<0x-1>");
    v.types.push_back(TokenType::Normal);
    v.tokens.push_back("<0xZZ>");
    v.types.push_back(TokenType::UserDefined);
    Tokenizer tok(v);
    const auto zz = static_cast<int32_t>(v.tokens.size() - 1);
    CHECK(tok.encode("a<0xZZ>", false, false) == Ids{kA, zz});
    CHECK(tok.decode(Ids{zz - 1, zz}) == "<0x-1><0xZZ>");
    // byte fallback still uses the real byte tokens
    CHECK(tok.encode("\xC3\xA9", false, false) == Ids{byte_tok(0xC3), byte_tok(0xA9)});
  }
  // Lower-case hex is a byte token too (the byte it names, not another).
  {
    Vocab v = synthetic_vocab();
    v.tokens[byte_tok(0xA9)] = "<0xa9>";
    Tokenizer tok(v);
    CHECK(tok.encode("\xC3\xA9", false, false) == Ids{byte_tok(0xC3), byte_tok(0xA9)});
  }
}

TEST_CASE("Ollama's tokenizer model name is refused by name when it is not the gemma4 pre-tokenizer") {
  Vocab v = synthetic_vocab();
  v.model = "llama";
  v.pre = "default";
  CHECK_THROWS_WITH_AS(Tokenizer{v}, doctest::Contains("\"llama\" (pre \"default\") is not supported"), vkg::VocabError);
}
