#include "vocab_writer.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "gguf_vocab.h"
#include "gguf_vocab_keys.h"

namespace vkg {
using namespace gguf_vocab_keys;

void write_vocab(GgufWriter& w, const Vocab& v) {
  validate_vocab(v, "write_vocab");
  w.add_string(kModel, v.model);
  if (!v.pre.empty()) w.add_string(kPre, v.pre);
  w.add_string_array(kTokens, v.tokens);
  if (!v.scores.empty()) w.add_array<float>(kScores, v.scores);
  std::vector<int32_t> types(v.types.size());
  std::transform(v.types.begin(), v.types.end(), types.begin(), [](TokenType t) { return static_cast<int32_t>(t); });
  w.add_array<int32_t>(kTypes, types);
  if (!v.merges.empty()) w.add_string_array(kMerges, v.merges);
  if (v.bos_id >= 0) w.add_u32(kBos, static_cast<uint32_t>(v.bos_id));
  if (v.eos_id >= 0) w.add_u32(kEos, static_cast<uint32_t>(v.eos_id));
  if (v.unk_id >= 0) w.add_u32(kUnk, static_cast<uint32_t>(v.unk_id));
  if (v.pad_id >= 0) w.add_u32(kPad, static_cast<uint32_t>(v.pad_id));
  if (!v.eog_ids.empty()) {
    w.add_u32(kEot, static_cast<uint32_t>(v.eog_ids[0]));
    if (v.eog_ids.size() > 1) {
      std::vector<uint32_t> ids(v.eog_ids.begin(), v.eog_ids.end());
      w.add_array<uint32_t>(kEogList, ids);
    }
  }
  w.add_bool(kAddBos, v.file_add_bos.value_or(v.add_bos));
  w.add_bool(kAddEos, v.add_eos);
  if (!v.chat_template.empty()) w.add_string(kTemplate, v.chat_template);
}

}  // namespace vkg
