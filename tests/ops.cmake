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

# Every kernel test again with the storage-buffer variants of the fetch.glsl kernels forced
# (OpsVariants::texel_reads off; devices that pick them on their own run them in the plain pass).
foreach(t ${VKG_OPS_TESTS})
  # SwiftShader runs every ops test with storage reads already (it picks them itself); on lavapipe only
  # the cheap basic ops also run forced, to keep the suite's time (matmul/ffn cost ~40x there).
  if(t MATCHES "^test_ops_basic$")
    add_test(NAME ${t}@storage-reads COMMAND ${t})
    set_tests_properties(${t}@storage-reads PROPERTIES LABELS "${t};storage-reads" TIMEOUT 900
      ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_GUARD=1;VKGEMMA_TEST_STORAGE_READS=1;VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache")
  endif()
endforeach()

# The matrix kernels again with the split-K matrix-vector kernels forced (OpsVariants::
# matvec_split_k, picked on GPUs; lavapipe picks the row-per-invocation kernels): both the
# subgroup and (under the no-subgroup capability modes of the tests) the shared-memory variant.
# test_ops_matmul@split-k runs on every test driver (SwiftShader's 4-wide subgroups: ~150 s);
# test_ops_ffn@split-k on the first only (its fused kernels compile slowly).
foreach(t test_ops_matmul test_ops_ffn)
  if(TARGET ${t})
    if(t STREQUAL "test_ops_matmul")
      set(drivers DEVICE)
    else()
      set(drivers DEVICE FIRST_DRIVER)
    endif()
    vkg_test(NAME ${t}@split-k ${drivers} COMMAND ${t} LABELS "${t};split-k" PROPERTIES TIMEOUT 900
      ENVIRONMENT ${VKG_TEST_ENV} VKGEMMA_TEST_MATVEC=split-k)
  endif()
endforeach()
