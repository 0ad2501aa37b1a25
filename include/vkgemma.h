/*
 * vkgemma.h: the C API of vkgemma (libvkgemma), which runs Google's Gemma 4 "E" models from
 * GGUF files on any Vulkan 1.2 device.
 *
 * Usage (error checks shortened; see examples/simple.c for the full program):
 *
 *   #include <stdio.h>
 *   #include <string.h>
 *   #include <vkgemma.h>
 *
 *   static bool on_token(int32_t token, const char *piece, size_t len, void *user_data) {
 *     fwrite(piece, 1, len, stdout);                 // piece: complete UTF-8, not NUL-terminated
 *     return true;                                   // false: stop generating
 *   }
 *
 *   int main(void) {
 *     vkgemma_model_params mp = {.struct_size = sizeof mp};  // every struct starts with its size
 *     vkgemma_model_default_params(&mp);
 *     vkgemma_model *model = NULL;
 *     if (vkgemma_model_load("gemma-4-e2b-it-Q4_K_M.gguf", &mp, &model) != VKGEMMA_OK) {
 *       fprintf(stderr, "error: %s\n", vkgemma_last_error());
 *       return 1;
 *     }
 *     vkgemma_session *session = NULL;
 *     vkgemma_session_create(model, NULL, &session);            // NULL: default session params
 *
 *     vkgemma_chat_message msg = {"user", "Why is the sky blue?"};
 *     char prompt[4096];
 *     size_t prompt_len = 0, n_tokens = 0;
 *     vkgemma_chat_format(model, &msg, 1, VKGEMMA_CHAT_ADD_GENERATION_PROMPT,
 *                         prompt, sizeof prompt, &prompt_len);
 *     int32_t tokens[1024];                          // the template writes <bos> itself:
 *     vkgemma_tokenize(model, prompt, prompt_len, VKGEMMA_TOKENIZE_PARSE_SPECIAL,
 *                      tokens, 1024, &n_tokens);
 *
 *     vkgemma_sampler_params sp = {.struct_size = sizeof sp};
 *     vkgemma_sampler_default_params(&sp);
 *     sp.n_predict = 256;
 *     vkgemma_generate(session, tokens, n_tokens, &sp, on_token, NULL, NULL);
 *
 *     vkgemma_session_free(session);
 *     vkgemma_model_free(model);
 *     return 0;
 *   }
 *
 * Build: cc app.c $(pkg-config --cflags --libs vkgemma), or in CMake
 *   find_package(vkgemma REQUIRED) + target_link_libraries(app PRIVATE vkgemma::vkgemma).
 *
 * Conventions
 * -----------
 * - Every function except vkgemma_version(), vkgemma_status_string() and vkgemma_last_error()
 *   returns a vkgemma_status. On any status other than VKGEMMA_OK, vkgemma_last_error() holds a
 *   message for the calling thread, and the function's outputs are left as documented below
 *   (output handles are set to NULL; other outputs are unchanged unless stated).
 * - NULL handles and pointers, out-of-range values and misuse return VKGEMMA_INVALID_ARGUMENT;
 *   no C++ exception ever leaves the library. The *_free functions accept NULL (and return OK).
 * - Structs: the first member is `size_t struct_size`, which the caller sets to sizeof(struct)
 *   before passing it (`vkgemma_model_params p = {.struct_size = sizeof p};`, C99 / C++20).
 *   This keeps old binaries working when later versions append members: the library reads /
 *   writes only the first struct_size bytes (a struct_size smaller than the first published
 *   layout is INVALID_ARGUMENT; members the library does not know of are ignored on input and
 *   zeroed on output). Params structs are always passed by pointer; NULL params mean "defaults".
 * - Text is UTF-8, passed as pointer + length (no NUL terminator needed). Text the library
 *   returns in caller buffers is NUL-terminated.
 * - Caller-provided output buffers follow llama.h's required-size rule: the needed size is always
 *   stored in the *_len / *n_tokens output; when the buffer is too small the call returns
 *   VKGEMMA_BUFFER_TOO_SMALL and writes nothing into the buffer. Pass a NULL buffer with capacity
 *   0 to ask for the size.
 *
 * Threading
 * ---------
 * - A model (vkgemma_model) holds the weights, loaded once into device memory, and the tokenizer;
 *   it is read-only after vkgemma_model_load() and may be used from any number of threads at
 *   once: vkgemma_model_get_info, vkgemma_tokenize, vkgemma_detokenize, vkgemma_chat_format,
 *   vkgemma_chat_format_json and vkgemma_session_create are thread-safe on a shared model.
 * - A reply (vkgemma_reply) is plain data: one thread at a time.
 * - A session (vkgemma_session) is one conversation: its own KV cache, history and statistics.
 *   Sessions of the same model may run concurrently, each on its own thread (device memory for
 *   the weights is shared, not copied). One session must be used by one thread at a time.
 *   Calling vkgemma_session_eval / vkgemma_generate / vkgemma_session_reset /
 *   vkgemma_session_free on a session from inside its own token callback returns
 *   VKGEMMA_INVALID_ARGUMENT (vkgemma_session_get_stats is allowed there).
 * - A session keeps its model alive: vkgemma_model_free() may be called while sessions exist;
 *   the weights are released when the last session of the model is freed. vkgemma_model_free()
 *   must not race with other calls that use the same model handle.
 * - The Vulkan instance is process-wide and the device is opened once, shared by every model on
 *   it; both are released when the last model using them is freed. Models on two different
 *   physical devices cannot be loaded at the same time (yet): the second load returns
 *   VKGEMMA_INVALID_ARGUMENT.
 * - vkgemma_last_error() is per thread.
 *
 * Environment: VKGEMMA_DEVICE (device index when params ask for automatic choice),
 * VKGEMMA_DEVICE_PROFILE (emulate a weaker device, see `vkgemma devices --profile`),
 * VKGEMMA_VALIDATION=1 (Khronos validation layer), VKGEMMA_CACHE_DIR (pipeline cache directory).
 */
