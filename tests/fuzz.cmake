# libFuzzer targets (clang only): -DVKGEMMA_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang.
# The parsing sources are compiled into the target itself so libFuzzer's coverage instrumentation
# reaches them (vkg_host is built without it).
if(VKGEMMA_FUZZ)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(VKG_FUZZ_SOURCES
      ${PROJECT_SOURCE_DIR}/host/format/gguf.cpp
      ${PROJECT_SOURCE_DIR}/host/text/gguf_vocab.cpp
      ${PROJECT_SOURCE_DIR}/host/devtools/gguf_writer.cpp
      ${PROJECT_SOURCE_DIR}/host/devtools/vocab_writer.cpp
      ${PROJECT_SOURCE_DIR}/host/model/gemma4_config.cpp
      ${PROJECT_SOURCE_DIR}/host/format/ggml_type.cpp
      ${PROJECT_SOURCE_DIR}/host/text/tokenizer.cpp
      ${PROJECT_SOURCE_DIR}/host/text/vocab.cpp)
    add_executable(gguf_fuzz ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/gguf_fuzz.cpp ${VKG_FUZZ_SOURCES})
    target_include_directories(gguf_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/host/format ${PROJECT_SOURCE_DIR}/host/model
                               ${PROJECT_SOURCE_DIR}/host/text ${PROJECT_SOURCE_DIR}/host/devtools ${PROJECT_SOURCE_DIR}/runtime)
    target_compile_options(gguf_fuzz PRIVATE -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS)
    target_link_options(gguf_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(gguf_fuzz PRIVATE fmt::fmt)
  else()
    message(STATUS "VKGEMMA_FUZZ is ON but ${CMAKE_CXX_COMPILER_ID} is not clang: fuzz targets skipped")
  endif()
endif()
