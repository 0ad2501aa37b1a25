// CPU (de)quantization of ggml block formats: the bit-exact reference for the GPU kernels and the
// encoder used by the synthetic-model writer. Layouts from ggml-common.h (GGML project);
// dequantization follows ggml's dequantize_row_* exactly (same float operations and order).
#pragma once
#include <cstddef>
#include <cstdint>
#include "ggml_type.h"

namespace vkg {

/// IEEE half <-> float (round to nearest even), bfloat16 <-> float (round to nearest even).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);

/// True if dequantize_row supports t (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K,
/// Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS).
bool can_dequantize(GgmlType t);
/// True if quantize_row supports t (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K).
bool can_quantize(GgmlType t);

/// Decode n elements (n a multiple of the type's block) from packed blocks at src into dst.
/// Throws std::invalid_argument for an unsupported type or a bad n.
void dequantize_row(GgmlType t, const void* src, float* dst, size_t n);

/// Encode n floats (n a multiple of the block) into packed blocks at dst
/// (ggml_row_bytes(t, n) bytes). Round-to-nearest reference quantizers, not imatrix-optimal.
/// Throws std::invalid_argument for an unsupported type or a bad n.
void quantize_row(GgmlType t, const float* src, void* dst, size_t n);

} // namespace vkg