#ifndef VKGEMMA_H
#define VKGEMMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define VKGEMMA_API
#elif defined(__GNUC__) || defined(__clang__)
#  define VKGEMMA_API __attribute__((visibility("default")))
#else
#  define VKGEMMA_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Status codes, errors, version
 * ------------------------------------------------------------------------------------------- */

typedef enum vkgemma_status {
  VKGEMMA_OK = 0,
  VKGEMMA_INVALID_ARGUMENT = 1,  /* NULL handle/pointer, bad value, misuse (e.g. re-entrancy) */
  VKGEMMA_NO_DEVICE = 2,         /* no Vulkan loader/driver/device, or the device is unusable */
  VKGEMMA_FILE_ERROR = 3,        /* the model file cannot be opened or read */
  VKGEMMA_MODEL_ERROR = 4,       /* not a valid GGUF / not a supported Gemma 4 model */
  VKGEMMA_OUT_OF_MEMORY = 5,     /* host or device memory exhausted */
  VKGEMMA_CANCELLED = 6,         /* a progress callback returned false */
  VKGEMMA_CONTEXT_FULL = 7,      /* the tokens do not fit the session's context */
  VKGEMMA_BUFFER_TOO_SMALL = 8,  /* a caller buffer is too small; the needed size was stored */
  VKGEMMA_DEVICE_ERROR = 9,      /* a Vulkan call failed (device lost, ...) */
  VKGEMMA_INTERNAL = 10,         /* a bug: please report it with vkgemma_last_error() */
  VKGEMMA_UNSUPPORTED = 11       /* valid, but the device cannot do it (a limit or feature it lacks;
                                    e.g. a KV cache over its binding limit: reduce n_ctx) */
} vkgemma_status;

/* Library version, "MAJOR.MINOR.PATCH". Never NULL; static storage. */
VKGEMMA_API const char *vkgemma_version(void);

/* Short name of a status ("VKGEMMA_OK", ...; "unknown status" for other values). Static. */
VKGEMMA_API const char *vkgemma_status_string(vkgemma_status status);

/* Message of the last failed call on this thread ("" if none failed yet). Valid until the next
 * failing call on the same thread. Successful calls leave it unchanged. Never NULL. */
VKGEMMA_API const char *vkgemma_last_error(void);

/* ---------------------------------------------------------------------------------------------
 * Devices
 * ------------------------------------------------------------------------------------------- */

typedef enum vkgemma_device_type {  /* values of VkPhysicalDeviceType */
  VKGEMMA_DEVICE_OTHER = 0,
  VKGEMMA_DEVICE_INTEGRATED_GPU = 1,
  VKGEMMA_DEVICE_DISCRETE_GPU = 2,
  VKGEMMA_DEVICE_VIRTUAL_GPU = 3,
  VKGEMMA_DEVICE_CPU = 4
} vkgemma_device_type;

typedef struct vkgemma_device_info {
  size_t struct_size;                 /* in: sizeof(vkgemma_device_info) */
  uint32_t index;                     /* physical-device index (enumeration order) */
  char name[256];                     /* "llvmpipe (LLVM 15.0.6, 256 bits)" */
  char driver_name[256];              /* "llvmpipe" */
  vkgemma_device_type type;
  uint32_t vendor_id, device_id;
  uint32_t api_version;               /* Vulkan version, VK_MAKE_API_VERSION encoding */
  uint64_t device_local_bytes;        /* device-local heap budget (VK_EXT_memory_budget, else heap sizes) */
  uint64_t max_allocation_bytes;      /* maxMemoryAllocationSize */
  uint64_t max_storage_buffer_range;  /* bytes one storage binding may address */
  uint32_t subgroup_size;
  uint32_t max_shared_memory;         /* bytes of workgroup shared memory */
  bool uma;                           /* device-local memory is host-visible (integrated, CPU) */
  bool fp16_arithmetic, int8_arithmetic;
  bool storage16, storage8;           /* 16/8-bit storage-buffer access (F16 KV cache when storage16) */
  bool subgroup_arithmetic;
  bool transfer_queue;                /* a transfer-only queue family (PLE paging overlaps compute) */
  bool usable;                        /* Vulkan 1.2, timeline semaphores and a compute queue */
  bool is_default;                    /* the device an automatic choice (index -1) opens */
} vkgemma_device_info;

