// host/quant: half/bfloat conversions, block layouts of every dequantizable type, ggml's float
// operation order, and quantize -> dequantize round trips within the bounds documented in quant.h.
// Real GGUF data (llama-quantize output) is checked in test_quant_gguf.cpp.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "quant.h"
#include "test_util.h"

using vkg::GgmlType;

namespace {

using Bytes = std::vector<uint8_t>;
constexpr int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void put_f16(Bytes& b, size_t off, float v) {
  const uint16_t h = vkg::fp32_to_fp16(v);
  REQUIRE(vkg::fp16_to_fp32(h) == v);  // hand-built scales are exact halves
  b[off] = static_cast<uint8_t>(h);
  b[off + 1] = static_cast<uint8_t>(h >> 8);
}
float get_f16(const Bytes& b, size_t off) { return vkg::fp16_to_fp32(static_cast<uint16_t>(b[off] | (b[off + 1] << 8))); }
void set_bit(Bytes& b, size_t byte, int bit, bool on) {
  if (on) b[byte] = static_cast<uint8_t>(b[byte] | (1u << bit));
}
void put_nibble(Bytes& b, size_t byte, bool high, int v) {
  b[byte] = static_cast<uint8_t>(high ? (b[byte] & 0x0f) | (v << 4) : (b[byte] & 0xf0) | v);
}

std::vector<float> dequant(GgmlType t, const Bytes& blk, size_t n) {
  REQUIRE(blk.size() == vkg::ggml_row_bytes(t, n));
  std::vector<float> y(n, std::numeric_limits<float>::quiet_NaN());
  vkg::dequantize_row(t, blk.data(), y.data(), n);
  return y;
}

void check_equal(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i])) {
      if (++bad <= 5) FAIL_CHECK("element " << i << ": got " << got[i] << ", want " << want[i]);
    }
  }
  CHECK(bad == 0);
}

// 6-bit scale/min packing of Q4_K/Q5_K, restated from the layout description.
void pack_k4_scales(Bytes& b, size_t off, const int* sc, const int* mn) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      b[off + j] = static_cast<uint8_t>(b[off + j] | sc[j]);
      b[off + j + 4] = static_cast<uint8_t>(b[off + j + 4] | mn[j]);
    } else {
      b[off + j + 4] = static_cast<uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
      b[off + j - 4] = static_cast<uint8_t>(b[off + j - 4] | ((sc[j] >> 4) << 6));
      b[off + j] = static_cast<uint8_t>(b[off + j] | ((mn[j] >> 4) << 6));
    }
  }
}

} // namespace

// ------------------------------------------------------------------------------------------
// (c) half / bfloat special values

TEST_CASE("fp16 special values and rounding") {
  using vkg::fp16_to_fp32, vkg::fp32_to_fp16;
  CHECK(fp32_to_fp16(0.0f) == 0x0000);
  CHECK(fp32_to_fp16(-0.0f) == 0x8000);
  CHECK(fp32_to_fp16(1.0f) == 0x3c00);
  CHECK(fp32_to_fp16(-2.0f) == 0xc000);
  CHECK(fp32_to_fp16(65504.0f) == 0x7bff);
  CHECK(fp32_to_fp16(65519.99f) == 0x7bff);
  CHECK(fp32_to_fp16(65520.0f) == 0x7c00);  // tie between 65504 and 2^16 -> even -> inf
  CHECK(fp32_to_fp16(1e10f) == 0x7c00);
  CHECK(fp32_to_fp16(-1e10f) == 0xfc00);
  CHECK(fp32_to_fp16(INFINITY) == 0x7c00);
  CHECK(fp32_to_fp16(-INFINITY) == 0xfc00);
  const uint16_t hn = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  CHECK((hn & 0x7c00) == 0x7c00);
  CHECK((hn & 0x03ff) != 0);
  CHECK((fp32_to_fp16(std::bit_cast<float>(0x7f800001u)) & 0x7fff) > 0x7c00);  // sNaN stays NaN
  CHECK(std::isnan(fp16_to_fp32(0x7e00)));
  CHECK(std::isnan(fp16_to_fp32(0xfc01)));
  CHECK(fp16_to_fp32(0x7c00) == INFINITY);
  CHECK(fp16_to_fp32(0xfc00) == -INFINITY);
  CHECK(std::signbit(fp16_to_fp32(0x8000)));
  // ties to even in the normal range: 1 + 2^-11 is halfway between 0x3c00 and 0x3c01
  CHECK(fp32_to_fp16(1.0f + 0x1p-11f) == 0x3c00);
  CHECK(fp32_to_fp16(1.0f + 3 * 0x1p-11f) == 0x3c02);
  CHECK(fp32_to_fp16(std::nextafter(1.0f + 0x1p-11f, 2.0f)) == 0x3c01);
  CHECK(fp32_to_fp16(2047.5f) == 0x67ff + 1);  // 2047.5 -> 2048 (mantissa carry into exponent)
  // subnormals: unit 2^-24
  CHECK(fp16_to_fp32(0x0001) == 0x1p-24f);
  CHECK(fp16_to_fp32(0x03ff) == 1023 * 0x1p-24f);
  CHECK(fp16_to_fp32(0x0400) == 0x1p-14f);
  CHECK(fp32_to_fp16(0x1p-24f) == 0x0001);
  CHECK(fp32_to_fp16(0x1p-25f) == 0x0000);                                   // tie -> even (0)
  CHECK(fp32_to_fp16(std::nextafter(0x1p-25f, 1.0f)) == 0x0001);
  CHECK(fp32_to_fp16(3 * 0x1p-25f) == 0x0002);                               // 1.5 units -> 2
  CHECK(fp32_to_fp16(5 * 0x1p-25f) == 0x0002);                               // 2.5 units -> 2
  CHECK(fp32_to_fp16(1023.5f * 0x1p-24f) == 0x0400);                         // carry into normal
  CHECK(fp32_to_fp16(1e-30f) == 0x0000);
  CHECK(fp32_to_fp16(-1e-30f) == 0x8000);
  CHECK(fp32_to_fp16(std::numeric_limits<float>::denorm_min()) == 0x0000);
}

