// Gemma 4 chat formatting (a C++ rendering of the official chat template,
// /work/shared/reference/gemma-4-chat-template.jinja) and parsing of the model's output
// (thought channel, <|tool_call>...<tool_call|> blocks).
//
// Deviations from running the jinja template (all in edge cases):
//  * JSON objects are std::map-ordered by nlohmann::json; dictsort (case-insensitive) ties such as
//    "A"/"a" therefore come out "A" first instead of in insertion order. Lower-casing for dictsort
//    and upper-casing for "| upper" are ASCII-only.
//  * A non-string system/developer content is rendered as its concatenated text parts (the template
//    would print the Python repr of the list).
//  * A tool message whose function name cannot be resolved gets "unknown" (the template would fail
//    concatenating None).
//  * An empty messages array renders as if there were no system message (the template fails).
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <nlohmann/json.hpp>

namespace vkg {

/// Malformed messages/tools for the formatter, or malformed model output for the parser.
class ChatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Template variables.
struct ChatOptions {
  bool add_generation_prompt = true;  ///< end with "<|turn>model\n" (+ empty thought when !thinking)
  bool enable_thinking = false;       ///< "<|think|>" in the system turn; no empty thought channel
  std::string bos_token = "<bos>";    ///< the template's bos_token ("" to leave it out)
};

/// Render a conversation as the Gemma 4 template does. messages: JSON array of objects
/// {role: "system"|"developer"|"user"|"assistant"|"model"|"tool", content: string | [parts] | null,
///  tool_calls: [{id?, function: {name, arguments: object | string}}], reasoning /
///  reasoning_content: string, tool_responses: [{name, response}], name, tool_call_id}.
/// Parts: {type: "text", text} | {type: "image"} | {type: "audio"} | {type: "video"}.
/// tools: null or a JSON array of {type: "function", function: {name, description, parameters
/// (JSON schema), response?}}. Throws ChatError when messages is not an array of objects with a
/// string role, or tools is neither null nor an array.
std::string format_chat(const nlohmann::json& messages, const nlohmann::json& tools = nullptr,
                        const ChatOptions& opt = {});

/// The template's format_argument: strings as <|"|>s<|"|>, booleans true/false, objects
/// {k:v,...} with keys sorted (escaped as <|"|>k<|"|> when escape_keys), arrays [a,b], null as
/// None, numbers as Python prints them.
std::string format_gemma4_argument(const nlohmann::json& v, bool escape_keys = true);

/// One tool call emitted by the model.
struct ToolCall {
  std::string name;
  nlohmann::json arguments;  ///< always an object
  /// {"name": ..., "arguments": {...}}
  nlohmann::json to_json() const { return {{"name", name}, {"arguments", arguments}}; }
};

/// Parse a Gemma 4 argument value (the inverse of format_gemma4_argument): <|"|>string<|"|>,
/// {key:value,...} (keys bare or <|"|>-quoted), [a,...], true/false, None/null, numbers; any other
/// bare run of characters up to , } ] is taken as a string. Throws ChatError on malformed input.
nlohmann::json parse_gemma4_value(std::string_view text);

/// Every <|tool_call>call:NAME{...}<tool_call|> block in `text`, in order. A block whose closing
/// <tool_call|> is missing (generation stopped early) is parsed up to the end of the text.
/// Throws ChatError for a malformed block (message gives the block's offset).
std::vector<ToolCall> parse_tool_calls(std::string_view text);

/// A model turn split into its parts.
struct ParsedReply {
  std::string reasoning;              ///< text of <|channel>thought\n ... <channel|> (joined)
  std::string content;                ///< the rest, without tool-call blocks, trimmed
  std::vector<ToolCall> tool_calls;
};

/// Split generated text (what follows the generation prompt): thought channels go to reasoning,
/// tool-call blocks to tool_calls, the rest to content. Stops at the first "<turn|>" or "<eos>";
/// a trailing "<|tool_response>" (the model handing over to the tool) is dropped.
ParsedReply parse_model_reply(std::string_view text);

} // namespace vkg