/* Number of Vulkan physical devices.
 * Returns OK; INVALID_ARGUMENT (count NULL); NO_DEVICE (no Vulkan loader, driver or device;
 * *count is set to 0); OUT_OF_MEMORY; INTERNAL. The list is probed once per process. */
VKGEMMA_API vkgemma_status vkgemma_device_count(uint32_t *count);

/* Capabilities of device `index` (0 <= index < count) into *info (info->struct_size set).
 * Returns OK; INVALID_ARGUMENT (info NULL, bad struct_size, index out of range; *info is not
 * written); NO_DEVICE; OUT_OF_MEMORY; INTERNAL. */
VKGEMMA_API vkgemma_status vkgemma_device_get_info(uint32_t index, vkgemma_device_info *info);

/* ---------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------- */

typedef struct vkgemma_model vkgemma_model;

/* Load progress in [0, 1]. Return false to cancel the load (vkgemma_model_load then returns
 * VKGEMMA_CANCELLED). Called on the loading thread: once with 0 before any work, then as weights
 * are uploaded, last with 1. */
typedef bool (*vkgemma_progress_callback)(float progress, void *user_data);

typedef struct vkgemma_model_params {
  size_t struct_size;            /* in: sizeof(vkgemma_model_params) */
  int32_t device_index;          /* -1 (default): VKGEMMA_DEVICE, else the best device */
  uint32_t n_ctx;                /* default context length of sessions created with n_ctx 0;
                                    default 4096, at most the model's training context */
  uint64_t device_memory_budget; /* bytes of device memory this model (weights + sessions) may
                                    use; 0 (default) = the device's. The weights are planned to fit
                                    beside one session of n_ctx: transformer layers that do not fit
                                    stream through a two-layer window (slower, same output); a
                                    session that would exceed it fails with OUT_OF_MEMORY. */
  vkgemma_progress_callback progress_callback;  /* NULL (default): none */
  void *progress_user_data;
  /* Appended (callers built against an older header pass a smaller struct_size). */
  const char *device_profile;    /* emulate a weaker device: "pi5-v3d", "mali-valhall", "adreno-7xx",
                                    "desktop", "minimal"; NULL (default): VKGEMMA_DEVICE_PROFILE or
                                    none. Models sharing a device must ask for the same profile. */
} vkgemma_model_params;

/* Fill *params with the defaults (params->struct_size must be set).
 * Returns OK; INVALID_ARGUMENT (params NULL or struct_size too small; nothing written). */
VKGEMMA_API vkgemma_status vkgemma_model_default_params(vkgemma_model_params *params);

/* Map the GGUF at `path`, validate it as a Gemma 4 model, read its tokenizer, open the device and
 * upload the device-resident weights (the per-layer-embedding table stays in the file mapping
 * and is paged by rows). params NULL: defaults.
 * Steps, in order: progress(0), open the file, open the device, parse and upload.
 * Returns OK (*out_model set; free it with vkgemma_model_free); INVALID_ARGUMENT (path/out_model
 * NULL, bad struct_size, device_index out of range, another device in use); FILE_ERROR (cannot
 * open/read the file); MODEL_ERROR (not a valid GGUF, not Gemma 4, unsupported tensor type, bad
 * tokenizer); NO_DEVICE (no usable Vulkan device); OUT_OF_MEMORY; CANCELLED (the progress
 * callback returned false); DEVICE_ERROR; INTERNAL. On failure *out_model is NULL and everything
 * allocated for the load is released. */
VKGEMMA_API vkgemma_status vkgemma_model_load(const char *path, const vkgemma_model_params *params,
                                              vkgemma_model **out_model);

/* Release the caller's reference to the model. Sessions still alive keep the weights until they
 * are freed. NULL: no-op. Returns OK; INVALID_ARGUMENT (not a model handle, detected on a
 * best-effort basis). */
VKGEMMA_API vkgemma_status vkgemma_model_free(vkgemma_model *model);

