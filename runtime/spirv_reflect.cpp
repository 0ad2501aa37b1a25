#include "spirv_reflect.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

namespace vkg {

bool SpirvInfo::has(uint32_t cap) const {
  return std::find(capabilities.begin(), capabilities.end(), cap) != capabilities.end();
}

namespace {
// Opcodes (SPIR-V spec 3.42).
enum : uint32_t {
  OpExecutionMode = 16, OpCapability = 17, OpTypeBool = 20, OpTypeInt = 21, OpTypeFloat = 22, OpTypeVector = 23,
  OpTypeMatrix = 24, OpTypeArray = 28, OpTypeRuntimeArray = 29, OpTypeStruct = 30, OpTypePointer = 32,
  OpConstantTrue = 41, OpConstantFalse = 42, OpConstant = 43, OpConstantComposite = 44, OpConstantNull = 46,
  OpSpecConstantTrue = 48, OpSpecConstantFalse = 49, OpSpecConstant = 50, OpSpecConstantComposite = 51,
  OpSpecConstantOp = 52, OpVariable = 59, OpDecorate = 71, OpExecutionModeId = 331,
  // Operations allowed in OpSpecConstantOp (shader capability) that we evaluate.
  OpSConvert = 114, OpUConvert = 113, OpSNegate = 126, OpIAdd = 128, OpISub = 130, OpIMul = 132, OpUDiv = 134,
  OpSDiv = 135, OpUMod = 137, OpSRem = 138, OpSMod = 139, OpLogicalEqual = 164, OpLogicalNotEqual = 165,
  OpLogicalOr = 166, OpLogicalAnd = 167, OpLogicalNot = 168, OpSelect = 169, OpIEqual = 170, OpINotEqual = 171,
  OpUGreaterThan = 172, OpSGreaterThan = 173, OpUGreaterThanEqual = 174, OpSGreaterThanEqual = 175,
  OpULessThan = 176, OpSLessThan = 177, OpULessThanEqual = 178, OpSLessThanEqual = 179,
  OpShiftRightLogical = 194, OpShiftRightArithmetic = 195, OpShiftLeftLogical = 196, OpBitwiseOr = 197,
  OpBitwiseXor = 198, OpBitwiseAnd = 199, OpNot = 200, OpCompositeExtract = 81,
};
constexpr uint32_t DecorationSpecId = 1, DecorationBuiltIn = 11, BuiltInWorkgroupSize = 25, StorageWorkgroup = 4,
                   ExecutionModeLocalSize = 17, ExecutionModeLocalSizeId = 38;

struct Type {
  uint32_t op = 0;
  uint32_t width = 0;      // bits (int, float)
  bool is_signed = false;  // int
  uint32_t elem = 0;       // vector/matrix/array element, pointer pointee
  uint32_t count = 0;      // vector/matrix: literal count; array: length constant id
  uint32_t storage = 0;    // pointer storage class
  std::vector<uint32_t> members;
};

struct Constant {
  uint32_t op = 0;                    // defining opcode
  uint32_t type = 0;
  uint64_t value = 0;                 // scalars
  std::vector<uint32_t> operands;     // composites: constituents; OpSpecConstantOp: opcode, operands...
};

class Module {
 public:
  Module(std::span<const uint32_t> w, const std::map<uint32_t, uint32_t>& spec) : spec_(spec) { parse(w); }

  SpirvInfo reflect() {
    SpirvInfo info;
    info.capabilities = caps_;
    for (int k = 0; k < 3; ++k) info.local_size[k] = local_size_[k];
    if (local_size_id_) {
      for (int k = 0; k < 3; ++k) info.local_size[k] = u32(eval(local_size_ids_[k], 0), "LocalSizeId");
    }
    if (wg_builtin_) {  // the WorkgroupSize builtin overrides LocalSize (SPIR-V 2.12)
      for (uint32_t k = 0; k < 3; ++k) info.local_size[k] = u32(extract(wg_builtin_, {k}, 0), "WorkgroupSize");
    }
    for (uint32_t var_type : workgroup_vars_) {
      const Type& p = type(var_type);
      info.shared_bytes += layout(p.elem, 0).size;
    }
    return info;
  }

 private:
  [[noreturn]] static void fail(const std::string& what) { throw SpirvReflectError("SPIR-V reflection: " + what); }

