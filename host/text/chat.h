// Gemma 4 chat formatting (a C++ rendering of the official chat templates,
// ../shared/reference/gemma-4-E2B-chat-template.jinja and gemma-4-31B-chat-template.jinja, which
// differ only in the generation prompt) and parsing of the model's output (thought channel,
// <|tool_call>...<tool_call|> blocks; streaming parser in chat_stream.h).
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
#include "error.h"

namespace vkg {

/// Malformed messages/tools for the formatter, or malformed model output for the parser.
class ChatError : public Error {
 public:
  explicit ChatError(const std::string& what) : Error(ErrorCode::bad_input, what) {}
};

/// Which of Google's two Gemma 4 templates to follow. They differ only in the generation prompt
/// with thinking off: Small ends at "<|turn>model\n"; Large appends an empty, closed thought
/// channel "<|channel>thought\n<channel|>" (Google's model cards: "for all models except E2B and
/// E4B, if thinking is disabled, the model will still generate the tags but with an empty thought
/// block"). Emitting the block for E2B/E4B pushes them into unmarked reasoning in the answer.
enum class ChatTemplate {
  Small,  ///< gemma-4-E2B-chat-template.jinja: E2B, E4B (models with per-layer embeddings)
  Large,  ///< gemma-4-31B-chat-template.jinja: 12B, 26B, 31B (no per-layer embeddings)
};

/// The template of a model: Small when it has per-layer embeddings (n_ple > 0), else Large.
inline ChatTemplate chat_template_for(bool has_per_layer_embeddings) {
  return has_per_layer_embeddings ? ChatTemplate::Small : ChatTemplate::Large;
}

/// Template variables.
struct ChatOptions {
  bool add_generation_prompt = true;  ///< end with "<|turn>model\n" (+ empty thought: see ChatTemplate)
  bool enable_thinking = false;       ///< "<|think|>" in the system turn; no empty thought channel
  std::string bos_token = "<bos>";    ///< the template's bos_token ("" to leave it out)
  ChatTemplate kind = ChatTemplate::Small;  ///< pass chat_template_for(model) (vkgemma runs E models)
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

/// One tool-call block's body, "call:NAME{key:value,...}" (what lies between <|tool_call> and
/// <tool_call|>). offset (where the block began in the text) only goes into error messages.
/// Throws ChatError when it is not call:NAME{...} or the arguments are malformed.
ToolCall parse_tool_call(std::string_view body, size_t offset = 0);

/// Every <|tool_call>call:NAME{...}<tool_call|> block in `text`, in order. A block whose closing
/// <tool_call|> is missing (generation stopped early) is parsed up to the end of the text.
/// Throws ChatError for a malformed block (message gives the block's offset).
std::vector<ToolCall> parse_tool_calls(std::string_view text);

/// A model turn split into its parts.
struct ParsedReply {
  std::string reasoning;              ///< text of <|channel>thought\n ... <channel|> (joined)
  std::string content;                ///< the rest, without tool-call blocks, trimmed
  std::vector<ToolCall> tool_calls;
  std::vector<std::string> errors;    ///< one per malformed tool call (ReplyParser only)
};

/// Split generated text (what follows the generation prompt): thought channels go to reasoning
/// (joined by "\n", each trimmed, the channel name "thought" dropped), tool-call blocks to
/// tool_calls, the rest to content (trimmed). Stops at the first "<turn|>" or "<eos>";
/// any other marker outside a block (e.g. the trailing "<|tool_response>" with which the model
/// hands over to the tool) is dropped. Throws ChatError for a malformed tool-call block.
ParsedReply parse_model_reply(std::string_view text);

} // namespace vkg
