# libFuzzer targets (clang only): -DVKGEMMA_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang.
# The parsing sources are compiled into the target itself so libFuzzer's coverage instrumentation
# reaches them (vkg_host is built without it).
if(VKGEMMA_FUZZ)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(VKG_FUZZ_SOURCES
      ${PROJECT_SOURCE_DIR}/host/gguf.cpp
      ${PROJECT_SOURCE_DIR}/host/gguf_vocab.cpp
      ${PROJECT_SOURCE_DIR}/host/gguf_writer.cpp
      ${PROJECT_SOURCE_DIR}/host/gemma4_config.cpp
      ${PROJECT_SOURCE_DIR}/host/ggml_type.cpp
      ${PROJECT_SOURCE_DIR}/host/tokenizer.cpp
      ${PROJECT_SOURCE_DIR}/host/vocab.cpp)
    add_executable(gguf_fuzz ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/gguf_fuzz.cpp ${VKG_FUZZ_SOURCES})
    target_include_directories(gguf_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/host)
    target_compile_options(gguf_fuzz PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS)
    target_link_options(gguf_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(gguf_fuzz PRIVATE fmt::fmt)
  else()
    message(STATUS "VKGEMMA_FUZZ is ON but ${CMAKE_CXX_COMPILER_ID} is not clang: fuzz targets skipped")
  endif()
endif()
