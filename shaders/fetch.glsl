// Read-only operands fetched as 16-byte texels (uvec4): weights, matmul X, attention q / K / V,
// select inputs. One source, two access kinds (Ops picks the variant per device,
// OpsVariants::texel_reads):
//   STORAGE_READS=0: a uniform texel buffer of R32G32B32A32_UINT texels (GLSL utextureBuffer),
//                    bounded by maxTexelBufferElements; cheap on CPU drivers (lavapipe).
//   STORAGE_READS=1: a readonly storage buffer of uvec4 (variants named NAME_sb, generated in
//                    shaders.cmake), bounded by maxStorageBufferRange.
// Indices are texels from the start of the bound range (the view / descriptor range) in both.
//
//   TEXELS(binding, Block, name)   declares the operand `name` at `binding`
//   FETCH(name, i)                 texel i of it (uint i)
// SMALL_TEXELS/SMALL_FETCH always use a uniform texel buffer (an R32_UINT view: KernelDesc::
// r32_bindings, 4-byte texels, .x holds the value): for operands that fit the Vulkan minimum of
// 65536 texels on every device (positions), so they never count as storage buffers.
#ifndef STORAGE_READS
#define STORAGE_READS 0
#endif
#if STORAGE_READS
#define TEXELS(b, Block, name) layout(std430, binding = b) readonly buffer Block { uvec4 name[]; };
#define FETCH(name, i) name[i]
#else
#define TEXELS(b, Block, name) layout(binding = b) uniform utextureBuffer name;
#define FETCH(name, i) texelFetch(name, int(i))
#endif
#define SMALL_TEXELS(b, name) layout(binding = b) uniform utextureBuffer name;
#define SMALL_FETCH(name, i) texelFetch(name, int(i))
