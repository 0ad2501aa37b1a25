// Host-side angles of NEOX rotary position embeddings (RoPE), computed in double precision so
// that the rotation is accurate at every position whatever the device's sin/cos accuracy
// (Vulkan only bounds GLSL sin/cos by an absolute error of 2^-11 on [-pi, pi], and a float angle
// pos * inv_freq is already off by pos * 2^-24 rad; at position 131071 that is 0.008 rad).
// Source of the math: RoFormer (Su et al. 2021), NEOX pairing (i, i + n_rot/2) as in ggml's
// rope_neox; Gemma 4 full-attention layers divide the frequency by rope_freqs[i].
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace vkg {

/// inv_freq[i] = base^(-2i / n_rot) / freq_factors[i] for i < n_rot / 2 (freq_factors: n_rot / 2
/// floats, or empty for all 1). Throws std::invalid_argument when n_rot is odd or zero, or the
/// factors are not n_rot / 2 long.
std::vector<double> rope_inv_freq(uint32_t n_rot, double base, std::span<const float> freq_factors = {});

/// Writes out[(t * n_pairs + i) * 2 + {0, 1}] = {cos, sin}(pos[t] * inv_freq[i]) for every token t
/// and pair i < n_pairs = inv_freq.size(): the table Ops::rope_neox reads, f32 [T, n_rot/2, 2].
/// Each entry is the float nearest the double-precision result (error <= 2^-24 relative plus
/// ~1e-11 absolute from the angle).
void rope_table(std::span<const int32_t> pos, std::span<const double> inv_freq, float* out);

/// Bytes of a table for T tokens of n_rot rotated dims.
inline uint64_t rope_table_bytes(uint32_t T, uint32_t n_rot) { return uint64_t{T} * n_rot * 4; }

}  // namespace vkg
