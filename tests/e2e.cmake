# End-to-end CLI runs on the built-in tiny model (generated into the test cache dir on first use).
add_test(NAME cli_run_builtin COMMAND vkgemma run -p "Why is the sky blue?" -n 8 --seed 3)
set_tests_properties(cli_run_builtin PROPERTIES LABELS e2e
  ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache"
  PASS_REGULAR_EXPRESSION "decode [0-9]+ tok" FAIL_REGULAR_EXPRESSION "validation\\]")
add_test(NAME cli_chat_pipe COMMAND sh -c
  "printf 'Hello there\\nTell me more\\n/reset\\nAgain\\n/exit\\n' | $<TARGET_FILE:vkgemma> chat -n 6 --greedy")
set_tests_properties(cli_chat_pipe PROPERTIES LABELS e2e
  ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache"
  PASS_REGULAR_EXPRESSION "history cleared.*decode" FAIL_REGULAR_EXPRESSION "validation\\]|error")
add_test(NAME cli_bench_synthetic COMMAND vkgemma bench --synthetic tiny -p 8 -n 4 -d 0,8 -r 1 --profile --json -q)
set_tests_properties(cli_bench_synthetic PROPERTIES LABELS e2e
  ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_GUARD=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache"
  PASS_REGULAR_EXPRESSION "\"decode_roofline_tok_s\".*\"tg4@d8\"" FAIL_REGULAR_EXPRESSION "validation\\]|OVERRUN")
# llama-bench conventions (issue 15): -p 0 is generation only (decode depth 0 by default), -n 0
# skips the decode test, -b 0 is a bad command line (exit 2), not a crash.
set(_bench "$<TARGET_FILE:vkgemma> bench --synthetic tiny -r 1 -q")
add_test(NAME cli_bench_generation_only COMMAND sh -c
  "out=$(${_bench} -p 0 -n 2 --json) && echo \"$out\" | grep -q '\"test\": \"tg2@d0\"' && ! echo \"$out\" | grep -q '\"test\": \"pp' && echo \"$out\" | grep -q '\"ttft_ms\": null'")
add_test(NAME cli_bench_prompt_only COMMAND sh -c
  "out=$(${_bench} -p 4 -n 0 -d 0,8) && echo \"$out\" | grep -q '^| pp4 ' && ! echo \"$out\" | grep -q '^| tg' && echo \"$out\" | grep -q 'TTFT'")
add_test(NAME cli_bench_batch_zero COMMAND sh -c
  "${_bench} -p 4 -n 2 -b 0 >/dev/null 2>err.txt; rc=$?; cat err.txt; [ $rc -eq 2 ] && grep -q 'batch' err.txt")
set_tests_properties(cli_bench_generation_only cli_bench_prompt_only cli_bench_batch_zero PROPERTIES LABELS e2e
  ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_GUARD=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache"
  FAIL_REGULAR_EXPRESSION "validation\\]|OVERRUN")
# A device memory budget too small even for layer streaming: one clear line, exit code 1.
add_test(NAME cli_gpu_mem_too_small COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1
         "needs at least .* MiB of device memory (have" $<TARGET_FILE:vkgemma> run -q -p hi -n 4 --gpu-mem 2M)
set_tests_properties(cli_gpu_mem_too_small PROPERTIES LABELS e2e
  ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache")
# A budget that streams layers (full residency needs about 10.2 MiB at -c 256): same greedy text as without one
# (--raw: the random model's chat reply may be all markup, which run hides).
add_test(NAME cli_gpu_mem_streams COMMAND sh -c
  "a=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw) && b=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw --gpu-mem 10M -c 256) && [ -n \"$a\" ] && [ \"$a\" = \"$b\" ] && $<TARGET_FILE:vkgemma> run -p hi -n 2 --gpu-mem 10M -c 256 2>&1 | grep -q 'layers resident'")
set_tests_properties(cli_gpu_mem_streams PROPERTIES LABELS e2e
  ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache")
# Budgets are exact (issue 14): the minimum a refusal names loads, streams layers and gives the same text.
add_test(NAME cli_gpu_mem_named_minimum_runs COMMAND sh -c
  "n=$($<TARGET_FILE:vkgemma> run -q -p hi -n 2 -c 256 --gpu-mem 2M 2>&1 | sed -n 's/.*needs at least \\([0-9]*\\) MiB.*/\\1/p') && [ -n \"$n\" ] && a=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw -c 256) && b=$($<TARGET_FILE:vkgemma> run -q -p 'Why is the sky blue?' -n 12 --greedy --raw -c 256 --gpu-mem \${n}M) && [ -n \"$a\" ] && [ \"$a\" = \"$b\" ] && $<TARGET_FILE:vkgemma> run -p hi -n 2 -c 256 --gpu-mem \${n}M 2>&1 | grep -q 'layers resident'")
set_tests_properties(cli_gpu_mem_named_minimum_runs PROPERTIES LABELS e2e
  ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_GUARD=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache")
