# CLI-level tests (registered from tests/CMakeLists.txt). A test that runs the CLI directly names
# the target (COMMAND vkgemma), so a cross build runs it through CMAKE_CROSSCOMPILING_EMULATOR.
add_test(NAME cli_devices COMMAND vkgemma devices --json)
set_tests_properties(cli_devices PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "\"subgroup_size\"")
# No Vulkan driver: one clear error line, exit code 3, no crash.
add_test(NAME cli_no_driver COMMAND ${CMAKE_COMMAND} -E env VK_ICD_FILENAMES=${CMAKE_CURRENT_SOURCE_DIR}/data/empty_icd.json
         VK_DRIVER_FILES=${CMAKE_CURRENT_SOURCE_DIR}/data/empty_icd.json
         sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_exit.sh 3 "no Vulkan" $<TARGET_FILE:vkgemma> devices)
set_tests_properties(cli_no_driver PROPERTIES LABELS cli)
