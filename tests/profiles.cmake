# The forward-pass and kernel tests again under every device profile (labels profile-NAME).
foreach(profile pi5-v3d mali-valhall adreno-7xx desktop minimal)
  foreach(t test_forward test_ops_attention)
    add_test(NAME ${t}@${profile} COMMAND ${t})
    set_tests_properties(${t}@${profile} PROPERTIES LABELS profile-${profile} TIMEOUT 900
      ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_GUARD=1;VKGEMMA_DEVICE_PROFILE=${profile};VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache")
  endforeach()
endforeach()

# Layer streaming under the UMA phone/Pi profiles and the most constrained one.
foreach(profile pi5-v3d minimal)
  add_test(NAME test_streaming@${profile} COMMAND test_streaming)
  set_tests_properties(test_streaming@${profile} PROPERTIES LABELS profile-${profile} TIMEOUT 900
    ENVIRONMENT "VKGEMMA_VALIDATION=1;VKGEMMA_GUARD=1;VKGEMMA_DEVICE_PROFILE=${profile};VKGEMMA_CACHE_DIR=${PROJECT_BINARY_DIR}/test-cache")
endforeach()
