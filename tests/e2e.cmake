# End-to-end CLI runs on the built-in tiny model (generated into the test cache dir on first use),
# exit status and output both checked (VKG_CHECK_RUN, tests/cli.cmake). cli_run_builtin runs on every
# test driver; the others test CLI behaviour (chat, bench, budgets) on the first driver only.
set(VKG_E2E_ENV VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache)
# (No square brackets in these arguments: an unbalanced one stops CMake's list splitting.)
set(VKG_CHECK ${CMAKE_COMMAND} "-DFAIL=vulkan validation|OVERRUN")
vkg_test(NAME cli_run_builtin DEVICE LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND ${VKG_CHECK} "-DPASS=decode [0-9]+ tok" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} run -p "Why is the sky blue?" -n 8 --seed 3)
vkg_test(NAME cli_chat_pipe DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND ${CMAKE_COMMAND} "-DFAIL=vulkan validation|error" "-DPASS=history cleared.*decode"
                 -DSTDIN=${CMAKE_CURRENT_SOURCE_DIR}/cli/chat_input.txt -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} chat -n 6 --greedy)
vkg_test(NAME cli_bench_synthetic DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV} VKGEMMA_GUARD=1
         COMMAND ${VKG_CHECK} "-DPASS=\"decode_roofline_tok_s\".*\"tg4@d8\"" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} bench --synthetic tiny -p 8 -n 4 -d 0,8 -r 1 --profile --json -q)
# A device memory budget too small even for layer streaming: one clear line, exit code 1.
vkg_test(NAME cli_gpu_mem_too_small DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "needs at least .* MiB of device memory (have"
                 ${VKG_CLI} run -q -p hi -n 4 --gpu-mem 2M)
# A budget that streams layers (full residency needs about 10.2 MiB at -c 256): same greedy text as without one
# (--raw: the random model's chat reply may be all markup, which run hides); exit status checked by sh.
vkg_test(NAME cli_gpu_mem_streams DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND sh -c
  "a=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw) && b=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw --gpu-mem 10M -c 256) && [ -n \"$a\" ] && [ \"$a\" = \"$b\" ] && c=$($<TARGET_FILE:vkgemma> run -p hi -n 2 --gpu-mem 10M -c 256 2>&1) && echo \"$c\" | grep -q 'layers resident'")
# Budgets are exact (issue 14): the minimum a refusal names loads, streams layers and gives the same text.
vkg_test(NAME cli_gpu_mem_named_minimum_runs DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV} VKGEMMA_GUARD=1
         COMMAND sh -c
  "n=$($<TARGET_FILE:vkgemma> run -q -p hi -n 2 -c 256 --gpu-mem 2M 2>&1 | sed -n 's/.*needs at least \\([0-9]*\\) MiB.*/\\1/p') && [ -n \"$n\" ] && a=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw -c 256) && b=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw -c 256 --gpu-mem \${n}M) && [ -n \"$a\" ] && [ \"$a\" = \"$b\" ] && c=$($<TARGET_FILE:vkgemma> run -p hi -n 2 -c 256 --gpu-mem \${n}M 2>&1) && echo \"$c\" | grep -q 'layers resident'")
# llama-bench conventions (issue 15): -p 0 is generation only (decode depth 0 by default), -n 0
# skips the decode test, -b 0 is a bad command line (exit 2), not a crash. CLI conventions: first driver only.
set(_bench "$<TARGET_FILE:vkgemma> bench --synthetic tiny -r 1 -q")
vkg_test(NAME cli_bench_generation_only DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV} VKGEMMA_GUARD=1
         COMMAND sh -c
  "out=$(${_bench} -p 0 -n 2 --json) && echo \"$out\" | grep -q '\"test\": \"tg2@d0\"' && ! echo \"$out\" | grep -q '\"test\": \"pp' && echo \"$out\" | grep -q '\"ttft_ms\": null'")
vkg_test(NAME cli_bench_prompt_only DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV} VKGEMMA_GUARD=1
         COMMAND sh -c
  "out=$(${_bench} -p 4 -n 0 -d 0,8) && echo \"$out\" | grep -q '^| pp4 ' && ! echo \"$out\" | grep -q '^| tg' && echo \"$out\" | grep -q 'TTFT'")
vkg_test(NAME cli_bench_batch_zero DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV} VKGEMMA_GUARD=1
         COMMAND sh -c
  "${_bench} -p 4 -n 2 -b 0 >/dev/null 2>err.txt
rc=$?
cat err.txt
[ $rc -eq 2 ] && grep -q 'batch' err.txt")
# chat on a terminal (tmux): Ctrl-C stops a reply and keeps the conversation, Ctrl-C at the prompt
# leaves (issue 15).
vkg_test(NAME cli_chat_interrupt DEVICE FIRST_DRIVER LABELS e2e ENVIRONMENT ${VKG_E2E_ENV}
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/chat_interrupt.sh $<TARGET_FILE:vkgemma> PROPERTIES TIMEOUT 400)
