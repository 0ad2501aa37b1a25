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
/// Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4). This is the list of weight types a model file may
/// use (gemma4_matrix_type_allowed); the GPU kernels read all but MXFP4, which is re-encoded at
/// load (weight_convert.h).
bool can_dequantize(GgmlType t);
/// True if quantize_row supports t (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K,
/// MXFP4).
bool can_quantize(GgmlType t);

/// Decode n elements (n a multiple of the type's block) from packed blocks at src into dst.
/// Throws std::invalid_argument for an unsupported type or a bad n. Results are bit-identical
/// to ggml's dequantize_row_*: Q4_K/Q5_K/Q2_K compute (d*sc)*q - (dmin*m), Q6_K (d*sc)*q,
/// MXFP4 kvalue * 2^(e-128),
/// Q4_1/Q5_1 q*d + m, etc. All products (fp16 scale x small ints) are exact in float, so only
/// the final add/subtract rounds: any product order or FMA gives the same bits (GPU kernels
/// too), but the add must not be reassociated (e.g. into (q - m/d) * d).
void dequantize_row(GgmlType t, const void* src, float* dst, size_t n);

/// Encode n floats (n a multiple of the block) into packed blocks at dst
/// (ggml_row_bytes(t, n) bytes). Round-to-nearest reference quantizers, not imatrix-optimal.
/// Throws std::invalid_argument for an unsupported type or a bad n. Inputs must be finite
/// (F32/F16/BF16 also pass inf/NaN through).
///
/// Round-trip error |x - dequantize(quantize(x))| per element, as asserted by tests/test_quant.cpp.
/// h(v) = max(|v| * 2^-11, 2^-25) is the fp16 rounding error of a stored scale v (relative in the
/// normal half range, absolute for subnormal scales of tiny weights); add ~4e-6 relative for
/// float rounding. amax = max|x| over the block.
///   F32     exact.
///   F16     <= max(|x| * 2^-11, 2^-25); |x| >= 65520 becomes inf.
///   BF16    <= |x| * 2^-8 (normal range).
///   Q8_0    <= amax/254 + 127 h(amax/127). (ggml's quantize_row_q8_0_ref: d = amax/127,
///           q = roundf(x * (1/d)); bit-identical to llama-quantize's Q8_0.)
///   Q4_0    <= amax/16 + 8 h(amax/8), except elements of sign opposite to the block's
///           largest-magnitude value with |x| > 15/16 amax (they clamp at level +7):
///           <= amax/8 + 8 h(amax/8). (ggml's quantize_row_q4_0_ref: d = max/-8.)
///   Q5_0    <= amax/32 + 16 h(amax/16); opposite-sign |x| > 31/32 amax: <= amax/16 + 16 h(amax/16).
///           (ggml's quantize_row_q5_0_ref: d = max/-16.)
///   Q4_1    <= r/30 + 15 h(r/15) + h(min), r = max - min of the block (ggml's quantize_row_q4_1_ref).
///   Q5_1    <= r/62 + 31 h(r/31) + h(min) (ggml's quantize_row_q5_1_ref).
///   Q4_K    <= r_j/30 + R/900 + 2^-24, r_j = max(0, max x) - min(0, min x) over the element's
///           32-element sub-block, R = max_j r_j over the 256 super-block. (Own quantizer: 6-bit
///           mins and scales and the fp16 d/dmin are rounded up so every element lies on its
///           sub-block's grid, then rounded to the nearest level: |err| <= step/2.)
///   Q5_K    <= r_j/62 + R/1900 + 2^-24 (same scheme, 31 levels).
///   Q6_K    <= a_j/62 + A/7800 + 2^-24, a_j = max|x| over the 16-element sub-block, A = max|x|
///           over the super-block (own quantizer: step >= max(pos/31, neg/32), scales/d rounded up).
///   MXFP4   <= max(2 d, |x| - 12 d), d = 2^(floor(log2 amax) - 3) (ggml's quantize_row_mxfp4_ref:
///           levels {0, 1, 2, 3, 4, 6, 8, 12} * d, nearest level; amax above 12 d clamps).
void quantize_row(GgmlType t, const float* src, void* dst, size_t n);

} // namespace vkg
