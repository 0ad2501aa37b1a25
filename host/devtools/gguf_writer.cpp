#include "gguf_writer.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace vkg {
namespace {
constexpr size_t kMaxTensorName = 63;  // ggml: GGML_MAX_NAME (64) includes the NUL
constexpr size_t kFileBuffer = 4 << 20;


uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
}  // namespace

GgufWriter::~GgufWriter() {
  if (file_) {
    std::fclose(file_);
    std::error_code ec;
    std::filesystem::remove(path_, ec);  // never leave a half-written model behind
  }
}

// ------------------------------------------------------------------------------------------------
// Declarations.

void GgufWriter::check_open_for_decl(std::string_view what) const {
  if (state_ != State::Declaring)
    throw GgufError(fmt::format("GgufWriter: cannot add {} after begin()", what));
}

void GgufWriter::begin_kv(std::string_view key, GgufType type) {
  check_open_for_decl(fmt::format("key '{}'", key));
  if (keys_.count(key)) throw GgufError(fmt::format("GgufWriter: duplicate key '{}'", key));
  if (key == "general.alignment" && type != GgufType::U32)
    throw GgufError("GgufWriter: general.alignment must be written with add_u32");
  keys_.emplace(key);
  put_string(key);
  put(static_cast<uint32_t>(type));
  ++n_kv_;
}

void GgufWriter::put_string(std::string_view s) {
  put(static_cast<uint64_t>(s.size()));
  kv_bytes_.insert(kv_bytes_.end(), s.begin(), s.end());
}

void GgufWriter::add_u8(std::string_view k, uint8_t v) { begin_kv(k, GgufType::U8); put(v); }
void GgufWriter::add_i8(std::string_view k, int8_t v) { begin_kv(k, GgufType::I8); put(v); }
void GgufWriter::add_u16(std::string_view k, uint16_t v) { begin_kv(k, GgufType::U16); put(v); }
void GgufWriter::add_i16(std::string_view k, int16_t v) { begin_kv(k, GgufType::I16); put(v); }
void GgufWriter::add_u32(std::string_view k, uint32_t v) {
  if (k == "general.alignment") {
    if (v == 0 || !std::has_single_bit(v))
      throw GgufError(fmt::format("GgufWriter: general.alignment {} is not a power of two", v));
    check_open_for_decl("general.alignment");
    alignment_ = v;
  }
  begin_kv(k, GgufType::U32);
  put(v);
}
void GgufWriter::add_i32(std::string_view k, int32_t v) { begin_kv(k, GgufType::I32); put(v); }
void GgufWriter::add_u64(std::string_view k, uint64_t v) { begin_kv(k, GgufType::U64); put(v); }
void GgufWriter::add_i64(std::string_view k, int64_t v) { begin_kv(k, GgufType::I64); put(v); }
void GgufWriter::add_f32(std::string_view k, float v) { begin_kv(k, GgufType::F32); put(v); }
void GgufWriter::add_f64(std::string_view k, double v) { begin_kv(k, GgufType::F64); put(v); }
void GgufWriter::add_bool(std::string_view k, bool v) { begin_kv(k, GgufType::Bool); put(uint8_t(v ? 1 : 0)); }
void GgufWriter::add_string(std::string_view k, std::string_view v) { begin_kv(k, GgufType::String); put_string(v); }

template <class T> void GgufWriter::add_array(std::string_view key, std::span<const T> v) {
  begin_kv(key, GgufType::Array);
  put(static_cast<uint32_t>(gguf_type_of<T>()));
  put(static_cast<uint64_t>(v.size()));
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  kv_bytes_.insert(kv_bytes_.end(), p, p + v.size_bytes());
}
template void GgufWriter::add_array<uint8_t>(std::string_view, std::span<const uint8_t>);
template void GgufWriter::add_array<int8_t>(std::string_view, std::span<const int8_t>);
template void GgufWriter::add_array<uint16_t>(std::string_view, std::span<const uint16_t>);
template void GgufWriter::add_array<int16_t>(std::string_view, std::span<const int16_t>);
template void GgufWriter::add_array<uint32_t>(std::string_view, std::span<const uint32_t>);
template void GgufWriter::add_array<int32_t>(std::string_view, std::span<const int32_t>);
template void GgufWriter::add_array<uint64_t>(std::string_view, std::span<const uint64_t>);
template void GgufWriter::add_array<int64_t>(std::string_view, std::span<const int64_t>);
template void GgufWriter::add_array<float>(std::string_view, std::span<const float>);
template void GgufWriter::add_array<double>(std::string_view, std::span<const double>);

