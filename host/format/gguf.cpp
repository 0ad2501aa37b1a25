#include "gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>
#include <fmt/format.h>

static_assert(std::endian::native == std::endian::little, "GGUF is little-endian; so must the host be");

namespace vkg {

// ------------------------------------------------------------------------------------------------
// Storage: a read-only mapping or owned bytes.

struct GgufFile::Storage {
  void* map = nullptr;
  size_t map_size = 0;
  std::vector<uint8_t> owned;
  ~Storage() {
    if (map) munmap(map, map_size);
  }
};

GgufFile::GgufFile() = default;
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

std::string gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return fmt::format("type#{}", static_cast<uint32_t>(t));
}

size_t gguf_type_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::String: case GgufType::Array: return 0;
  }
  return 0;
}

std::string gguf_shape_string(const GgufTensorInfo& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims && d < kGgufMaxDims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

namespace {

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::F64); }

// Bounds-checked little-endian cursor over the file. `ctx` names the entry being read ("KV #3
// 'general.name'"); each read names the field, so an error says what, where and why.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> b, const std::string& src) : b_(b), src_(src) {}
  std::string ctx;
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return b_.size() - pos_; }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      throw GgufError(fmt::format("{}: truncated {} {}: need {} bytes at byte {} but only {} remain (file is {} bytes)",
                                  src_, ctx, what, n, pos_, remaining(), b_.size()));
  }
  template <class T> T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  // A GGUF string: u64 length, then that many bytes.
  std::string_view string(const char* what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining())
      throw GgufError(fmt::format("{}: {} {}: string length {} at byte {} runs past the end of the file ({} bytes remain)",
                                  src_, ctx, what, len, at, remaining()));
    std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  // A scalar of type t (not string/array); a bool must be 0 or 1.
  void scalar(GgufType t, const char* what) {
    const uint64_t at = pos_;
    if (t != GgufType::Bool) return skip(gguf_type_size(t), what);
    const uint8_t v = read<uint8_t>(what);
    if (v > 1)
      throw GgufError(fmt::format("{}: {} {} at byte {}: invalid bool value {} (must be 0 or 1)", src_, ctx, what, at, v));
  }

 private:
  std::span<const uint8_t> b_;
  const std::string& src_;
  uint64_t pos_ = 0;
};


bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

// Decode one integer element at p as a 128-bit-safe pair (negative flag, magnitude).
struct IntValue { bool negative; uint64_t magnitude; int64_t as_signed; };
IntValue decode_int(GgufType t, const uint8_t* p) {
  auto get = [p](auto v) { std::memcpy(&v, p, sizeof(v)); return v; };
  int64_t s = 0;
  switch (t) {
    case GgufType::U8: return {false, get(uint8_t{}), get(uint8_t{})};
    case GgufType::U16: return {false, get(uint16_t{}), get(uint16_t{})};
    case GgufType::U32: return {false, get(uint32_t{}), get(uint32_t{})};
    case GgufType::U64: { uint64_t u = get(uint64_t{}); return {false, u, static_cast<int64_t>(u)}; }
    case GgufType::I8: s = get(int8_t{}); break;
    case GgufType::I16: s = get(int16_t{}); break;
    case GgufType::I32: s = get(int32_t{}); break;
    case GgufType::I64: s = get(int64_t{}); break;
    default: break;
  }
  return {s < 0, s < 0 ? 0 : static_cast<uint64_t>(s), s};
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Opening.

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile f;
  f.source_ = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw GgufError(fmt::format("{}: cannot open: {}", f.source_, std::strerror(errno)));
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw GgufError(fmt::format("{}: cannot stat: {}", f.source_, std::strerror(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw GgufError(fmt::format("{}: not a regular file", f.source_));
  }
  f.storage_ = std::make_unique<Storage>();
  const size_t size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      throw GgufError(fmt::format("{}: cannot mmap {} bytes: {}", f.source_, size, std::strerror(e)));
    }
    f.storage_->map = m;
    f.storage_->map_size = size;
    f.bytes_ = {static_cast<const uint8_t*>(m), size};
  }
  ::close(fd);  // the mapping keeps the file referenced
  f.parse();
  return f;
}