typedef struct vkgemma_model_info {
  size_t struct_size;             /* in: sizeof(vkgemma_model_info) */
  char name[256];                 /* general.name (may be empty), truncated to fit */
  char architecture[32];          /* "gemma4" */
  /* Hyperparameters. */
  uint32_t n_layer;               /* transformer layers (E2B 35) */
  uint32_t n_embd;                /* hidden size (E2B 1536) */
  uint32_t n_embd_per_layer;      /* per-layer-embedding width (E2B 256) */
  uint32_t n_vocab;               /* vocabulary size (262144) */
  uint32_t n_ctx_train;           /* maximum context length */
  uint32_t n_head, n_head_kv;     /* query / key-value heads (of layer 0) */
  uint32_t head_dim, head_dim_swa;/* head size of full-attention / sliding-window layers */
  uint32_t sliding_window;        /* positions a sliding layer attends to */
  uint32_t n_kv_layers;           /* layers that own a KV cache (the rest share one) */
  int32_t bos_token, eos_token;   /* -1: none */
  /* Memory. */
  uint64_t n_params_device;       /* parameters resident on the device */
  uint64_t n_params_host;         /* parameters of the host-paged per-layer-embedding table */
  uint64_t device_bytes;          /* weight bytes uploaded to device memory (once per model) */
  uint64_t host_paged_bytes;      /* bytes of the per-layer-embedding table, paged by rows */
  uint32_t kv_elem_bytes;         /* 2 (F16 KV cache) or 4 (F32) on this device */
  uint64_t kv_bytes_per_1k;       /* KV bytes per 1024 positions of context (full-attention
                                     layers; grows with n_ctx) */
  uint64_t kv_sliding_bytes;      /* KV bytes of the sliding-window layers (fixed ring once the
                                     context reaches the window) */
  /* Load. */
  int32_t device_index;           /* the device the model lives on */
  uint32_t n_ctx_default;         /* context of sessions created with n_ctx 0 */
  uint64_t device_memory_budget;  /* as given in the params (0 = no limit) */
  double load_ms;
  /* Residency (appended: callers built against an older header pass a smaller struct_size). */
  uint32_t n_layer_resident;      /* transformer layers resident; the rest (n_layer - this) stream
                                     through a two-layer window each forward step */
  uint64_t streamed_bytes_per_step; /* weight bytes uploaded per forward step (0: all resident) */
  /* Vocabulary (appended). */
  uint32_t n_eog_tokens;          /* size of the end-of-generation set (generation stops at any):
                                     eos_token, the file's eot/eom/eog ids and the tokens named
                                     <eos>, <turn|>, <|tool_response> (never </s>), as llama.cpp
                                     derives it. Real Gemma 4 files: {1, 50, 106} */
  int32_t eog_tokens[16];         /* its first min(n_eog_tokens, 16) ids, ascending */
  bool add_bos;                   /* raw text gets BOS with VKGEMMA_TOKENIZE_ADD_SPECIAL: true for
                                     Gemma 4 even when the file says add_bos_token = false */
  int32_t file_add_bos_token;     /* what the file says: 1 true, 0 false, -1 absent */
  /* The file's recommended sampling (general.sampling.*), which vkgemma_generate uses when
   * given no sampler params: top_k -1, top_p / temperature < 0 when the file has none. */
  int32_t sampling_top_k;
  float sampling_top_p;
  float sampling_temperature;
} vkgemma_model_info;

/* Describe the model. Returns OK; INVALID_ARGUMENT (model/info NULL, bad struct_size; *info not
 * written). */
VKGEMMA_API vkgemma_status vkgemma_model_get_info(const vkgemma_model *model, vkgemma_model_info *info);

/* Whether `token` ends generation for this model (is in vkgemma_model_info's end-of-generation
 * set); false for ids outside the vocabulary and for a NULL / invalid model. */
VKGEMMA_API bool vkgemma_token_is_eog(const vkgemma_model *model, int32_t token);

/* ---------------------------------------------------------------------------------------------
 * Tokenizer and chat template
 * ------------------------------------------------------------------------------------------- */

enum {
  VKGEMMA_TOKENIZE_ADD_SPECIAL = 1u << 0,    /* prepend BOS when the model asks for it (plain text) */
  VKGEMMA_TOKENIZE_PARSE_SPECIAL = 1u << 1   /* "<|turn>" etc. in the text become control tokens */
};

/* Token ids of text[0, text_len) into tokens[0, capacity). *n_tokens receives the number of ids
 * (also when the buffer is too small). tokens may be NULL when capacity is 0.
 * Returns OK; BUFFER_TOO_SMALL (capacity < *n_tokens; tokens not written); INVALID_ARGUMENT
 * (model/n_tokens NULL, text NULL with text_len > 0, tokens NULL with capacity > 0, unknown
 * flags); OUT_OF_MEMORY; INTERNAL. */
VKGEMMA_API vkgemma_status vkgemma_tokenize(const vkgemma_model *model, const char *text, size_t text_len,
                                            uint32_t flags, int32_t *tokens, size_t capacity, size_t *n_tokens);

enum {
  VKGEMMA_DETOKENIZE_RENDER_SPECIAL = 1u << 0  /* control tokens appear as their text ("<|turn>") */
};

/* Text of tokens[0, n_tokens): NUL-terminated in text[0, capacity); *text_len receives its length
 * in bytes without the NUL (also when the buffer is too small: capacity must be >= *text_len + 1).
 * The text is valid UTF-8 (ill-formed byte sequences become U+FFFD).
 * Returns OK; BUFFER_TOO_SMALL (text not written); INVALID_ARGUMENT (model/text_len NULL, tokens
 * NULL with n_tokens > 0, text NULL with capacity > 0, a token id outside the vocabulary, unknown
 * flags); OUT_OF_MEMORY; INTERNAL. */
