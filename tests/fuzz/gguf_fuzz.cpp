// libFuzzer target: open arbitrary bytes as GGUF, then describe them as Gemma 4, read the
// tokenizer vocabulary, build the tokenizer from it and run it (encode with and without special
// parsing, decode every id, stream). Only GgufError / ModelError / VocabError may come out;
// anything else (a crash, a sanitizer report, std::bad_alloc, another exception escaping and
// terminating) is a bug.
// Build: cmake -DVKGEMMA_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang ...
//        cmake --build <dir> --target gguf_fuzz && <dir>/tests/gguf_fuzz -max_len=65536 corpus/
// Seeds: any small .gguf (build/test-scratch/gguf_mutation/base.gguf, written by
// test_gguf_mutation, has a tokenizer-valid vocabulary; ../shared/golden/*/model.gguf are larger).
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string_view>
#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_vocab.h"
#include "tokenizer.h"

namespace {

uint64_t run_tokenizer(const vkg::Vocab& v, std::string_view text) {
  uint64_t sink = 0;
  try {
    const vkg::Tokenizer tok(v);
    if (tok.n_vocab() > (1u << 16)) return 0;  // keep each input fast
    for (bool special : {false, true}) {
      const std::vector<int32_t> ids = tok.encode(text, v.add_bos && v.bos_id >= 0, special);
      sink += ids.size() + tok.decode(ids, special).size();
    }
    std::vector<int32_t> all(tok.n_vocab());
    std::iota(all.begin(), all.end(), 0);
    sink += tok.decode(all, true).size() + tok.decode(all, false).size();
    vkg::StreamingDetokenizer sd(tok);
    for (int32_t id : all) sink += sd.push(id).size() + tok.is_eog(id);
    sink += sd.flush().size();
  } catch (const vkg::VocabError&) {
  }
  return sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const vkg::GgufFile f = vkg::GgufFile::open_memory(std::span<const uint8_t>(data, size), "fuzz");
    uint64_t sink = 0;
    for (const auto& t : f.tensors()) sink += t.data[0] + t.data[t.n_bytes - 1];
    for (const auto& kv : f.kvs())
      if (kv.is_array() && kv.elem_type == vkg::GgufType::String) sink += f.get_string_array(kv.key).size();
    try {
      const vkg::Gemma4Model m = vkg::load_gemma4(f);
      sink += vkg::gemma4_footprint(m, 2).device_bytes;
    } catch (const vkg::ModelError&) {
    } catch (const vkg::GgufError&) {
    }
    try {
      if (vkg::gguf_has_vocab(f)) {
        const vkg::Vocab v = vkg::read_vocab(f);
        sink += v.tokens.size();
        // The text: the input's last bytes (arbitrary, often invalid UTF-8) and fixed markup.
        const size_t n = size < 64 ? size : 64;
        std::string text(reinterpret_cast<const char*>(data + size - n), n);
        text += "<|turn>user\n<0x41> ab\n\n";
        sink += run_tokenizer(v, text);
      }
    } catch (const vkg::GgufError&) {
    }
    volatile uint64_t keep = sink;
    (void)keep;
  } catch (const vkg::GgufError&) {
  }
  return 0;
}