GgufFile GgufFile::open_memory(std::span<const uint8_t> bytes, std::string source) {
  GgufFile f;
  f.source_ = std::move(source);
  f.bytes_ = bytes;
  f.parse();
  return f;
}

GgufFile GgufFile::open_memory(std::vector<uint8_t> bytes, std::string source) {
  GgufFile f;
  f.source_ = std::move(source);
  f.storage_ = std::make_unique<Storage>();
  f.storage_->owned = std::move(bytes);
  f.bytes_ = f.storage_->owned;
  f.parse();
  return f;
}

// ------------------------------------------------------------------------------------------------
// Validation: header, KVs, tensor infos, data section.

void GgufFile::parse() {
  const std::string& src = source_;
  Cursor c(bytes_, src);
  constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;
  if (bytes_.empty()) throw GgufError(fmt::format("{}: file is empty (0 bytes): not a GGUF file", src));
  if (bytes_.size() < 4 || std::memcmp(bytes_.data(), "GGUF", 4) != 0) {
    std::string hex;
    for (size_t i = 0; i < std::min<size_t>(4, bytes_.size()); ++i) hex += fmt::format("{:02x}", bytes_[i]);
    throw GgufError(fmt::format("{}: bad magic 0x{} at byte 0 (expected \"GGUF\" = 0x47475546): not a GGUF file", src, hex));
  }
  if (bytes_.size() < kHeaderBytes)
    throw GgufError(fmt::format("{}: truncated header: the GGUF header needs {} bytes, the file has {}", src,
                                kHeaderBytes, bytes_.size()));
  c.ctx = "header";
  c.skip(4, "magic");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    const uint32_t swapped = __builtin_bswap32(version_);
    if (swapped == 2 || swapped == 3)
      throw GgufError(fmt::format("{}: big-endian GGUF (version field {:#x} at byte 4) is not supported", src, version_));
    throw GgufError(fmt::format("{}: unsupported GGUF version {} at byte 4 (supported: 2, 3{})", src, version_,
                                version_ == 1 ? "; version 1 is obsolete" : ""));
  }
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("KV count");
  // Every KV takes >= 13 bytes (key length, type, one byte of value), every tensor info >= 32
  // (name length, n_dims, one ne, type, offset): bound the counts before anything is reserved.
  if (n_kv > c.remaining() / 13)
    throw GgufError(fmt::format("{}: truncated KV section: KV count {} at byte 16 cannot fit in the {} bytes after "
                                "the header (truncated file or corrupt count)", src, n_kv, c.remaining()));
  if (n_tensors > c.remaining() / 32)
    throw GgufError(fmt::format("{}: truncated tensor table: tensor count {} at byte 8 cannot fit in the {} bytes "
                                "after the header (truncated file or corrupt count)", src, n_tensors, c.remaining()));

  // --- KVs
  kvs_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    GgufKv kv;
    kv.entry_offset = c.pos();
    c.ctx = fmt::format("KV #{}", i);
    kv.key = std::string(c.string("key"));
    c.ctx = fmt::format("KV #{} '{}'", i, kv.key);
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>("value type");
    if (!valid_value_type(type))
      throw GgufError(fmt::format("{}: key '{}' at byte {}: unknown value type {}", src, kv.key, type_at, type));
    kv.type = kv.elem_type = static_cast<GgufType>(type);
    if (kv.type == GgufType::Array) {
      const uint64_t et_at = c.pos();
      const uint32_t et = c.read<uint32_t>("array element type");
      if (!valid_value_type(et))
        throw GgufError(fmt::format("{}: key '{}' at byte {}: unknown array element type {}", src, kv.key, et_at, et));
      if (static_cast<GgufType>(et) == GgufType::Array)
        throw GgufError(fmt::format("{}: key '{}' at byte {}: nested arrays are not supported", src, kv.key, et_at));
      kv.elem_type = static_cast<GgufType>(et);
      const uint64_t count_at = c.pos();
      kv.count = c.read<uint64_t>("array count");
      kv.value_offset = c.pos();
      // Strings take >= 8 bytes each (their length), other elements their size.
      const uint64_t min_elem = kv.elem_type == GgufType::String ? 8 : gguf_type_size(kv.elem_type);
      if (kv.count > c.remaining() / min_elem)
        throw GgufError(fmt::format("{}: key '{}': array length {} at byte {} ({}) runs past the end of the file "
                                    "({} bytes remain)", src, kv.key, kv.count, count_at,
                                    gguf_type_name(kv.elem_type), c.remaining()));
      if (kv.elem_type == GgufType::String) {
        for (uint64_t j = 0; j < kv.count; ++j) c.string("array element");
      } else if (kv.elem_type == GgufType::Bool) {
        for (uint64_t j = 0; j < kv.count; ++j) c.scalar(GgufType::Bool, "array element");
      } else {
        c.skip(kv.count * min_elem, "array data");  // no overflow: bounded by the check above
      }
    } else {
      kv.value_offset = c.pos();
      if (kv.type == GgufType::String) c.string("string value");
      else c.scalar(kv.type, "value");
    }
    kv.value_bytes = c.pos() - kv.value_offset;
    if (auto it = kv_index_.find(kv.key); it != kv_index_.end())
      throw GgufError(fmt::format("{}: duplicate key '{}' at byte {} (first defined at byte {})", src, kv.key,
                                  kv.entry_offset, kvs_[it->second].entry_offset));
    kv_index_.emplace(kv.key, kvs_.size());
    kvs_.push_back(std::move(kv));
  }

  if (const GgufKv* a = find("general.alignment")) {
    if (a->type != GgufType::U32)
      fail_kv(*a, fmt::format("has type {}, expected u32", gguf_type_name(a->type)));
    const uint32_t v = get_u32("general.alignment");
    if (v == 0 || !std::has_single_bit(v)) fail_kv(*a, fmt::format("alignment {} is not a power of two", v));
    alignment_ = v;
  }

  // --- tensor infos
  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.info_offset = c.pos();
    c.ctx = fmt::format("tensor info #{}", i);
    t.name = std::string(c.string("name"));
    c.ctx = fmt::format("tensor info #{} '{}'", i, t.name);
    const uint64_t dims_at = c.pos();
    t.n_dims = c.read<uint32_t>("n_dims");
    if (t.n_dims == 0 || t.n_dims > kGgufMaxDims)
      throw GgufError(fmt::format("{}: tensor '{}' at byte {}: n_dims {} is out of range (1..{})", src, t.name,
                                  dims_at, t.n_dims, kGgufMaxDims));
    for (uint32_t d = 0; d < t.n_dims; ++d) t.ne[d] = c.read<uint64_t>("ne");
    const uint64_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>("type");
    const uint64_t offset_at = c.pos();
    t.offset = c.read<uint64_t>("offset");
    const auto info = ggml_type_info(type);
    if (!info)
      throw GgufError(fmt::format("{}: tensor '{}' at byte {}: unknown ggml type {}", src, t.name, type_at, type));
    t.type = info->type;
    for (uint32_t d = 0; d < t.n_dims; ++d)
      if (t.ne[d] == 0)
        throw GgufError(fmt::format("{}: tensor '{}' at byte {}: dimension {} is 0 (shape {})", src, t.name,
                                    dims_at + 4 + 8 * d, d, gguf_shape_string(t)));
    uint64_t n = 1;
    for (uint32_t d = 0; d < kGgufMaxDims; ++d)
      if (__builtin_mul_overflow(n, t.ne[d], &n) || n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw GgufError(fmt::format("{}: tensor '{}' at byte {}: element count of shape {} overflows int64", src,
                                    t.name, dims_at, gguf_shape_string(t)));
    t.n_elements = n;
    if (t.ne[0] % info->block_elems != 0)
      throw GgufError(fmt::format("{}: tensor '{}': row length ne[0] = {} is not a multiple of the {} block size {}",
                                  src, t.name, t.ne[0], info->name, info->block_elems));
    const uint64_t row_bytes = t.ne[0] / info->block_elems * info->block_bytes;
    if (__builtin_mul_overflow(row_bytes, t.n_rows(), &t.n_bytes))
      throw GgufError(fmt::format("{}: tensor '{}': byte size of shape {} ({}) overflows", src, t.name,
                                  gguf_shape_string(t), info->name));
    if (t.offset % alignment_ != 0)
      throw GgufError(fmt::format("{}: tensor '{}': data offset {} (at byte {}) is misaligned: not a multiple of "
                                  "the alignment {}", src, t.name, t.offset, offset_at, alignment_));
    if (auto it = tensor_index_.find(t.name); it != tensor_index_.end())
      throw GgufError(fmt::format("{}: duplicate tensor name '{}' at byte {} (first at byte {})", src, t.name,
                                  t.info_offset, tensors_[it->second].info_offset));
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // --- data section
  const uint64_t header_end = c.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t size = bytes_.size();
  if (!tensors_.empty() && data_offset_ >= size)
    throw GgufError(fmt::format("{}: truncated data: the tensor data section should start at byte {} but the file "
                                "has only {} bytes", src, data_offset_, size));
  const uint64_t data_size = data_offset_ <= size ? size - data_offset_ : 0;
  for (auto& t : tensors_) {
    if (t.offset >= data_size)
      throw GgufError(fmt::format("{}: tensor '{}': data offset {} is out of bounds (the data section at byte {} holds {} bytes)",
                                  src, t.name, t.offset, data_offset_, data_size));
    if (t.n_bytes > data_size - t.offset)
      throw GgufError(fmt::format("{}: tensor '{}': truncated data: needs file bytes [{}, {}) but the file ends at byte {}",
                                  src, t.name, data_offset_ + t.offset, data_offset_ + t.offset + t.n_bytes, size));
    t.data = bytes_.data() + data_offset_ + t.offset;
  }
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const auto& a = tensors_[order[k - 1]];
    const auto& b = tensors_[order[k]];
    if (a.offset + a.n_bytes > b.offset)
      throw GgufError(fmt::format("{}: tensor '{}' data [{}, {}) overlaps tensor '{}' data [{}, {}) (data-relative offsets)",
                                  src, b.name, b.offset, b.offset + b.n_bytes, a.name, a.offset, a.offset + a.n_bytes));
  }
}

