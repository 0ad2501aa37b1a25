// ggml tensor types as stored in GGUF files: ids, block sizes and bytes per block.
// Source: ggml.h / ggml-common.h of the GGML project (public format description).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vkg {

/// ggml type ids exactly as written in GGUF tensor infos.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

/// Layout facts of one type: a row of ne0 elements takes ne0 / block_elems * block_bytes bytes.
struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;   // "Q4_K", as ggml spells it
  uint32_t block_elems;    // elements per block (1 for plain types)
  uint32_t block_bytes;    // bytes per block
};

/// Layout of a known type id, or nullopt for an id ggml does not define.
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t id);
/// Same, for a valid enum value (throws std::invalid_argument on an unknown one).
const GgmlTypeInfo& ggml_type_info(GgmlType t);
/// Name ("Q4_K"); "type#N" for unknown ids.
std::string ggml_type_name(uint32_t id);
/// Parse a name ("q4_k", case-insensitive); nullopt if unknown.
std::optional<GgmlType> ggml_type_from_name(std::string_view name);
/// Bytes of a row of ne0 elements; throws std::invalid_argument if ne0 is not a multiple of the block.
size_t ggml_row_bytes(GgmlType t, uint64_t ne0);

} // namespace vkg
