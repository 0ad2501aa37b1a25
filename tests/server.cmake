# `vkgemma serve` (tools/server; registered from tests/CMakeLists.txt when cpp-httplib was found).
#  * test_server_api: request validation, stop strings, reply assembly, response shapes (no device).
#  * test_server_engine: the engine's tokens == Session::generate's (interleaved slots, prefix
#    reuse), cancel, full queue, stop (tiny synthetic model).
#  * server_http: the server on the built-in model driven over HTTP by python3's standard library
#    (tests/server/server_test.py basic): health, models, chat and completions streamed and not
#    (same text for the same seed), tool call round trips, stop strings, error objects, bad API
#    key, oversized body, client disconnect mid-stream, SIGTERM -> exit 0.
#  * server_load: hostile and concurrent traffic (server_test.py load): randomly mutated bodies
#    with /health after each, concurrent streams against --parallel 2 checked against sequential
#    runs, a full --queue -> 503 + Retry-After.
#  * server_openai_node: the official `openai` npm package (installed by scripts/setup.sh into
#    build/npm) against the server: chat, streamed chat, tool call round trip, models. Fails
#    (does not skip) when the package is missing.
if(NOT VKG_HAVE_SERVER)
  return()
endif()
add_executable(test_server_api ${CMAKE_CURRENT_SOURCE_DIR}/server/test_server_api.cpp)
target_link_libraries(test_server_api PRIVATE vkg_test_main vkg_server)
vkg_test(NAME test_server_api COMMAND test_server_api LABELS server PROPERTIES TIMEOUT 60)
# The engine (slots, queue, cancel) against Session::generate on a tiny synthetic model.
add_executable(test_server_engine ${CMAKE_CURRENT_SOURCE_DIR}/server/test_server_engine.cpp)
target_link_libraries(test_server_engine PRIVATE vkg_test_main vkg_server)
vkg_test(NAME test_server_engine DEVICE FIRST_DRIVER COMMAND test_server_engine LABELS server
         ENVIRONMENT ${VKG_TEST_ENV} PROPERTIES TIMEOUT 300)

find_program(VKG_SERVER_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(_srv_env VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache)
set(_srv_script ${CMAKE_CURRENT_SOURCE_DIR}/server/server_test.py)
foreach(mode basic load)
  vkg_test(NAME server_${mode} DEVICE FIRST_DRIVER LABELS server e2e ENVIRONMENT ${_srv_env} PROPERTIES TIMEOUT 300
           COMMAND ${VKG_SERVER_PYTHON} ${_srv_script} ${mode} $<TARGET_FILE:vkgemma>)
endforeach()
find_program(VKG_NODE NAMES node nodejs)
if(VKG_NODE)
  vkg_test(NAME server_openai_node DEVICE FIRST_DRIVER LABELS server e2e ENVIRONMENT ${_srv_env} PROPERTIES TIMEOUT 300
           COMMAND ${VKG_SERVER_PYTHON} ${_srv_script} node $<TARGET_FILE:vkgemma> ${VKG_NODE}
                   ${CMAKE_CURRENT_SOURCE_DIR}/server/openai_client.cjs ${PROJECT_BINARY_DIR}/npm)
endif()
# An address that cannot be bound is a usage error (exit 2), found before any device opens.
vkg_cli_error(NAME cli_serve_bad_host EXIT 2 PASS "cannot listen on 256.0.0.1:0" ARGS serve --host 256.0.0.1 --port 0)
