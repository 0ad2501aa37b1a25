// Token sampler over logits, following llama.cpp's sampler chain and formulas:
//   penalties -> top-k -> top-p -> min-p -> temperature -> draw
// (llama.cpp's common default order, without dry / typical / xtc). Temperature <= 0 or greedy
// picks the highest (penalised) logit. Input is either the full logits vector (n_vocab floats)
// or pre-selected (id, logit) candidates, e.g. a top-k done on the GPU; with candidates every
// step (including the top-p normalisation) sees only those candidates.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>
#include "error.h"

namespace vkg {

/// Invalid sampler parameters or inputs.
class SamplerError : public Error {
 public:
  explicit SamplerError(const std::string& what) : Error(ErrorCode::bad_input, what) {}
};

/// One candidate token.
struct Candidate {
  int32_t id;
  float logit;
};

/// A candidate of the final distribution.
struct TokenProb {
  int32_t id;
  float logit;  ///< after penalties and temperature
  float p;      ///< probability it is drawn with
};

/// Defaults are llama.cpp's (common_params_sampling), penalties off.
struct SamplerParams {
  uint64_t seed = 0;              ///< std::mt19937_64 seed; same seed + inputs -> same tokens
  float temperature = 0.8f;       ///< <= 0: greedy
  int32_t top_k = 40;             ///< <= 0: off
  float top_p = 0.95f;            ///< >= 1: off
  float min_p = 0.05f;            ///< <= 0: off
  int32_t min_keep = 1;           ///< top-p / min-p keep at least this many candidates
  int32_t penalty_last_n = 64;    ///< window of accepted tokens for penalties; 0 off, -1 all
  float repeat_penalty = 1.0f;    ///< 1: off
  float frequency_penalty = 0.0f; ///< 0: off
  float presence_penalty = 0.0f;  ///< 0: off
  bool greedy = false;            ///< argmax of the penalised logits (same as temperature 0)
};

/// llama.cpp's penalties on `cur`, in place. For each candidate whose id occurs c > 0 times in
/// `recent`: logit = logit <= 0 ? logit * repeat : logit / repeat; then
/// logit -= c * frequency + presence.
void apply_penalties(std::span<Candidate> cur, std::span<const int32_t> recent, float repeat_penalty,
                     float frequency_penalty, float presence_penalty);

/// Stateful sampler: holds the RNG and the window of accepted tokens. Not thread-safe.
class Sampler {
 public:
  /// Throws SamplerError for NaN/negative-where-meaningless parameters (temperature NaN, top_p or
  /// min_p outside [0, 1], repeat_penalty <= 0, min_keep < 1, penalty_last_n < -1).
  explicit Sampler(const SamplerParams& params = {});

  /// Draw a token from full logits (index = token id). Throws SamplerError for an empty input or
  /// when every logit is -inf/NaN. Does not accept() the token.
  int32_t sample(std::span<const float> logits);
  /// Draw a token from pre-selected candidates (ids need not be sorted or contiguous).
  int32_t sample(std::span<const Candidate> candidates);

  /// The distribution sample() would draw from (sorted by p, descending; a single entry with
  /// p = 1 when greedy). Consumes no randomness.
  std::vector<TokenProb> distribution(std::span<const float> logits) const;
  std::vector<TokenProb> distribution(std::span<const Candidate> candidates) const;

  /// Record a token (prompt or generated) in the penalty window.
  void accept(int32_t token);
  /// Forget accepted tokens and restart the RNG from params().seed.
  void reset();
  /// Restart the RNG from `seed`.
  void set_seed(uint64_t seed);
  /// The current penalty window (oldest first).
  std::span<const int32_t> recent() const;
  const SamplerParams& params() const { return params_; }

 private:
  std::vector<TokenProb> run(std::vector<Candidate> cur, bool identity_ids) const;
  int32_t draw(const std::vector<TokenProb>& dist);

  SamplerParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> history_;
};

} // namespace vkg
