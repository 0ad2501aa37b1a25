# Usage: cmake -DSPV=in.spv -DOUT=out.cpp -DSYM=name -P embed_spirv.cmake
# Writes a C++ source with the SPIR-V words as a uint32_t array (one regex pass: linear time).
file(READ "${SPV}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR words "${n} / 8")
# SPIR-V files are little-endian words: reverse the 4 bytes of each.
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1," body "${hex}")
file(WRITE "${OUT}" "// Generated from ${SPV}; do not edit.\n#include <cstdint>\n#include <cstddef>\nnamespace vkg::shaders {\nextern const uint32_t ${SYM}_spv[] = {\n${body}};\nextern const size_t ${SYM}_spv_words = ${words};\n}\n")
