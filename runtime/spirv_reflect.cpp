#include "spirv_reflect.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace vkg {

bool SpirvInfo::has(uint32_t cap) const {
  return std::find(capabilities.begin(), capabilities.end(), cap) != capabilities.end();
}

namespace {
// Opcodes (SPIR-V spec, section 3.32).
enum : uint32_t {
  OpTypeInt = 21, OpTypeFloat = 22, OpTypeVector = 23, OpTypeArray = 28, OpTypeStruct = 30, OpTypePointer = 32,
  OpConstant = 43, OpSpecConstant = 50, OpSpecConstantComposite = 51, OpVariable = 59, OpDecorate = 71,
  OpCapability = 17, OpExecutionMode = 16, OpTypeBool = 20, OpSpecConstantOp = 52, OpConstantComposite = 44,
};
constexpr uint32_t DecorationSpecId = 1, DecorationBuiltIn = 11, BuiltInWorkgroupSize = 25, StorageWorkgroup = 4,
                   ExecutionModeLocalSize = 17;
}  // namespace

SpirvInfo reflect_spirv(std::span<const uint32_t> w, std::span<const uint32_t> spec) {
  if (w.size() < 5 || w[0] != 0x07230203) throw std::runtime_error("not a SPIR-V module (bad magic)");
  SpirvInfo info;
  std::map<uint32_t, uint32_t> spec_id;           // result id -> SpecId
  std::map<uint32_t, uint64_t> value;             // constant result id -> value
  std::map<uint32_t, uint64_t> type_size;         // type id -> bytes
  std::map<uint32_t, uint32_t> pointee;           // pointer type id -> pointee type id (Workgroup only)
  std::map<uint32_t, std::vector<uint32_t>> composite;  // spec composite id -> constituents
  uint32_t wg_builtin = 0;
  std::vector<std::pair<uint32_t, uint32_t>> workgroup_vars;  // (pointer type, result id)
  std::vector<uint32_t> unresolved_types;

  for (size_t i = 5; i < w.size();) {
    const uint32_t op = w[i] & 0xffff, n = w[i] >> 16;
    if (n == 0 || i + n > w.size()) throw std::runtime_error("malformed SPIR-V instruction stream");
    const uint32_t* a = &w[i + 1];
    switch (op) {
      case OpCapability: info.capabilities.push_back(a[0]); break;
      case OpExecutionMode:
        if (a[1] == ExecutionModeLocalSize && n >= 6) {
          info.local_size[0] = a[2];
          info.local_size[1] = a[3];
          info.local_size[2] = a[4];
        }
        break;
      case OpDecorate:
        if (a[1] == DecorationSpecId && n >= 4) spec_id[a[0]] = a[2];
        if (a[1] == DecorationBuiltIn && n >= 4 && a[2] == BuiltInWorkgroupSize) wg_builtin = a[0];
        break;
      case OpTypeBool: type_size[a[0]] = 4; break;
      case OpTypeInt:
      case OpTypeFloat: type_size[a[0]] = a[1] / 8; break;
      case OpTypeVector:
        if (type_size.count(a[1])) type_size[a[0]] = type_size[a[1]] * a[2];
        break;
      case OpTypeArray:
        if (type_size.count(a[1]) && value.count(a[2])) type_size[a[0]] = type_size[a[1]] * value[a[2]];
        else unresolved_types.push_back(a[0]);
        break;
      case OpTypeStruct: {
        uint64_t s = 0;
        bool ok = true;
        for (uint32_t k = 1; k + 1 < n; ++k) {
          if (!type_size.count(a[k])) ok = false;
          else s += type_size[a[k]];
        }
        if (ok) type_size[a[0]] = s;
        else unresolved_types.push_back(a[0]);
        break;
      }
      case OpTypePointer:
        if (a[1] == StorageWorkgroup) pointee[a[0]] = a[2];
        break;
      case OpConstant: value[a[1]] = a[2]; break;
      case OpSpecConstant: {
        uint64_t v = a[2];
        auto it = spec_id.find(a[1]);
        if (it != spec_id.end() && it->second < spec.size()) v = spec[it->second];
        value[a[1]] = v;
        break;
      }
      case OpSpecConstantComposite:
      case OpConstantComposite:
        composite[a[1]] = std::vector<uint32_t>(a + 2, a + (n - 1));
        break;
      case OpVariable:
        if (pointee.count(a[0])) workgroup_vars.emplace_back(a[0], a[1]);
        break;
      default: break;
    }
    i += n;
  }
  if (wg_builtin && composite.count(wg_builtin)) {
    const auto& c = composite[wg_builtin];
    for (size_t k = 0; k < 3 && k < c.size(); ++k)
      if (value.count(c[k])) info.local_size[k] = static_cast<uint32_t>(value[c[k]]);
  }
  for (auto [ptr, id] : workgroup_vars) {
    auto it = type_size.find(pointee[ptr]);
    if (it == type_size.end()) info.shared_bytes_exact = false;
    else info.shared_bytes += it->second;
  }
  (void)unresolved_types;
  return info;
}

} // namespace vkg
