#include "rope_table.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace vkg {

std::vector<double> rope_inv_freq(uint32_t n_rot, double base, std::span<const float> freq_factors) {
  if (n_rot == 0 || n_rot % 2 != 0)
    throw std::invalid_argument("rope: n_rot " + std::to_string(n_rot) + " must be even and positive");
  const uint32_t half = n_rot / 2;
  if (!freq_factors.empty() && freq_factors.size() != half)
    throw std::invalid_argument("rope: " + std::to_string(freq_factors.size()) + " frequency factors for " +
                                std::to_string(half) + " pairs");
  std::vector<double> f(half);
  for (uint32_t i = 0; i < half; ++i)
    f[i] = std::pow(base, -2.0 * i / n_rot) / (freq_factors.empty() ? 1.0 : double(freq_factors[i]));
  return f;
}

void rope_table(std::span<const int32_t> pos, std::span<const double> inv_freq, float* out) {
  const size_t half = inv_freq.size();
  for (size_t t = 0; t < pos.size(); ++t) {
    float* row = out + t * half * 2;
    const double p = pos[t];
    for (size_t i = 0; i < half; ++i) {
      const double theta = p * inv_freq[i];
      row[2 * i] = static_cast<float>(std::cos(theta));
      row[2 * i + 1] = static_cast<float>(std::sin(theta));
    }
  }
}

}  // namespace vkg
