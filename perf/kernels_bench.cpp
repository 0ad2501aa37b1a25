// Kernel microbenchmark: matrix-vector GB/s of weight bytes per type at Gemma 4 E2B shapes,
// matrix-matrix GFLOP/s for prefill widths, attention decode time per cache length, each beside
// the machine's memcpy bandwidth measured in the same run. Prints one JSON object.
//
// Usage: kernels_bench [--quick] [--only matvec|ffn|matmul|attention] [--types q4_k,q2_k,...]
// No validation layer (VKGEMMA_VALIDATION is forced to 0 unless set).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "context.h"
#include "environment.h"
#include "ggml_type.h"
#include "ops.h"
#include "quant.h"
#include "stream.h"

using namespace vkg;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// CPU seconds used by this process (all threads, user + system).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

/// Wall and CPU seconds of one repetition.
struct Timing {
  double wall = 1e30, cpu = 1e30;
};

/// Host memcpy bandwidth (bytes copied per second) with `threads` threads, best of 5, 256 MiB.
double memcpy_gbs(unsigned threads) {
  const size_t n = 256u << 20;
  std::vector<char> a(n, 1), b(n, 2);
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (unsigned i = 0; i < threads; ++i)
      ts.emplace_back([&, i] {
        const size_t c = n / threads;
        std::memcpy(b.data() + i * c, a.data() + i * c, c);
      });
    for (auto& t : ts) t.join();
    best = std::max(best, n / seconds_since(t0) / 1e9);
  }
  return best;
}

/// Time per repetition of the recorded work: min over `runs` submissions of a list holding `reps`
/// repetitions separated by barriers.
Timing time_op(Device& dev, const std::function<void(CommandList&)>& rec, int reps, int runs = 5) {
  CommandList cl(dev);
  Stream s(dev);
  cl.begin();
  for (int i = 0; i < reps; ++i) {
    rec(cl);
    cl.barrier();
  }
  cl.end();
  s.wait(s.submit(cl));  // warm-up
  Timing best;
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    s.wait(s.submit(cl));
    best.wall = std::min(best.wall, seconds_since(t0) / reps);
    best.cpu = std::min(best.cpu, (cpu_seconds() - c0) / reps);
  }
  return best;
}

/// A weight matrix of the given type filled by tiling 64 properly quantized random rows.
DeviceMatrix make_matrix(Device& dev, std::vector<Buffer>& keep, GgmlType type, uint32_t K, uint32_t N) {
  const size_t rb = ggml_row_bytes(type, K);
  const uint32_t tile = std::min<uint32_t>(64, N);
  std::vector<uint8_t> q(rb * tile);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> row(K);
  for (uint32_t r = 0; r < tile; ++r) {
    if (!can_quantize(type)) {
      // No quantizer (Q2_K, Q3_K, IQ4_NL, IQ4_XS): random levels, finite fp16 scales.
      for (size_t i = 0; i < rb; ++i) q[r * rb + i] = static_cast<uint8_t>(rng());
      const auto& info = ggml_type_info(type);
      const std::vector<size_t> halves = type == GgmlType::Q2_K ? std::vector<size_t>{80, 82}
                                         : type == GgmlType::Q3_K ? std::vector<size_t>{108}
                                                                  : std::vector<size_t>{0};
      for (size_t b = 0; b < rb / info.block_bytes; ++b)
        for (size_t off : halves) {
          const uint16_t h = fp32_to_fp16(d(rng) * 0.01f);
          q[r * rb + b * info.block_bytes + off] = static_cast<uint8_t>(h);
          q[r * rb + b * info.block_bytes + off + 1] = static_cast<uint8_t>(h >> 8);
        }
      continue;
    }
    for (auto& x : row) x = d(rng);
    quantize_row(type, row.data(), q.data() + r * rb, K);
  }
  std::vector<uint8_t> all(rb * N);
  for (uint32_t r = 0; r < N; ++r) std::memcpy(all.data() + r * rb, q.data() + (r % tile) * rb, rb);
  return upload_matrix(dev, keep, static_cast<WeightTypeId>(type), K, N, rb, all.data());
}

