#include "media.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <fmt/format.h>

namespace vkg {

std::vector<uint8_t> read_media_file(const std::filesystem::path& path, uint64_t max_bytes, const char* what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) throw MediaError(fmt::format("{}: cannot read the {}: {}", path.string(), what, ec.message()));
  if (std::filesystem::is_directory(status))
    throw MediaError(fmt::format("{}: is a directory, not an {} file", path.string(), what));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw MediaError(fmt::format("{}: cannot open the {}: {}", path.string(), what, std::strerror(errno)));
  std::vector<uint8_t> bytes;
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = static_cast<size_t>(in.gcount());
    if (bytes.size() + n > max_bytes)
      throw MediaError(fmt::format("{}: the {} is larger than the {} MiB vkgemma accepts", path.string(), what,
                                   max_bytes >> 20));
    bytes.insert(bytes.end(), buf, buf + n);
  }
  if (in.bad()) throw MediaError(fmt::format("{}: read error on the {}", path.string(), what));
  if (bytes.empty()) throw MediaError(fmt::format("{}: the {} file is empty", path.string(), what));
  return bytes;
}

}  // namespace vkg
