// Parsing and validation of OpenAI API request bodies (/v1/chat/completions, /v1/completions)
// into plain structs. Every field is type- and range-checked; the first problem throws ApiError
// (400) naming the field, so no malformed request reaches the model. Unknown fields are ignored,
// as OpenAI's clients send some (user, metadata, ...).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api_error.h"
#include "sampler.h"

namespace vkg::server {

/// Bounds on what one request may ask for.
struct RequestLimits {
  size_t max_messages = 1024;     ///< messages per chat request
  size_t max_tools = 128;         ///< tool declarations per request
  size_t max_stops = 4;           ///< stop strings (OpenAI's limit)
  size_t max_stop_bytes = 256;    ///< bytes per stop string
  int32_t max_tokens = 1 << 20;   ///< max_tokens upper bound (the context bounds it further)
};

/// How the model may use the declared tools (OpenAI tool_choice).
struct ToolChoice {
  enum Kind { Auto, None, Required, Named } kind = Auto;
  std::string name;  ///< Named: the function the model must call
};

/// Sampling and length fields shared by both endpoints.
struct GenerationRequest {
  SamplerParams sampler;          ///< llama-server's defaults where the request says nothing
  bool seed_given = false;        ///< seed in the request (else a random one per request)
  int32_t max_tokens = -1;        ///< -1: until the end of the turn or of the context
  std::vector<std::string> stop;  ///< stop strings (not included in the answer)
  bool stream = false;
  bool include_usage = false;     ///< stream_options.include_usage: a last chunk with usage
  std::string model;              ///< as given ("" when absent); echoed, not checked
};

/// POST /v1/chat/completions.
struct ChatRequest : GenerationRequest {
  nlohmann::json messages;        ///< validated array, in format_chat's form (arguments as objects)
  nlohmann::json tools;           ///< null or the validated declarations
  ToolChoice tool_choice;
  std::optional<bool> enable_thinking;  ///< chat_template_kwargs.enable_thinking (else --think)
};

/// POST /v1/completions.
struct CompletionRequest : GenerationRequest {
  std::string prompt;
};

/// The body as a JSON object. Throws ApiError 400 for invalid JSON or a non-object.
nlohmann::json parse_body(std::string_view body);

/// Validate a chat request body (already parsed). Throws ApiError 400 naming the field.
ChatRequest parse_chat_request(const nlohmann::json& body, const RequestLimits& limits = {});

/// Validate a completion request body. Throws ApiError 400 naming the field.
CompletionRequest parse_completion_request(const nlohmann::json& body, const RequestLimits& limits = {});

/// Whether the tool's parameters admit only the empty object (no properties declared): a call to it
/// is fully determined once its name is chosen.
bool tool_takes_no_arguments(const nlohmann::json& tool);

/// The declaration of the tool named `name` in tools (an array), or nullptr.
const nlohmann::json* find_tool(const nlohmann::json& tools, std::string_view name);

} // namespace vkg::server
