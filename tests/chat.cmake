# Chat template and reply parsing against the official templates rendered by jinja2 (registered
# from tests/CMakeLists.txt). Both tests read ../shared/reference (the templates are not in the
# repository) and report a skip (exit 77) without it. jinja2 comes from Debian's python3-jinja2:
# /usr/bin/python3 first, since a python3 earlier on PATH (pyenv, venv) may lack it.
find_program(VKG_JINJA_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT VKG_JINJA_PYTHON)
  find_program(VKG_JINJA_PYTHON NAMES python3)
endif()
set(VKG_CHAT_TEMPLATES ${VKG_SHARED_DIR}/reference)

# The C++ formatter equals jinja2 on >= 20 conversations x both templates x thinking/generation prompt.
add_executable(chat_jinja_compare ${CMAKE_CURRENT_SOURCE_DIR}/chat/jinja_compare.cpp)
target_link_libraries(chat_jinja_compare PRIVATE vkg_host)
vkg_test(NAME chat_jinja LABELS chat
         COMMAND chat_jinja_compare ${VKG_JINJA_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/chat/render_jinja.py
         ${VKG_CHAT_TEMPLATES} ${CMAKE_CURRENT_SOURCE_DIR}/data/chat_conversations.json
         ${PROJECT_BINARY_DIR}/test-scratch/chat_jinja)

# `vkgemma chat` with scripted stdin on the built-in model: replies never show markup, /reset works,
# a tool call (scripted with /assistant) and its /tool answer give the prompt jinja2 renders.
# (On every test driver; the scratch directory is per driver.)
vkg_test(NAME cli_chat_tool_roundtrip DEVICE FIRST_DRIVER LABELS chat e2e PROPERTIES TIMEOUT 900
         ENVIRONMENT VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache
         COMMAND sh -c "exec \"$0\" \"$@\" \"${PROJECT_BINARY_DIR}/test-scratch/cli_chat_tool_roundtrip\${VKGEMMA_TEST_DRIVER:+@\$VKGEMMA_TEST_DRIVER}\""
                 ${VKG_JINJA_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/chat/chat_roundtrip.py
                 $<TARGET_FILE:vkgemma> ${VKG_CHAT_TEMPLATES})

# `run --json` reports the reply's parts and why it stopped (the built-in model runs out of -n).
# (Exit status checked too: tests/cli/check_run.cmake.)
vkg_test(NAME cli_run_reply_json DEVICE FIRST_DRIVER LABELS chat e2e
         ENVIRONMENT VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache
         COMMAND ${CMAKE_COMMAND} "-DFAIL=vulkan validation"
                 "-DPASS=\"reasoning\": \"\",[^}]*\"stop\": \"max_tokens\",[^}]*\"stop_token\": null,[^}]*\"tool_calls\": \\[\\]"
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake -- ${VKG_CLI} run -q -p "Why is the sky blue?" -n 3 --greedy --json)
# --raw takes the prompt as is: chat-template options with it are a usage error (exit 2).
# (Newlines, not semicolons, between the shell commands: vkg_test passes the command as a list.)
vkg_test(NAME cli_run_raw_with_think LABELS chat COMMAND sh -c
  "out=$($<TARGET_FILE:vkgemma> run --raw --think -p hi 2>&1)\nrc=$?\necho \"$out\"\n[ $rc -eq 2 ] && echo \"$out\" | grep -q 'need the chat template'")