TEST_CASE("fp16 conversions agree with an independent reference on every half and on ties") {
  // Every finite half decodes to m * 2^(e-25) (e >= 1) or m * 2^-24, and re-encodes to itself.
  std::vector<float> pos;  // all positive finite halves, ascending
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = vkg::fp16_to_fp32(static_cast<uint16_t>(h));
    const uint32_t e = (h >> 10) & 31, m = h & 1023;
    if (e == 31) {
      CHECK((m ? std::isnan(f) : std::isinf(f)));
      if (m) CHECK((vkg::fp32_to_fp16(f) & 0x7fff) > 0x7c00);
      continue;
    }
    const double want = (e == 0 ? std::ldexp(double(m), -24) : std::ldexp(double(m | 1024), int(e) - 25)) *
                        ((h & 0x8000) ? -1 : 1);
    if (static_cast<double>(f) != want || vkg::fp32_to_fp16(f) != h) FAIL_CHECK("half " << h);
    if (!(h & 0x8000)) pos.push_back(f);
  }
  // Reference encoder: nearest of the sorted finite halves, ties to the even code.
  auto ref = [&](float x) -> uint16_t {
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const double a = std::fabs(static_cast<double>(x));
    if (a >= 65520.0) return sign | 0x7c00;
    const auto it = std::lower_bound(pos.begin(), pos.end(), a, [](float p, double v) { return p < v; });
    size_t hi = static_cast<size_t>(it - pos.begin());
    if (hi == 0) return sign;
    if (hi == pos.size()) return static_cast<uint16_t>(sign | (pos.size() - 1));
    const size_t lo = hi - 1;
    const double dlo = a - pos[lo], dhi = pos[hi] - a;
    const size_t pick = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
    return static_cast<uint16_t>(sign | pick);
  };
  std::mt19937 rng(1234);
  size_t bad = 0;
  for (size_t i = 0; i + 1 < pos.size(); ++i) {
    const float mid = static_cast<float>((static_cast<double>(pos[i]) + pos[i + 1]) / 2);  // exact in float
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f), -mid})
      if (vkg::fp32_to_fp16(x) != ref(x) && ++bad <= 5) FAIL_CHECK("x=" << x);
  }
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    float x = std::bit_cast<float>(bits(rng));
    if (!std::isfinite(x)) continue;
    int ex = 0;
    x = std::ldexp(std::frexp(x, &ex), static_cast<int>(bits(rng) % 50) - 30);  // |x| in [2^-31, 2^19)
    if (vkg::fp32_to_fp16(x) != ref(x) && ++bad <= 5) FAIL_CHECK("x=" << x);
  }
  CHECK(bad == 0);
}

