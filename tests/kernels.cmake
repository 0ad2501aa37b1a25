# `vkgemma kernels` on AMD's compiler without a GPU: RADV's null device (RADV_FORCE_FAMILY with
# the radeon ICD compiles with ACO, executes nothing, has no memory heaps) for gfx9 (vega10),
# gfx10.3 (navi21) and gfx11 (gfx1100), and once on lavapipe. tests/kernels/check_kernels.py
# asserts every op's pipelines listed, none refused, VGPRs reported on RADV, and the spilling set
# equal to tests/support/known_spills.txt for the family (both ways). ACO takes tens of seconds
# on the big unrolled kernels, so CI compiles a subset: the types of the real Q4_K_M files plus
# F32, decode and 2-column widths, and the tiled kernels at one width.
find_package(Python3 COMPONENTS Interpreter QUIET)
set(VKG_RADV_ICD /usr/share/vulkan/icd.d/radeon_icd.${CMAKE_HOST_SYSTEM_PROCESSOR}.json)
set(VKG_KERNELS_TYPES q4_k,q6_k,f32)
set(VKG_KERNELS_ARGS --preset e2b --types ${VKG_KERNELS_TYPES} --max-columns 2 -b 16)
if(Python3_Interpreter_FOUND AND NOT CMAKE_CROSSCOMPILING)
  set(check ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/kernels/check_kernels.py --cli $<TARGET_FILE:vkgemma>
      --known ${CMAKE_CURRENT_SOURCE_DIR}/support/known_spills.txt --types ${VKG_KERNELS_TYPES})
  if(EXISTS ${VKG_RADV_ICD})
    foreach(family vega10 navi21 gfx1100)
      add_test(NAME kernels_radv_${family} COMMAND ${check} --family ${family} --stats -- ${VKG_KERNELS_ARGS})
      # The validation layer stays off: the null device is not a real device (no memory heaps).
      set_tests_properties(kernels_radv_${family} PROPERTIES LABELS "kernels;radv" TIMEOUT 300
        ENVIRONMENT "RADV_FORCE_FAMILY=${family};VK_ICD_FILENAMES=${VKG_RADV_ICD};VK_DRIVER_FILES=${VKG_RADV_ICD};VKGEMMA_VALIDATION=0")
    endforeach()
  endif()
  set(lvp /usr/share/vulkan/icd.d/lvp_icd.${CMAKE_HOST_SYSTEM_PROCESSOR}.json)
  if(EXISTS ${lvp})
    add_test(NAME kernels_lavapipe COMMAND ${check} --family lavapipe -- ${VKG_KERNELS_ARGS})
    set_tests_properties(kernels_lavapipe PROPERTIES LABELS "kernels" TIMEOUT 300
      ENVIRONMENT "VK_ICD_FILENAMES=${lvp};VK_DRIVER_FILES=${lvp};VKGEMMA_VALIDATION=1")
  endif()
endif()
