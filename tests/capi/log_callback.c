/* log_callback.c MODEL.gguf CACHE_DIR: the library's messages reach vkgemma_set_log_callback's
 * callback, and after callback NULL the default prints warnings to stderr.
 *
 * The message provoked is the pipeline-cache warning: the model is loaded once (the device writes
 * its pipeline cache into CACHE_DIR, which VKGEMMA_CACHE_DIR names), the cache file is overwritten
 * with garbage, and loading again must report "ignoring pipeline cache" at VKGEMMA_LOG_WARN; then,
 * with the default restored, the same warning must appear on stderr (checked by the caller).
 * Exit status: 0 ok, 1 failure (reason on stdout), 77 no pipeline cache file was written. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include <vkgemma.h>

static int n_warn = 0, n_other = 0;

static void on_log(vkgemma_log_level level, const char *text, void *user_data) {
  if (user_data != (void *)&n_warn) { n_other += 1000; return; } /* user_data not passed through */
  if (level == VKGEMMA_LOG_WARN && strstr(text, "ignoring pipeline cache")) n_warn++;
  else n_other++;
  printf("callback: level %d: %s\n", (int)level, text);
}

/* Overwrite every pipelines-*.bin in dir with garbage; returns how many. */
static int corrupt_caches(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "pipelines-", 10) != 0 || !strstr(e->d_name, ".bin")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "wb");
    if (!f) continue;
    for (int i = 0; i < 64; ++i) fputc(0x55, f);
    fclose(f);
    n++;
  }
  closedir(d);
  return n;
}

static int load_free(const char *path) {
  vkgemma_model_params mp = {.struct_size = sizeof mp};
  vkgemma_model_default_params(&mp);
  vkgemma_model *model = NULL;
  vkgemma_status st = vkgemma_model_load(path, &mp, &model);
  if (st != VKGEMMA_OK) {
    printf("FAIL: vkgemma_model_load: %s: %s\n", vkgemma_status_string(st), vkgemma_last_error());
    return 1;
  }
  vkgemma_model_free(model);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  FILE *m = fopen(argv[1], "rb");
  if (!m) {
    printf("SKIPPED: capi_log_callback: model %s not found (../shared absent)\n", argv[1]);
    return 77;
  }
  fclose(m);
  if (load_free(argv[1])) return 1; /* writes the pipeline cache */
  if (corrupt_caches(argv[2]) == 0) {
    printf("SKIPPED: no pipeline cache file in %s\n", argv[2]);
    return 77;
  }
  if (vkgemma_set_log_callback(on_log, &n_warn) != VKGEMMA_OK) return printf("FAIL: set_log_callback\n"), 1;
  if (load_free(argv[1])) return 1;
  if (n_warn != 1 || n_other != 0) {
    printf("FAIL: %d pipeline-cache warnings (expected 1), %d other messages\n", n_warn, n_other);
    return 1;
  }
  if (vkgemma_set_log_callback(NULL, NULL) != VKGEMMA_OK) return printf("FAIL: set_log_callback(NULL)\n"), 1;
  corrupt_caches(argv[2]);
  if (load_free(argv[1])) return 1; /* the default sink: stderr */
  if (n_warn != 1) return printf("FAIL: the callback was called after it was removed\n"), 1;
  printf("ok: the callback got the warning once\n");
  return 0;
}
