# Usage: cmake -DSPV=in.spv -DOUT=out.cpp -DSYM=name -P embed_spirv.cmake
# Writes a C++ source that embeds the SPIR-V file with the assembler's .incbin directive (GNU as
# and LLVM's integrated assembler, every ELF target) as the 4-byte aligned array
# `extern "C" const uint32_t vkg_spv_<name>[]`, and its word count as
# `vkg::shaders::<name>_spv_words`. The file's SHA-256 is written into the assembly text so a
# compiler cache (ccache hashes the preprocessed source) sees a changed shader as a new source.
file(SIZE "${SPV}" bytes)
math(EXPR rem "${bytes} % 4")
if(NOT rem EQUAL 0 OR bytes EQUAL 0)
  message(FATAL_ERROR "${SPV}: ${bytes} bytes is not a SPIR-V module (a whole number of 4-byte words)")
endif()
math(EXPR words "${bytes} / 4")
file(SHA256 "${SPV}" sha)
string(REPLACE "\\" "\\\\\\\\" path "${SPV}")
string(REPLACE "\"" "\\\\\\\"" path "${path}")
file(WRITE "${OUT}" "// Generated from ${SPV}; do not edit.
#include <cstddef>
namespace vkg::shaders {
extern const size_t ${SYM}_spv_words = ${words};
}
__asm__(\"  .pushsection .rodata.vkg_spv_${SYM},\\\"a\\\",%progbits\\n\"
        \"  .balign 4\\n\"
        \"  .globl vkg_spv_${SYM}\\n\"
        \"  .type vkg_spv_${SYM}, %object\\n\"
        \"vkg_spv_${SYM}:\\n\"
        \"  .incbin \\\"${path}\\\"  /* sha256 ${sha} */\\n\"
        \"  .size vkg_spv_${SYM}, ${bytes}\\n\"
        \"  .popsection\\n\");
")
