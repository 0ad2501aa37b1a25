// Media inputs shared by the image and audio paths: the error they raise and bounded file reads.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "error.h"

namespace vkg {

/// An image or audio input that cannot be used (unreadable, truncated, corrupt, too large, an
/// unsupported format): ErrorCode::bad_input, the message names the input and the problem.
class MediaError : public Error {
 public:
  explicit MediaError(const std::string& what) : Error(ErrorCode::bad_input, what) {}
};

/// The whole file, refusing files larger than max_bytes ("photo.jpg: 812 MB is larger than the
/// 256 MB an image may have") and unreadable ones (the OS reason). Throws MediaError.
std::vector<uint8_t> read_media_file(const std::filesystem::path& path, uint64_t max_bytes, const char* what);

}  // namespace vkg
