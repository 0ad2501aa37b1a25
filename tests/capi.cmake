# C API tests (libvkgemma): the doctest suite test_capi (tests/test_capi.cpp, also linked to the
# library), the C example built as strict C99, exported symbols, install + pkg-config +
# find_package builds of the example whose output must equal `vkgemma run --raw`, no-driver error.
target_link_libraries(test_capi PRIVATE vkgemma_capi)
target_compile_definitions(test_capi PRIVATE VKG_PROJECT_VERSION="${PROJECT_VERSION}")

add_executable(vkgemma_simple ${PROJECT_SOURCE_DIR}/examples/simple.c)
target_link_libraries(vkgemma_simple PRIVATE vkgemma_capi)
set_target_properties(vkgemma_simple PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(vkgemma_simple PRIVATE -Wall -Wextra -pedantic -Werror)

set(VKG_CAPI_MODEL ${VKG_SHARED_DIR}/golden/tiny_q8_0/model.gguf)
set(VKG_CAPI_ENV VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache)

vkg_test(NAME capi_symbols LABELS capi COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/capi/symbols.sh
         $<TARGET_FILE:vkgemma_capi> $<TARGET_SONAME_FILE_NAME:vkgemma_capi>)

# Exits 77 (skipped) when ../shared is absent.
vkg_test(NAME capi_install DEVICE FIRST_DRIVER LABELS capi ENVIRONMENT ${VKG_CAPI_ENV} PROPERTIES TIMEOUT 900
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/capi/install.sh
         ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/test-scratch/capi_install
         ${CMAKE_C_COMPILER} ${CMAKE_COMMAND} ${CMAKE_GENERATOR}
         $<TARGET_FILE:vkgemma> $<TARGET_FILE:vkgemma_simple> ${VKG_CAPI_MODEL})

# No Vulkan driver: the example reports VKGEMMA_NO_DEVICE in one line (any readable file will do:
# the device is opened before the file is parsed).
vkg_test(NAME capi_no_driver LABELS capi COMMAND ${CMAKE_COMMAND} -E env
         VK_ICD_FILENAMES=${CMAKE_CURRENT_SOURCE_DIR}/data/empty_icd.json
         VK_DRIVER_FILES=${CMAKE_CURRENT_SOURCE_DIR}/data/empty_icd.json
         sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 1 "VKGEMMA_NO_DEVICE"
         $<TARGET_FILE:vkgemma_simple> ${PROJECT_SOURCE_DIR}/CMakeLists.txt hello)

# vkgemma_set_log_callback: a corrupted pipeline cache's warning reaches the callback, and after
# callback NULL the default prints it to stderr (one "vkgemma: warning:" line). Its own cache dir.
add_executable(capi_log_callback ${CMAKE_CURRENT_SOURCE_DIR}/capi/log_callback.c)
target_link_libraries(capi_log_callback PRIVATE vkgemma_capi)
set_target_properties(capi_log_callback PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(capi_log_callback PRIVATE -Wall -Wextra -Werror)
set(VKG_CAPI_LOG_DIR ${PROJECT_BINARY_DIR}/test-scratch/capi_log)
vkg_test(NAME capi_log_callback DEVICE FIRST_DRIVER LABELS capi
         ENVIRONMENT VKGEMMA_VALIDATION=1 VKGEMMA_CACHE_DIR=${VKG_CAPI_LOG_DIR}
         COMMAND sh -c "mkdir -p '${VKG_CAPI_LOG_DIR}' && '$<TARGET_FILE:capi_log_callback>' '${VKG_CAPI_MODEL}' '${VKG_CAPI_LOG_DIR}' 2>'${VKG_CAPI_LOG_DIR}/stderr'; rc=$?; cat '${VKG_CAPI_LOG_DIR}/stderr'; [ $rc -eq 0 ] || exit $rc; n=$(grep -c '^vkgemma: warning: ignoring pipeline cache' '${VKG_CAPI_LOG_DIR}/stderr'); [ \"$n\" = 1 ] || { echo \"FAIL: $n default warning lines on stderr, expected 1\"; exit 1; }")
