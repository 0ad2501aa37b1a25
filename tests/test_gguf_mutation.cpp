// Deterministic mutation test of the GGUF reader (and the Gemma 4 / vocab layers above it): a
// valid small model is truncated at every header offset, bit-flipped, and has its length, count,
// type, shape and offset fields overwritten with hostile values. Every variant must either load
// (and then the model description validates or throws a clear error) or throw GgufError with a
// message: no crash, no out-of-bounds read (run under -DVKGEMMA_SANITIZE=ON), no other exception
// (a std::bad_alloc from a huge length would be a bug: lengths are checked before allocating).
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <random>
#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_fixture.h"
#include "gguf_vocab.h"
#include "test_util.h"
#include "tokenizer.h"

using namespace vkg;

namespace {

struct Outcome {
  size_t variants = 0, loaded = 0, model_ok = 0, model_error = 0, gguf_error = 0, tokenizer_ok = 0, tokenizer_error = 0;
  std::vector<std::string> failures;  // first few bad outcomes
};

// Touch everything a validated file exposes, so a sanitizer sees any out-of-bounds access.
// Accessors may still refuse a value (a u64 above INT64_MAX through get_int): that is a GgufError.
uint64_t touch_everything(const GgufFile& f, Outcome& out) {
  uint64_t h = 0;
  for (const GgufKv& kv : f.kvs()) {
    try {
      if (kv.is_array()) {
        if (kv.elem_type == GgufType::String) h += f.get_string_array(kv.key).size();
        else if (kv.elem_type == GgufType::F32) h += f.get_array<float>(kv.key).size();
        else if (kv.elem_type == GgufType::F64) h += f.get_array<double>(kv.key).size();
        else if (kv.elem_type == GgufType::Bool) h += f.get_array<bool>(kv.key).size();
        else h += f.get_int_array(kv.key).size();
      } else if (kv.type == GgufType::String) {
        h += f.get_string_view(kv.key).size();
      } else if (kv.type == GgufType::F32 || kv.type == GgufType::F64) {
        h += static_cast<uint64_t>(f.get_float(kv.key) != 0);
      } else if (kv.type == GgufType::Bool) {
        h += f.get_bool(kv.key);
      } else {
        h += static_cast<uint64_t>(f.get_int(kv.key));
      }
    } catch (const GgufError& e) {
      if (!*e.what() && out.failures.size() < 10) out.failures.push_back("empty accessor error for " + kv.key);
    }
  }
  for (const GgufTensorInfo& t : f.tensors()) h += t.data[0] + t.data[t.n_bytes - 1];
  return h;
}

// Build a tokenizer from a vocabulary that read_vocab accepted and run it: encode texts that hit
// every path (added tokens, byte fallback, newline runs, invalid UTF-8) and decode every id.
// Only VocabError (a clear refusal at construction) may come out.
void exercise_tokenizer(const Vocab& v, Outcome& out, const std::string& what) {
  try {
    const Tokenizer tok(v);
    ++out.tokenizer_ok;
    uint64_t h = 0;
    for (const char* text : {"ab ab\n\nc", "<bos><|turn>user\n\xC3\xA9\xFF<0x41><0x-1>", "", "\n", " a  b  "})
      for (bool special : {false, true}) {
        const std::vector<int32_t> ids = tok.encode(text, v.add_bos && v.bos_id >= 0, special);
        for (int32_t id : ids) h += static_cast<uint64_t>(id);
        h += tok.decode(ids, special).size();
      }
    std::vector<int32_t> all(tok.n_vocab());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int32_t>(i);
    h += tok.decode(all, true).size() + tok.decode(all, false).size();
    StreamingDetokenizer sd(tok);
    for (int32_t id : all) h += sd.push(id).size() + tok.is_eog(id);
    h += sd.flush().size();
    volatile uint64_t keep = h;
    (void)keep;
  } catch (const VocabError& e) {
    ++out.tokenizer_error;
    if (!*e.what() && out.failures.size() < 10) out.failures.push_back(what + ": empty VocabError message");
  }
}

void try_variant(std::span<const uint8_t> bytes, const std::string& what, Outcome& out) {
  ++out.variants;
  auto bad = [&](const std::string& why) {
    if (out.failures.size() < 10) out.failures.push_back(what + ": " + why);
  };
  try {
    const GgufFile f = GgufFile::open_memory(bytes, "mutant.gguf");
    ++out.loaded;
    (void)touch_everything(f, out);
    try {
      const Gemma4Model m = load_gemma4(f);
      (void)gemma4_footprint(m, 2);
      if (gguf_has_vocab(f)) exercise_tokenizer(read_vocab(f), out, what);
      ++out.model_ok;
    } catch (const ModelError& e) {
      ++out.model_error;
      if (!*e.what()) bad("empty ModelError message");
    } catch (const GgufError& e) {
      ++out.model_error;
      if (!*e.what()) bad("empty GgufError message from the model layer");
    }
  } catch (const GgufError& e) {
    ++out.gguf_error;
    if (!*e.what()) bad("empty GgufError message");
  } catch (const std::exception& e) {
    bad(std::string("unexpected exception: ") + e.what());
  } catch (...) {
    bad("unexpected non-std exception");
  }
}

// Field positions of the base file, from its own (valid) parse.
struct Field { uint64_t at; int width; std::string name; };

std::vector<Field> fields_of(const GgufFile& f) {
  std::vector<Field> out{{4, 4, "version"}, {8, 8, "n_tensors"}, {16, 8, "n_kv"}};
  for (const GgufKv& kv : f.kvs()) {
    const uint64_t type_at = kv.entry_offset + 8 + kv.key.size();
    out.push_back({kv.entry_offset, 8, kv.key + " key length"});
    out.push_back({type_at, 4, kv.key + " type"});
    if (kv.is_array()) {
      out.push_back({type_at + 4, 4, kv.key + " element type"});
      out.push_back({type_at + 8, 8, kv.key + " count"});
      if (kv.elem_type == GgufType::String && kv.count > 0) out.push_back({kv.value_offset, 8, kv.key + "[0] length"});
    } else if (kv.type == GgufType::String) {
      out.push_back({kv.value_offset, 8, kv.key + " length"});
    }
  }
  for (const GgufTensorInfo& t : f.tensors()) {
    const uint64_t dims_at = t.info_offset + 8 + t.name.size();
    out.push_back({t.info_offset, 8, t.name + " name length"});
    out.push_back({dims_at, 4, t.name + " n_dims"});
    for (uint32_t d = 0; d < t.n_dims; ++d) out.push_back({dims_at + 4 + 8 * d, 8, t.name + " ne" + std::to_string(d)});
    out.push_back({dims_at + 4 + 8 * t.n_dims, 4, t.name + " type"});
    out.push_back({dims_at + 8 + 8 * t.n_dims, 8, t.name + " offset"});
  }
  return out;
}

}  // namespace

