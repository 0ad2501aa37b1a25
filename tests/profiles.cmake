# The forward-pass and kernel tests again under every device profile (labels profile-NAME), on
# every test driver.
foreach(profile pi5-v3d mali-valhall adreno-7xx desktop minimal)
  foreach(t test_forward test_ops_attention)
    vkg_test(NAME ${t}@${profile} DEVICE COMMAND ${t} LABELS profile-${profile} PROPERTIES TIMEOUT 900
             ENVIRONMENT ${VKG_TEST_ENV} VKGEMMA_DEVICE_PROFILE=${profile})
  endforeach()
endforeach()

# Layer streaming under the UMA phone/Pi profiles and the most constrained one.
foreach(profile pi5-v3d minimal)
  vkg_test(NAME test_streaming@${profile} DEVICE COMMAND test_streaming LABELS profile-${profile} PROPERTIES TIMEOUT 900
           ENVIRONMENT ${VKG_TEST_ENV} VKGEMMA_DEVICE_PROFILE=${profile})
endforeach()
