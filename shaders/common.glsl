// Small helpers shared by the element-wise and reduction kernels.

/// tanh with ~2e-7 relative error everywhere and no overflow: Taylor series to x^13 for
/// |x| < 0.4 (the exp form cancels there), sign(x) * (1 - 2 / (exp(2|x|) + 1)) above.
float tanh_stable(float x) {
  float a = abs(x);
  if (a < 0.4) {
    float z = x * x;
    float p = 21844.0 / 6081075.0;
    p = p * z - 1382.0 / 155925.0;
    p = p * z + 62.0 / 2835.0;
    p = p * z - 17.0 / 315.0;
    p = p * z + 2.0 / 15.0;
    p = p * z - 1.0 / 3.0;
    return x + x * z * p;
  }
  return sign(x) * (1.0 - 2.0 / (exp(2.0 * a) + 1.0));
}

/// gelu_tanh(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as the
/// equal x / (1 + exp(-2u)), which keeps its relative precision for large negative x.
float gelu_tanh(float x) {
  const float k = 0.7978845608028654;
  float u = k * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp(-2.0 * u));
}

/// Invocation index of a 1-D problem dispatched as a 2-D grid of (65535 x n) workgroups.
uint flat_index() {
  return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}
