// Internal to the synthetic-model writer: a fast seeded RNG and the value distributions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vkg::synth_detail {

/// splitmix64 step: the standard seeder for xoshiro generators.
inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// A 64-bit seed from two values (order matters).
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t x = a ^ (b * 0xD1B54A32D192ED03ull);
  splitmix64(x);
  return splitmix64(x);
}

/// FNV-1a 64 of a string (tensor names -> per-tensor seeds).
inline uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

/// xoshiro256++ (Blackman & Vigna): fast, all output bits usable.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

/// y[i] = mean + std * n_i, n_i approximately N(0, 1): the sum of the four 16-bit lanes of one
/// 64-bit draw (Irwin-Hall, 4 terms) shifted and scaled to mean 0 and variance 1 exactly;
/// |n_i| <= sqrt(12) = 3.46.
inline void fill_normal(Rng& rng, float* y, size_t n, float mean, float std) {
  const float k = std * (1.7320508075688772f / 65536.0f);  // sum has std 65536 / sqrt(3) (to 1e-10)
  for (size_t i = 0; i < n; ++i) {
    const uint64_t x = rng.next();
    const int32_t s = static_cast<int32_t>((x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48));
    y[i] = mean + static_cast<float>(s - 131070) * k;
  }
}

}  // namespace vkg::synth_detail
