# The forward-pass and kernel tests again under every device profile (labels profile-NAME): on the
# first test driver (lavapipe), and test_forward under `minimal` (the Vulkan 1.2 required limits) on
# every test driver; the other profiles repeat on SwiftShader what the native SwiftShader runs already cover,
# at a cost the CI time budget does not allow.
foreach(profile pi5-v3d mali-valhall adreno-7xx desktop minimal)
  set(drivers FIRST_DRIVER)
  if(profile STREQUAL "minimal")
    set(drivers "")
  endif()
  foreach(t test_forward test_ops_attention)
    set(d ${drivers})
    if(t STREQUAL "test_ops_attention")
      set(d FIRST_DRIVER)  # attention kernels under minimal on SwiftShader: ~5 min of pipeline compiles
    endif()
    vkg_test(NAME ${t}@${profile} DEVICE ${d} COMMAND ${t} LABELS profile-${profile} PROPERTIES TIMEOUT 900
             ENVIRONMENT ${VKG_TEST_ENV} VKGEMMA_DEVICE_PROFILE=${profile})
  endforeach()
endforeach()

# Layer streaming under the UMA phone/Pi profiles and the most constrained one.
foreach(profile pi5-v3d minimal)
  vkg_test(NAME test_streaming@${profile} DEVICE FIRST_DRIVER COMMAND test_streaming LABELS profile-${profile} PROPERTIES TIMEOUT 900
           ENVIRONMENT ${VKG_TEST_ENV} VKGEMMA_DEVICE_PROFILE=${profile})
endforeach()
