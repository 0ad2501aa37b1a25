# `cmake --build build --target test_ops` builds every kernel test (tests/test_ops_*.cpp and the
# host twins in test_ref_ops.cpp); run them with `ctest --test-dir build -R ops`.
set(VKG_OPS_TESTS "")
foreach(src ${VKG_TEST_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  if(name MATCHES "^test_(ops_.*|ref_ops)$")
    list(APPEND VKG_OPS_TESTS ${name})
  endif()
endforeach()
add_custom_target(test_ops DEPENDS ${VKG_OPS_TESTS})
