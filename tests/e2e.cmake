# End-to-end CLI runs on the built-in tiny model (generated into the test cache dir on first use),
# on every test driver; exit status and output both checked (VKG_CHECK_RUN, tests/cli.cmake).
set(VKG_E2E_ENV VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache)
# (No square brackets in these arguments: an unbalanced one stops CMake's list splitting.)
set(VKG_CHECK ${CMAKE_COMMAND} "-DFAIL=vulkan validation|OVERRUN")
vkg_test(NAME cli_run_builtin DEVICE LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND ${VKG_CHECK} "-DPASS=decode [0-9]+ tok" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} run -p "Why is the sky blue?" -n 8 --seed 3)
vkg_test(NAME cli_chat_pipe DEVICE LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND ${CMAKE_COMMAND} "-DFAIL=vulkan validation|error" "-DPASS=history cleared.*decode"
                 -DSTDIN=${CMAKE_CURRENT_SOURCE_DIR}/cli/chat_input.txt -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} chat -n 6 --greedy)
vkg_test(NAME cli_bench_synthetic DEVICE LABELS e2e ENVIRONMENT ${VKG_E2E_ENV} VKGEMMA_GUARD=1
         COMMAND ${VKG_CHECK} "-DPASS=\"decode_roofline_tok_s\".*\"tg4@d8\"" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} bench --synthetic tiny -p 8 -n 4 -d 0,8 -r 1 --profile --json -q)
# A device memory budget too small even for layer streaming: one clear line, exit code 1.
vkg_test(NAME cli_gpu_mem_too_small DEVICE LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "needs at least .* MiB of device memory (have"
                 ${VKG_CLI} run -q -p hi -n 4 --gpu-mem 2M)
# A budget that streams layers: same greedy text as without one (exit status checked by sh -e).
vkg_test(NAME cli_gpu_mem_streams DEVICE LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND sh -c
  "a=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy) && b=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --gpu-mem 12M -c 256) && [ -n \"$a\" ] && [ \"$a\" = \"$b\" ] && c=$($<TARGET_FILE:vkgemma> run -p hi -n 2 --gpu-mem 12M -c 256 2>&1) && echo \"$c\" | grep -q 'layers resident'")
