# CLI tests of `vkgemma synth`, `info` and `tokenize` (registered from tests/CMakeLists.txt).
set(VKG_SYNTH_DIR ${PROJECT_BINARY_DIR}/test-scratch/cli_synth)
# Setup: a tiny model and a truncated copy of it.
add_test(NAME cli_synth_tiny COMMAND sh -c
         "mkdir -p '${VKG_SYNTH_DIR}' && '$<TARGET_FILE:vkgemma>' synth --preset tiny --type q4_k_m -o '${VKG_SYNTH_DIR}/tiny.gguf' && head -c 100000 '${VKG_SYNTH_DIR}/tiny.gguf' > '${VKG_SYNTH_DIR}/truncated.gguf'")
set_tests_properties(cli_synth_tiny PROPERTIES LABELS cli FIXTURES_SETUP synth_tiny)
# `info --json` parses and reports what was written; e2b at full size as a sparse file.
add_test(NAME cli_synth_info_json COMMAND ${CMAKE_COMMAND} -DVKGEMMA=$<TARGET_FILE:vkgemma> -DDIR=${VKG_SYNTH_DIR}
         -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/synth_info.cmake)
set_tests_properties(cli_synth_info_json PROPERTIES LABELS cli FIXTURES_REQUIRED synth_tiny)
# A damaged file: exit 1 and one clear error line.
add_test(NAME cli_info_truncated COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "truncated"
         $<TARGET_FILE:vkgemma> info ${VKG_SYNTH_DIR}/truncated.gguf)
set_tests_properties(cli_info_truncated PROPERTIES LABELS cli FIXTURES_REQUIRED synth_tiny)
add_test(NAME cli_info_missing COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "cannot open"
         $<TARGET_FILE:vkgemma> info ${VKG_SYNTH_DIR}/does-not-exist.gguf)
set_tests_properties(cli_info_missing PROPERTIES LABELS cli)
add_test(NAME cli_synth_bad_dims COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "multiple of n_head_kv"
         $<TARGET_FILE:vkgemma> synth --preset tiny --n-head 3 -o ${VKG_SYNTH_DIR}/bad.gguf)
set_tests_properties(cli_synth_bad_dims PROPERTIES LABELS cli)
# tokenize: BOS, special-token parsing, the id list format.
add_test(NAME cli_tokenize_ids COMMAND vkgemma tokenize -m ${VKG_SYNTH_DIR}/tiny.gguf
         -p "<|turn>hi<turn|>" --special --ids)
set_tests_properties(cli_tokenize_ids PROPERTIES LABELS cli FIXTURES_REQUIRED synth_tiny
                     PASS_REGULAR_EXPRESSION "^\\[2, 4, [0-9, ]+, 5\\]")
add_test(NAME cli_tokenize_pieces COMMAND vkgemma tokenize -m ${VKG_SYNTH_DIR}/tiny.gguf
         -p "a b" --no-bos)
set_tests_properties(cli_tokenize_pieces PROPERTIES LABELS cli FIXTURES_REQUIRED synth_tiny
                     PASS_REGULAR_EXPRESSION "^ +[0-9]+ -> 'a'\n")