Buffer filled(Device& dev, size_t floats, uint32_t seed) {
  std::vector<float> v(floats);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (auto& x : v) x = d(rng);
  Buffer b(dev, std::max<size_t>(16, floats * 4), MemoryUsage::Device);
  upload(dev, b, 0, v.data(), floats * 4);
  return b;
}

} // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only, types_arg;  // --types q4_k,q2_k,...: the matvec types (default: see below)
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else if (a == "--types" && i + 1 < argc) types_arg = argv[++i];
  }
  setenv("VKGEMMA_VALIDATION", "0", 0);
  const EnvironmentSettings env = read_environment();
  Instance inst(env.instance);
  Device dev(inst, env.device_options());
  Ops ops(dev);
  json out;
  out["device"] = dev.caps().name;
  out["driver"] = dev.caps().driver_info;
  out["variants"] = ops.variants().describe();
  out["cpu_threads"] = std::thread::hardware_concurrency();
  out["memcpy_gbs_1thread"] = memcpy_gbs(1);
  out["memcpy_gbs_all_threads"] = memcpy_gbs(std::max(1u, std::thread::hardware_concurrency()));
  const double memcpy_ref = out["memcpy_gbs_1thread"].get<double>();

  if (only.empty() || only == "matvec") {
    struct Shape { uint32_t K, N; };
    std::vector<Shape> shapes = {{1536, 6144}, {6144, 1536}, {1536, 262144}};
    std::vector<GgmlType> types = {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16};
    if (!quick)
      for (GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::Q4_0,
                         GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q5_K, GgmlType::BF16, GgmlType::F32})
        types.push_back(t);
    if (!types_arg.empty()) {
      types.clear();
      for (size_t p = 0; p <= types_arg.size();) {
        const size_t e = std::min(types_arg.find(',', p), types_arg.size());
        const auto t = ggml_type_from_name(types_arg.substr(p, e - p));
        if (!t || !Ops::supports(static_cast<WeightTypeId>(*t))) {
          std::fprintf(stderr, "kernels_bench: --types: '%s' is not a kernel weight type\n",
                       types_arg.substr(p, e - p).c_str());
          return 2;
        }
        types.push_back(*t);
        p = e + 1;
      }
    }
    json mv = json::array();
    for (GgmlType t : types)
      for (Shape s : shapes) {
        const bool big = s.N >= 100000;
        if (big && quick && t != GgmlType::Q4_K) continue;
        if (big && (t == GgmlType::F32 || t == GgmlType::BF16)) continue;
        // Decode reads every weight once per token: cycle through enough copies of the matrix
        // (>= 384 MiB in all) that none is still in the CPU caches when it is read again.
        std::vector<Buffer> keep;
        std::vector<DeviceMatrix> Ws;
        Ws.push_back(make_matrix(dev, keep, t, s.K, s.N));
        const double bytes = double(Ws[0].row_bytes) * s.N;
        const size_t copies = std::max<size_t>(1, size_t(384e6 / 1.048576 / bytes) + 1);
        for (size_t c = 1; c < copies; ++c) Ws.push_back(make_matrix(dev, keep, t, s.K, s.N));
        Buffer x = filled(dev, s.K, 1), y(dev, size_t{s.N} * 4, MemoryUsage::Device);
        const int reps = static_cast<int>(std::max<size_t>(copies, size_t(4e8 / bytes)));
        int rep = 0;
        const Timing tm = time_op(
            dev, [&](CommandList& cl) { ops.matmul(cl, Ws[rep++ % Ws.size()], x, y, 1); }, reps, big ? 3 : 5);
        const double sec = tm.wall;
        const double gbs = bytes / sec / 1e9;
        mv.push_back({{"type", std::string(ggml_type_info(t).name)}, {"K", s.K}, {"N", s.N},
                      {"ms", sec * 1e3}, {"cpu_ms", tm.cpu * 1e3}, {"weight_gbs", gbs},
                      {"gflops", 2.0 * s.K * s.N / sec / 1e9}, {"fraction_of_memcpy", gbs / memcpy_ref}});
        std::fprintf(stderr, "matvec %-5s %6ux%-6u %8.3f ms (cpu %8.3f ms) %6.2f GB/s (%.0f%% of memcpy) cpu-equiv %.2f GB/s\n",
                     ggml_type_info(t).name.data(), s.K, s.N, sec * 1e3, tm.cpu * 1e3, gbs, 100 * gbs / memcpy_ref,
                     bytes / (tm.cpu / std::thread::hardware_concurrency()) / 1e9);
      }
    out["matvec"] = mv;
  }
  if (only.empty() || only == "matvec" || only == "ffn") {
    // Decode feed-forward gate/up at the E2B shape (1536 -> 6144 and 12288, Q4_K): the fused
    // kernel (norm of x + both matrices + gelu * up, one dispatch) against rms_norm, two matvecs
    // and gelu_mul with barriers between them (what forward recorded before).
    json ff = json::array();
    for (uint32_t N : {6144u, 12288u}) {
      const uint32_t K = 1536;
      const GgmlType t = GgmlType::Q4_K;
      std::vector<Buffer> keep;
      std::vector<std::pair<DeviceMatrix, DeviceMatrix>> Ws;
      const double bytes = 2.0 * ggml_row_bytes(t, K) * N;
      const size_t copies = std::max<size_t>(1, size_t(384e6 / 1.048576 / bytes) + 1);
      for (size_t c = 0; c < copies; ++c) Ws.emplace_back(make_matrix(dev, keep, t, K, N), make_matrix(dev, keep, t, K, N));
      Buffer x = filled(dev, K, 1), nw = filled(dev, K, 4), h(dev, K * 4, MemoryUsage::Device);
      Buffer g(dev, size_t{N} * 4, MemoryUsage::Device), u(dev, size_t{N} * 4, MemoryUsage::Device);
      const int reps = static_cast<int>(std::max<size_t>(copies, size_t(4e8 / bytes)));
      for (bool fused : {false, true}) {
        int rep = 0;
        const Timing tm = time_op(
            dev,
            [&](CommandList& cl) {
              const auto& [wg, wu] = Ws[rep++ % Ws.size()];
              if (fused) {
                ops.gate_up_gelu(cl, wg, wu, x, nw, 1e-6f, g, 1, h, u);
              } else {
                ops.rms_norm(cl, x, nw, h, K, 1, 1e-6f);
                cl.barrier();
                ops.matmul(cl, wg, h, g, 1);
                ops.matmul(cl, wu, h, u, 1);
                cl.barrier();
                ops.gelu_mul(cl, g, u, g, N, 1, N, 0);
              }
            },
            reps, 5);
        const double cpu_gbs = bytes / (tm.cpu / std::thread::hardware_concurrency()) / 1e9;
        ff.push_back({{"type", "Q4_K"}, {"K", K}, {"N", N}, {"fused", fused}, {"ms", tm.wall * 1e3},
                      {"cpu_ms", tm.cpu * 1e3}, {"weight_gbs", bytes / tm.wall / 1e9}, {"cpu_equiv_gbs", cpu_gbs}});
        std::fprintf(stderr, "ffn gate_up %s Q4_K %ux%u x2 %8.3f ms (cpu %8.3f ms) %6.2f GB/s cpu-equiv %.2f GB/s\n",
                     fused ? "fused  " : "unfused", K, N, tm.wall * 1e3, tm.cpu * 1e3, bytes / tm.wall / 1e9, cpu_gbs);
      }
    }
    out["ffn_gate_up"] = ff;
  }
  if (only.empty() || only == "matmul") {
    json mm = json::array();
    std::vector<GgmlType> types = {GgmlType::Q4_K, GgmlType::Q8_0};
    if (!quick) types = {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16};
    for (GgmlType t : types)
      for (uint32_t T : {64u, 512u}) {
        const uint32_t K = 1536, N = 6144;
        std::vector<Buffer> keep;
        DeviceMatrix W = make_matrix(dev, keep, t, K, N);
        Buffer x = filled(dev, size_t{T} * K, 2), y(dev, size_t{T} * N * 4, MemoryUsage::Device);
        const Timing tm = time_op(dev, [&](CommandList& cl) { ops.matmul(cl, W, x, y, T); }, 1, 3);
        const double flop = 2.0 * K * N * T;
        mm.push_back({{"type", std::string(ggml_type_info(t).name)}, {"K", K}, {"N", N}, {"T", T},
                      {"ms", tm.wall * 1e3}, {"cpu_ms", tm.cpu * 1e3}, {"gflops", flop / tm.wall / 1e9}});
        std::fprintf(stderr, "matmul %-5s %ux%u T=%-4u %8.2f ms (cpu %8.2f ms) %6.2f GFLOP/s\n",
                     ggml_type_info(t).name.data(), K, N, T, tm.wall * 1e3, tm.cpu * 1e3, flop / tm.wall / 1e9);
      }
    out["matmul"] = mm;
  }

  if (only.empty() || only == "attention") {
    // Gemma 4 E2B full-attention layer at decode: 8 query heads, 1 KV head, head dim 512.
    json at = json::array();
    const uint32_t n_head = 8, n_kv = 1, hd = 512;
    for (uint32_t ctx : {512u, 4096u, 32768u}) {
      const bool f16 = ops.kv_type() == KvType::F16;
      const uint64_t kv_bytes = uint64_t{ctx} * n_kv * hd * (f16 ? 2 : 4);
      Buffer kc(dev, kv_bytes, MemoryUsage::Device), vc(dev, kv_bytes, MemoryUsage::Device);
      {
        CommandList cl(dev);
        Stream s(dev);
        cl.begin();
        cl.fill(kc, 0, kv_bytes, 0x3c003c00u);  // 1.0 halves (or a small float)
        cl.fill(vc, 0, kv_bytes, 0x3c003c00u);
        cl.end();
        s.wait(s.submit(cl));
      }
      Buffer q = filled(dev, n_head * hd, 3), out_b(dev, n_head * hd * 4, MemoryUsage::Device);
      const int32_t p = static_cast<int32_t>(ctx - 1);
      Buffer pos(dev, 16, MemoryUsage::Device);
      upload(dev, pos, 0, &p, 4);
      const uint64_t sb = ops.scratch_bytes(1, n_head, hd, ctx, 0);
      Buffer scratch(dev, std::max<uint64_t>(sb, 256), MemoryUsage::Device);
      ops.set_scratch(BufferRange(scratch, 0, scratch.size()));
      const Timing tm = time_op(
          dev, [&](CommandList& cl) { ops.attention(cl, q, kc, vc, pos, out_b, 1, n_head, n_kv, hd, ctx, 0, 1.0f); },
          ctx >= 32768 ? 2 : 10, 3);
      ops.set_scratch(BufferRange{});
      const double gbs = 2.0 * kv_bytes / tm.wall / 1e9;
      at.push_back({{"ctx", ctx}, {"n_head", n_head}, {"n_kv", n_kv}, {"head_dim", hd},
                    {"kv_type", f16 ? "f16" : "f32"}, {"ms", tm.wall * 1e3}, {"cpu_ms", tm.cpu * 1e3},
                    {"kv_gbs", gbs}});
      std::fprintf(stderr, "attention decode ctx=%-6u %8.3f ms (cpu %8.3f ms) KV read %.2f GB/s\n", ctx,
                   tm.wall * 1e3, tm.cpu * 1e3, gbs);
    }
    out["attention_decode"] = at;
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
