// Kernel descriptions, the per-device pipeline cache, the forward workload and the pipeline set
// (statistics capture) on the test device.
#include <doctest/doctest.h>

#include <set>

#include "device_weights.h"
#include "forward.h"
#include "forward_workload.h"
#include "gguf.h"
#include "gpu.h"
#include "kernel.h"
#include "kernel_desc.h"
#include "ops.h"
#include "ops_test.h"
#include "pipeline_set.h"
#include "synth.h"

using namespace vkg;
using vkg::test::device;
namespace kd = vkg::kernel_descs;

namespace {
constexpr WeightTypeId kQ4K = 12, kQ8_0 = 8, kF32 = 0;

/// (shader, spec) of a pipeline: what the device's pipeline log records.
std::string ident(const std::string& shader, const std::vector<uint32_t>& spec) {
  std::string s = shader;
  for (uint32_t x : spec) s += ":" + std::to_string(x);
  return s;
}
} // namespace

TEST_CASE("kernel descriptions: the key is the pipeline's identity") {
  OpsVariants v = select_variants(device().caps());
  const KernelDesc a = kd::matvec(v, kQ4K, 1536, 1);
  const KernelDesc b = kd::matvec(v, kQ4K, 1536, 2);
  CHECK(a.key() != b.key());
  CHECK(a.spec.at(2) == 1);
  CHECK(b.spec.at(2) == 2);
  KernelDesc c = a;
  c.variant = "something else";
  c.capture_statistics = true;
  CHECK(c.key() == a.key());  // neither is part of the pipeline
  // Aligned rows pick the unit variant of unit types only.
  CHECK(kd::matvec(v, kQ8_0, 1536, 1).shader.find("matvec_q8_0_a") == 0);
  CHECK(kd::matvec(v, kQ8_0, 1568, 1).shader.find("matvec_q8_0_g") == 0);  // 1568 = 49 blocks, not whole units
  CHECK(kd::matvec(v, kQ4K, 1536, 1).shader.find("matvec_q4_k_g") == 0);
  v.texel_reads = false;
  CHECK(kd::matvec(v, kQ4K, 1536, 1).shader == "matvec_q4_k_g_sb");
  CHECK(kd::matvec(v, kQ4K, 1536, 1).texel_bindings == 0);
  // The tiled kernel's tokens per invocation follow T (no idle token slots), up to matmul_tokens.
  CHECK(kd::matmul(v, kQ4K, 16).spec.at(2) == 1);
  CHECK(kd::matmul(v, kQ4K, 4096).spec.at(2) == v.matmul_tokens);
  // Split-K (GPUs): the subgroup kernel, or the shared-memory one without subgroup arithmetic.
  v.matvec_split_k = true;
  v.subgroup_arith = true;
  CHECK(kd::matvec(v, kQ4K, 1536, 2).shader == "matvec_gpu_q4_k_sb");
  CHECK(kd::matvec(v, kQ4K, 1536, 2).spec.at(2) == 2);
  CHECK(kd::gate_up(v, kQ4K, 1536, 1).shader == "matvec_gate_up_gpu_q4_k_sb");
  v.subgroup_arith = false;
  CHECK(kd::matvec(v, kQ8_0, 1536, 1).shader == "matvec_gpu_q8_0_wg_sb");
  CHECK(kd::split_k_rows(v, 1000) == 2);
  CHECK(kd::split_k_rows(v, 262144) == 5);  // at most 65535 workgroups
  v.matvec_split_k = false;
  CHECK_THROWS_AS(kd::matvec(v, 9999, 256, 1), VkError);
  CHECK_THROWS_AS(kd::matvec(v, kQ4K, 256, 9), VkError);
}

TEST_CASE("pipelines are created once per device and shared by every Ops") {
  vkg::test::ValidationGuard guard;
  Device& dev = device();
  const OpsVariants v = select_variants(dev.caps());
  const KernelDesc d = kd::eltwise(v, kd::Eltwise::softcap);
  const Kernel& k1 = dev.kernel(d);
  const size_t n = dev.kernel_count();
  const size_t logged = dev.pipeline_log().size();
  const Kernel& k2 = dev.kernel(d);
  CHECK(&k1 == &k2);
  CHECK(dev.kernel_count() == n);
  CHECK(dev.pipeline_log().size() == logged);  // not compiled (nor checked) again

  // Two Ops (two sessions) recording the same op use the same pipeline.
  Buffer x(dev, 1024 * 4, MemoryUsage::Device);
  for (int i = 0; i < 2; ++i) {
    Ops ops(dev);
    CommandList cl(dev);
    cl.begin();
    ops.softcap(cl, BufferRange(x, 0, 4096), 1024, 30.0f);
    ops.scale(cl, BufferRange(x, 0, 4096), 1024, 0.5f);
    cl.end();
    Stream s(dev);
    s.wait(s.submit(cl));
  }
  CHECK(dev.kernel_count() == n + 1);  // scale is new, softcap was there

  // A lowered capability record gets its own (checked) pipelines; the record restored, the
  // first ones again.
  {
    vkg::test::ForcedCaps forced(vkg::test::ForcedCaps::SmallLimits);
    const Kernel& k3 = dev.kernel(d);
    CHECK(&k3 != &k1);
  }
  CHECK(&dev.kernel(d) == &k1);
}

