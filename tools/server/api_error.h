// Errors of the OpenAI-compatible HTTP API: an HTTP status plus OpenAI's error object
// {"error": {"message", "type", "param", "code"}} (https://platform.openai.com/docs/guides/error-codes).
#pragma once
#include <string>

#include "error.h"

namespace vkg::server {

/// A request the server refuses. status: 400 (invalid_request_error), 401 (authentication_error),
/// 404 (not_found_error), 413 (request body too large), 503 (server busy / loading). param: the
/// request field at fault ("" when none). code: OpenAI's machine-readable code ("" when none).
class ApiError : public Error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string code = "")
      : Error(status >= 500 ? ErrorCode::internal : ErrorCode::bad_input, message),
        status_(status), message_(std::move(message)), param_(std::move(param)), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& message() const { return message_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  /// OpenAI's error type for the status: invalid_request_error, authentication_error,
  /// not_found_error, server_error (5xx).
  const char* type() const;

 private:
  int status_;
  std::string message_, param_, code_;
};

inline const char* ApiError::type() const {
  switch (status_) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 503: return "server_error";
    default: return status_ >= 500 ? "server_error" : "invalid_request_error";
  }
}

} // namespace vkg::server