void GgufWriter::add_bool_array(std::string_view key, const std::vector<bool>& v) {
  begin_kv(key, GgufType::Array);
  put(static_cast<uint32_t>(GgufType::Bool));
  put(static_cast<uint64_t>(v.size()));
  for (bool b : v) put(uint8_t(b ? 1 : 0));
}

void GgufWriter::add_string_array(std::string_view key, std::span<const std::string> v) {
  begin_kv(key, GgufType::Array);
  put(static_cast<uint32_t>(GgufType::String));
  put(static_cast<uint64_t>(v.size()));
  for (const auto& s : v) put_string(s);
}

size_t GgufWriter::add_tensor(std::string_view name, GgmlType type, std::span<const uint64_t> ne) {
  check_open_for_decl(fmt::format("tensor '{}'", name));
  if (name.size() > kMaxTensorName)
    throw GgufError(fmt::format("GgufWriter: tensor name '{}' is {} bytes; ggml allows at most {}", name,
                                name.size(), kMaxTensorName));
  if (tensor_names_.count(name)) throw GgufError(fmt::format("GgufWriter: duplicate tensor name '{}'", name));
  if (ne.empty() || ne.size() > kGgufMaxDims)
    throw GgufError(fmt::format("GgufWriter: tensor '{}' has {} dims (1..{})", name, ne.size(), kGgufMaxDims));
  Tensor t;
  t.name = std::string(name);
  t.type = type;
  t.n_dims = static_cast<uint32_t>(ne.size());
  uint64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] == 0) throw GgufError(fmt::format("GgufWriter: tensor '{}' dimension {} is 0", name, d));
    t.ne[d] = ne[d];
    if (d > 0 && __builtin_mul_overflow(rows, ne[d], &rows))
      throw GgufError(fmt::format("GgufWriter: tensor '{}' is too large", name));
  }
  const GgmlTypeInfo& info = ggml_type_info(type);
  if (t.ne[0] % info.block_elems != 0)
    throw GgufError(fmt::format("GgufWriter: tensor '{}': row length {} is not a multiple of the {} block size {}",
                                name, t.ne[0], info.name, info.block_elems));
  if (__builtin_mul_overflow(t.ne[0] / info.block_elems * info.block_bytes, rows, &t.n_bytes))
    throw GgufError(fmt::format("GgufWriter: tensor '{}' is too large", name));
  tensor_names_.emplace(name);
  tensors_.push_back(std::move(t));
  return tensors_.size() - 1;
}

// ------------------------------------------------------------------------------------------------
// Layout and output.

void GgufWriter::layout() {
  uint64_t off = 0;
  for (auto& t : tensors_) {
    t.offset = off;
    off = align_up(off + t.n_bytes, alignment_);
  }
}

uint64_t GgufWriter::data_offset() const {
  uint64_t n = 4 + 4 + 8 + 8 + kv_bytes_.size();
  for (const auto& t : tensors_) n += 8 + t.name.size() + 4 + 8ull * t.n_dims + 4 + 8;
  return align_up(n, alignment_);
}

uint64_t GgufWriter::file_size() const {
  uint64_t n = data_offset();
  for (const auto& t : tensors_) n = align_up(n + t.n_bytes, alignment_);
  return n;
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(data_offset()));
  auto put_bytes = [&out](const void* p, size_t n) {
    out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  const uint32_t version = 3;
  const uint64_t n_tensors = tensors_.size();
  put_bytes("GGUF", 4);
  put_bytes(&version, 4);
  put_bytes(&n_tensors, 8);
  put_bytes(&n_kv_, 8);
  put_bytes(kv_bytes_.data(), kv_bytes_.size());
  uint64_t off = 0;  // the offsets layout() assigns
  for (const auto& t : tensors_) {
    const uint64_t len = t.name.size();
    const uint32_t type = static_cast<uint32_t>(t.type);
    put_bytes(&len, 8);
    put_bytes(t.name.data(), t.name.size());
    put_bytes(&t.n_dims, 4);
    put_bytes(t.ne.data(), 8ull * t.n_dims);
    put_bytes(&type, 4);
    put_bytes(&off, 8);
    off = align_up(off + t.n_bytes, alignment_);
  }
  out.resize(static_cast<size_t>(align_up(out.size(), alignment_)), 0);
  return out;
}

