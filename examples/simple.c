/* simple.c: load a model, stream a reply to one prompt, print statistics.
 *
 *   simple MODEL.gguf PROMPT [N_PREDICT [SEED]]
 *
 * The prompt is fed as is (no chat template; BOS added when the model asks for it), exactly like
 * `vkgemma run --raw -m MODEL -p PROMPT -n N_PREDICT --seed SEED`, and prints the same text.
 * Exit status: 0 done, 1 an API call failed (one line on stderr), 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vkgemma.h>

static int failed(const char *call, vkgemma_status status) {
  fprintf(stderr, "simple: %s failed (%s): %s\n", call, vkgemma_status_string(status), vkgemma_last_error());
  return 1;
}

static bool print_piece(int32_t token, const char *piece, size_t len, void *user_data) {
  (void)token;
  (void)user_data;
  fwrite(piece, 1, len, stdout);
  fflush(stdout);
  return true; /* keep going */
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: %s MODEL.gguf PROMPT [N_PREDICT [SEED]]\n", argv[0]);
    return 2;
  }
  const char *path = argv[1], *text = argv[2];

  vkgemma_sampler_params sampler = {.struct_size = sizeof sampler};
  vkgemma_sampler_default_params(&sampler);
  if (argc > 3) sampler.n_predict = atoi(argv[3]);
  if (argc > 4) sampler.seed = strtoull(argv[4], NULL, 10);

  vkgemma_model_params mp = {.struct_size = sizeof mp};
  vkgemma_model_default_params(&mp);
  vkgemma_model *model = NULL;
  vkgemma_status st = vkgemma_model_load(path, &mp, &model);
  if (st != VKGEMMA_OK) return failed("vkgemma_model_load", st);

  /* Tokenize: ask for the size, then fill. */
  const uint32_t flags = VKGEMMA_TOKENIZE_ADD_SPECIAL | VKGEMMA_TOKENIZE_PARSE_SPECIAL;
  size_t n_tokens = 0;
  st = vkgemma_tokenize(model, text, strlen(text), flags, NULL, 0, &n_tokens);
  if (st != VKGEMMA_OK && st != VKGEMMA_BUFFER_TOO_SMALL) return failed("vkgemma_tokenize", st);
  int32_t *tokens = malloc((n_tokens ? n_tokens : 1) * sizeof *tokens);
  if (!tokens) return 1;
  st = vkgemma_tokenize(model, text, strlen(text), flags, tokens, n_tokens, &n_tokens);
  if (st != VKGEMMA_OK) return failed("vkgemma_tokenize", st);

  vkgemma_session *session = NULL;
  st = vkgemma_session_create(model, NULL, &session);
  if (st != VKGEMMA_OK) return failed("vkgemma_session_create", st);

  vkgemma_stop_reason stop = VKGEMMA_STOP_MAX_TOKENS;
  st = vkgemma_generate(session, tokens, n_tokens, &sampler, print_piece, NULL, &stop);
  if (st != VKGEMMA_OK) return failed("vkgemma_generate", st);
  fputs("\n", stdout);

  vkgemma_stats stats = {.struct_size = sizeof stats};
  if (vkgemma_session_get_stats(session, &stats) == VKGEMMA_OK)
    fprintf(stderr, "prefill %llu tok, %.1f tok/s | decode %llu tok, %.2f tok/s | stop %d | device %.1f MiB\n",
            (unsigned long long)stats.prompt_tokens, stats.prefill_tokens_per_s,
            (unsigned long long)stats.generated_tokens, stats.decode_tokens_per_s, (int)stop,
            stats.device_allocated_bytes / 1048576.0);

  free(tokens);
  vkgemma_session_free(session);
  vkgemma_model_free(model);
  return 0;
}
