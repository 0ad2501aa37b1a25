// GGUF v3 writer that streams tensor data: declare every KV and tensor first, then begin() writes
// the header and tensor table, then the tensors' bytes follow in declaration order through
// write() calls (any chunking), so a multi-GB model never sits in memory.
//
//   vkg::GgufWriter w;
//   w.add_string("general.architecture", "gemma4");
//   w.add_u32("gemma4.block_count", 35);
//   w.add_tensor("token_embd.weight", vkg::GgmlType::Q8_0, {1536, 262144});
//   w.begin("model.gguf");
//   w.write(chunk.data(), chunk.size());   // ... until token_embd's bytes are complete
//   w.finish();
//
// Output follows the GGUF spec exactly (as llama.cpp's gguf.cpp and gguf-py read it): strings are
// u64 length + bytes; arrays are element type u32 + count u64 + items; tensor infos are name,
// n_dims u32, ne u64[n_dims], type u32, offset u64 relative to the data section; the data
// section starts at the header end rounded up to general.alignment and every tensor (the last
// one too) is zero-padded to the alignment. Errors (misuse, I/O) throw GgufError.
#pragma once
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include "gguf.h"

namespace vkg {

class GgufWriter {
 public:
  /// A declared tensor; offset is relative to the data section.
  struct Tensor {
    std::string name;
    GgmlType type = GgmlType::F32;
    uint32_t n_dims = 0;
    std::array<uint64_t, kGgufMaxDims> ne{1, 1, 1, 1};
    uint64_t n_bytes = 0;
    uint64_t offset = 0;
  };

  GgufWriter() = default;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;
  /// An unfinished file output is closed and deleted.
  ~GgufWriter();

  // --- metadata, written in declaration order. Duplicate keys throw. ---------------------------
  void add_u8(std::string_view key, uint8_t v);
  void add_i8(std::string_view key, int8_t v);
  void add_u16(std::string_view key, uint16_t v);
  void add_i16(std::string_view key, int16_t v);
  /// "general.alignment" also sets the data alignment (a power of two; default 32).
  void add_u32(std::string_view key, uint32_t v);
  void add_i32(std::string_view key, int32_t v);
  void add_u64(std::string_view key, uint64_t v);
  void add_i64(std::string_view key, int64_t v);
  void add_f32(std::string_view key, float v);
  void add_f64(std::string_view key, double v);
  void add_bool(std::string_view key, bool v);
  void add_string(std::string_view key, std::string_view v);
  /// Arrays of a numeric type T (uint8_t..int64_t, float, double).
  template <class T> void add_array(std::string_view key, std::span<const T> v);
  template <class T> void add_array(std::string_view key, const std::vector<T>& v) {
    add_array(key, std::span<const T>(v));
  }
  void add_bool_array(std::string_view key, const std::vector<bool>& v);
  void add_string_array(std::string_view key, std::span<const std::string> v);
  bool has_key(std::string_view key) const { return keys_.count(std::string(key)) != 0; }

  // --- tensors ----------------------------------------------------------------------------------
  /// Declare a tensor (ne[0] first, 1..4 dims, each > 0, ne[0] a multiple of the type's block).
  /// Names must be unique and shorter than 64 bytes (ggml's limit). Returns its index.
  size_t add_tensor(std::string_view name, GgmlType type, std::span<const uint64_t> ne);
  size_t add_tensor(std::string_view name, GgmlType type, std::initializer_list<uint64_t> ne) {
    return add_tensor(name, type, std::span<const uint64_t>(ne.begin(), ne.size()));
  }
  const std::vector<Tensor>& tensors() const { return tensors_; }
  uint32_t alignment() const { return alignment_; }
  /// Byte counts of the layout (valid after the last add_*): header + tensor table + padding
  /// (= the data section offset), and the whole file.
  uint64_t data_offset() const;
  uint64_t file_size() const;
  /// The first data_offset() bytes of the file (header, KVs, tensor table, padding) as begin()
  /// would write them, without starting output; declarations stay open. Lets a caller lay out a
  /// file whose data it writes some other way (e.g. a sparse all-zero data section).
  std::vector<uint8_t> header_bytes() const;

  // --- streaming output -------------------------------------------------------------------------
  /// Write the header, KVs and tensor table to path (or to out) and start the data section.
  void begin(const std::filesystem::path& path);
  void begin(std::vector<uint8_t>& out);
  /// Append n bytes of tensor data: fills the current tensor, then the next (in declaration
  /// order); the alignment padding is written automatically. Writing past the last tensor throws.
  void write(const void* data, size_t n);
  /// Write one whole tensor; name must be the next tensor and data exactly its size.
  void write_tensor(std::string_view name, std::span<const uint8_t> data);
  /// Index of the tensor the next write() fills (tensors().size() when all are complete).
  size_t current_tensor() const { return cur_; }
  /// Check every tensor is complete, flush and close. Throws on missing data or I/O errors.
  void finish();

  /// begin(path), then fill(i, tensor, writer) for each tensor in order (it must write exactly
  /// tensor.n_bytes bytes through writer.write), then finish().
  void write_file(const std::filesystem::path& path,
                  const std::function<void(size_t, const Tensor&, GgufWriter&)>& fill);

 private:
  void check_open_for_decl(std::string_view what) const;
  void begin_kv(std::string_view key, GgufType type);
  void layout();
  void write_header();
  void emit(const void* data, size_t n);
  void pad_to(uint64_t alignment);
  template <class T> void put(T v) { kv_bytes_.insert(kv_bytes_.end(), reinterpret_cast<const uint8_t*>(&v),
                                                      reinterpret_cast<const uint8_t*>(&v) + sizeof(T)); }
  void put_string(std::string_view s);

  std::vector<uint8_t> kv_bytes_;  // serialized KVs, in order
  uint64_t n_kv_ = 0;
  std::set<std::string, std::less<>> keys_;
  std::vector<Tensor> tensors_;
  std::set<std::string, std::less<>> tensor_names_;
  uint32_t alignment_ = kGgufDefaultAlignment;

  // output state
  enum class State { Declaring, Writing, Finished } state_ = State::Declaring;
  std::FILE* file_ = nullptr;
  std::filesystem::path path_;
  std::vector<uint8_t>* mem_ = nullptr;
  uint64_t written_ = 0;      // bytes emitted so far
  size_t cur_ = 0;            // tensor being filled
  uint64_t cur_done_ = 0;     // bytes of it written
};

}  // namespace vkg