void GgufWriter::emit(const void* data, size_t n) {
  if (n == 0) return;
  if (mem_) {
    const auto* p = static_cast<const uint8_t*>(data);
    mem_->insert(mem_->end(), p, p + n);
  } else if (std::fwrite(data, 1, n, file_) != n) {
    throw GgufError(fmt::format("GgufWriter: {}: write failed at byte {}: {}", path_.string(), written_,
                                std::strerror(errno)));
  }
  written_ += n;
}

void GgufWriter::pad_to(uint64_t alignment) {
  static const uint8_t zeros[256] = {};
  uint64_t pad = align_up(written_, alignment) - written_;
  while (pad > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(pad, sizeof(zeros)));
    emit(zeros, n);
    pad -= n;
  }
}

void GgufWriter::begin(const std::filesystem::path& path) {
  check_open_for_decl("output");
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw GgufError(fmt::format("GgufWriter: cannot create {}: {}", path.string(), std::strerror(errno)));
  path_ = path;
  std::setvbuf(file_, nullptr, _IOFBF, kFileBuffer);
  write_header();
}

void GgufWriter::begin(std::vector<uint8_t>& out) {
  check_open_for_decl("output");
  out.clear();
  mem_ = &out;
  write_header();
}

void GgufWriter::write_header() {
  state_ = State::Writing;
  layout();
  if (mem_) mem_->reserve(static_cast<size_t>(file_size()));
  const std::vector<uint8_t> header = header_bytes();  // same offsets as layout() assigned, padded
  emit(header.data(), header.size());
  cur_ = 0;
  cur_done_ = 0;
}

void GgufWriter::write(const void* data, size_t n) {
  if (state_ != State::Writing) throw GgufError("GgufWriter: write() outside begin()/finish()");
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    if (cur_ >= tensors_.size())
      throw GgufError(fmt::format("GgufWriter: {} bytes written past the last tensor", n));
    const Tensor& t = tensors_[cur_];
    const size_t take = static_cast<size_t>(std::min<uint64_t>(n, t.n_bytes - cur_done_));
    emit(p, take);
    p += take;
    n -= take;
    cur_done_ += take;
    if (cur_done_ == t.n_bytes) {
      pad_to(alignment_);
      ++cur_;
      cur_done_ = 0;
    }
  }
}

void GgufWriter::write_tensor(std::string_view name, std::span<const uint8_t> data) {
  if (cur_ >= tensors_.size() || cur_done_ != 0 || tensors_[cur_].name != name)
    throw GgufError(fmt::format("GgufWriter: write_tensor('{}') out of order (next is '{}')", name,
                                cur_ < tensors_.size() ? tensors_[cur_].name : std::string("<none>")));
  if (data.size() != tensors_[cur_].n_bytes)
    throw GgufError(fmt::format("GgufWriter: tensor '{}' needs {} bytes, got {}", name, tensors_[cur_].n_bytes,
                                data.size()));
  write(data.data(), data.size());
}

void GgufWriter::finish() {
  if (state_ != State::Writing) throw GgufError("GgufWriter: finish() without begin()");
  if (cur_ < tensors_.size())
    throw GgufError(fmt::format("GgufWriter: finish() with tensor '{}' incomplete ({} of {} bytes written; {} "
                                "tensors remain)", tensors_[cur_].name, cur_done_, tensors_[cur_].n_bytes,
                                tensors_.size() - cur_));
  state_ = State::Finished;
  if (file_) {
    std::FILE* f = file_;
    file_ = nullptr;
    const bool ok = std::fflush(f) == 0;
    const int e = errno;
    if (std::fclose(f) != 0 || !ok) {
      std::error_code ec;
      std::filesystem::remove(path_, ec);
      throw GgufError(fmt::format("GgufWriter: {}: flush/close failed: {}", path_.string(), std::strerror(e)));
    }
  }
  mem_ = nullptr;
}

void GgufWriter::write_file(const std::filesystem::path& path,
                            const std::function<void(size_t, const Tensor&, GgufWriter&)>& fill) {
  begin(path);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const uint64_t before = written_;
    fill(i, tensors_[i], *this);
    if (cur_ != i + 1 || cur_done_ != 0)
      throw GgufError(fmt::format("GgufWriter: the fill callback for tensor '{}' must write exactly {} bytes "
                                  "(wrote {} including padding)", tensors_[i].name, tensors_[i].n_bytes,
                                  written_ - before));
  }
  finish();
}

}  // namespace vkg