TEST_CASE("bf16 special values and rounding") {
  using vkg::bf16_to_fp32, vkg::fp32_to_bf16;
  CHECK(fp32_to_bf16(1.0f) == 0x3f80);
  CHECK(fp32_to_bf16(-0.0f) == 0x8000);
  CHECK(fp32_to_bf16(1.0f + 0x1p-8f) == 0x3f80);  // tie -> even
  CHECK(fp32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82);
  CHECK(fp32_to_bf16(std::nextafter(1.0f + 0x1p-8f, 2.0f)) == 0x3f81);
  CHECK(fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)) == 0x7f80);  // FLT_MAX rounds to inf
  CHECK(fp32_to_bf16(std::bit_cast<float>(0x7f7f7fffu)) == 0x7f7f);
  CHECK(fp32_to_bf16(INFINITY) == 0x7f80);
  CHECK(fp32_to_bf16(-INFINITY) == 0xff80);
  CHECK(fp32_to_bf16(std::bit_cast<float>(0x7f800001u)) == 0x7fc0);  // sNaN -> quiet NaN
  CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // subnormals keep their bits (no flush to zero)
  CHECK(fp32_to_bf16(std::bit_cast<float>(0x00008000u)) == 0x0000);  // tie -> even
  CHECK(fp32_to_bf16(std::bit_cast<float>(0x00018000u)) == 0x0002);
  CHECK(fp32_to_bf16(std::bit_cast<float>(0x00010001u)) == 0x0001);
  CHECK(bf16_to_fp32(0x0001) == std::bit_cast<float>(0x00010000u));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    if (std::bit_cast<uint32_t>(f) != h << 16) FAIL_CHECK("bf16 " << h);
    if (!std::isnan(f) && fp32_to_bf16(f) != h) FAIL_CHECK("bf16 round trip " << h);
  }
}

// ------------------------------------------------------------------------------------------
// (a) hand-built blocks: chosen logical values -> bytes packed from the layout description ->
// dequantize_row -> the values computed here. Scales are powers of two so every product is exact.

TEST_CASE("dequantize F32 / F16 / BF16 rows") {
  const float xs[4] = {1.5f, -0.0f, 65504.0f, -0x1p-24f};
  Bytes f32(16), f16(8), bf16(8);
  std::memcpy(f32.data(), xs, 16);
  for (int i = 0; i < 4; ++i) put_f16(f16, 2 * i, xs[i]);
  const uint16_t bf[4] = {0x3fc0, 0x8000, 0x477f, 0xb380};  // 1.5, -0, 65280, -2^-24
  for (int i = 0; i < 4; ++i) {
    bf16[2 * i] = static_cast<uint8_t>(bf[i] & 0xff);
    bf16[2 * i + 1] = static_cast<uint8_t>(bf[i] >> 8);
  }
  check_equal(dequant(GgmlType::F32, f32, 4), {xs, xs + 4});
  check_equal(dequant(GgmlType::F16, f16, 4), {xs, xs + 4});
  check_equal(dequant(GgmlType::BF16, bf16, 4), {1.5f, -0.0f, 65280.0f, -0x1p-24f});
}

TEST_CASE("dequantize hand-built 32-element blocks (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL)") {
  std::vector<float> want(32);
  SUBCASE("Q4_0: d | 16 bytes, element j low nibble of byte j, j+16 high nibble; (q-8)*d") {
    Bytes b(18, 0);
    put_f16(b, 0, 0.5f);
    for (int e = 0; e < 32; ++e) {
      const int q = (e * 7 + 3) % 16;
      put_nibble(b, 2 + e % 16, e >= 16, q);
      want[e] = (q - 8) * 0.5f;
    }
    check_equal(dequant(GgmlType::Q4_0, b, 32), want);
    CHECK(want[0] == -2.5f);  // q = 3
  }
  SUBCASE("Q4_1: d | m | 16 bytes; q*d + m") {
    Bytes b(20, 0);
    put_f16(b, 0, 0.25f);
    put_f16(b, 2, -1.5f);
    for (int e = 0; e < 32; ++e) {
      const int q = (e * 3 + 1) % 16;
      put_nibble(b, 4 + e % 16, e >= 16, q);
      want[e] = q * 0.25f - 1.5f;
    }
    check_equal(dequant(GgmlType::Q4_1, b, 32), want);
  }
  SUBCASE("Q5_0: d | qh (bit e = 5th bit of element e) | 16 bytes; (q-16)*d") {
    Bytes b(22, 0);
    put_f16(b, 0, 0.125f);
    for (int e = 0; e < 32; ++e) {
      const int q = (e * 5 + 3) % 32;
      put_nibble(b, 6 + e % 16, e >= 16, q & 15);
      set_bit(b, 2 + e / 8, e % 8, q >> 4);
      want[e] = (q - 16) * 0.125f;
    }
    check_equal(dequant(GgmlType::Q5_0, b, 32), want);
  }
  SUBCASE("Q5_1: d | m | qh | 16 bytes; q*d + m") {
    Bytes b(24, 0);
    put_f16(b, 0, 0.5f);
    put_f16(b, 2, 2.0f);
    for (int e = 0; e < 32; ++e) {
      const int q = (e * 7) % 32;
      put_nibble(b, 8 + e % 16, e >= 16, q & 15);
      set_bit(b, 4 + e / 8, e % 8, q >> 4);
      want[e] = q * 0.5f + 2.0f;
    }
    check_equal(dequant(GgmlType::Q5_1, b, 32), want);
  }
  SUBCASE("Q8_0: d | 32 int8; q*d") {
    Bytes b(34, 0);
    put_f16(b, 0, 0.0625f);
    for (int e = 0; e < 32; ++e) {
      const int q = e * 8 - 128;
      b[2 + e] = static_cast<uint8_t>(static_cast<int8_t>(q));
      want[e] = q / 16.0f;
    }
    check_equal(dequant(GgmlType::Q8_0, b, 32), want);
    CHECK(want[0] == -8.0f);
  }
  SUBCASE("IQ4_NL: d | 16 bytes; d * kvalues_iq4nl[q]") {
    Bytes b(18, 0);
    put_f16(b, 0, 0.5f);
    for (int e = 0; e < 32; ++e) {
      const int q = (e * 3 + e / 16) % 16;
      put_nibble(b, 2 + e % 16, e >= 16, q);
      want[e] = 0.5f * kIq4nl[q];
    }
    check_equal(dequant(GgmlType::IQ4_NL, b, 32), want);
    CHECK(want[0] == -63.5f);
  }
}