TEST_CASE("GGUF mutation: thousands of corrupted variants never crash or escape as other errors") {
  // A small model (every tensor kind, tokenizer keys) so most bytes are header, not data.
  test::TinyGemma4 tiny;
  tiny.n_embd = 8;
  tiny.n_ple = 4;
  tiny.hd_swa = 4;
  tiny.hd_full = 8;
  tiny.n_ff = {8, 8, 16, 16};
  tiny.edit_vocab = [](Vocab& v) { v = test::TinyGemma4::tokenizer_vocab(); };  // one the tokenizer accepts
  tiny.declare_tensors();
  const std::vector<uint8_t> base = tiny.bytes();
  {  // kept as a seed for tests/fuzz/gguf_fuzz
    std::ofstream seed(test::scratch_dir("gguf_mutation") / "base.gguf", std::ios::binary);
    seed.write(reinterpret_cast<const char*>(base.data()), static_cast<std::streamsize>(base.size()));
  }
  const GgufFile ref = GgufFile::open_memory(std::span<const uint8_t>(base));
  REQUIRE_NOTHROW(load_gemma4(ref));
  const uint64_t header = ref.data_offset();
  MESSAGE("base file: ", base.size(), " bytes, header ", header, ", ", ref.kvs().size(), " KVs, ",
          ref.tensors().size(), " tensors");

  Outcome out;
  std::mt19937_64 rng(20240611);  // fixed: the same variants every run
  std::vector<uint8_t> buf;

  // 1. Truncation at every header offset and at a spread of data offsets.
  for (uint64_t n = 0; n < header; ++n) try_variant({base.data(), n}, "truncate " + std::to_string(n), out);
  for (uint64_t n = header; n < base.size(); n += 7) try_variant({base.data(), n}, "truncate " + std::to_string(n), out);

  // 2. Single and multiple bit flips, mostly in the header.
  for (int i = 0; i < 1500; ++i) {
    buf = base;
    const int flips = 1 + static_cast<int>(rng() % 3);
    std::string what = "flip";
    for (int k = 0; k < flips; ++k) {
      const uint64_t at = (rng() % 10 < 9) ? rng() % header : rng() % buf.size();
      const int bit = static_cast<int>(rng() % 8);
      buf[at] ^= static_cast<uint8_t>(1u << bit);
      what += " " + std::to_string(at) + ":" + std::to_string(bit);
    }
    try_variant(buf, what, out);
  }

  // 3. Hostile values in every length, count, type, shape and offset field.
  const std::vector<Field> fields = fields_of(ref);
  for (const Field& fd : fields) {
    uint64_t orig = 0;
    std::memcpy(&orig, base.data() + fd.at, fd.width);
    const uint64_t hostile[] = {0, 1, 2, 3, 5, 13, 255, 0x7FFFFFFF, 0xFFFFFFFF, 1ull << 32, 1ull << 40, 1ull << 62,
                                0x7FFFFFFFFFFFFFFFull, ~0ull, orig + 1, orig - 1, orig * 2, orig + 32, base.size(),
                                base.size() - fd.at, static_cast<uint64_t>(rng())};
    for (uint64_t v : hostile) {
      if (v == orig) continue;
      buf = base;
      std::memcpy(buf.data() + fd.at, &v, fd.width);  // little-endian: the low bytes for u32 fields
      try_variant(buf, fd.name + " = " + std::to_string(v), out);
    }
  }

  // 4. Random runs of random bytes.
  for (int i = 0; i < 300; ++i) {
    buf = base;
    const uint64_t at = rng() % header, len = 1 + rng() % 16;
    for (uint64_t k = at; k < std::min<uint64_t>(at + len, buf.size()); ++k) buf[k] = static_cast<uint8_t>(rng());
    try_variant(buf, "smash " + std::to_string(at) + "+" + std::to_string(len), out);
  }

  MESSAGE(out.variants, " variants: ", out.gguf_error, " GgufError at open, ", out.loaded, " opened (",
          out.model_ok, " valid Gemma 4, ", out.model_error, " clear model errors; tokenizer built ",
          out.tokenizer_ok, ", refused ", out.tokenizer_error, ")");
  for (const auto& f : out.failures) FAIL_CHECK(f);
  CHECK(out.failures.empty());
  CHECK(out.variants >= 2000);
  CHECK(out.gguf_error > 0);
  CHECK(out.model_ok > 0);
  CHECK(out.model_error > 0);
  CHECK(out.tokenizer_ok > 0);
}

