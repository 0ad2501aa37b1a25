// libFuzzer target: open arbitrary bytes as GGUF, then describe them as Gemma 4 and read the
// tokenizer. Only GgufError / ModelError may come out; anything else (a crash, a sanitizer
// report, std::bad_alloc, another exception escaping and terminating) is a bug.
// Build: cmake -DVKGEMMA_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang ...
//        cmake --build <dir> --target gguf_fuzz && <dir>/tests/gguf_fuzz -max_len=65536 corpus/
// Seeds: any small .gguf (../shared/golden/*/model.gguf are 1.6-3 MB; fine with -max_len).
#include <cstddef>
#include <cstdint>
#include <span>
#include "gemma4_config.h"
#include "gguf.h"
#include "gguf_vocab.h"

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
      if (vkg::gguf_has_vocab(f)) sink += vkg::read_vocab(f).tokens.size();
    } catch (const vkg::GgufError&) {
    }
    volatile uint64_t keep = sink;
    (void)keep;
  } catch (const vkg::GgufError&) {
  }
  return 0;
}
