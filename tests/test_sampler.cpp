// Sampler: statistical checks with fixed seeds, llama.cpp's penalty formula, reproducibility.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include "sampler.h"
#include "test_util.h"

using vkg::Candidate;
using vkg::Sampler;
using vkg::SamplerParams;

namespace {

std::vector<float> random_logits(size_t n, uint32_t seed, float scale = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> l(n);
  for (float& x : l) x = nd(rng);
  return l;
}

SamplerParams plain(uint64_t seed = 1) {  // no filters, temperature 1, no penalties
  SamplerParams p;
  p.seed = seed;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

std::vector<double> softmax(const std::vector<float>& l, double temp = 1.0) {
  double m = -1e30, s = 0;
  for (float x : l) m = std::max(m, static_cast<double>(x));
  std::vector<double> p(l.size());
  for (size_t i = 0; i < l.size(); ++i) s += p[i] = std::exp((l[i] - m) / temp);
  for (double& x : p) x /= s;
  return p;
}

// |count - n p| within 5 standard deviations of a binomial.
bool close_to(int count, int n, double p) {
  const double sd = std::sqrt(n * p * (1 - p));
  return std::abs(count - n * p) <= 5 * sd + 1;
}

int32_t argmax(const std::vector<float>& l) {
  return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
}

} // namespace

TEST_CASE("sampler: same seed -> same tokens, another seed -> other tokens") {
  const auto logits = random_logits(5000, 7, 1.0f);
  SamplerParams p;  // llama.cpp defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05
  p.seed = 42;
  Sampler a(p), b(p);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 300; ++i) {
    sa.push_back(a.sample(logits));
    sb.push_back(b.sample(logits));
  }
  CHECK(sa == sb);
  a.reset();
  for (int i = 0; i < 300; ++i) CHECK(a.sample(logits) == sa[i]);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> sc;
  for (int i = 0; i < 300; ++i) sc.push_back(c.sample(logits));
  CHECK(sc != sa);
}

TEST_CASE("sampler: temperature 0 and greedy are the argmax") {
  for (uint32_t s = 0; s < 20; ++s) {
    const auto logits = random_logits(3000, s);
    SamplerParams p = plain(s);
    p.temperature = 0.0f;
    Sampler t0(p);
    CHECK(t0.sample(logits) == argmax(logits));
    p.temperature = 1.3f;
    p.greedy = true;
    Sampler g(p);
    CHECK(g.sample(logits) == argmax(logits));
    const auto d = g.distribution(logits);
    REQUIRE(d.size() == 1);
    CHECK(d[0].p == 1.0f);
  }
  // Ties: the lowest id.
  Sampler g(SamplerParams{.temperature = 0.0f});
  CHECK(g.sample(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f}) == 1);
}

TEST_CASE("sampler: top-k never leaves the k best") {
  const auto logits = random_logits(1000, 3, 1.0f);
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const std::set<int32_t> best8(order.begin(), order.begin() + 8);
  SamplerParams p = plain(5);
  p.top_k = 8;
  p.temperature = 3.0f;  // flatten: the rest would be drawn often without top-k
  Sampler s(p);
  std::set<int32_t> seen;
  for (int i = 0; i < 20000; ++i) {
    const int32_t t = s.sample(logits);
    REQUIRE(best8.count(t) == 1);
    seen.insert(t);
  }
  CHECK(seen == best8);

  // Pre-selected candidates (e.g. a GPU top-64): non-contiguous ids, top-k 5 among them.
  std::vector<Candidate> cands;
  for (int i = 0; i < 64; ++i) cands.push_back({order[i] * 100 + 7, logits[order[i]]});
  std::set<int32_t> best5;
  for (int i = 0; i < 5; ++i) best5.insert(order[i] * 100 + 7);
  p.top_k = 5;
  Sampler sc(p);
  for (int i = 0; i < 5000; ++i) REQUIRE(best5.count(sc.sample(cands)) == 1);
}