TEST_CASE("vocabulary mutation: hostile token texts, types and merges never crash the tokenizer") {
  // A vocabulary with every token kind: control, unknown, user-defined markup, the 256 byte tokens,
  // normal pieces and merges. Variants edit its bytes in place (the GGUF stays valid), so each one
  // reaches read_vocab and the tokenizer.
  test::TinyGemma4 tiny;
  tiny.n_embd = 8, tiny.n_ple = 4, tiny.hd_swa = 4, tiny.hd_full = 8;
  tiny.n_ff = {8, 8, 16, 16};
  Vocab voc = test::TinyGemma4::tokenizer_vocab();
  auto add = [&](std::string t, TokenType ty) {
    voc.tokens.push_back(std::move(t));
    voc.types.push_back(ty);
    voc.scores.push_back(0);
  };
  add("<|turn>", TokenType::Control);
  add("<turn|>", TokenType::Control);
  add("<|\"|>", TokenType::UserDefined);
  add("</s>", TokenType::Normal);
  for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), TokenType::Byte);
  tiny.n_vocab = static_cast<uint32_t>(voc.tokens.size());
  tiny.edit_vocab = [&voc](Vocab& v) { v = voc; };
  tiny.declare_tensors();
  const std::vector<uint8_t> base = tiny.bytes();
  const GgufFile ref = GgufFile::open_memory(std::span<const uint8_t>(base));
  REQUIRE_NOTHROW(Tokenizer(read_vocab(ref)));
  const GgufKv& toks = ref.kv("tokenizer.ggml.tokens");
  const GgufKv& types = ref.kv("tokenizer.ggml.token_type");
  const GgufKv& merges = ref.kv("tokenizer.ggml.merges");

  Outcome out;
  std::mt19937_64 rng(777);
  std::vector<uint8_t> buf;
  auto run = [&](const std::string& what) {
    ++out.variants;
    try {
      const GgufFile f = GgufFile::open_memory(std::span<const uint8_t>(buf), "vocab-mutant.gguf");
      ++out.loaded;
      try {
        exercise_tokenizer(read_vocab(f), out, what);
      } catch (const GgufError&) {
        ++out.model_error;
      }
    } catch (const GgufError&) {
      ++out.gguf_error;
    } catch (const std::exception& e) {
      if (out.failures.size() < 10) out.failures.push_back(what + ": unexpected exception: " + e.what());
    }
  };
  // Every byte token's text rewritten in place to hostile 6-byte spellings.
  const std::string_view base_view(reinterpret_cast<const char*>(base.data()), base.size());
  for (int b = 0; b < 256; b += 17) {
    const size_t at = base_view.find(fmt::format("<0x{:02X}>", b), toks.value_offset);
    REQUIRE(at != std::string_view::npos);
    for (const char* hostile : {"<0x-1>", "<0xZZ>", "<0x+F>", "<0x 1>", "<0xff>", "<0x00>", "<0x\xFF\xFF>", "<<0x>>"}) {
      buf = base;
      std::memcpy(buf.data() + at, hostile, 6);
      run(fmt::format("byte token {} -> {}", b, hostile));
    }
  }
  // Token types overwritten (i32 each) with every value in -2..8.
  for (int i = 0; i < 200; ++i) {
    buf = base;
    const uint64_t k = rng() % types.count;
    const int32_t v = static_cast<int32_t>(rng() % 11) - 2;
    std::memcpy(buf.data() + types.value_offset + 4 * k, &v, 4);
    run(fmt::format("token_type[{}] = {}", k, v));
  }
  // Random byte flips inside the token texts and the merges.
  for (const GgufKv* kv : {&toks, &merges})
    for (int i = 0; i < 400; ++i) {
      buf = base;
      const uint64_t at = kv->value_offset + rng() % kv->value_bytes;
      buf[at] = static_cast<uint8_t>(rng());
      run(fmt::format("{} byte {} = {}", kv->key, at, buf[at]));
    }
  MESSAGE(out.variants, " vocabulary variants: tokenizer built ", out.tokenizer_ok, ", refused ", out.tokenizer_error,
          ", read_vocab errors ", out.model_error, ", GGUF errors ", out.gguf_error);
  for (const auto& f : out.failures) FAIL_CHECK(f);
  CHECK(out.failures.empty());
  CHECK(out.tokenizer_ok > 0);
  CHECK(out.tokenizer_error > 0);
}
