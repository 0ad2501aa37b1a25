// SPIR-V reflection after specialization (runtime/spirv_reflect.h) and the pipeline checks built
// on it: spec-constant-sized shared arrays counted exactly, unknown sizes and capabilities refused
// (fail closed), 8/16-bit storage and the rest of the capabilities checked against the device.
// Cross-check: every embedded shader against SPIRV-Tools' specializer (spirv-opt) followed by
// SPIRV-Cross reflection, two independent implementations.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "shader_registry.h"
#include "spirv_reflect.h"
#include "test_util.h"

#ifdef VKG_HAVE_SPIRV_CROSS
#include <spirv_cross/spirv_cross.hpp>
#endif

using namespace vkg;

namespace {

/// SPIR-V instruction word 0.
constexpr uint32_t op(uint32_t len, uint32_t opcode) { return len << 16 | opcode; }

/// A compute module with a spec constant X (SpecId 0, default 32) as gl_WorkGroupSize.x and two
/// Workgroup arrays: float a[X / 4] and uint b[X] (as glslang emits: OpSpecConstantOp
/// CompositeExtract of the WorkgroupSize composite, then UDiv). `size_op` replaces UDiv (134).
std::vector<uint32_t> module_with_shared(uint32_t size_op = 134, uint32_t extra_cap = 0) {
  std::vector<uint32_t> w = {0x07230203, 0x00010300, 0, 64, 0};
  auto add = [&](std::initializer_list<uint32_t> ins) { w.insert(w.end(), ins); };
  add({op(2, 17), 1});  // OpCapability Shader
  if (extra_cap) add({op(2, 17), extra_cap});
  add({op(3, 14), 0, 1});                  // OpMemoryModel Logical GLSL450
  add({op(6, 16), 1, 17, 1, 1, 1});        // OpExecutionMode %1 LocalSize 1 1 1
  add({op(4, 71), 10, 1, 0});              // OpDecorate %10 SpecId 0
  add({op(4, 71), 13, 11, 25});            // OpDecorate %13 BuiltIn WorkgroupSize
  add({op(4, 21), 2, 32, 0});              // %2 = OpTypeInt 32 0
  add({op(3, 22), 3, 32});                 // %3 = OpTypeFloat 32
  add({op(4, 23), 4, 2, 3});               // %4 = OpTypeVector %2 3
  add({op(4, 43), 2, 11, 1});              // %11 = OpConstant %2 1
  add({op(4, 43), 2, 12, 4});              // %12 = OpConstant %2 4
  add({op(4, 50), 2, 10, 32});             // %10 = OpSpecConstant %2 32
  add({op(6, 51), 4, 13, 10, 11, 11});     // %13 = OpSpecConstantComposite %4 %10 %11 %11
  add({op(6, 52), 2, 14, 81, 13, 0});      // %14 = OpSpecConstantOp %2 CompositeExtract %13 0
  add({op(6, 52), 2, 15, size_op, 14, 12});  // %15 = OpSpecConstantOp %2 UDiv %14 %12
  add({op(4, 28), 16, 3, 15});             // %16 = OpTypeArray %3 %15
  add({op(4, 32), 17, 4, 16});             // %17 = OpTypePointer Workgroup %16
  add({op(4, 59), 17, 18, 4});             // %18 = OpVariable %17 Workgroup
  add({op(4, 28), 19, 2, 14});             // %19 = OpTypeArray %2 %14
  add({op(4, 32), 20, 4, 19});             // %20 = OpTypePointer Workgroup %19
  add({op(4, 59), 20, 21, 4});             // %21 = OpVariable %20 Workgroup
  return w;
}

const shaders::EmbeddedShader* shader(const std::string& name) {
  for (const auto& s : shaders::all())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("shared arrays sized by a specialized workgroup size are counted exactly") {
  const auto m = module_with_shared();
  const SpirvInfo def = reflect_spirv(m, std::map<uint32_t, uint32_t>{});
  CHECK(def.local_size[0] == 32);
  CHECK(def.shared_bytes == 32 / 4 * 4 + 32 * 4);
  for (uint32_t x : {1u, 64u, 256u, 1024u}) {
    CAPTURE(x);
    const SpirvInfo s = reflect_spirv(m, std::map<uint32_t, uint32_t>{{0, x}});
    CHECK(s.local_size[0] == x);
    CHECK(s.local_size[1] == 1);
    CHECK(s.shared_bytes == x / 4 * 4 + x * 4);
  }
  // The project's reductions: red_f[gl_WorkGroupSize.x] (rms_norm), red_v/red_i (select).
  const auto* rms = shader("rms_norm");
  REQUIRE(rms);
  for (uint32_t wg : {32u, 64u, 128u}) {
    CHECK(reflect_spirv({rms->words, rms->n_words}, std::map<uint32_t, uint32_t>{{0, wg}}).shared_bytes == wg * 4);
  }
}

TEST_CASE("what cannot be evaluated is refused, not counted as zero") {
  // OpSpecConstantOp VectorShuffle (79) is legal SPIR-V that the evaluator does not handle.
  CHECK_THROWS_WITH_AS(reflect_spirv(module_with_shared(79), std::map<uint32_t, uint32_t>{}),
                       doctest::Contains("opcode 79"), SpirvReflectError);
  // An array whose length is not a constant (here: the id of a variable).
  auto m = module_with_shared();
  for (size_t i = 5; i + 3 < m.size(); ++i)
    if (m[i] == op(4, 28) && m[i + 1] == 16) m[i + 3] = 18;
  CHECK_THROWS_WITH_AS(reflect_spirv(m, std::map<uint32_t, uint32_t>{}), doctest::Contains("not a constant"),
                       SpirvReflectError);
  m = module_with_shared();
  m.resize(m.size() - 2);  // a truncated instruction
  CHECK_THROWS_AS(reflect_spirv(m, std::map<uint32_t, uint32_t>{}), SpirvReflectError);
  CHECK_THROWS_AS(reflect_spirv(std::vector<uint32_t>{1, 2, 3, 4, 5}, std::map<uint32_t, uint32_t>{}),
                  SpirvReflectError);
}

TEST_CASE("every embedded shader reflects exactly at the workgroup sizes the ops use") {
  int n = 0;
  for (const auto& s : shaders::all())
    for (uint32_t wg : {32u, 64u, 128u, 256u}) {
      CAPTURE(s.name);
      CAPTURE(wg);
      CHECK_NOTHROW(reflect_spirv({s.words, s.n_words}, std::map<uint32_t, uint32_t>{{0, wg}}));
      ++n;
    }
  CHECK(n >= 4 * 40);
}

TEST_CASE("pipeline checks: limits and every capability against the device") {
  DeviceCaps caps;
  caps.max_workgroup_invocations = 256;
  caps.max_workgroup_size[0] = 256;
  caps.max_shared_memory = 16384;
  caps.subgroup_ops = VK_SUBGROUP_FEATURE_BASIC_BIT;
  SpirvInfo info;
  info.capabilities = {kSpvCapShader, kSpvCapSampledBuffer, kSpvCapGroupNonUniform};
  info.local_size[0] = 256;
  info.shared_bytes = 16384;
  CHECK(pipeline_limit_violation(info, caps).empty());
  info.shared_bytes = 16388;
  CHECK(pipeline_limit_violation(info, caps).find("16388 bytes of shared memory") != std::string::npos);
  info.shared_bytes = 0;
  info.local_size[0] = 512;
  CHECK(pipeline_limit_violation(info, caps).find("invocations") != std::string::npos);
  info.local_size[0] = 64;
  struct Need {
    uint32_t cap;
    bool DeviceCaps::*flag;
    const char* says;
  };
  for (Need n : {Need{kSpvCapStorageBuffer16BitAccess, &DeviceCaps::storage16, "16-bit storage"},
                 Need{kSpvCapUniformAndStorageBuffer16BitAccess, &DeviceCaps::storage16, "16-bit storage"},
                 Need{kSpvCapStorageBuffer8BitAccess, &DeviceCaps::storage8, "8-bit storage"},
                 Need{kSpvCapUniformAndStorageBuffer8BitAccess, &DeviceCaps::storage8, "8-bit storage"},
                 Need{kSpvCapFloat16, &DeviceCaps::fp16_arith, "fp16"}, Need{kSpvCapInt8, &DeviceCaps::int8_arith, "int8"},
                 Need{kSpvCapInt64, &DeviceCaps::int64, "64-bit integers"}}) {
    CAPTURE(n.cap);
    SpirvInfo i = info;
    i.capabilities.push_back(n.cap);
    DeviceCaps c = caps;
    c.*n.flag = false;
    CHECK(pipeline_limit_violation(i, c).find(n.says) != std::string::npos);
    c.*n.flag = true;
    CHECK(pipeline_limit_violation(i, c).empty());
  }
  SpirvInfo arith = info;
  arith.capabilities.push_back(kSpvCapGroupNonUniformArithmetic);
  CHECK(pipeline_limit_violation(arith, caps).find("subgroup arithmetic") != std::string::npos);
  SpirvInfo unknown = info;
  unknown.capabilities.push_back(5345);  // VulkanMemoryModel: not enabled by the runtime
  CHECK(pipeline_limit_violation(unknown, caps).find("capability 5345") != std::string::npos);
  // Declared in a module: reflection reports it, the check refuses it.
  const SpirvInfo m = reflect_spirv(module_with_shared(134, kSpvCapStorageBuffer16BitAccess),
                                    std::map<uint32_t, uint32_t>{});
  CHECK(m.has(kSpvCapStorageBuffer16BitAccess));
  CHECK(!pipeline_limit_violation(m, caps).empty());
}

TEST_CASE("cross-check: spirv-opt specialization + SPIRV-Cross reflection agree on every shader") {
#ifndef VKG_HAVE_SPIRV_CROSS
  VKG_SKIP("built without SPIRV-Cross (libspirv-cross-c-shared-dev) or spirv-opt");
#else
  struct Reflector : spirv_cross::Compiler {
    using Compiler::Compiler;
    uint64_t shared_bytes() {
      uint64_t total = 0;
      ir.for_each_typed_id<spirv_cross::SPIRVariable>([&](uint32_t, spirv_cross::SPIRVariable& v) {
        if (v.storage != spv::StorageClassWorkgroup) return;
        const spirv_cross::SPIRType& t = get_type(v.basetype);
        uint64_t n = t.width / 8 * (t.vecsize == 3 ? 4 : t.vecsize) * t.columns;
        for (size_t d = 0; d < t.array.size(); ++d)
          n *= t.array_size_literal[d] ? t.array[d] : get_constant(t.array[d]).scalar();
        total += n;
      });
      return total;
    }
  };
  const auto dir = vkg::test::scratch_dir("spirv_reflect");
  int checked = 0;
  for (const auto& s : shaders::all()) {
    CAPTURE(s.name);
    const auto in = dir / "in.spv", out = dir / "out.spv";
    {
      std::ofstream f(in, std::ios::binary);
      f.write(reinterpret_cast<const char*>(s.words), static_cast<std::streamsize>(s.n_words * 4));
    }
    const std::string cmd = std::string(VKG_SPIRV_OPT) + " --set-spec-const-default-value \"0:64\" --freeze-spec-const" +
                            " --fold-spec-const-op-composite " + in.string() + " -o " + out.string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream f(out, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
    std::vector<uint32_t> words(bytes.size() / 4);
    std::memcpy(words.data(), bytes.data(), words.size() * 4);
    Reflector r(std::move(words));
    const SpirvInfo ours = reflect_spirv({s.words, s.n_words}, std::map<uint32_t, uint32_t>{{0, 64}});
    CHECK(ours.shared_bytes == r.shared_bytes());
    std::set<uint32_t> theirs;
    for (auto c : r.get_declared_capabilities()) theirs.insert(static_cast<uint32_t>(c));
    CHECK(std::set<uint32_t>(ours.capabilities.begin(), ours.capabilities.end()) == theirs);
    const auto eps = r.get_entry_points_and_stages();
    REQUIRE(eps.size() == 1);
    const auto& ep = r.get_entry_point(eps[0].name, eps[0].execution_model);
    uint32_t x = ep.workgroup_size.x;
    if (ep.workgroup_size.constant) x = r.get_constant(ep.workgroup_size.constant).scalar(0, 0);
    CHECK(ours.local_size[0] == x);
    ++checked;
  }
  CHECK(checked >= 40);
#endif
}
