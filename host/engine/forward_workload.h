// The pipelines the Vulkan forward pass (host/forward.h) would create for a model on a device:
// every op it records, at every batch width it can run, through the per-op kernel descriptions
// the ops themselves use (runtime/kernel_desc.h). `vkgemma kernels` compiles this list with the
// driver's statistics; nothing is allocated or uploaded.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gemma4_config.h"
#include "kernel.h"
#include "ops.h"

namespace vkg {

struct WorkloadOptions {
  uint32_t max_columns = 8;   // steps of 1..max_columns tokens (decode 1; prefill tails and small
                              // batches: up to kernel_descs::max_columns() columns per dispatch)
  uint32_t max_batch = 512;   // prefill chunk (ForwardOptions::max_batch): tiled kernels for 16..max_batch
  bool prefill = true;        // include the tiled (T >= 16) kernels
  bool kv_f32 = false;        // ForwardOptions::kv_f32
  /// Weight types (ggml ids) of the matrix kernels: empty = the model's own (as the GPU reads
  /// them, weight_convert.h). Otherwise only these: matrices of other types are left out, and a
  /// listed type the model lacks is listed as if every matrix whose rows fit its block had it.
  std::vector<WeightTypeId> types;
};

/// One pipeline of the workload.
struct WorkloadKernel {
  std::string op;              // "matmul", "gate_up_gelu", "attention", ...
  KernelDesc desc;
  int64_t weight_type = -1;    // ggml type id of matrix kernels, -1 for the others
  std::string uses;            // e.g. "attn_q, ffn_down (K 1536), 1 column"
};

/// The distinct pipelines (by KernelDesc::key(), in first-use order) the forward pass would create
/// for model m with ops variants v. Throws ModelError for a matrix type no kernel reads.
std::vector<WorkloadKernel> forward_workload(const Gemma4Model& m, const OpsVariants& v, const WorkloadOptions& o = {});

} // namespace vkg