// ------------------------------------------------------------------------------------------------
// Metadata accessors.

void GgufFile::fail_kv(const GgufKv& kv, const std::string& what) const {
  throw GgufError(fmt::format("{}: key '{}' (at byte {}) {}", source_, kv.key, kv.entry_offset, what));
}

const GgufKv* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second];
}

const GgufKv& GgufFile::kv(std::string_view key) const {
  if (const GgufKv* kv = find(key)) return *kv;
  throw GgufError(fmt::format("{}: key '{}' not found", source_, key));
}

const GgufKv& GgufFile::kv_typed(std::string_view key, GgufType want) const {
  const GgufKv& k = kv(key);
  if (k.type != want)
    fail_kv(k, fmt::format("has type {}{}, expected {}", gguf_type_name(k.type),
                           k.is_array() ? " of " + gguf_type_name(k.elem_type) : "", gguf_type_name(want)));
  return k;
}

template <class T> T GgufFile::scalar(std::string_view key, GgufType want) const {
  const GgufKv& k = kv_typed(key, want);
  T v;
  std::memcpy(&v, bytes_.data() + k.value_offset, sizeof(T));
  return v;
}

uint8_t GgufFile::get_u8(std::string_view k) const { return scalar<uint8_t>(k, GgufType::U8); }
uint16_t GgufFile::get_u16(std::string_view k) const { return scalar<uint16_t>(k, GgufType::U16); }
uint32_t GgufFile::get_u32(std::string_view k) const { return scalar<uint32_t>(k, GgufType::U32); }
uint64_t GgufFile::get_u64(std::string_view k) const { return scalar<uint64_t>(k, GgufType::U64); }
int8_t GgufFile::get_i8(std::string_view k) const { return scalar<int8_t>(k, GgufType::I8); }
int16_t GgufFile::get_i16(std::string_view k) const { return scalar<int16_t>(k, GgufType::I16); }
int32_t GgufFile::get_i32(std::string_view k) const { return scalar<int32_t>(k, GgufType::I32); }
int64_t GgufFile::get_i64(std::string_view k) const { return scalar<int64_t>(k, GgufType::I64); }
float GgufFile::get_f32(std::string_view k) const { return scalar<float>(k, GgufType::F32); }
double GgufFile::get_f64(std::string_view k) const { return scalar<double>(k, GgufType::F64); }
bool GgufFile::get_bool(std::string_view k) const { return scalar<uint8_t>(k, GgufType::Bool) != 0; }

