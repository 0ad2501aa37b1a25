# The house's rules, checked: module direction from the sources (host/CMakeLists.txt enforces it
# at compile time too) and a libvkgemma free of the developer tools.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  vkg_test(NAME house_layers COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/house/check_layers.py ${PROJECT_SOURCE_DIR}
           LABELS house)
endif()
if(NOT CMAKE_CROSSCOMPILING)
  vkg_test(NAME house_libvkgemma COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/house/check_libvkgemma.sh $<TARGET_FILE:vkgemma_capi>
           LABELS house)
endif()