  const Type& type(uint32_t id) const {
    auto it = types_.find(id);
    if (it == types_.end()) fail(fmt::format("id {} is not a type", id));
    return it->second;
  }
  const Constant& constant(uint32_t id) const {
    auto it = consts_.find(id);
    if (it == consts_.end()) fail(fmt::format("id {} is not a constant", id));
    return it->second;
  }
  static uint32_t u32(uint64_t v, const char* what) {
    if (v > UINT32_MAX) fail(fmt::format("{} value {} does not fit 32 bits", what, v));
    return static_cast<uint32_t>(v);
  }
  /// Bit width of a scalar type (bool: 1).
  uint32_t bits(uint32_t type_id) const {
    const Type& t = type(type_id);
    if (t.op == OpTypeBool) return 1;
    if (t.op == OpTypeInt) return t.width;
    fail(fmt::format("constant of type {} is not an integer or bool", type_id));
  }
  static uint64_t mask(uint64_t v, uint32_t b) { return b >= 64 ? v : v & ((uint64_t{1} << b) - 1); }
  static int64_t sext(uint64_t v, uint32_t b) {
    return b >= 64 ? static_cast<int64_t>(v) : static_cast<int64_t>(v << (64 - b)) >> (64 - b);
  }

  /// Value of a scalar integer/bool constant after specialization.
  uint64_t eval(uint32_t id, int depth) const {
    if (depth > 64) fail("constant expression nested too deeply");
    const Constant& c = constant(id);
    switch (c.op) {
      case OpConstant:
      case OpSpecConstant:
      case OpConstantTrue:
      case OpConstantFalse:
      case OpSpecConstantTrue:
      case OpSpecConstantFalse:
      case OpConstantNull: return c.value;
      case OpSpecConstantOp: return eval_op(c, depth);
      default: fail(fmt::format("constant {} is a composite where a scalar is needed", id));
    }
  }

  /// Element [indices...] of a composite constant.
  uint64_t extract(uint32_t id, const std::vector<uint32_t>& idx, int depth) const {
    uint32_t cur = id;
    for (uint32_t i : idx) {
      const Constant& c = constant(cur);
      if (c.op != OpConstantComposite && c.op != OpSpecConstantComposite)
        fail(fmt::format("CompositeExtract from constant {}, which is not a constant composite", cur));
      if (i >= c.operands.size()) fail(fmt::format("CompositeExtract index {} out of range", i));
      cur = c.operands[i];
    }
    return eval(cur, depth + 1);
  }

  uint64_t eval_op(const Constant& c, int depth) const {
    const uint32_t op = c.operands.at(0);
    const uint32_t rb = bits(c.type);
    auto arg = [&](size_t k) { return eval(c.operands.at(k + 1), depth + 1); };
    auto argb = [&](size_t k) { return bits(constant(c.operands.at(k + 1)).type); };
    auto sarg = [&](size_t k) { return sext(arg(k), argb(k)); };
    auto nonzero = [&](uint64_t d) {
      if (d == 0) fail("division by zero in a constant expression");
      return d;
    };
    uint64_t r = 0;
    switch (op) {
      case OpCompositeExtract: {
        if (c.operands.size() < 3) fail("CompositeExtract without an index");
        return mask(extract(c.operands[1], std::vector<uint32_t>(c.operands.begin() + 2, c.operands.end()), depth), rb);
      }
      case OpIAdd: r = arg(0) + arg(1); break;
      case OpISub: r = arg(0) - arg(1); break;
      case OpIMul: r = arg(0) * arg(1); break;
      case OpUDiv: r = arg(0) / nonzero(arg(1)); break;
      case OpUMod: r = arg(0) % nonzero(arg(1)); break;
      case OpSDiv:
      case OpSRem:
      case OpSMod: {
        const int64_t a = sarg(0), b = sarg(1);
        if (b == 0) fail("division by zero in a constant expression");
        if (b == -1) {  // no INT64_MIN / -1 overflow
          r = op == OpSDiv ? static_cast<uint64_t>(0) - static_cast<uint64_t>(a) : 0;
          break;
        }
        int64_t m = op == OpSDiv ? a / b : a % b;
        if (op == OpSMod && m != 0 && ((m < 0) != (b < 0))) m += b;
        r = static_cast<uint64_t>(m);
        break;
      }
      case OpSNegate: r = static_cast<uint64_t>(-sarg(0)); break;
      case OpNot: r = ~arg(0); break;
      case OpShiftLeftLogical: r = arg(1) >= 64 ? 0 : arg(0) << arg(1); break;
      case OpShiftRightLogical: r = arg(1) >= 64 ? 0 : mask(arg(0), argb(0)) >> arg(1); break;
      case OpShiftRightArithmetic: r = static_cast<uint64_t>(sarg(0) >> std::min<uint64_t>(arg(1), 63)); break;
      case OpBitwiseOr: r = arg(0) | arg(1); break;
      case OpBitwiseXor: r = arg(0) ^ arg(1); break;
      case OpBitwiseAnd: r = arg(0) & arg(1); break;
      case OpUConvert: r = mask(arg(0), argb(0)); break;
      case OpSConvert: r = static_cast<uint64_t>(sarg(0)); break;
      case OpLogicalOr: r = (arg(0) | arg(1)) != 0; break;
      case OpLogicalAnd: r = (arg(0) != 0) && (arg(1) != 0); break;
      case OpLogicalNot: r = arg(0) == 0; break;
      case OpLogicalEqual: r = (arg(0) != 0) == (arg(1) != 0); break;
      case OpLogicalNotEqual: r = (arg(0) != 0) != (arg(1) != 0); break;
      case OpSelect: r = arg(0) ? arg(1) : arg(2); break;
      case OpIEqual: r = mask(arg(0), argb(0)) == mask(arg(1), argb(1)); break;
      case OpINotEqual: r = mask(arg(0), argb(0)) != mask(arg(1), argb(1)); break;
      case OpUGreaterThan: r = mask(arg(0), argb(0)) > mask(arg(1), argb(1)); break;
      case OpUGreaterThanEqual: r = mask(arg(0), argb(0)) >= mask(arg(1), argb(1)); break;
      case OpULessThan: r = mask(arg(0), argb(0)) < mask(arg(1), argb(1)); break;
      case OpULessThanEqual: r = mask(arg(0), argb(0)) <= mask(arg(1), argb(1)); break;
      case OpSGreaterThan: r = sarg(0) > sarg(1); break;
      case OpSGreaterThanEqual: r = sarg(0) >= sarg(1); break;
      case OpSLessThan: r = sarg(0) < sarg(1); break;
      case OpSLessThanEqual: r = sarg(0) <= sarg(1); break;
      default: fail(fmt::format("OpSpecConstantOp with opcode {} is not evaluated", op));
    }
    return mask(r, rb);
  }