std::string_view GgufFile::get_string_view(std::string_view key) const {
  const GgufKv& k = kv_typed(key, GgufType::String);
  return {reinterpret_cast<const char*>(bytes_.data() + k.value_offset + 8), static_cast<size_t>(k.value_bytes - 8)};
}
std::string GgufFile::get_string(std::string_view key) const { return std::string(get_string_view(key)); }

uint64_t GgufFile::get_uint(std::string_view key) const {
  const GgufKv& k = kv(key);
  if (!is_integer(k.type)) fail_kv(k, fmt::format("has type {}, expected an integer", gguf_type_name(k.type)));
  const IntValue v = decode_int(k.type, bytes_.data() + k.value_offset);
  if (v.negative) fail_kv(k, fmt::format("has negative value {}, expected >= 0", v.as_signed));
  return v.magnitude;
}

int64_t GgufFile::get_int(std::string_view key) const {
  const GgufKv& k = kv(key);
  if (!is_integer(k.type)) fail_kv(k, fmt::format("has type {}, expected an integer", gguf_type_name(k.type)));
  const IntValue v = decode_int(k.type, bytes_.data() + k.value_offset);
  if (!v.negative && v.magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail_kv(k, fmt::format("value {} does not fit in int64", v.magnitude));
  return v.as_signed;
}

double GgufFile::get_float(std::string_view key) const {
  const GgufKv& k = kv(key);
  if (k.type == GgufType::F32) return get_f32(key);
  if (k.type == GgufType::F64) return get_f64(key);
  fail_kv(k, fmt::format("has type {}, expected f32 or f64", gguf_type_name(k.type)));
}

uint64_t GgufFile::array_size(std::string_view key) const { return kv_typed(key, GgufType::Array).count; }

template <class T> std::vector<T> GgufFile::get_array(std::string_view key) const {
  const GgufKv& k = kv_typed(key, GgufType::Array);
  constexpr GgufType want = gguf_type_of<T>();
  if (k.elem_type != want)
    fail_kv(k, fmt::format("is an array of {}, expected an array of {}", gguf_type_name(k.elem_type), gguf_type_name(want)));
  std::vector<T> out(static_cast<size_t>(k.count));
  const uint8_t* p = bytes_.data() + k.value_offset;
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = p[i] != 0;
  } else if (!out.empty()) {
    std::memcpy(out.data(), p, out.size() * sizeof(T));
  }
  return out;
}