TEST_CASE("the forward workload lists every pipeline the forward pass creates") {
  // A fresh device (empty pipeline log), the tiny synthetic model, decode and a prefill chunk.
  auto& inst = *vkg::test::gpu().instance;
  Device dev(inst, {.pipeline_cache = false});
  vkg::test::ValidationGuard guard;
  SynthOptions o = synth_preset("tiny");
  o.types = SynthTypes::parse("q4_k_m");
  const std::vector<uint8_t> bytes = synth_write_memory(synth_plan(o));
  const GgufFile file = GgufFile::open_memory(std::span<const uint8_t>(bytes));
  const Gemma4Model model = load_gemma4(file);
  const auto weights = upload_weights(dev, model);
  {
    Gemma4Forward fwd(dev, model, weights, {.n_ctx = 64, .max_batch = 20});
    std::vector<int32_t> prompt(23);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>(7 + i);
    std::vector<float> logits;
    fwd.eval(prompt, false, logits);  // chunks of 20 and 3 tokens
    std::vector<int32_t> ids;
    std::vector<float> vals;
    fwd.eval_top_k(std::span<const int32_t>(prompt.data(), 1), 1, ids, vals);   // decode, argmax
    fwd.eval_top_k(std::span<const int32_t>(prompt.data(), 1), 40, ids, vals);  // decode, top-k
  }
  const auto work = forward_workload(model, select_variants(dev.caps()), {.max_columns = 8, .max_batch = 20});
  std::set<std::string> listed;
  std::set<WeightTypeId> types;
  for (const auto& k : work) {
    listed.insert(ident(k.desc.shader, k.desc.spec));
    if (k.weight_type >= 0) types.insert(static_cast<WeightTypeId>(k.weight_type));
  }
  const auto log = dev.pipeline_log();
  REQUIRE(log.size() >= 15);
  for (const auto& p : log) {
    CAPTURE(p.shader);
    CHECK(listed.count(ident(p.shader, p.spec)) == 1);
  }
  CHECK(work.size() >= log.size());
  CHECK(types.count(kQ4K) == 1);  // the Q4_K_M mix: Q4_K and Q6_K matrices
  CHECK(types.count(14) == 1);

  // --types: only the listed matrix types, added where the model lacks them.
  const auto only = forward_workload(model, select_variants(dev.caps()), {.max_columns = 1, .prefill = false,
                                                                           .types = {kF32, kQ8_0}});
  std::set<int64_t> only_types;
  for (const auto& k : only)
    if (k.weight_type >= 0) only_types.insert(k.weight_type);
  CHECK(only_types == std::set<int64_t>{kF32, kQ8_0});
  for (const auto& k : only) CHECK(k.desc.shader.find("matmul_") != 0);  // no tiled kernels without prefill
}

TEST_CASE("pipeline set: every pipeline created or refused, statistics as reported") {
  auto& inst = *vkg::test::gpu().instance;
  Device dev(inst, {.pipeline_cache = false, .pipeline_statistics = true});
  vkg::test::ValidationGuard guard;
  const OpsVariants v = select_variants(dev.caps());
  std::vector<KernelDesc> descs = {kd::matvec(v, kQ4K, 256, 1), kd::rms_norm(v, false)};
  KernelDesc too_big = kd::eltwise(v, kd::Eltwise::scale);
  too_big.spec[0] = dev.caps().max_workgroup_invocations * 2;  // over the device's limit
  descs.push_back(too_big);
  const auto reports = compile_pipeline_set(dev, descs);
  REQUIRE(reports.size() == 3);
  CHECK(reports[0].refused.empty());
  CHECK(reports[0].error.empty());
  CHECK(reports[0].local_size[0] == v.matvec_wg);
  CHECK(reports[1].refused.empty());
  CHECK(!reports[2].refused.empty());
  CHECK(reports[2].stats.empty());
  CHECK(dev.pipeline_statistics() == dev.caps().pipeline_executable_properties);
  if (dev.pipeline_statistics()) {
    CHECK(!reports[0].stats.empty());
  }
  CHECK(dev.kernel_count() == 0);  // the set bypasses the device's cache
}