TEST_CASE("dequantize hand-built MXFP4 blocks: E8M0 exponent | 16 bytes; kvalues_mxfp4[q] * 2^(e-128)") {
  // kvalues_mxfp4 = 2 x the E2M1 values {0, 0.5, 1, 1.5, 2, 3, 4, 6}, negated for codes 8..15.
  const float kv[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
  for (int e : {130, 127, 1, 0, 254}) {
    CAPTURE(e);
    Bytes b(17, 0);
    b[0] = static_cast<uint8_t>(e);
    const float d = std::ldexp(1.0f, e - 128);  // 2^-128 and 2^-127 are float subnormals
    std::vector<float> want(32);
    for (int j = 0; j < 32; ++j) {
      const int q = (j * 5 + j / 16) % 16;
      put_nibble(b, 1 + j % 16, j >= 16, q);
      want[j] = kv[q] * d;
    }
    check_equal(dequant(GgmlType::MXFP4, b, 32), want);
  }
  Bytes b(17, 0);
  b[0] = 130;                  // d = 4
  b[1] = 0x7F;                 // element 0: code 15 (-12), element 16: code 7 (12)
  const auto y = dequant(GgmlType::MXFP4, b, 32);
  CHECK(y[0] == -48.0f);
  CHECK(y[16] == 48.0f);
  CHECK(y[1] == 0.0f);
}

TEST_CASE("dequantize hand-built super-blocks (Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_XS)") {
  std::vector<float> want(256);
  SUBCASE("Q2_K: scales[16] (lo scale, hi min) | qs[64] | d | dmin") {
    Bytes b(84, 0);
    put_f16(b, 80, 0.5f);
    put_f16(b, 82, 0.25f);
    int sc[16], mn[16];
    for (int s = 0; s < 16; ++s) {
      sc[s] = (s * 5 + 1) % 16, mn[s] = (s * 3 + 2) % 16;
      b[s] = static_cast<uint8_t>(sc[s] | (mn[s] << 4));
    }
    for (int e = 0; e < 256; ++e) {
      // 128-element halves use 32 bytes each; within a half, 2-bit field g = (e%128)/32
      const int q = (e * 7 + e / 16) % 4;
      const size_t byte = 16 + 32 * (e / 128) + e % 32;
      b[byte] = static_cast<uint8_t>(b[byte] | (q << (2 * ((e % 128) / 32))));
      want[e] = 0.5f * sc[e / 16] * q - 0.25f * mn[e / 16];
    }
    check_equal(dequant(GgmlType::Q2_K, b, 256), want);
  }
  SUBCASE("Q3_K: hmask[32] | qs[64] | 12 bytes of 6-bit scales | d") {
    Bytes b(110, 0);
    put_f16(b, 108, 0.25f);
    int s6[16];
    for (int j = 0; j < 16; ++j) {
      s6[j] = (j * 13 + 7) % 64;
      put_nibble(b, 96 + j % 8, j >= 8, s6[j] & 15);
      b[104 + j % 4] = static_cast<uint8_t>(b[104 + j % 4] | ((s6[j] >> 4) << (2 * (j / 4))));
    }
    for (int e = 0; e < 256; ++e) {
      const int v = (e * 5 + e / 32) % 8;  // q + 4, q in [-4, 3]
      const int g = (e % 128) / 32;
      const size_t byte = 32 + 32 * (e / 128) + e % 32;
      b[byte] = static_cast<uint8_t>(b[byte] | ((v & 3) << (2 * g)));
      set_bit(b, e % 32, 4 * (e / 128) + g, v >> 2);  // hmask bit set: no -4
      want[e] = 0.25f * (s6[e / 16] - 32) * (v - 4);
    }
    check_equal(dequant(GgmlType::Q3_K, b, 256), want);
  }
  int sc8[8], mn8[8];
  for (int j = 0; j < 8; ++j) sc8[j] = (j * 9 + 21) % 64, mn8[j] = (j * 11 + 40) % 64;
  SUBCASE("Q4_K: d | dmin | 12 bytes (8 x 6-bit scale/min) | qs[128]") {
    Bytes b(144, 0);
    put_f16(b, 0, 0.5f);
    put_f16(b, 2, 0.125f);
    pack_k4_scales(b, 4, sc8, mn8);
    for (int e = 0; e < 256; ++e) {
      const int q = (e * 11 + 3) % 16;
      put_nibble(b, 16 + 32 * (e / 64) + e % 32, (e % 64) >= 32, q);
      want[e] = 0.5f * sc8[e / 32] * q - 0.125f * mn8[e / 32];
    }
    check_equal(dequant(GgmlType::Q4_K, b, 256), want);
    CHECK(want[0] == 0.5f * 21 * 3 - 0.125f * 40);
  }
  SUBCASE("Q5_K: d | dmin | scales[12] | qh[32] (bit e/32 of byte e%32) | qs[128]") {
    Bytes b(176, 0);
    put_f16(b, 0, 0.25f);
    put_f16(b, 2, 0.5f);
    pack_k4_scales(b, 4, sc8, mn8);
    for (int e = 0; e < 256; ++e) {
      const int q = (e * 13 + e / 64) % 32;
      put_nibble(b, 48 + 32 * (e / 64) + e % 32, (e % 64) >= 32, q & 15);
      set_bit(b, 16 + e % 32, e / 32, q >> 4);
      want[e] = 0.25f * sc8[e / 32] * q - 0.5f * mn8[e / 32];
    }
    check_equal(dequant(GgmlType::Q5_K, b, 256), want);
  }
  SUBCASE("Q6_K: ql[128] | qh[64] | int8 scales[16] | d") {
    Bytes b(210, 0);
    put_f16(b, 208, 0.25f);
    int sc[16];
    for (int s = 0; s < 16; ++s) {
      sc[s] = (s * 37 + 5) % 256 - 128;
      b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(sc[s]));
    }
    for (int e = 0; e < 256; ++e) {
      // per 128-half: 64 ql bytes, 32 qh bytes; group g = (e%128)/32 takes ql byte w (+32 if g odd),
      // low nibble for g < 2, high for g >= 2, and qh byte w bits 2g..2g+1
      const int q = (e * 29 + 5) % 64;
      const int h = e / 128, g = (e % 128) / 32, w = e % 32;
      put_nibble(b, 64 * h + w + (g & 1 ? 32 : 0), g >= 2, q & 15);
      b[128 + 32 * h + w] = static_cast<uint8_t>(b[128 + 32 * h + w] | ((q >> 4) << (2 * g)));
      want[e] = 0.25f * sc[e / 16] * (q - 32);
    }
    check_equal(dequant(GgmlType::Q6_K, b, 256), want);
  }
  SUBCASE("IQ4_XS: d | scales_h (2 bits per 32) | scales_l[4] (nibbles) | qs[128]") {
    Bytes b(136, 0);
    put_f16(b, 0, 0.5f);
    int ls[8];
    uint16_t sh = 0;
    for (int ib = 0; ib < 8; ++ib) {
      ls[ib] = (ib * 19 + 3) % 64;
      put_nibble(b, 4 + ib / 2, ib % 2, ls[ib] & 15);
      sh = static_cast<uint16_t>(sh | ((ls[ib] >> 4) << (2 * ib)));
    }
    b[2] = static_cast<uint8_t>(sh), b[3] = static_cast<uint8_t>(sh >> 8);
    for (int e = 0; e < 256; ++e) {
      const int q = (e * 7 + e / 32) % 16;
      put_nibble(b, 8 + 16 * (e / 32) + e % 16, (e % 32) >= 16, q);
      want[e] = 0.5f * (ls[e / 32] - 32) * kIq4nl[q];
    }
    check_equal(dequant(GgmlType::IQ4_XS, b, 256), want);
  }
}

