#include "stream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "context.h"
#include "kernel.h"

namespace vkg {

Timeline::Timeline(Device& dev, uint64_t initial) : dev_(dev) {
  VkSemaphoreTypeCreateInfo tci{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
  tci.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  tci.initialValue = initial;
  VkSemaphoreCreateInfo ci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &tci};
  check(vkCreateSemaphore(dev.handle(), &ci, nullptr, &sem_), "vkCreateSemaphore");
}

Timeline::~Timeline() {
  if (sem_) vkDestroySemaphore(dev_.handle(), sem_, nullptr);
}

uint64_t Timeline::value() const {
  uint64_t v = 0;
  check(vkGetSemaphoreCounterValue(dev_.handle(), sem_, &v), "vkGetSemaphoreCounterValue");
  return v;
}

void Timeline::wait(uint64_t v, uint64_t timeout_ns) const {
  VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
  wi.semaphoreCount = 1;
  wi.pSemaphores = &sem_;
  wi.pValues = &v;
  VkResult r = vkWaitSemaphores(dev_.handle(), &wi, timeout_ns);
  if (r == VK_TIMEOUT) throw VkError(fmt::format("timed out waiting for GPU work (timeline value {})", v), r);
  check(r, "vkWaitSemaphores");
}

void Timeline::signal_host(uint64_t v) {
  VkSemaphoreSignalInfo si{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO};
  si.semaphore = sem_;
  si.value = v;
  check(vkSignalSemaphore(dev_.handle(), &si), "vkSignalSemaphore");
}

CommandList::CommandList(Device& dev, QueueKind kind) : dev_(dev), kind_(kind) {
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.queueFamilyIndex = kind == QueueKind::Compute ? dev.compute_family() : dev.transfer_family();
  check(vkCreateCommandPool(dev.handle(), &pci, nullptr, &pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkResult r = vkAllocateCommandBuffers(dev.handle(), &ai, &cmd_);
  if (r != VK_SUCCESS) {
    vkDestroyCommandPool(dev.handle(), pool_, nullptr);
    check(r, "vkAllocateCommandBuffers");
  }
}

CommandList::~CommandList() {
  VkDevice d = dev_.handle();
  for (auto p : desc_pools_) vkDestroyDescriptorPool(d, p, nullptr);
  for (auto v : views_) vkDestroyBufferView(d, v, nullptr);
  if (queries_) vkDestroyQueryPool(d, queries_, nullptr);
  if (pool_) vkDestroyCommandPool(d, pool_, nullptr);
}

void CommandList::begin() {
  check(vkResetCommandPool(dev_.handle(), pool_, 0), "vkResetCommandPool");
  for (auto p : desc_pools_) check(vkResetDescriptorPool(dev_.handle(), p, 0), "vkResetDescriptorPool");
  for (auto v : views_) vkDestroyBufferView(dev_.handle(), v, nullptr);
  views_.clear();
  desc_pool_in_use_ = 0;
  n_dispatch_ = 0;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  if (queries_) vkCmdResetQueryPool(cmd_, queries_, 0, kMaxTimestamps);
}

void CommandList::end() { check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer"); }

VkDescriptorSet CommandList::allocate_set(VkDescriptorSetLayout layout) {
  for (;;) {
    if (desc_pool_in_use_ == desc_pools_.size()) {
      const VkDescriptorPoolSize sizes[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2048},
                                             {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1024}};
      VkDescriptorPoolCreateInfo ci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
      ci.maxSets = 256;
      ci.poolSizeCount = 2;
      ci.pPoolSizes = sizes;
      VkDescriptorPool p;
      check(vkCreateDescriptorPool(dev_.handle(), &ci, nullptr, &p), "vkCreateDescriptorPool");
      desc_pools_.push_back(p);
    }
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = desc_pools_[desc_pool_in_use_];
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    VkDescriptorSet set;
    VkResult r = vkAllocateDescriptorSets(dev_.handle(), &ai, &set);
    if (r == VK_SUCCESS) return set;
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) check(r, "vkAllocateDescriptorSets");
    desc_pool_in_use_++;
  }
}

void CommandList::dispatch(const Kernel& k, std::initializer_list<BufferRange> buffers, const void* push,
                           uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz) {
  dispatch(k, std::span<const BufferRange>(buffers.begin(), buffers.size()), push, push_size, gx, gy, gz);
}

void CommandList::dispatch(const Kernel& k, std::span<const BufferRange> buffers, const void* push,
                           uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz) {
  if (buffers.size() != k.desc().n_buffers)
    throw VkError(fmt::format("shader '{}' takes {} buffers, {} given", k.desc().shader, k.desc().n_buffers,
                              buffers.size()));
  if (push_size != k.desc().push_bytes)
    throw VkError(fmt::format("shader '{}' takes {} push-constant bytes, {} given", k.desc().shader,
                              k.desc().push_bytes, push_size));
  const auto& caps = dev_.caps();
  if (gx > caps.max_workgroup_count[0] || gy > caps.max_workgroup_count[1] || gz > caps.max_workgroup_count[2])
    throw VkError(ErrorCode::unsupported, fmt::format("shader '{}': dispatch {}x{}x{} exceeds the device's workgroup count limits",
                              k.desc().shader, gx, gy, gz));
  VkDescriptorSet set = allocate_set(k.set_layout());
  std::vector<VkDescriptorBufferInfo> infos(buffers.size());
  std::vector<VkWriteDescriptorSet> writes(buffers.size());
  std::vector<VkBufferView> views(buffers.size(), VK_NULL_HANDLE);
  for (size_t i = 0; i < buffers.size(); ++i) {
    infos[i] = {buffers[i].buffer, buffers[i].offset, buffers[i].range};
    if ((k.desc().texel_bindings >> i) & 1u) {
      // VK_WHOLE_SIZE stays whole (the view then covers floor((size - offset) / texel) texels).
      const bool r32 = (k.desc().r32_bindings >> i) & 1u;
      const uint64_t texel = r32 ? 4 : 16;
      const uint64_t range = buffers[i].range == VK_WHOLE_SIZE ? VK_WHOLE_SIZE : buffers[i].range / texel * texel;
      if (buffers[i].offset % caps.min_texel_buffer_offset_alignment != 0 || range == 0 ||
          (range != VK_WHOLE_SIZE && range / texel > caps.max_texel_buffer_elements))
        throw VkError(ErrorCode::unsupported, fmt::format("shader '{}': texel binding {} at offset {} with {} bytes (device needs offsets "
                                  "aligned to {} and at most {} texels)",
                                  k.desc().shader, i, buffers[i].offset, range,
                                  caps.min_texel_buffer_offset_alignment, caps.max_texel_buffer_elements));
      VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
      vi.buffer = buffers[i].buffer;
      vi.format = r32 ? VK_FORMAT_R32_UINT : VK_FORMAT_R32G32B32A32_UINT;
      vi.offset = buffers[i].offset;
      vi.range = range;
      check(vkCreateBufferView(dev_.handle(), &vi, nullptr, &views[i]), "vkCreateBufferView");
      views_.push_back(views[i]);
      writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      writes[i].dstSet = set;
      writes[i].dstBinding = static_cast<uint32_t>(i);
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      writes[i].pTexelBufferView = &views[i];
      continue;
    }
    if (buffers[i].range != VK_WHOLE_SIZE && buffers[i].range > caps.max_storage_buffer_range)
      throw VkError(ErrorCode::unsupported, fmt::format("shader '{}': binding {} spans {} bytes, over maxStorageBufferRange {}",
                                k.desc().shader, i, buffers[i].range, caps.max_storage_buffer_range));
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = static_cast<uint32_t>(i);
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
  }
  vkUpdateDescriptorSets(dev_.handle(), static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.pipeline());
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, k.layout(), 0, 1, &set, 0, nullptr);
  if (push_size) vkCmdPushConstants(cmd_, k.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
  vkCmdDispatch(cmd_, gx, gy, gz);
  n_dispatch_++;
}

void CommandList::barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT;
  VkPipelineStageFlags stages = VK_PIPELINE_STAGE_TRANSFER_BIT;
  if (kind_ == QueueKind::Compute) stages |= VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
  else {
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  }
  vkCmdPipelineBarrier(cmd_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void CommandList::copy(const Buffer& src, uint64_t so, const Buffer& dst, uint64_t dof, uint64_t size) {
  if (so + size > src.size() || dof + size > dst.size())
    throw VkError(fmt::format("copy of {} bytes out of range (src {} + {}, dst {} + {})", size, src.size(), so,
                              dst.size(), dof));
  copy(src.handle(), so, dst.handle(), dof, size);
}

void CommandList::copy(VkBuffer src, uint64_t so, VkBuffer dst, uint64_t dof, uint64_t size) {
  VkBufferCopy region{so, dof, size};
  vkCmdCopyBuffer(cmd_, src, dst, 1, &region);
}

void CommandList::fill(const Buffer& dst, uint64_t off, uint64_t size, uint32_t value) {
  vkCmdFillBuffer(cmd_, dst.handle(), off, size, value);
}

void CommandList::timestamp(uint32_t index) {
  const bool supported = kind_ == QueueKind::Compute ? dev_.caps().timestamps : dev_.caps().transfer_timestamps;
  if (!supported || index >= kMaxTimestamps) return;
  if (!queries_) {
    VkQueryPoolCreateInfo ci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    ci.queryType = VK_QUERY_TYPE_TIMESTAMP;
    ci.queryCount = kMaxTimestamps;
    check(vkCreateQueryPool(dev_.handle(), &ci, nullptr, &queries_), "vkCreateQueryPool");
    vkCmdResetQueryPool(cmd_, queries_, 0, kMaxTimestamps);
  }
  vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, index);
}

std::vector<double> CommandList::read_timestamps_ns(uint32_t first, uint32_t count) const {
  std::vector<double> out;
  if (!queries_ || count == 0 || first + count > kMaxTimestamps) return out;
  std::vector<uint64_t> raw(count);
  check(vkGetQueryPoolResults(dev_.handle(), queries_, first, count, count * 8, raw.data(), 8,
                              VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
        "vkGetQueryPoolResults");
  for (auto v : raw) out.push_back(static_cast<double>(v) * dev_.caps().timestamp_period_ns);
  return out;
}

Stream::Stream(Device& dev, QueueKind kind)
    : dev_(dev), kind_(kind), queue_(kind == QueueKind::Compute ? dev.compute_queue() : dev.transfer_queue()),
      timeline_(dev) {}

Stream::~Stream() {
  if (last_ == 0) return;  // never submitted
  std::lock_guard lock(dev_.queue_mutex(queue_));
  vkQueueWaitIdle(queue_);
}

uint64_t Stream::submit(const CommandList& cl, std::initializer_list<TimelineWait> waits) {
  return submit(cl, std::span<const TimelineWait>(waits.begin(), waits.size()));
}

uint64_t Stream::submit(const CommandList& cl, std::span<const TimelineWait> waits) {
  std::vector<VkSemaphore> wsem;
  std::vector<uint64_t> wval;
  std::vector<VkPipelineStageFlags> wstage;
  for (const auto& w : waits) {
    wsem.push_back(w.timeline->handle());
    wval.push_back(w.value);
    wstage.push_back(kind_ == QueueKind::Compute ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT
                                                 : VK_PIPELINE_STAGE_TRANSFER_BIT);
  }
  const uint64_t signal = last_ + 1;
  VkSemaphore ssem = timeline_.handle();
  VkTimelineSemaphoreSubmitInfo tsi{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
  tsi.waitSemaphoreValueCount = static_cast<uint32_t>(wval.size());
  tsi.pWaitSemaphoreValues = wval.data();
  tsi.signalSemaphoreValueCount = 1;
  tsi.pSignalSemaphoreValues = &signal;
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO, &tsi};
  si.waitSemaphoreCount = static_cast<uint32_t>(wsem.size());
  si.pWaitSemaphores = wsem.data();
  si.pWaitDstStageMask = wstage.data();
  VkCommandBuffer cb = cl.handle();
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  si.signalSemaphoreCount = 1;
  si.pSignalSemaphores = &ssem;
  {
    std::lock_guard lock(dev_.queue_mutex(queue_));
    check(vkQueueSubmit(queue_, 1, &si, VK_NULL_HANDLE), "vkQueueSubmit");
  }
  last_ = signal;
  return signal;
}

namespace {
constexpr uint64_t kStagingChunk = 32ull << 20;
}

void upload(Device& dev, Buffer& dst, uint64_t dst_off, const void* src, uint64_t size, bool staged) {
  if (dst_off + size > dst.size())
    throw VkError(fmt::format("upload of {} bytes at {} overflows a {}-byte buffer", size, dst_off, dst.size()));
  if (dst.host_visible() && !staged) {
    std::memcpy(dst.mapped() + dst_off, src, size);
    dst.flush();
    return;
  }
  const uint64_t chunk = std::min(size, kStagingChunk);
  Buffer staging(dev, chunk, MemoryUsage::Upload);
  CommandList cl(dev, QueueKind::Transfer);
  Stream stream(dev, QueueKind::Transfer);
  for (uint64_t done = 0; done < size; done += chunk) {
    const uint64_t n = std::min(chunk, size - done);
    std::memcpy(staging.mapped(), static_cast<const uint8_t*>(src) + done, n);
    staging.flush();
    cl.begin();
    cl.copy(staging, 0, dst, dst_off + done, n);
    cl.end();
    stream.wait(stream.submit(cl));
  }
}

void download(Device& dev, const Buffer& src, uint64_t src_off, void* dst, uint64_t size, bool staged) {
  if (src_off + size > src.size())
    throw VkError(fmt::format("download of {} bytes at {} overflows a {}-byte buffer", size, src_off, src.size()));
  if (src.host_visible() && !staged) {
    src.invalidate();
    std::memcpy(dst, src.mapped() + src_off, size);
    return;
  }
  const uint64_t chunk = std::min(size, kStagingChunk);
  Buffer staging(dev, chunk, MemoryUsage::Readback);
  CommandList cl(dev, QueueKind::Transfer);
  Stream stream(dev, QueueKind::Transfer);
  for (uint64_t done = 0; done < size; done += chunk) {
    const uint64_t n = std::min(chunk, size - done);
    cl.begin();
    cl.copy(src, src_off + done, staging, 0, n);
    cl.end();
    stream.wait(stream.submit(cl));
    staging.invalidate();
    std::memcpy(static_cast<uint8_t*>(dst) + done, staging.mapped(), n);
  }
}

} // namespace vkg
