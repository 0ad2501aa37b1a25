// Sampler: see sampler.h. Formulas follow llama.cpp's llama-sampling.cpp (penalties, top-k,
// top-p, min-p, temp, dist).
#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

namespace vkg {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// Higher logit first; lower id first on ties (deterministic order).
bool better(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

void penalize(float& logit, int count, float repeat, float freq, float presence) {
  if (count <= 0) return;
  // llama.cpp: dividing a negative logit would make the token more likely, so it is multiplied.
  if (logit <= 0) logit *= repeat;
  else logit /= repeat;
  logit -= static_cast<float>(count) * freq + static_cast<float>(count > 0) * presence;
}

std::unordered_map<int32_t, int> count_tokens(std::span<const int32_t> recent) {
  std::unordered_map<int32_t, int> counts;
  counts.reserve(recent.size());
  for (int32_t t : recent) ++counts[t];
  return counts;
}

} // namespace

void apply_penalties(std::span<Candidate> cur, std::span<const int32_t> recent, float repeat_penalty,
                     float frequency_penalty, float presence_penalty) {
  if (recent.empty()) return;
  const auto counts = count_tokens(recent);
  for (Candidate& c : cur)
    if (auto it = counts.find(c.id); it != counts.end())
      penalize(c.logit, it->second, repeat_penalty, frequency_penalty, presence_penalty);
}

Sampler::Sampler(const SamplerParams& p) : params_(p), rng_(p.seed) {
  if (std::isnan(p.temperature)) throw SamplerError("sampler: temperature is NaN");
  if (!(p.top_p >= 0.0f && p.top_p <= 1.0f))
    throw SamplerError(fmt::format("sampler: top_p = {} is outside [0, 1]", p.top_p));
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f))
    throw SamplerError(fmt::format("sampler: min_p = {} is outside [0, 1]", p.min_p));
  if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty))
    throw SamplerError(fmt::format("sampler: repeat_penalty = {} must be a positive number", p.repeat_penalty));
  if (!std::isfinite(p.frequency_penalty) || !std::isfinite(p.presence_penalty))
    throw SamplerError("sampler: frequency/presence penalties must be finite");
  if (p.min_keep < 1) throw SamplerError(fmt::format("sampler: min_keep = {} must be >= 1", p.min_keep));
  if (p.penalty_last_n < -1)
    throw SamplerError(fmt::format("sampler: penalty_last_n = {} must be >= -1", p.penalty_last_n));
}

void Sampler::accept(int32_t token) {
  if (params_.penalty_last_n == 0) return;
  history_.push_back(token);
  const auto n = static_cast<size_t>(params_.penalty_last_n);
  if (params_.penalty_last_n > 0 && history_.size() >= 2 * n + 64)
    history_.erase(history_.begin(), history_.end() - static_cast<std::ptrdiff_t>(n));
}

std::span<const int32_t> Sampler::recent() const {
  if (params_.penalty_last_n < 0 || history_.size() <= static_cast<size_t>(params_.penalty_last_n))
    return history_;
  return std::span<const int32_t>(history_).last(static_cast<size_t>(params_.penalty_last_n));
}

void Sampler::reset() {
  history_.clear();
  rng_.seed(params_.seed);
}

void Sampler::set_seed(uint64_t seed) { rng_.seed(seed); }