VKGEMMA_API vkgemma_status vkgemma_detokenize(const vkgemma_model *model, const int32_t *tokens, size_t n_tokens,
                                              uint32_t flags, char *text, size_t capacity, size_t *text_len);

typedef struct vkgemma_chat_message {
  const char *role;     /* "system", "user", "assistant" (or "model"), NUL-terminated */
  const char *content;  /* NUL-terminated UTF-8; NULL = no content */
} vkgemma_chat_message;

enum {
  VKGEMMA_CHAT_ADD_GENERATION_PROMPT = 1u << 0,  /* end with the model's turn opening */
  VKGEMMA_CHAT_THINKING = 1u << 1                /* enable Gemma 4 thinking mode */
};

/* Render messages[0, n_messages) with the Gemma 4 chat template into text[0, capacity) (NUL-
 * terminated; *text_len receives the length without the NUL, also when the buffer is too small).
 * The text starts with the BOS token's text: tokenize it with VKGEMMA_TOKENIZE_PARSE_SPECIAL and
 * without VKGEMMA_TOKENIZE_ADD_SPECIAL. model may be NULL (BOS text "<bos>").
 * The template is Google's for the model: E2B/E4B (per-layer embeddings; also model NULL) end the
 * generation prompt at "<|turn>model\n"; larger models add an empty thought channel
 * "<|channel>thought\n<channel|>" when thinking is off. VKGEMMA_CHAT_THINKING puts "<|think|>" in
 * the system turn. For tools, tool calls and tool responses use vkgemma_chat_format_json.
 * Returns OK; BUFFER_TOO_SMALL (text not written); INVALID_ARGUMENT (messages NULL with
 * n_messages > 0, a NULL role, text_len NULL, text NULL with capacity > 0, unknown flags);
 * OUT_OF_MEMORY; INTERNAL. */
VKGEMMA_API vkgemma_status vkgemma_chat_format(const vkgemma_model *model, const vkgemma_chat_message *messages,
                                               size_t n_messages, uint32_t flags, char *text, size_t capacity,
                                               size_t *text_len);

/* Like vkgemma_chat_format, with the conversation as JSON (UTF-8, not NUL-terminated), in the
 * OpenAI / Hugging Face chat format the official template reads:
 *   messages_json: [{"role": "system" | "user" | "assistant" | "tool", "content": "..." | null,
 *                    "tool_calls": [{"id": "call_0", "type": "function",
 *                                    "function": {"name": "...", "arguments": {...}}}],
 *                    "reasoning": "...", "tool_call_id": "call_0", "name": "..."}, ...]
 *   tools_json (NULL / length 0: none): [{"type": "function", "function": {"name": "...",
 *                    "description": "...", "parameters": {JSON schema}}}, ...]
 * The assistant message of a reply (vkgemma_reply_info.message_json) can be appended as is; after
 * it, one {"role": "tool", "tool_call_id": ..., "content": RESULT} per tool call. When the last
 * message is a tool response the text ends there (no generation prompt): the model continues its
 * turn. Flags and output as vkgemma_chat_format.
 * Returns OK; BUFFER_TOO_SMALL (text not written); INVALID_ARGUMENT (messages_json NULL, not a JSON
 * array of objects with a string "role"; tools_json not a JSON array; text_len NULL, text NULL with
 * capacity > 0, unknown flags; the message says what is wrong); OUT_OF_MEMORY; INTERNAL. */
VKGEMMA_API vkgemma_status vkgemma_chat_format_json(const vkgemma_model *model, const char *messages_json,
                                                    size_t messages_json_len, const char *tools_json,
                                                    size_t tools_json_len, uint32_t flags, char *text,
                                                    size_t capacity, size_t *text_len);

/* ---------------------------------------------------------------------------------------------
 * Sessions and generation
 * ------------------------------------------------------------------------------------------- */

typedef struct vkgemma_session vkgemma_session;

typedef struct vkgemma_session_params {
  size_t struct_size;   /* in: sizeof(vkgemma_session_params) */
  uint32_t n_ctx;       /* context length in tokens; 0 (default): the model params' n_ctx */
  uint32_t n_batch;     /* prefill chunk: tokens per forward step; default 512 */
} vkgemma_session_params;

/* Fill *params with the defaults (params->struct_size must be set).
 * Returns OK; INVALID_ARGUMENT (params NULL or struct_size too small; nothing written). */
VKGEMMA_API vkgemma_status vkgemma_session_default_params(vkgemma_session_params *params);

/* A new session on `model` with its own KV cache (device memory: see vkgemma_model_info's
 * kv_bytes_per_1k). The session holds a reference to the model. params NULL: defaults.
 * Returns OK (*out_session set); INVALID_ARGUMENT (model/out_session NULL, bad struct_size,
 * n_ctx above the model's training context, n_batch 0); OUT_OF_MEMORY (the KV cache does not fit
 * the device); DEVICE_ERROR; INTERNAL. On failure *out_session is NULL. */