template std::vector<uint8_t> GgufFile::get_array<uint8_t>(std::string_view) const;
template std::vector<int8_t> GgufFile::get_array<int8_t>(std::string_view) const;
template std::vector<uint16_t> GgufFile::get_array<uint16_t>(std::string_view) const;
template std::vector<int16_t> GgufFile::get_array<int16_t>(std::string_view) const;
template std::vector<uint32_t> GgufFile::get_array<uint32_t>(std::string_view) const;
template std::vector<int32_t> GgufFile::get_array<int32_t>(std::string_view) const;
template std::vector<uint64_t> GgufFile::get_array<uint64_t>(std::string_view) const;
template std::vector<int64_t> GgufFile::get_array<int64_t>(std::string_view) const;
template std::vector<float> GgufFile::get_array<float>(std::string_view) const;
template std::vector<double> GgufFile::get_array<double>(std::string_view) const;
template std::vector<bool> GgufFile::get_array<bool>(std::string_view) const;

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const GgufKv& k = kv_typed(key, GgufType::Array);
  if (k.elem_type != GgufType::String)
    fail_kv(k, fmt::format("is an array of {}, expected an array of string", gguf_type_name(k.elem_type)));
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(k.count));
  const uint8_t* p = bytes_.data() + k.value_offset;  // validated at open: every length fits
  for (uint64_t i = 0; i < k.count; ++i) {
    uint64_t len;
    std::memcpy(&len, p, 8);
    out.emplace_back(reinterpret_cast<const char*>(p + 8), static_cast<size_t>(len));
    p += 8 + len;
  }
  return out;
}