std::vector<TokenProb> Sampler::run(std::vector<Candidate> cur, bool identity_ids) const {
  const SamplerParams& P = params_;
  if (cur.empty()) throw SamplerError("sampler: no logits / candidates");
  for (Candidate& c : cur)
    if (std::isnan(c.logit)) c.logit = kNegInf;

  // 1. Penalties over the window of accepted tokens.
  const bool penalties = P.penalty_last_n != 0 &&
                         (P.repeat_penalty != 1.0f || P.frequency_penalty != 0.0f || P.presence_penalty != 0.0f);
  if (penalties && !recent().empty()) {
    if (identity_ids) {  // cur[i].id == i: touch only the tokens in the window
      for (const auto& [id, count] : count_tokens(recent()))
        if (id >= 0 && static_cast<size_t>(id) < cur.size())
          penalize(cur[id].logit, count, P.repeat_penalty, P.frequency_penalty, P.presence_penalty);
    } else {
      apply_penalties(cur, recent(), P.repeat_penalty, P.frequency_penalty, P.presence_penalty);
    }
  }

  const Candidate best = *std::min_element(cur.begin(), cur.end(), better);
  if (best.logit == kNegInf) throw SamplerError("sampler: every logit is -inf or NaN");

  // 2. Greedy.
  if (P.greedy || P.temperature <= 0.0f) return {{best.id, best.logit, 1.0f}};

  // 3. Top-k.
  if (P.top_k > 0 && static_cast<size_t>(P.top_k) < cur.size()) {
    std::nth_element(cur.begin(), cur.begin() + P.top_k, cur.end(), better);
    cur.resize(static_cast<size_t>(P.top_k));
  }
  const float max_logit = best.logit;  // top-k keeps the best

  // 4./5. Top-p then min-p. Top-p normalises over the top-k set, so its denominator is taken
  // before anything else is dropped. Min-p's threshold only depends on the max logit, so pruning
  // below it first (when that leaves >= min_keep candidates) does not change the result and
  // saves sorting the whole vocabulary.
  const bool use_top_p = P.top_p < 1.0f;
  const bool use_min_p = P.min_p > 0.0f;
  double z = 0.0;
  if (use_top_p)
    for (const Candidate& c : cur) z += std::exp(static_cast<double>(c.logit) - max_logit);
  const float min_logit = use_min_p ? max_logit + std::log(P.min_p) : kNegInf;
  if (use_min_p) {
    const auto n_keep = std::count_if(cur.begin(), cur.end(), [&](const Candidate& c) { return c.logit >= min_logit; });
    if (n_keep >= P.min_keep)
      cur.erase(std::remove_if(cur.begin(), cur.end(), [&](const Candidate& c) { return c.logit < min_logit; }),
                cur.end());
  }
  std::sort(cur.begin(), cur.end(), better);
  size_t keep = cur.size();
  if (use_top_p) {
    double cum = 0.0;
    for (size_t i = 0; i < cur.size(); ++i) {
      cum += std::exp(static_cast<double>(cur[i].logit) - max_logit) / z;
      if (cum >= P.top_p && i + 1 >= static_cast<size_t>(P.min_keep)) {
        keep = i + 1;
        break;
      }
    }
  }
  if (use_min_p) {
    size_t i = 1;
    for (; i < cur.size(); ++i)
      if (cur[i].logit < min_logit && i >= static_cast<size_t>(P.min_keep)) break;
    keep = std::min(keep, i);
  }
  cur.resize(keep);

  // 6. Temperature, 7. softmax.
  std::vector<TokenProb> dist;
  dist.reserve(cur.size());
  double sum = 0.0;
  const float m = cur.front().logit / P.temperature;
  for (const Candidate& c : cur) {
    const float l = c.logit / P.temperature;
    const double e = l == kNegInf ? 0.0 : std::exp(static_cast<double>(l) - m);
    sum += e;
    dist.push_back({c.id, l, static_cast<float>(e)});
  }
  for (TokenProb& t : dist) t.p = static_cast<float>(t.p / sum);
  while (dist.size() > 1 && dist.back().p == 0.0f) dist.pop_back();
  return dist;
}

int32_t Sampler::draw(const std::vector<TokenProb>& dist) {
  if (dist.size() == 1) return dist.front().id;
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1)
  double total = 0.0;
  for (const TokenProb& t : dist) total += t.p;
  const double target = u * total;
  double run = 0.0;
  for (const TokenProb& t : dist) {
    run += t.p;
    if (target < run) return t.id;
  }
  return dist.back().id;
}

std::vector<TokenProb> Sampler::distribution(std::span<const float> logits) const {
  std::vector<Candidate> cur(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) cur[i] = {static_cast<int32_t>(i), logits[i]};
  return run(std::move(cur), true);
}

std::vector<TokenProb> Sampler::distribution(std::span<const Candidate> candidates) const {
  return run(std::vector<Candidate>(candidates.begin(), candidates.end()), false);
}

int32_t Sampler::sample(std::span<const float> logits) { return draw(distribution(logits)); }

int32_t Sampler::sample(std::span<const Candidate> candidates) { return draw(distribution(candidates)); }

} // namespace vkg