VKGEMMA_API vkgemma_status vkgemma_session_create(vkgemma_model *model, const vkgemma_session_params *params,
                                                  vkgemma_session **out_session);

/* Free a session (and its KV cache); drops its model reference. NULL: no-op.
 * Returns OK; INVALID_ARGUMENT (called from the session's own token callback: nothing freed;
 * not a session handle, detected on a best-effort basis). */
VKGEMMA_API vkgemma_status vkgemma_session_free(vkgemma_session *session);

/* Forget the conversation: the next tokens are evaluated from position 0. Statistics are kept.
 * Returns OK; INVALID_ARGUMENT (session NULL, called from its token callback: nothing changed). */
VKGEMMA_API vkgemma_status vkgemma_session_reset(vkgemma_session *session);

/* Evaluate tokens[0, n_tokens) after the session's history (prompt processing, e.g. a system
 * prompt shared by later turns), in chunks of n_batch.
 * Returns OK; INVALID_ARGUMENT (session/tokens NULL, n_tokens 0, an id outside the vocabulary,
 * called from a token callback); CONTEXT_FULL (history + n_tokens > n_ctx); DEVICE_ERROR;
 * OUT_OF_MEMORY; INTERNAL. On any failure nothing was evaluated (the history is unchanged),
 * except DEVICE_ERROR / INTERNAL after which the session should be reset. */
VKGEMMA_API vkgemma_status vkgemma_session_eval(vkgemma_session *session, const int32_t *tokens, size_t n_tokens);

typedef struct vkgemma_sampler_params {
  size_t struct_size;       /* in: sizeof(vkgemma_sampler_params) */
  int32_t n_predict;        /* max new tokens; default 128; < 0: until end of generation or a
                               full context */
  uint64_t seed;            /* default 0; same seed, prompt and params -> same tokens */
  float temperature;        /* default 0.8; <= 0: greedy (argmax) */
  int32_t top_k;            /* default 40; <= 0: off */
  float top_p;              /* default 0.95; >= 1: off; must be in [0, 1] */
  float min_p;              /* default 0.05; <= 0: off; must be in [0, 1] */
  float repeat_penalty;     /* default 1.0 (off); > 0 */
  int32_t penalty_last_n;   /* window of recent tokens penalised; default 64; 0 off; -1 all */
  float frequency_penalty;  /* default 0 (off) */
  float presence_penalty;   /* default 0 (off) */
} vkgemma_sampler_params;

/* Fill *params with the defaults (llama.cpp's: penalties off; params->struct_size must be set).
 * Returns OK; INVALID_ARGUMENT (params NULL or struct_size too small; nothing written). */
VKGEMMA_API vkgemma_status vkgemma_sampler_default_params(vkgemma_sampler_params *params);

/* Called with each generated token: its id and its text piece (complete UTF-8 characters, not
 * NUL-terminated, possibly empty while a character spans several tokens; valid only during the
 * call). A final call with token -1 delivers an incomplete trailing character as U+FFFD, if any.
 * Return false to stop generating. The end-of-generation token is not delivered. */
typedef bool (*vkgemma_token_callback)(int32_t token, const char *piece, size_t piece_len, void *user_data);

typedef enum vkgemma_stop_reason {
  VKGEMMA_STOP_END_OF_GENERATION = 0,  /* the model produced an end-of-generation token */
  VKGEMMA_STOP_MAX_TOKENS = 1,         /* n_predict tokens were generated */
  VKGEMMA_STOP_CONTEXT_FULL = 2,       /* the context filled up */
  VKGEMMA_STOP_CALLBACK = 3            /* the token callback returned false */
} vkgemma_stop_reason;

/* Evaluate prompt[0, n_prompt) after the session's history, then sample up to
 * sampler->n_predict tokens, delivering each to callback (may be NULL) as it is produced.
 * sampler NULL: default sampler params, with the model file's recommended top_k, top_p and
 * temperature (general.sampling.*) where it has them. *stop_reason (if not NULL) says why it stopped.
 * History: the prompt and every delivered token except the last become part of the history
 * (the last one was sampled but not evaluated; neither is an end-of-generation token). To
 * continue the conversation, begin the next prompt with the last delivered token; or reset and
 * evaluate the whole conversation again. vkgemma_stats.n_past is the history length. The same Session code runs `vkgemma run`: for the same model, prompt tokens and sampler
 * params the text is the same.
 * Returns OK (also when it stopped at the context end or because the callback returned false);
 * INVALID_ARGUMENT (session/prompt NULL, n_prompt 0, bad sampler values, an id outside the
 * vocabulary, called from a token callback; nothing evaluated); CONTEXT_FULL (the prompt does not
 * fit: history + n_prompt > n_ctx; nothing evaluated); DEVICE_ERROR; OUT_OF_MEMORY; INTERNAL
 * (after these three the session should be reset). */