  struct Layout {
    uint64_t size, align;
  };
  /// Size and alignment of a type in Workgroup storage: scalar alignment, 3-vectors padded to 4
  /// (as std430; never below what a driver needs for the layouts glslang emits), bool 4 bytes.
  Layout layout(uint32_t id, int depth) const {
    if (depth > 32) fail("type nested too deeply");
    const Type& t = type(id);
    switch (t.op) {
      case OpTypeBool: return {4, 4};
      case OpTypeInt:
      case OpTypeFloat: return {t.width / 8u, t.width / 8u};
      case OpTypeVector: {
        const Layout e = layout(t.elem, depth + 1);
        return {e.size * (t.count == 3 ? 4 : t.count), e.align};
      }
      case OpTypeMatrix: {
        const Layout col = layout(t.elem, depth + 1);
        return {col.size * t.count, col.align};
      }
      case OpTypeArray: {
        const Layout e = layout(t.elem, depth + 1);
        const uint64_t n = eval(t.count, 0);
        const uint64_t stride = (e.size + e.align - 1) / e.align * e.align;
        return {stride * n, e.align};
      }
      case OpTypeStruct: {
        uint64_t off = 0, align = 1;
        for (uint32_t m : t.members) {
          const Layout l = layout(m, depth + 1);
          off = (off + l.align - 1) / l.align * l.align + l.size;
          align = std::max(align, l.align);
        }
        return {(off + align - 1) / align * align, align};
      }
      case OpTypeRuntimeArray: fail("runtime-sized array in Workgroup storage");
      default: fail(fmt::format("Workgroup variable of a type (opcode {}) whose size is unknown", t.op));
    }
  }