TEST_CASE("sampler: no filters at temperature T draws softmax(logits / T)") {
  const std::vector<float> logits = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -3.0f};
  for (float temp : {1.0f, 0.5f, 2.0f}) {
    SamplerParams p = plain(11);
    p.temperature = temp;
    Sampler s(p);
    const auto want = softmax(logits, temp);
    const auto d = s.distribution(logits);
    REQUIRE(d.size() == logits.size());
    for (const auto& t : d) CHECK(t.p == doctest::Approx(want[t.id]).epsilon(1e-5));
    std::vector<int> counts(logits.size());
    const int n = 40000;
    for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
    for (size_t i = 0; i < logits.size(); ++i) {
      INFO("T=" << temp << " token " << i << " count " << counts[i] << " expected " << n * want[i]);
      CHECK(close_to(counts[i], n, want[i]));
    }
  }
}

TEST_CASE("sampler: top-p keeps the smallest prefix reaching the mass") {
  // p = 0.40 0.25 0.15 0.10 0.06 0.04; top-p 0.75: cumulative 0.40, 0.65, 0.80 >= 0.75 -> 3 kept,
  // renormalised 0.5, 0.3125, 0.1875.
  const std::vector<double> probs = {0.40, 0.25, 0.15, 0.10, 0.06, 0.04};
  std::vector<float> logits;
  for (double q : probs) logits.push_back(static_cast<float>(std::log(q)));
  SamplerParams p = plain(21);
  p.top_p = 0.75f;
  Sampler s(p);
  const auto d = s.distribution(logits);
  REQUIRE(d.size() == 3);
  CHECK(d[0].id == 0);
  CHECK(d[1].id == 1);
  CHECK(d[2].id == 2);
  CHECK(d[0].p == doctest::Approx(0.5).epsilon(1e-5));
  CHECK(d[1].p == doctest::Approx(0.3125).epsilon(1e-5));
  CHECK(d[2].p == doctest::Approx(0.1875).epsilon(1e-5));
  std::vector<int> counts(probs.size());
  const int n = 40000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
  CHECK(counts[3] + counts[4] + counts[5] == 0);
  CHECK(close_to(counts[0], n, 0.5));
  CHECK(close_to(counts[1], n, 0.3125));

  // On random logits: the kept mass reaches top_p, and without its last token it does not.
  for (uint32_t seed = 0; seed < 10; ++seed) {
    const auto l = random_logits(2000, 100 + seed, 2.0f);
    const auto full = softmax(l);
    for (float tp : {0.3f, 0.6f, 0.9f}) {
      SamplerParams q = plain(seed);
      q.top_p = tp;
      const auto dd = Sampler(q).distribution(l);
      double mass = 0;
      for (const auto& t : dd) mass += full[t.id];
      CHECK(mass >= tp - 1e-6);
      CHECK(mass - full[dd.back().id] < tp);
    }
  }
}

TEST_CASE("sampler: min-p threshold is p >= min_p * p_max (before temperature)") {
  const auto logits = random_logits(500, 9, 0.7f);
  const auto probs = softmax(logits);
  const double pmax = *std::max_element(probs.begin(), probs.end());
  SamplerParams p = plain(31);
  p.min_p = 0.2f;
  p.temperature = 2.0f;  // applied after min-p: does not move the threshold
  Sampler s(p);
  std::set<int32_t> allowed;
  for (size_t i = 0; i < probs.size(); ++i)
    if (probs[i] >= 0.2 * pmax) allowed.insert(static_cast<int32_t>(i));
  REQUIRE(allowed.size() >= 2);
  const auto d = s.distribution(logits);
  std::set<int32_t> kept;
  for (const auto& t : d) kept.insert(t.id);
  CHECK(kept == allowed);
  std::set<int32_t> seen;
  for (int i = 0; i < 20000; ++i) {
    const int32_t t = s.sample(logits);
    REQUIRE(allowed.count(t) == 1);
    seen.insert(t);
  }
  CHECK(seen == allowed);
}