VKGEMMA_API vkgemma_status vkgemma_generate(vkgemma_session *session, const int32_t *prompt, size_t n_prompt,
                                            const vkgemma_sampler_params *sampler, vkgemma_token_callback callback,
                                            void *user_data, vkgemma_stop_reason *stop_reason);

/* Why the session's last vkgemma_generate / vkgemma_generate_reply stopped: *stop_reason (may be
 * NULL) and *stop_token (may be NULL): the end-of-generation token that ended it (<turn|> ends the
 * turn, <|tool_response> hands over to a tool, <eos> ends the text; its text via
 * vkgemma_detokenize with VKGEMMA_DETOKENIZE_RENDER_SPECIAL), or -1 when it stopped otherwise.
 * Before any generation: VKGEMMA_STOP_MAX_TOKENS and -1.
 * Returns OK; INVALID_ARGUMENT (session NULL). */
VKGEMMA_API vkgemma_status vkgemma_session_get_last_stop(const vkgemma_session *session,
                                                         vkgemma_stop_reason *stop_reason, int32_t *stop_token);

/* ---------------------------------------------------------------------------------------------
 * Replies: a model turn split into reasoning, answer and tool calls
 * ------------------------------------------------------------------------------------------- */

/* One parsed model turn. Gemma 4 writes its reasoning in a thought channel
 * ("<|channel>thought\n...<channel|>") and tool calls as "<|tool_call>call:NAME{key:value}<tool_call|>"
 * (strings quoted by <|"|>); a reply holds them apart, markup removed. Not thread-safe; reusable. */
typedef struct vkgemma_reply vkgemma_reply;

/* A new, empty reply. Returns OK (*out_reply set; free it with vkgemma_reply_free);
 * INVALID_ARGUMENT (out_reply NULL); OUT_OF_MEMORY. */
VKGEMMA_API vkgemma_status vkgemma_reply_create(vkgemma_reply **out_reply);

/* Free a reply (the pointers its info handed out become invalid). NULL: no-op. Returns OK;
 * INVALID_ARGUMENT (not a reply handle, detected on a best-effort basis). */
VKGEMMA_API vkgemma_status vkgemma_reply_free(vkgemma_reply *reply);

typedef struct vkgemma_reply_info {
  size_t struct_size;           /* in: sizeof(vkgemma_reply_info) */
  /* All text is UTF-8, NUL-terminated, owned by the reply: valid until it is freed or refilled. */
  const char *content;          /* the answer: markup removed, trimmed ("" if none) */
  size_t content_len;
  const char *reasoning;        /* the thought channel's text, trimmed ("" if none) */
  size_t reasoning_len;
  size_t n_tool_calls;          /* see vkgemma_reply_get_tool_call */
  const char *tool_calls_json;  /* [{"name": "...", "arguments": {...}}, ...] ("[]" if none) */
  size_t tool_calls_json_len;
  const char *message_json;     /* the assistant message to append to vkgemma_chat_format_json's
                                   messages: {"role": "assistant", "content": ..., "tool_calls":
                                   [{"id": "call_<i>", ...}], "reasoning": ...} (reasoning only
                                   with tool calls, as the template wants it in the history) */
  size_t message_json_len;
  const char *error;            /* why a tool-call block was left out (malformed), "" if none */
  size_t error_len;
  /* How the turn ended (vkgemma_generate_reply; a parsed text reports END_OF_GENERATION, -1). */
  vkgemma_stop_reason stop_reason;
  int32_t stop_token;           /* the end-of-generation token, -1 when none */
} vkgemma_reply_info;

/* Describe a reply into *info. Returns OK; INVALID_ARGUMENT (reply/info NULL, bad struct_size;
 * *info not written). */
VKGEMMA_API vkgemma_status vkgemma_reply_get_info(const vkgemma_reply *reply, vkgemma_reply_info *info);

/* Tool call `index` (0 <= index < n_tool_calls): *name (its function name) and *arguments_json (a
 * JSON object), both NUL-terminated and owned by the reply; the *_len outputs may be NULL.
 * Returns OK; INVALID_ARGUMENT (reply/name/arguments_json NULL, index out of range). */
VKGEMMA_API vkgemma_status vkgemma_reply_get_tool_call(const vkgemma_reply *reply, size_t index, const char **name,
                                                       size_t *name_len, const char **arguments_json,
                                                       size_t *arguments_json_len);

/* Parse the text of a model turn (what followed the generation prompt, markup included, e.g. from
 * vkgemma_detokenize with VKGEMMA_DETOKENIZE_RENDER_SPECIAL) into reply (its previous content is
 * replaced). Text after "<turn|>" or "<eos>" is ignored; a tool call without its
 * closing marker is parsed to the end; a malformed one is left out and described in info.error.
 * Returns OK; INVALID_ARGUMENT (reply NULL, text NULL with text_len > 0); OUT_OF_MEMORY. */