  void parse(std::span<const uint32_t> w) {
    if (w.size() < 5 || w[0] != 0x07230203) fail("not a SPIR-V module (bad magic)");
    std::vector<const uint32_t*> spec_consts;  // OpSpecConstant* to override once SpecIds are known
    for (size_t i = 5; i < w.size();) {
      const uint32_t op = w[i] & 0xffff, n = w[i] >> 16;
      if (n == 0 || i + n > w.size()) fail("malformed SPIR-V instruction stream");
      const uint32_t* a = w.data() + i + 1;  // one past the end for a last, operand-less instruction
      const uint32_t na = n - 1;  // operand words
      auto need = [&](uint32_t k) {
        if (na < k) fail(fmt::format("instruction with opcode {} is too short", op));
      };
      switch (op) {
        case OpCapability: need(1); caps_.push_back(a[0]); break;
        case OpExecutionMode:
          need(2);
          if (a[1] == ExecutionModeLocalSize) {
            need(5);
            std::copy(a + 2, a + 5, local_size_);
          }
          break;
        case OpExecutionModeId:
          need(2);
          if (a[1] == ExecutionModeLocalSizeId) {
            need(5);
            local_size_id_ = true;
            std::copy(a + 2, a + 5, local_size_ids_);
          }
          break;
        case OpDecorate:
          need(2);
          if (a[1] == DecorationSpecId) {
            need(3);
            spec_id_[a[0]] = a[2];
          }
          if (a[1] == DecorationBuiltIn && na >= 3 && a[2] == BuiltInWorkgroupSize) wg_builtin_ = a[0];
          break;
        case OpTypeBool: need(1); types_[a[0]] = {op}; break;
        case OpTypeInt: need(3); types_[a[0]] = {op, a[1], a[2] != 0}; break;
        case OpTypeFloat: need(2); types_[a[0]] = {op, a[1]}; break;
        case OpTypeVector:
        case OpTypeMatrix: need(3); types_[a[0]] = {op, 0, false, a[1], a[2]}; break;
        case OpTypeArray: need(3); types_[a[0]] = {op, 0, false, a[1], a[2]}; break;
        case OpTypeRuntimeArray: need(2); types_[a[0]] = {op, 0, false, a[1]}; break;
        case OpTypeStruct: {
          need(1);
          Type t{op};
          t.members.assign(a + 1, a + na);
          types_[a[0]] = t;
          break;
        }
        case OpTypePointer: need(3); types_[a[0]] = {op, 0, false, a[2], 0, a[1]}; break;
        case OpConstantTrue:
        case OpConstantFalse:
        case OpSpecConstantTrue:
        case OpSpecConstantFalse:
          need(2);
          consts_[a[1]] = {op, a[0], uint64_t{op == OpConstantTrue || op == OpSpecConstantTrue}, {}};
          if (op == OpSpecConstantTrue || op == OpSpecConstantFalse) spec_consts.push_back(a);
          break;
        case OpConstant:
        case OpSpecConstant: {
          need(3);
          uint64_t v = a[2];
          if (na >= 4) v |= uint64_t{a[3]} << 32;
          consts_[a[1]] = {op, a[0], v, {}};
          if (op == OpSpecConstant) spec_consts.push_back(a);
          break;
        }
        case OpConstantNull: need(2); consts_[a[1]] = {op, a[0], 0, {}}; break;
        case OpConstantComposite:
        case OpSpecConstantComposite:
          need(2);
          consts_[a[1]] = {op, a[0], 0, std::vector<uint32_t>(a + 2, a + na)};
          break;
        case OpSpecConstantOp:
          need(3);
          consts_[a[1]] = {op, a[0], 0, std::vector<uint32_t>(a + 2, a + na)};
          break;
        case OpVariable:
          need(3);
          if (a[2] == StorageWorkgroup) workgroup_vars_.push_back(a[0]);
          break;
        default: break;
      }
      i += n;
    }
    // Specialization (SPIR-V 2.12): SpecId'd constants take the application's values.
    for (const uint32_t* a : spec_consts) {
      auto id = spec_id_.find(a[1]);
      if (id == spec_id_.end()) continue;
      auto v = spec_.find(id->second);
      if (v == spec_.end()) continue;
      Constant& c = consts_[a[1]];
      if (c.op == OpSpecConstantTrue || c.op == OpSpecConstantFalse) c.value = v->second != 0;
      else c.value = v->second;
    }
    for (uint32_t ptr : workgroup_vars_)
      if (type(ptr).op != OpTypePointer) fail("Workgroup variable whose type is not a pointer");
  }

  const std::map<uint32_t, uint32_t>& spec_;
  std::vector<uint32_t> caps_;
  uint32_t local_size_[3] = {1, 1, 1};
  bool local_size_id_ = false;
  uint32_t local_size_ids_[3] = {};
  uint32_t wg_builtin_ = 0;
  std::unordered_map<uint32_t, uint32_t> spec_id_;  // constant id -> SpecId
  std::unordered_map<uint32_t, Type> types_;
  std::unordered_map<uint32_t, Constant> consts_;
  std::vector<uint32_t> workgroup_vars_;  // pointer type of each Workgroup variable
};
}  // namespace

SpirvInfo reflect_spirv(std::span<const uint32_t> words, const std::map<uint32_t, uint32_t>& spec) {
  return Module(words, spec).reflect();
}

SpirvInfo reflect_spirv(std::span<const uint32_t> words, std::span<const uint32_t> spec) {
  std::map<uint32_t, uint32_t> m;
  for (uint32_t i = 0; i < spec.size(); ++i) m[i] = spec[i];
  return reflect_spirv(words, m);
}

} // namespace vkg
