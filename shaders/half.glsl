// IEEE half -> float for the weight and KV-cache decoders: unpack_half2(u) is unpackHalf2x16(u).
//
// Where the driver's compiler cannot be trusted with unpackHalf2x16 (DeviceCaps::soft_half:
// Mesa lavapipe on 64-bit Arm, whose LLVM 15 aborts in AArch64 instruction selection on it),
// spec constant VKG_SOFT_HALF (id 100, set for every pipeline by Kernel) selects an exact
// integer-and-float32-only conversion instead; the driver folds the other branch away. Both
// give the same bits for every half, subnormals included (no float32 subnormal is formed, so
// flush-to-zero cannot change the result), infinities and NaNs.
layout(constant_id = 100) const bool VKG_SOFT_HALF = false;

float soft_half_bits(uint h) {
  uint e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  float f = e == 0u    ? float(m) * 5.9604644775390625e-8                  // subnormal: m * 2^-24
            : e == 31u ? uintBitsToFloat(0x7F800000u | (m << 13))          // inf / NaN
                       : uintBitsToFloat(((e + 112u) << 23) | (m << 13));  // rebias 15 -> 127
  return uintBitsToFloat(floatBitsToUint(f) | ((h & 0x8000u) << 16));
}

vec2 unpack_half2(uint u) {
  if (VKG_SOFT_HALF) return vec2(soft_half_bits(u & 0xFFFFu), soft_half_bits(u >> 16));
  return unpackHalf2x16(u);
}
