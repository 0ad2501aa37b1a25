// TEMPORARY stubs
#include "ops.h"
#include "vk_check.h"
namespace vkg {
void Ops::rms_norm(CommandList&, const BufferRange&, const BufferRange&, const BufferRange&, uint32_t, uint32_t, float) { throw VkError("todo"); }
void Ops::rms_norm_add(CommandList&, const BufferRange&, const BufferRange&, const BufferRange&, const BufferRange&, uint32_t, uint32_t, float) { throw VkError("todo"); }
void Ops::rope_neox(CommandList&, const BufferRange&, const BufferRange&, const BufferRange&, uint32_t, uint32_t, uint32_t, uint32_t, float) { throw VkError("todo"); }
void Ops::gelu_mul(CommandList&, const BufferRange&, const BufferRange&, const BufferRange&, uint32_t, uint32_t, uint32_t, uint32_t) { throw VkError("todo"); }
void Ops::add_scale(CommandList&, const BufferRange&, const BufferRange&, const BufferRange&, uint32_t, float) { throw VkError("todo"); }
void Ops::scale(CommandList&, const BufferRange&, uint32_t, float) { throw VkError("todo"); }
void Ops::softcap(CommandList&, const BufferRange&, uint32_t, float) { throw VkError("todo"); }
void Ops::kv_store(CommandList&, const BufferRange&, const BufferRange&, const BufferRange&, uint32_t, uint32_t, uint32_t) { throw VkError("todo"); }
void Ops::attention(CommandList&, const BufferRange&, const BufferRange&, const BufferRange&, const BufferRange&, const BufferRange&, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, float) { throw VkError("todo"); }
void Ops::argmax(CommandList&, const BufferRange&, uint32_t, const BufferRange&) { throw VkError("todo"); }
void Ops::top_k(CommandList&, const BufferRange&, uint32_t, uint32_t, const BufferRange&, const BufferRange&) { throw VkError("todo"); }
uint64_t Ops::scratch_bytes(uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) const { return 0; }
}
