# CLI-level tests (registered from tests/CMakeLists.txt). Output checks go through
# tests/cli/check_run.cmake so that the exit status counts as well as the output.
vkg_test(NAME cli_devices DEVICE LABELS cli
         COMMAND ${CMAKE_COMMAND} "-DPASS=\"subgroup_size\"" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} devices --json)

# ---- exit codes (README "Exit codes"; tools/vkgemma/commands.h exit_code_of) -------------------
# vkg_cli_error(NAME n EXIT code PASS regex [DEVICE] [STDOUT file] [ENVIRONMENT e...] ARGS a...):
# `vkgemma ARGS` exits with EXIT and writes exactly one stderr line, "vkgemma: error: ...",
# matching PASS. DEVICE: the command creates a Vulkan instance (first test driver only); the
# others fail before any Vulkan call and run once.
function(vkg_cli_error)
  cmake_parse_arguments(A "DEVICE" "NAME;EXIT;PASS;STDOUT" "ARGS;ENVIRONMENT" ${ARGN})
  set(dev "")
  if(A_DEVICE)
    set(dev DEVICE FIRST_DRIVER)
  endif()
  set(extra "")
  if(A_STDOUT)
    set(extra -DSTDOUT=${A_STDOUT})
  endif()
  vkg_test(NAME ${A_NAME} ${dev} LABELS cli ENVIRONMENT ${A_ENVIRONMENT}
           COMMAND ${CMAKE_COMMAND} -DEXIT=${A_EXIT} -DONE_ERROR=1 "-DPASS=${A_PASS}" ${extra}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake -- ${VKG_CLI} ${A_ARGS})
endfunction()
set(_empty_icd ${CMAKE_CURRENT_SOURCE_DIR}/data/empty_icd.json)
# 3: no Vulkan driver (no crash).
vkg_cli_error(NAME cli_no_driver EXIT 3 PASS "no Vulkan" ARGS devices
              ENVIRONMENT VK_ICD_FILENAMES=${_empty_icd} VK_DRIVER_FILES=${_empty_icd})
# 2: bad command line, also values found bad after parsing.
vkg_cli_error(NAME cli_exit_top_p EXIT 2 PASS "--top-p" ARGS run --top-p 2)
vkg_cli_error(NAME cli_exit_device_index DEVICE EXIT 2 PASS "device index 99 out of range" ARGS run --device 99)
vkg_cli_error(NAME cli_exit_device_profile EXIT 2 PASS "unknown device profile 'bogus'" ARGS run --device-profile bogus)
vkg_cli_error(NAME cli_exit_env_device EXIT 2 PASS "VKGEMMA_DEVICE='abc'" ARGS run ENVIRONMENT VKGEMMA_DEVICE=abc)
vkg_cli_error(NAME cli_exit_logits_tokens EXIT 2 PASS "'abc' is not a token id" ARGS logits --tokens 2,abc -o x.f32)
vkg_cli_error(NAME cli_exit_unknown_subcommand EXIT 2 PASS "unknown subcommand 'foo'" ARGS foo)
vkg_cli_error(NAME cli_exit_ngl EXIT 2 PASS "unknown option '-ngl'" ARGS run -ngl 99)
vkg_cli_error(NAME cli_exit_chunks_zero EXIT 2 PASS "--chunks.*positive number of chunks" ARGS
              perplexity --chunks 0 -f ${CMAKE_CURRENT_SOURCE_DIR}/cli/chat_input.txt)
# 1: runtime errors: a model file that is not there (named), a full stdout, an unwritable cache.
vkg_cli_error(NAME cli_exit_missing_model EXIT 1 PASS "/nonexistent/missing.gguf: cannot open" ARGS
              run -m /nonexistent/missing.gguf)
vkg_cli_error(NAME cli_exit_write_failed EXIT 1 PASS "write failed" STDOUT /dev/full ARGS --version)
vkg_cli_error(NAME cli_exit_cache_unwritable EXIT 1 PASS "cannot write the cache directory.*VKGEMMA_CACHE_DIR" ARGS
              tokenize -p hi ENVIRONMENT VKGEMMA_CACHE_DIR=/dev/null/vkgemma-cache)

# ---- conventions ----------------------------------------------------------------------------------
vkg_test(NAME cli_version LABELS cli
         COMMAND ${CMAKE_COMMAND} "-DPASS=^vkgemma ${PROJECT_VERSION}" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} --version)
# Every --help shows the defaults; --ctx-size is llama.cpp's name of -c.
vkg_test(NAME cli_help_defaults LABELS cli
         COMMAND ${CMAKE_COMMAND} "-DPASS=--ctx-size[^\n]*=4096.*--top-k[^\n]*=40.*--seed[^\n]*=-1"
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake -- ${VKG_CLI} run --help)
# `cmake --install` installs the CLI.
vkg_test(NAME cli_install LABELS cli COMMAND sh -c
  "rm -rf \"$0\"
'${CMAKE_COMMAND}' --install '${PROJECT_BINARY_DIR}' --prefix \"$0\" >/dev/null || exit 1
\"$0/bin/vkgemma\" --version | grep -q '^vkgemma ${PROJECT_VERSION}'" ${PROJECT_BINARY_DIR}/test-scratch/cli_install)
# run --json: random seed per run (reported; --seed N fixes it), generated_tokens, -f -, --ctx-size,
# --stop; perplexity -q (tests/cli/conventions.cmake).
vkg_test(NAME cli_conventions DEVICE FIRST_DRIVER LABELS cli
         ENVIRONMENT VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache
         COMMAND ${CMAKE_COMMAND} -DVKGEMMA=$<TARGET_FILE:vkgemma> -DWORK=${PROJECT_BINARY_DIR}/test-scratch/cli_conventions
                 -DTEXT=${PROJECT_SOURCE_DIR}/README.md -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/conventions.cmake)
# info and tokenize: -m, and the built-in model without one (no device).
vkg_test(NAME cli_tokenize_builtin LABELS cli ENVIRONMENT VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache
         COMMAND ${CMAKE_COMMAND} "-DPASS=^.2, [0-9]" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} tokenize -p "Hello world" --ids)
vkg_test(NAME cli_info_builtin LABELS cli ENVIRONMENT VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache
         COMMAND ${CMAKE_COMMAND} "-DPASS=vkgemma built-in tiny" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} info)