// ------------------------------------------------------------------------------------------
// Random bytes (random scales too), decoded element by element here from the layout description
// with ggml's float expressions; compared bit for bit. Products are exact (see quant_impl.h), so
// this pins the layout and the single rounding of the final add, not the product order.

TEST_CASE("dequantize random blocks bit-identically to ggml's per-element expressions") {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> uf(-3.0f, 3.0f);
  auto q4 = [](const Bytes& b, size_t base, int e) {  // Q4_0-style nibble of element e (0..31)
    return e < 16 ? b[base + e] & 15 : b[base + e - 16] >> 4;
  };
  auto bit = [](const Bytes& b, size_t byte_off, int idx) { return (b[byte_off + idx / 8] >> (idx % 8)) & 1; };
  auto k4 = [](const Bytes& b, size_t off, int j, int& sc, int& m) {  // get_scale_min_k4
    const uint8_t* q = &b[off];
    if (j < 4) sc = q[j] & 63, m = q[j + 4] & 63;
    else sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4), m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  };
  struct Case {
    GgmlType t;
    std::vector<size_t> half_offsets;
    std::function<float(const Bytes&, int)> elem;
  };
  const std::vector<Case> cases = {
      {GgmlType::Q4_0, {0}, [&](const Bytes& b, int e) { return float(q4(b, 2, e) - 8) * get_f16(b, 0); }},
      {GgmlType::Q4_1, {0, 2}, [&](const Bytes& b, int e) { return float(q4(b, 4, e)) * get_f16(b, 0) + get_f16(b, 2); }},
      {GgmlType::Q5_0, {0}, [&](const Bytes& b, int e) { return float((q4(b, 6, e) | bit(b, 2, e) << 4) - 16) * get_f16(b, 0); }},
      {GgmlType::Q5_1, {0, 2}, [&](const Bytes& b, int e) { return float(q4(b, 8, e) | bit(b, 4, e) << 4) * get_f16(b, 0) + get_f16(b, 2); }},
      {GgmlType::Q8_0, {0}, [&](const Bytes& b, int e) { return float(int8_t(b[2 + e])) * get_f16(b, 0); }},
      {GgmlType::IQ4_NL, {0}, [&](const Bytes& b, int e) { return get_f16(b, 0) * float(kIq4nl[q4(b, 2, e)]); }},
      {GgmlType::MXFP4, {}, [&](const Bytes& b, int e) {
         const int8_t kv[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
         return float(kv[q4(b, 1, e)]) * std::ldexp(1.0f, int(b[0]) - 128);
       }},
      {GgmlType::Q2_K, {80, 82}, [&](const Bytes& b, int e) {
         const int sc = b[e / 16];
         const int q = (b[16 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
         const float dl = get_f16(b, 80) * float(sc & 15), ml = get_f16(b, 82) * float(sc >> 4);
         return dl * float(q) - ml;
       }},
      {GgmlType::Q3_K, {108}, [&](const Bytes& b, int e) {
         const int j = e / 16, g = (e % 128) / 32;
         const int s = ((j < 8 ? b[96 + j] & 15 : b[96 + j - 8] >> 4) | (((b[104 + j % 4] >> (2 * (j / 4))) & 3) << 4));
         const int q = ((b[32 + 32 * (e / 128) + e % 32] >> (2 * g)) & 3) - (bit(b, 0, 8 * (e % 32) + 4 * (e / 128) + g) ? 0 : 4);
         return (get_f16(b, 108) * float(s - 32)) * float(q);
       }},
      {GgmlType::Q4_K, {0, 2}, [&](const Bytes& b, int e) {
         int sc, m;
         k4(b, 4, e / 32, sc, m);
         const int q = (b[16 + 32 * (e / 64) + e % 32] >> ((e % 64) >= 32 ? 4 : 0)) & 15;
         return (get_f16(b, 0) * float(sc)) * float(q) - get_f16(b, 2) * float(m);
       }},
      {GgmlType::Q5_K, {0, 2}, [&](const Bytes& b, int e) {
         int sc, m;
         k4(b, 4, e / 32, sc, m);
         const int q = ((b[48 + 32 * (e / 64) + e % 32] >> ((e % 64) >= 32 ? 4 : 0)) & 15) | (((b[16 + e % 32] >> (e / 32)) & 1) << 4);
         return (get_f16(b, 0) * float(sc)) * float(q) - get_f16(b, 2) * float(m);
       }},
      {GgmlType::Q6_K, {208}, [&](const Bytes& b, int e) {
         const int h = e / 128, g = (e % 128) / 32, w = e % 32;
         const int lo = (b[64 * h + w + (g & 1 ? 32 : 0)] >> (g >= 2 ? 4 : 0)) & 15;
         const int q = (lo | (((b[128 + 32 * h + w] >> (2 * g)) & 3) << 4)) - 32;
         return (get_f16(b, 208) * float(int8_t(b[192 + e / 16]))) * float(q);
       }},
      {GgmlType::IQ4_XS, {0}, [&](const Bytes& b, int e) {
         const int ib = e / 32;
         const int sh = b[2] | (b[3] << 8);
         const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
         const int q = (b[8 + 16 * ib + e % 16] >> ((e % 32) >= 16 ? 4 : 0)) & 15;
         return (get_f16(b, 0) * float(ls - 32)) * float(kIq4nl[q]);
       }},
  };
  for (const auto& c : cases) {
    CAPTURE(vkg::ggml_type_name(static_cast<uint32_t>(c.t)));
    const auto& info = vkg::ggml_type_info(c.t);
    const int nblk = 5;
    Bytes b(info.block_bytes * nblk);
    for (auto& v : b) v = static_cast<uint8_t>(byte(rng));
    for (int k = 0; k < nblk; ++k)  // finite, non-trivial fp16 scales
      for (size_t off : c.half_offsets) {
        const uint16_t h = vkg::fp32_to_fp16(uf(rng) * 0.0137f);
        b[k * info.block_bytes + off] = static_cast<uint8_t>(h), b[k * info.block_bytes + off + 1] = static_cast<uint8_t>(h >> 8);
      }
    const size_t n = size_t(info.block_elems) * nblk;
    const auto got = dequant(c.t, b, n);
    std::vector<float> want(n);
    for (int k = 0; k < nblk; ++k) {
      const Bytes blk(b.begin() + k * info.block_bytes, b.begin() + (k + 1) * info.block_bytes);
      for (uint32_t e = 0; e < info.block_elems; ++e) want[k * info.block_elems + e] = c.elem(blk, int(e));
    }
    check_equal(got, want);
  }
}

TEST_CASE("unsupported types and bad lengths throw") {
  std::vector<float> y(256);
  Bytes b(1024);
  CHECK_THROWS_AS(vkg::dequantize_row(GgmlType::IQ2_XXS, b.data(), y.data(), 256), std::invalid_argument);
  CHECK_THROWS_AS(vkg::dequantize_row(GgmlType::Q4_K, b.data(), y.data(), 128), std::invalid_argument);
  CHECK_THROWS_AS(vkg::quantize_row(GgmlType::Q3_K, y.data(), b.data(), 256), std::invalid_argument);
  CHECK_THROWS_AS(vkg::quantize_row(GgmlType::Q8_0, y.data(), b.data(), 33), std::invalid_argument);
  CHECK(vkg::can_dequantize(GgmlType::IQ4_XS));
  CHECK(!vkg::can_dequantize(GgmlType::Q8_K));
  CHECK(vkg::can_quantize(GgmlType::Q6_K));
  CHECK(!vkg::can_quantize(GgmlType::IQ4_NL));
  CHECK(vkg::can_dequantize(GgmlType::MXFP4));
  CHECK(vkg::can_quantize(GgmlType::MXFP4));
  vkg::dequantize_row(GgmlType::Q4_K, b.data(), y.data(), 0);  // empty row is fine
}

// ------------------------------------------------------------------------------------------
// (b) quantize -> dequantize round trips on seeded random data, within the per-type bounds
// documented in quant.h.

namespace {
/// fp16 rounding error of a stored scale v (relative for normal halves, absolute for subnormals).
double h16(double v) { return std::max(std::fabs(v) * 0x1p-11, 0x1p-25); }

/// The documented bound for element e of the block starting at x (32 or 256 elements).
double roundtrip_bound(GgmlType t, const float* x, int e) {
  auto absmax = [](const float* p, int n) {
    double a = 0;
    for (int i = 0; i < n; ++i) a = std::max(a, std::fabs(double(p[i])));
    return a;
  };
  auto lo_hi = [](const float* p, int n, double& lo, double& hi) {
    lo = *std::min_element(p, p + n), hi = *std::max_element(p, p + n);
  };
  const double xe = x[e];
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return std::max(std::fabs(xe) * 0x1p-11, 0x1p-25);
    case GgmlType::BF16: return std::fabs(xe) * 0x1p-8;
    case GgmlType::Q8_0: {
      const double a = absmax(x, 32);
      return a / 254 + 127 * h16(a / 127);
    }
    case GgmlType::Q4_0:
    case GgmlType::Q5_0: {
      const int levels = t == GgmlType::Q4_0 ? 16 : 32;
      double a = 0, mx = 0;  // first value of largest magnitude
      for (int i = 0; i < 32; ++i)
        if (std::fabs(x[i]) > a) a = std::fabs(x[i]), mx = x[i];
      const bool clamped = xe * mx < 0 && std::fabs(xe) > a * (levels - 1) / levels;
      return (clamped ? a / (levels / 2) : a / levels) + (levels / 2) * h16(a / (levels / 2));
    }
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: {
      double lo, hi;
      lo_hi(x, 32, lo, hi);
      const double r = hi - lo;
      const int nmax = t == GgmlType::Q4_1 ? 15 : 31;
      return r / (2 * nmax) + nmax * h16(r / nmax) + h16(lo);
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      double R = 0, rj = 0;
      for (int j = 0; j < 8; ++j) {
        double lo, hi;
        lo_hi(x + 32 * j, 32, lo, hi);
        const double r = std::max(0.0, hi) - std::min(0.0, lo);
        R = std::max(R, r);
        if (j == e / 32) rj = r;
      }
      return (t == GgmlType::Q4_K ? rj / 30 + R / 900 : rj / 62 + R / 1900) + 0x1p-24;
    }
    case GgmlType::Q6_K: return absmax(x + 16 * (e / 16), 16) / 62 + absmax(x, 256) / 7800 + 0x1p-24;
    case GgmlType::MXFP4: {
      const double a = absmax(x, 32);
      if (a == 0) return 0;
      const double d = std::ldexp(1.0, int(std::floor(std::log2(a))) - 3);
      return std::max(2 * d, std::fabs(xe) - 12 * d);
    }
    default: FAIL("no bound for type"); return 0;
  }
}

std::vector<float> make_regime(int regime, std::mt19937& rng, size_t n) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const float g = nd(rng);
    switch (regime) {
      case 0: x[i] = g; break;                                    // N(0,1)
      case 1: x[i] = g * 1e-3f; break;                             // small weights
      case 2: x[i] = g * 50.0f; break;                             // large weights
      case 3: x[i] = 3.0f + g; break;                              // mostly positive, offset
      case 4: x[i] = -std::fabs(g) - 0.5f; break;                  // all negative
      case 5: x[i] = ud(rng) < 0.01f ? 1.0f : g * 0.02f; break;    // rare outliers
      case 6: x[i] = (i / 256) % 2 ? 0.7f : 0.0f; break;           // constant / zero super-blocks
      default: x[i] = (i % 37) < 3 ? 0.0f : g * (1 + float(i % 7)); break;  // mixed scales, zeros
    }
  }
  return x;
}
} // namespace