std::vector<uint64_t> GgufFile::get_uint_array(std::string_view key) const {
  const GgufKv& k = kv_typed(key, GgufType::Array);
  if (!is_integer(k.elem_type))
    fail_kv(k, fmt::format("is an array of {}, expected an array of integers", gguf_type_name(k.elem_type)));
  const size_t es = gguf_type_size(k.elem_type);
  std::vector<uint64_t> out(static_cast<size_t>(k.count));
  for (size_t i = 0; i < out.size(); ++i) {
    const IntValue v = decode_int(k.elem_type, bytes_.data() + k.value_offset + i * es);
    if (v.negative) fail_kv(k, fmt::format("element {} has negative value {}, expected >= 0", i, v.as_signed));
    out[i] = v.magnitude;
  }
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const GgufKv& k = kv_typed(key, GgufType::Array);
  if (!is_integer(k.elem_type))
    fail_kv(k, fmt::format("is an array of {}, expected an array of integers", gguf_type_name(k.elem_type)));
  const size_t es = gguf_type_size(k.elem_type);
  std::vector<int64_t> out(static_cast<size_t>(k.count));
  for (size_t i = 0; i < out.size(); ++i) {
    const IntValue v = decode_int(k.elem_type, bytes_.data() + k.value_offset + i * es);
    if (!v.negative && v.magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail_kv(k, fmt::format("element {} value {} does not fit in int64", i, v.magnitude));
    out[i] = v.as_signed;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Tensors.

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view name) const {
  if (const GgufTensorInfo* t = find_tensor(name)) return *t;
  throw GgufError(fmt::format("{}: tensor '{}' not found", source_, name));
}

void GgufFile::release_pages(const uint8_t* p, uint64_t n) const {
  if (!storage_ || !storage_->map || n == 0) return;
  const auto* base = static_cast<const uint8_t*>(storage_->map);
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t lo = static_cast<uint64_t>(p - base), hi = lo + n;
  if (p < base || hi > storage_->map_size) return;
  lo = (lo + page - 1) / page * page;  // whole pages inside the range only
  hi = hi / page * page;
  if (hi > lo) madvise(const_cast<uint8_t*>(base) + lo, hi - lo, MADV_DONTNEED);
}

}  // namespace vkg