VKGEMMA_API vkgemma_status vkgemma_reply_parse(vkgemma_reply *reply, const char *text, size_t text_len);

typedef enum vkgemma_reply_part {
  VKGEMMA_REPLY_CONTENT = 0,    /* a piece of the answer */
  VKGEMMA_REPLY_REASONING = 1,  /* a piece of the reasoning */
  VKGEMMA_REPLY_TOOL_CALL = 2   /* one complete tool call: {"name": "...", "arguments": {...}} */
} vkgemma_reply_part;

/* Called while a reply is generated, with pieces that never contain markup (text valid only
 * during the call, not NUL-terminated, complete UTF-8). Markup split over several tokens is held
 * back until it is complete, so pieces can lag a few tokens. Return false to stop generating. */
typedef bool (*vkgemma_reply_callback)(vkgemma_reply_part part, const char *text, size_t text_len,
                                       void *user_data);

/* vkgemma_generate, with the output parsed as a model turn while it is generated: callback (may
 * be NULL) gets the answer, the reasoning and each tool call apart; reply (may be NULL) receives
 * the whole turn, its stop reason and stop token. The tokens, history and errors are those of
 * vkgemma_generate with the same arguments (generation also stops, with stop reason CALLBACK,
 * when other tokens spell an end marker "<turn|>" or "<eos>"). Markers are recognised by their
 * text whatever the token types of the model file say.
 * Returns as vkgemma_generate (INVALID_ARGUMENT also for a reply handle that is not one). */
VKGEMMA_API vkgemma_status vkgemma_generate_reply(vkgemma_session *session, const int32_t *prompt, size_t n_prompt,
                                                  const vkgemma_sampler_params *sampler,
                                                  vkgemma_reply_callback callback, void *user_data,
                                                  vkgemma_reply *reply);

typedef struct vkgemma_stats {
  size_t struct_size;               /* in: sizeof(vkgemma_stats) */
  uint32_t n_ctx;                   /* the session's context length */
  uint32_t n_past;                  /* positions evaluated (history length) */
  uint64_t prompt_tokens;           /* tokens evaluated as prompt since the session was created */
  uint64_t generated_tokens;        /* tokens generated (and evaluated) since then */
  double prefill_ms, decode_ms, sample_ms;
  double prefill_tokens_per_s;      /* prompt_tokens / prefill time */
  double decode_tokens_per_s;       /* generated_tokens / decode time */
  uint64_t ple_rows_paged;          /* per-layer-embedding rows paged to the device */
  uint64_t ple_bytes_paged;
  double gpu_stall_ms;              /* GPU time spent waiting for paged rows (0: not measured yet) */
  uint64_t session_device_bytes;    /* this session's device memory: KV cache + activations */
  uint64_t model_device_bytes;      /* the model's weights (shared by its sessions) */
  uint64_t device_allocated_bytes;  /* device-local memory allocated on the device by the whole
                                       process (all models and sessions; block granularity) */
  uint64_t device_used_bytes;       /* of which bytes in live buffers */
} vkgemma_stats;

/* Statistics of the session into *stats. Returns OK; INVALID_ARGUMENT (session/stats NULL, bad
 * struct_size; *stats not written). */
VKGEMMA_API vkgemma_status vkgemma_session_get_stats(const vkgemma_session *session, vkgemma_stats *stats);

/* ---------------------------------------------------------------------------------------------
 * Diagnostics
 * ------------------------------------------------------------------------------------------- */

/* Severity of a library message (vkgemma_set_log_callback). */
typedef enum vkgemma_log_level {
  VKGEMMA_LOG_DEBUG = 0,
  VKGEMMA_LOG_INFO = 1,
  VKGEMMA_LOG_WARN = 2,  /* e.g. a pipeline cache file that was ignored */
  VKGEMMA_LOG_ERROR = 3  /* e.g. a validation-layer message, a buffer overrun caught by VKGEMMA_GUARD */
} vkgemma_log_level;

/* Receives one message: its level and text (NUL-terminated, one message, no trailing newline; valid
 * only during the call). May be called from any thread, also the driver's, and concurrently; it
 * must not call vkgemma functions. */
typedef void (*vkgemma_log_callback)(vkgemma_log_level level, const char *text, void *user_data);

/* Where the library's messages go, process-wide. The library never writes to stderr by itself
 * except through the default: until a callback is set (and after callback NULL), warnings and
 * errors are printed to stderr as "vkgemma: ..." lines. Thread-safe. Returns OK. */
VKGEMMA_API vkgemma_status vkgemma_set_log_callback(vkgemma_log_callback callback, void *user_data);

/* Messages the Vulkan validation layer reported in this process (only with VKGEMMA_VALIDATION=1;
 * any message is a vkgemma bug). Returns OK; INVALID_ARGUMENT (count NULL). */
VKGEMMA_API vkgemma_status vkgemma_validation_message_count(uint64_t *count);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* VKGEMMA_H */