TEST_CASE("quantize -> dequantize round trip stays within the documented bounds") {
  const GgmlType types[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                            GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K,
                            GgmlType::Q6_K, GgmlType::MXFP4};
  const size_t n = 256 * 8;
  for (GgmlType t : types) {
    REQUIRE(vkg::can_quantize(t));
    const uint32_t blk = vkg::ggml_type_info(t).block_elems == 1 ? 1 : vkg::ggml_type_info(t).block_elems;
    for (int regime = 0; regime < 8; ++regime) {
      CAPTURE(vkg::ggml_type_name(static_cast<uint32_t>(t)));
      CAPTURE(regime);
      std::mt19937 rng(1000 + regime);
      const auto x = make_regime(regime, rng, n);
      Bytes q(vkg::ggml_row_bytes(t, n), 0xcd);
      vkg::quantize_row(t, x.data(), q.data(), n);
      std::vector<float> y(n);
      vkg::dequantize_row(t, q.data(), y.data(), n);
      size_t bad = 0;
      double worst_ratio = 0;
      for (size_t i = 0; i < n; ++i) {
        const size_t b0 = blk == 1 ? i : i - i % blk;
        const double bound = roundtrip_bound(t, x.data() + b0, int(i - b0));
        const double err = std::fabs(double(y[i]) - double(x[i]));
        const double slack = 4e-6 * (std::fabs(double(x[i])) + bound) + 1e-30;
        if (!std::isfinite(y[i]) || err > bound + slack) {
          if (++bad <= 3) FAIL_CHECK("element " << i << ": x=" << x[i] << " y=" << y[i] << " bound=" << bound);
        }
        if (bound > 0) worst_ratio = std::max(worst_ratio, err / bound);
      }
      CHECK(bad == 0);
      if (t != GgmlType::F32 && regime == 0) MESSAGE("worst err/bound " << worst_ratio);
    }
  }
}

TEST_CASE("Q8_0 quantization is idempotent on its own output (d = amax/127 is recovered exactly)") {
  std::mt19937 rng(7);
  for (int regime = 0; regime < 8; ++regime) {
    const size_t n = 2048;
    const auto x = make_regime(regime, rng, n);
    Bytes q1(vkg::ggml_row_bytes(GgmlType::Q8_0, n)), q2(q1.size());
    std::vector<float> y(n);
    vkg::quantize_row(GgmlType::Q8_0, x.data(), q1.data(), n);
    vkg::dequantize_row(GgmlType::Q8_0, q1.data(), y.data(), n);
    vkg::quantize_row(GgmlType::Q8_0, y.data(), q2.data(), n);
    CHECK(q1 == q2);
  }
}