TEST_CASE("sampler: penalties follow llama.cpp's formula") {
  // logits 2.0, -1.0, 0.5, 0.0; recent tokens 0 0 1 3 3 3; repeat 1.5, frequency 0.1, presence 0.2.
  //   id 0 (count 2, positive): 2.0 / 1.5 - (2 * 0.1 + 0.2) = 0.933333
  //   id 1 (count 1, negative): -1.0 * 1.5 - (0.1 + 0.2)    = -1.8
  //   id 2 (count 0): unchanged                              = 0.5
  //   id 3 (count 3, zero -> multiplied): 0 * 1.5 - (0.3 + 0.2) = -0.5
  std::vector<Candidate> cur = {{0, 2.0f}, {1, -1.0f}, {2, 0.5f}, {3, 0.0f}};
  const std::vector<int32_t> recent = {0, 0, 1, 3, 3, 3};
  vkg::apply_penalties(cur, recent, 1.5f, 0.1f, 0.2f);
  CHECK(cur[0].logit == doctest::Approx(2.0 / 1.5 - 0.4));
  CHECK(cur[1].logit == doctest::Approx(-1.8));
  CHECK(cur[2].logit == doctest::Approx(0.5));
  CHECK(cur[3].logit == doctest::Approx(-0.5));

  // The same through a Sampler's window of accepted tokens (temperature 1: dist logits = penalised).
  SamplerParams p = plain(1);
  p.repeat_penalty = 1.5f;
  p.frequency_penalty = 0.1f;
  p.presence_penalty = 0.2f;
  Sampler s(p);
  for (int32_t t : recent) s.accept(t);
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, 0.0f};
  std::map<int32_t, float> got;
  for (const auto& t : s.distribution(logits)) got[t.id] = t.logit;
  CHECK(got[0] == doctest::Approx(2.0 / 1.5 - 0.4));
  CHECK(got[1] == doctest::Approx(-1.8));
  CHECK(got[2] == doctest::Approx(0.5));
  CHECK(got[3] == doctest::Approx(-0.5));
  // Greedy works on penalised logits: with repeat 4, id 0 drops to 2/4 - 0.4 = 0.1 < 0.5 (id 2).
  p.repeat_penalty = 4.0f;
  p.greedy = true;
  Sampler g(p);
  for (int32_t t : recent) g.accept(t);
  CHECK(g.sample(logits) == 2);

  // Window: only the last penalty_last_n accepted tokens count.
  p = plain(1);
  p.penalty_last_n = 3;
  p.presence_penalty = 1.0f;
  Sampler w(p);
  for (int32_t t : recent) w.accept(t);
  CHECK(w.recent().size() == 3);
  std::map<int32_t, float> gw;
  for (const auto& t : w.distribution(logits)) gw[t.id] = t.logit;
  CHECK(gw[0] == doctest::Approx(2.0));   // outside the window
  CHECK(gw[3] == doctest::Approx(-1.0));  // 3 x id 3 in the window: presence once
  // Penalties apply to pre-selected candidates by id.
  std::vector<Candidate> cands = {{30, 1.0f}, {3, 1.0f}};
  std::map<int32_t, float> gc;
  for (const auto& t : w.distribution(cands)) gc[t.id] = t.logit;
  CHECK(gc[30] == doctest::Approx(1.0));
  CHECK(gc[3] == doctest::Approx(0.0));
}

TEST_CASE("sampler: errors") {
  CHECK_THROWS_AS(Sampler(SamplerParams{.top_p = 1.5f}), vkg::SamplerError);
  CHECK_THROWS_AS(Sampler(SamplerParams{.min_p = -0.1f}), vkg::SamplerError);
  CHECK_THROWS_AS(Sampler(SamplerParams{.min_keep = 0}), vkg::SamplerError);
  CHECK_THROWS_AS(Sampler(SamplerParams{.repeat_penalty = 0.0f}), vkg::SamplerError);
  CHECK_THROWS_AS(Sampler(SamplerParams{.temperature = NAN}), vkg::SamplerError);
  Sampler s;
  CHECK_THROWS_AS(s.sample(std::vector<float>{}), vkg::SamplerError);
  const float inf = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(s.sample(std::vector<float>{-inf, NAN}), vkg::SamplerError);
  CHECK(s.sample(std::vector<float>{-inf, 0.0f, NAN}) == 1);
}
