// Weight types the host can read but no GPU kernel does (today MXFP4: 17-byte blocks start at odd
// byte offsets, which the kernels' block gather does not handle) are re-encoded on the host
// once, at load, so a model that loads also runs: never an error at the first evaluation.
//
// Target: Q8_0 (F16 when a row is not a whole number of 32-element blocks). Q8_0 rather than F16
// because memory is what this runtime saves (8.5 bits per weight against 16), and its added error,
// at most max|block| / 254 per element, is far below the error of any 2-4 bit source format
// (steps of max|block| / 8 or coarser). The re-encoded copies live in host memory owned by the
// model (Gemma4Model::converted): the uploader, the layer streamer and the residency plan see an
// ordinary Q8_0 tensor.
//
// The PLE table (per_layer_token_embd) is never copied whole: the pager re-encodes only the
// rows it pages (ple_pager.h), so here it is only checked.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gemma4_config.h"

namespace vkg {

/// The type the GPU reads a weight of type t with rows of ne0 elements as: t itself when a
/// kernel reads it (Ops::supports), Q8_0 (F16 if ne0 % 32 != 0) when only the host can
/// dequantize it, nullopt when nothing can read it.
std::optional<GgmlType> device_weight_type(GgmlType t, uint64_t ne0);

/// Bytes of one row of t as the GPU reads it (device_weight_type). Throws std::runtime_error
/// naming the tensor when nothing can read its type.
uint64_t device_row_bytes(const GgufTensorInfo& t);

/// Re-encode n_rows rows of ne0 elements from type `from` (src, packed rows) to type `to` (dst,
/// ggml_row_bytes(to, ne0) per row) through float: dequantize_row then quantize_row.
void reencode_rows(GgmlType from, const uint8_t* src, GgmlType to, uint8_t* dst, uint64_t ne0, uint64_t n_rows);

/// Prepare m for the GPU: re-encode every device-resident matrix whose type no kernel reads (see
/// above) and point m.weights at the copies (m.converted owns them; copies of m share them).
/// Checks that the PLE table's rows can be paged in a form the GPU reads. Returns notices, at
/// most one line per kind of conversion (e.g. "3 tensors of type MXFP4 (no GPU kernel) were
/// converted to Q8_0 at load (1.2 MiB of host memory)"); empty when nothing was converted.
/// Throws std::runtime_error naming the tensor and its type when nothing can read a type.
std::vector<std::string> convert_for_device(Gemma4Model& m);

/// The GPU kernels read weight rows in blocks of this many elements (the float types' block in
/// runtime/weight_types.def; every quantized block is a multiple of it).
inline constexpr uint64_t kKernelRowBlock = 32;

/// Refuse a model whose matrices the GPU kernels cannot read (Error bad_model naming the tensor):
/// every weight matrix (2-D tensor the forward pass reads, the PLE table included) needs rows of
/// a multiple of kKernelRowBlock elements. A file-level check (no device): Model::load runs it
/// first, `vkgemma synth` before writing, so neither a load nor a generator gets halfway.
void check_device_shapes(const Gemma4Model& m);

} // namespace vkg
