// GGUF v2/v3 reader: a read-only memory map (or a caller's byte span) validated in full at open.
//
// Everything the header claims is checked against the bytes before it is used: every length and
// count against the bytes that remain, every tensor against the data section, the other tensors and
// the alignment. After open() succeeds, every accessor only touches validated bytes. Each defect
// raises GgufError whose message names the file, the byte offset and the key or tensor involved.
//
//   vkg::GgufFile f = vkg::GgufFile::open("model.gguf");
//   uint32_t n_layer = f.get_u32("gemma4.block_count");
//   const vkg::GgufTensorInfo& t = f.tensor("token_embd.weight");   // t.data -> t.n_bytes bytes
//
// Layout (all little-endian): "GGUF", version u32, n_tensors u64, n_kv u64, n_kv x {key string,
// type u32, value}, n_tensors x {name string, n_dims u32, ne u64[n_dims], type u32, offset u64},
// padding to general.alignment (default 32), data. string = u64 length + bytes (no NUL);
// array = element type u32 + count u64 + elements.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <string_view>
#include <map>
#include <vector>
#include "ggml_type.h"
#include "error.h"

namespace vkg {

/// A malformed or unsupported GGUF file, or a metadata lookup that does not match the file.
class GgufError : public Error {
 public:
  explicit GgufError(const std::string& what) : Error(ErrorCode::bad_model, what) {}
};

/// GGUF metadata value types (ids as stored in the file).
enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};
/// "u32", "string", "array"... ("type#N" for ids outside the enum).
std::string gguf_type_name(GgufType t);

/// The GGUF value type of a C++ scalar (uint8_t..int64_t, float, double, bool).
template <class T> constexpr GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufType::U8;
  else if constexpr (std::is_same_v<T, int8_t>) return GgufType::I8;
  else if constexpr (std::is_same_v<T, uint16_t>) return GgufType::U16;
  else if constexpr (std::is_same_v<T, int16_t>) return GgufType::I16;
  else if constexpr (std::is_same_v<T, uint32_t>) return GgufType::U32;
  else if constexpr (std::is_same_v<T, int32_t>) return GgufType::I32;
  else if constexpr (std::is_same_v<T, uint64_t>) return GgufType::U64;
  else if constexpr (std::is_same_v<T, int64_t>) return GgufType::I64;
  else if constexpr (std::is_same_v<T, float>) return GgufType::F32;
  else if constexpr (std::is_same_v<T, double>) return GgufType::F64;
  else if constexpr (std::is_same_v<T, bool>) return GgufType::Bool;
  else static_assert(sizeof(T) == 0, "not a GGUF scalar type");
}
/// Bytes of one scalar of type t (0 for String and Array).
size_t gguf_type_size(GgufType t);

inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr size_t kGgufMaxDims = 4;

/// One metadata entry. Values stay in the mapping; the typed getters of GgufFile decode them.
struct GgufKv {
  std::string key;
  GgufType type = GgufType::U8;       // Array for arrays
  GgufType elem_type = GgufType::U8;  // arrays: element type; scalars: == type
  uint64_t count = 1;                 // arrays: number of elements; scalars: 1
  uint64_t entry_offset = 0;          // file offset of the entry (its key length field)
  uint64_t value_offset = 0;          // file offset of the value (arrays: of the first element)
  uint64_t value_bytes = 0;           // bytes of the value (arrays: of all elements)
  bool is_array() const { return type == GgufType::Array; }
};

/// One tensor info entry, validated against the data section.
struct GgufTensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  std::array<uint64_t, kGgufMaxDims> ne{1, 1, 1, 1};  // ne[0] = contiguous row length; unused = 1
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;        // relative to the data section (as stored)
  uint64_t n_bytes = 0;       // bytes of data
  uint64_t n_elements = 0;    // ne[0] * ne[1] * ne[2] * ne[3]
  uint64_t info_offset = 0;   // file offset of this tensor info entry
  const uint8_t* data = nullptr;  // into the mapping; n_bytes long
  uint64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
  std::span<const uint8_t> bytes() const { return {data, static_cast<size_t>(n_bytes)}; }
};

/// "[1536, 262144]" (ne0 first, n_dims entries).
std::string gguf_shape_string(const GgufTensorInfo& t);

/// A validated GGUF file. Move-only; tensor data pointers stay valid while it lives (also across
/// moves: the mapping and the tensor table move with it).
class GgufFile {
 public:
  /// Memory-map path read-only and validate it. Throws GgufError.
  static GgufFile open(const std::filesystem::path& path);
  /// Validate bytes the caller owns and keeps alive and unchanged while the GgufFile lives.
  /// source names the bytes in error messages.
  static GgufFile open_memory(std::span<const uint8_t> bytes, std::string source = "<memory>");
  /// Same, taking ownership of the bytes.
  static GgufFile open_memory(std::vector<uint8_t> bytes, std::string source = "<memory>");

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& source() const { return source_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }      // general.alignment, default 32
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  uint64_t file_size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  /// Tell the kernel this process no longer needs the mapped pages of [p, p + n) (they were
  /// copied to the device): they leave the process's RSS and are re-read from the page cache or
  /// the file if touched again. No-op for in-memory files.
  void release_pages(const uint8_t* p, uint64_t n) const;

  // --- metadata -------------------------------------------------------------------------------
  const std::vector<GgufKv>& kvs() const { return kvs_; }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const GgufKv* find(std::string_view key) const;  // nullptr when absent
  const GgufKv& kv(std::string_view key) const;    // throws GgufError "key 'k' not found"

  // Strict scalar getters: the key must exist with exactly this type.
  uint8_t get_u8(std::string_view key) const;
  uint16_t get_u16(std::string_view key) const;
  uint32_t get_u32(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  int8_t get_i8(std::string_view key) const;
  int16_t get_i16(std::string_view key) const;
  int32_t get_i32(std::string_view key) const;
  int64_t get_i64(std::string_view key) const;
  float get_f32(std::string_view key) const;
  double get_f64(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  std::string_view get_string_view(std::string_view key) const;  // into the mapping

  // Lenient getters: any integer type whose value fits / any float type.
  uint64_t get_uint(std::string_view key) const;  // negative values throw
  int64_t get_int(std::string_view key) const;    // u64 values above INT64_MAX throw
  double get_float(std::string_view key) const;   // f32 or f64

  // Arrays. T is one of uint8_t..int64_t, float, double, bool; element type must match exactly.
  template <class T> std::vector<T> get_array(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<uint64_t> get_uint_array(std::string_view key) const;  // any integer type, >= 0
  std::vector<int64_t> get_int_array(std::string_view key) const;    // any integer type that fits
  uint64_t array_size(std::string_view key) const;                   // key must be an array

  // --- tensors --------------------------------------------------------------------------------
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;  // nullptr when absent
  const GgufTensorInfo& tensor(std::string_view name) const;       // throws GgufError

 private:
  struct Storage;
  GgufFile();
  void parse();
  [[noreturn]] void fail_kv(const GgufKv& kv, const std::string& what) const;
  const GgufKv& kv_typed(std::string_view key, GgufType want) const;
  template <class T> T scalar(std::string_view key, GgufType want) const;

  std::unique_ptr<Storage> storage_;  // mapping or owned bytes
  std::span<const uint8_t> bytes_;
  std::string source_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> kv_index_;      // key -> index into kvs_
  std::map<std::string, size_t, std::less<>> tensor_index_;  // name -> index into tensors_
};

}  // namespace vkg
