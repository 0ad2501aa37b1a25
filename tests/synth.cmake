# CLI tests of `vkgemma synth`, `info` and `tokenize` (registered from tests/CMakeLists.txt); no
# Vulkan device involved, run once.
set(VKG_SYNTH_DIR ${PROJECT_BINARY_DIR}/test-scratch/cli_synth)
# Setup: a tiny model and a truncated copy of it.
vkg_test(NAME cli_synth_tiny LABELS cli PROPERTIES FIXTURES_SETUP synth_tiny COMMAND sh -c
         "mkdir -p '${VKG_SYNTH_DIR}' && '$<TARGET_FILE:vkgemma>' synth --preset tiny --type q4_k_m -o '${VKG_SYNTH_DIR}/tiny.gguf' && head -c 100000 '${VKG_SYNTH_DIR}/tiny.gguf' > '${VKG_SYNTH_DIR}/truncated.gguf'")
# `info --json` parses and reports what was written; e2b at full size as a sparse file.
vkg_test(NAME cli_synth_info_json LABELS cli PROPERTIES FIXTURES_REQUIRED synth_tiny
         COMMAND ${CMAKE_COMMAND} -DVKGEMMA=$<TARGET_FILE:vkgemma> -DDIR=${VKG_SYNTH_DIR}
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/synth_info.cmake)
# A damaged file: exit 1 and one clear error line.
vkg_test(NAME cli_info_truncated LABELS cli PROPERTIES FIXTURES_REQUIRED synth_tiny
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "truncated"
                 $<TARGET_FILE:vkgemma> info ${VKG_SYNTH_DIR}/truncated.gguf)
vkg_test(NAME cli_info_missing LABELS cli
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "cannot open"
                 $<TARGET_FILE:vkgemma> info ${VKG_SYNTH_DIR}/does-not-exist.gguf)
# Bad synthesis options are a bad command line (exit 2).
vkg_test(NAME cli_synth_bad_dims LABELS cli
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 2 "multiple of n_head_kv"
                 $<TARGET_FILE:vkgemma> synth --preset tiny --n-head 3 -o ${VKG_SYNTH_DIR}/bad.gguf)
# A shape synth could write but the loader refuses (rows of 100 elements; the kernels read blocks of
# 32): refused before anything is written, with the loader's reason, and no file left behind.
vkg_test(NAME cli_synth_loader_refuses LABELS cli
         COMMAND sh -c "mkdir -p '${VKG_SYNTH_DIR}' && rm -f '${VKG_SYNTH_DIR}/refused.gguf'; sh '${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh' 2 'refused by the loader: .*rows of 100 elements.*multiple of 32' '$<TARGET_FILE:vkgemma>' synth --preset tiny --n-embd 100 -o '${VKG_SYNTH_DIR}/refused.gguf' && ! ls '${VKG_SYNTH_DIR}' | grep -q refused")
# tokenize: BOS, special-token parsing, the id list format (exit status checked too).
vkg_test(NAME cli_tokenize_ids LABELS cli PROPERTIES FIXTURES_REQUIRED synth_tiny
         COMMAND ${CMAKE_COMMAND} "-DPASS=^.2, 4, [0-9, ]+, 5." -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} tokenize -m ${VKG_SYNTH_DIR}/tiny.gguf -p "<|turn>hi<turn|>" --special --ids)
vkg_test(NAME cli_tokenize_pieces LABELS cli PROPERTIES FIXTURES_REQUIRED synth_tiny
         COMMAND ${CMAKE_COMMAND} "-DPASS=^ +[0-9]+ -> 'a'\n" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} tokenize -m ${VKG_SYNTH_DIR}/tiny.gguf -p "a b" --no-bos)
# info takes -m as well as FILE.
vkg_test(NAME cli_info_dash_m LABELS cli PROPERTIES FIXTURES_REQUIRED synth_tiny
         COMMAND ${CMAKE_COMMAND} "-DPASS=\"n_layer\"" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} info -m ${VKG_SYNTH_DIR}/tiny.gguf --json)
