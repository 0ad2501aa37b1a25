# CLI-level tests (registered from tests/CMakeLists.txt). Output checks go through
# tests/cli/check_run.cmake so that the exit status counts as well as the output.
vkg_test(NAME cli_devices DEVICE LABELS cli
         COMMAND ${CMAKE_COMMAND} "-DPASS=\"subgroup_size\"" -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/check_run.cmake --
                 ${VKG_CLI} devices --json)
# No Vulkan driver: one clear error line, exit code 3, no crash.
vkg_test(NAME cli_no_driver LABELS cli
         COMMAND ${CMAKE_COMMAND} -E env VK_ICD_FILENAMES=${CMAKE_CURRENT_SOURCE_DIR}/data/empty_icd.json
                 VK_DRIVER_FILES=${CMAKE_CURRENT_SOURCE_DIR}/data/empty_icd.json
                 sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 3 "no Vulkan" ${VKG_CLI} devices)
