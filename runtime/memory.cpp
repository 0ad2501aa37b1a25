#include "memory.h"
#include "log.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "context.h"

namespace vkg {

namespace {
uint64_t round_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }
thread_local const Arena* t_arena = nullptr;  // the innermost ArenaScope of this thread

/// What every Buffer is created with (Buffer's constructor and the rules probe).
struct BufferInfo {
  VkBufferCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  uint32_t fams[2] = {0, 0};
  BufferInfo(Device& dev, uint64_t size) {
    ci.size = std::max<uint64_t>(size, 4);
    // Uniform texel buffer: kernels read weights, activations and caches through texel views.
    ci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    fams[0] = dev.compute_family();
    fams[1] = dev.transfer_family();
    if (dev.separate_transfer_queue()) {
      ci.sharingMode = VK_SHARING_MODE_CONCURRENT;
      ci.queueFamilyIndexCount = 2;
      ci.pQueueFamilyIndices = fams;
    }
  }
  BufferInfo(const BufferInfo&) = delete;
};
}  // namespace

uint64_t buffer_footprint(const MemoryRules& r, uint64_t size) {
  return round_up(round_up(std::max<uint64_t>(size, 4), r.size_granularity) + r.guard_bytes, r.offset_alignment);
}

uint64_t MemoryLayout::bytes() const {
  uint64_t n = 0;
  for (const Block& b : blocks) n += b.bytes;
  return n;
}

uint64_t MemoryLayout::device_local_bytes() const {
  uint64_t n = 0;
  for (const Block& b : blocks)
    if (b.device_local) n += b.bytes;
  return n;
}

MemoryLayout memory_layout(const MemoryRules& r, std::span<const BufferRequest> requests) {
  MemoryLayout L;
  std::map<std::pair<int, uint32_t>, size_t> open;  // (usage, type) -> index of its last block
  for (const BufferRequest& q : requests) {
    const MemoryRules::Placement& p = r.of(q.usage);
    const uint64_t f = buffer_footprint(r, q.size);
    const auto key = std::make_pair(static_cast<int>(q.usage), p.type);
    auto it = open.find(key);
    if (it == open.end() || (L.blocks[it->second].bytes + f > r.max_block && L.blocks[it->second].buffers > 0)) {
      L.blocks.push_back({q.usage, p.type, p.device_local, 0, 0});
      open[key] = L.blocks.size() - 1;
      it = open.find(key);
    }
    L.blocks[it->second].bytes += f;
    L.blocks[it->second].buffers++;
  }
  return L;
}

uint64_t device_local_bytes(const MemoryRules& r, std::span<const BufferRequest> requests) {
  return memory_layout(r, requests).device_local_bytes();
}

Allocator::Allocator(Device& dev) : dev_(dev) {}

Allocator::~Allocator() {
  for (auto& b : blocks_)
    if (b.memory) vkFreeMemory(dev_.handle(), b.memory, nullptr);
}

bool Allocator::is_device_local(uint32_t type) const {
  return dev_.caps().memory_types.at(type).flags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
}

uint32_t Allocator::choose_type(uint32_t bits, MemoryUsage usage) const {
  const auto& types = dev_.caps().memory_types;
  const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                              HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, CA = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
  // Preference lists, best first: (required, preferred) flag pairs.
  std::vector<std::pair<VkMemoryPropertyFlags, VkMemoryPropertyFlags>> prefs;
  switch (usage) {
    case MemoryUsage::Device: prefs = {{DL | HV | HC, 0}, {DL, 0}, {0, 0}}; break;
    case MemoryUsage::Upload: prefs = {{HV | HC, 0}}; break;
    case MemoryUsage::Readback: prefs = {{HV | CA, 0}, {HV | HC, 0}}; break;
  }
  // On discrete GPUs, device-local+host-visible (BAR) memory is small: use it for weights only on UMA.
  if (usage == MemoryUsage::Device && !dev_.caps().uma) prefs = {{DL, 0}, {0, 0}};
  for (auto [req, pref] : prefs)
    for (uint32_t i = 0; i < types.size(); ++i)
      if ((bits & (1u << i)) && (types[i].flags & req) == req) return i;
  return UINT32_MAX;
}

VkDeviceMemory Allocator::allocate_memory(uint64_t size, uint32_t type, uint8_t** mapped) {
  const auto& caps = dev_.caps();
  if (size > caps.max_allocation_size)
    throw VkError(fmt::format("an allocation of {:.1f} MiB exceeds the device's maximum single allocation of {:.1f} MiB",
                              size / 1048576.0, caps.max_allocation_size / 1048576.0),
                  VK_ERROR_OUT_OF_DEVICE_MEMORY);
  if (is_device_local(type) && stats_.device_local_allocated + size > budget_locked())
    throw VkError(fmt::format("needs at least {:.0f} MiB of device memory (have {:.0f} MiB{})",
                              (stats_.device_local_allocated + size) / 1048576.0, budget_locked() / 1048576.0,
                              user_budget_ ? ", the memory budget" : ""),
                  VK_ERROR_OUT_OF_DEVICE_MEMORY);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = size;
  ai.memoryTypeIndex = type;
  VkDeviceMemory mem = VK_NULL_HANDLE;
  VkResult r = vkAllocateMemory(dev_.handle(), &ai, nullptr, &mem);
  if (r != VK_SUCCESS)
    throw VkError(fmt::format("vkAllocateMemory of {:.1f} MiB (memory type {}) failed: {} ({:.1f} MiB device-local "
                              "already allocated)",
                              size / 1048576.0, type, vk_result_name(r), stats_.device_local_allocated / 1048576.0),
                  r);
  *mapped = nullptr;
  if (dev_.caps().memory_types[type].flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
    void* p = nullptr;
    r = vkMapMemory(dev_.handle(), mem, 0, VK_WHOLE_SIZE, 0, &p);
    if (r != VK_SUCCESS) {
      vkFreeMemory(dev_.handle(), mem, nullptr);
      check(r, "vkMapMemory");
    }
    *mapped = static_cast<uint8_t*>(p);
  }
  const bool dl = is_device_local(type);
  (dl ? stats_.device_local_allocated : stats_.host_allocated) += size;
  stats_.device_local_peak = std::max(stats_.device_local_peak, stats_.device_local_allocated);
  return mem;
}

bool Allocator::place_in_arena_locked(const Arena& arena, const VkMemoryRequirements& req, MemoryUsage usage,
                                      uint32_t type, uint64_t buffer_size, Allocation& a) {
  if (!buffer_size || !rules_) return false;
  const uint64_t f = buffer_footprint(*rules_, buffer_size);
  if (req.size > f || (req.alignment && f % req.alignment)) return false;  // the driver needs more than planned
  for (int32_t bi : arena.blocks_) {
    Block& b = blocks_[bi];
    if (!b.memory || b.usage != usage || b.type != type || b.cursor % std::max<uint64_t>(req.alignment, 1) ||
        b.cursor + f > b.size)
      continue;
    a.memory = b.memory;
    a.offset = b.cursor;
    a.mapped = b.mapped ? b.mapped + b.cursor : nullptr;
    a.block = bi;
    b.cursor += f;
    b.live++;
    return true;
  }
  return false;
}

Allocation Allocator::allocate(const VkMemoryRequirements& req, MemoryUsage usage, uint64_t buffer_size) {
  const uint32_t type = choose_type(req.memoryTypeBits, usage);
  if (type == UINT32_MAX) throw VkError("no Vulkan memory type fits the buffer's requirements", VK_ERROR_FEATURE_NOT_PRESENT);
  if (t_arena && &t_arena->alloc_ == this) (void)rules();  // footprints need the rules
  std::lock_guard lock(mutex_);
  const auto& tf = dev_.caps().memory_types[type].flags;
  Allocation a;
  a.size = req.size;
  a.type = type;
  a.device_local = is_device_local(type);
  a.coherent = tf & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const uint64_t block_size = block_size_locked();
  const uint64_t align = std::max<uint64_t>(req.alignment, 256);
  auto account = [&] {
    (a.device_local ? stats_.device_local_used : stats_.host_used) += a.size;
    stats_.buffers++;
  };
  if (t_arena && &t_arena->alloc_ == this) {
    if (place_in_arena_locked(*t_arena, req, usage, type, buffer_size, a)) {
      account();
      return a;
    }
    // A miss when the arena planned buffers of this kind (not, e.g., a transient staging buffer).
    for (int32_t bi : t_arena->blocks_)
      if (blocks_[bi].usage == usage && blocks_[bi].type == type) {
        stats_.arena_misses++;
        break;
      }
  }
  if (req.size > block_size / 2) {  // dedicated
    Block b;
    b.size = req.size;
    b.type = type;
    b.dedicated = true;
    b.memory = allocate_memory(req.size, type, &b.mapped);
    a.memory = b.memory;
    a.mapped = b.mapped;
    a.block = static_cast<int32_t>(blocks_.size());
    blocks_.push_back(std::move(b));
    stats_.blocks++;
    account();
    return a;
  }
  auto try_block = [&](int32_t bi) -> bool {
    Block& b = blocks_[bi];
    if (b.dedicated || b.arena || b.type != type || !b.memory) return false;
    for (auto it = b.free.begin(); it != b.free.end(); ++it) {
      const uint64_t start = (it->first + align - 1) / align * align;
      const uint64_t end = it->first + it->second;
      if (start + req.size > end) continue;
      const uint64_t off = it->first, len = it->second;
      b.free.erase(it);
      if (start > off) b.free[off] = start - off;
      if (start + req.size < off + len) b.free[start + req.size] = off + len - start - req.size;
      a.memory = b.memory;
      a.offset = start;
      a.mapped = b.mapped ? b.mapped + start : nullptr;
      a.block = bi;
      return true;
    }
    return false;
  };
  for (int32_t bi = 0; bi < static_cast<int32_t>(blocks_.size()); ++bi)
    if (try_block(bi)) {
      account();
      return a;
    }
  Block b;
  b.size = block_size;
  b.type = type;
  b.memory = allocate_memory(block_size, type, &b.mapped);
  b.free[0] = block_size;
  blocks_.push_back(std::move(b));
  stats_.blocks++;
  try_block(static_cast<int32_t>(blocks_.size()) - 1);
  account();
  return a;
}

void Allocator::release_block_locked(Block& b) {
  vkFreeMemory(dev_.handle(), b.memory, nullptr);
  (is_device_local(b.type) ? stats_.device_local_allocated : stats_.host_allocated) -= b.size;
  b.memory = VK_NULL_HANDLE;
  b.free.clear();
  stats_.blocks--;
}

void Allocator::free(const Allocation& a) {
  if (a.block < 0) return;
  std::lock_guard lock(mutex_);
  Block& b = blocks_.at(a.block);
  (a.device_local ? stats_.device_local_used : stats_.host_used) -= a.size;
  stats_.buffers--;
  auto release_block = [&] { release_block_locked(b); };
  if (b.arena) {
    if (--b.live == 0 && b.closed) release_block();
    return;
  }
  if (b.dedicated) {
    release_block();
    return;
  }
  // Insert and coalesce with neighbours.
  uint64_t off = a.offset, len = a.size;
  auto next = b.free.lower_bound(off);
  if (next != b.free.end() && off + len == next->first) {
    len += next->second;
    next = b.free.erase(next);
  }
  if (next != b.free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      off = prev->first;
      len += prev->second;
      b.free.erase(prev);
    }
  }
  b.free[off] = len;
  if (b.free.size() == 1 && b.free.begin()->first == 0 && b.free.begin()->second == b.size) release_block();
}

void Allocator::set_budget(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  user_budget_ = bytes;
}

uint64_t Allocator::budget_locked() const {
  const uint64_t heap = dev_.caps().device_local_bytes();
  return user_budget_ ? std::min(user_budget_, heap) : heap;
}

uint64_t Allocator::block_size_locked() const {
  uint64_t b = std::min<uint64_t>(kBlockSize, dev_.caps().max_allocation_size);
  if (user_budget_) b = std::min(b, std::max<uint64_t>(1ull << 20, user_budget_ / 16 / 65536 * 65536));
  return b;
}

uint64_t Allocator::budget() const {
  std::lock_guard lock(mutex_);
  return budget_locked();
}

uint64_t Allocator::block_size() const {
  std::lock_guard lock(mutex_);
  return block_size_locked();
}

uint64_t Allocator::plannable_bytes() const {
  std::lock_guard lock(mutex_);
  const uint64_t taken = stats_.device_local_allocated;
  const uint64_t b = budget_locked();
  return b > taken ? b - taken : 0;
}

VkMemoryRequirements Allocator::buffer_requirements(uint64_t size) const {
  BufferInfo info(dev_, size);
  VkBuffer buf = VK_NULL_HANDLE;
  check(vkCreateBuffer(dev_.handle(), &info.ci, nullptr, &buf), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_.handle(), buf, &req);
  vkDestroyBuffer(dev_.handle(), buf, nullptr);
  return req;
}

MemoryRules Allocator::rules() const {
  {
    std::lock_guard lock(mutex_);
    if (rules_) return *rules_;
  }
  const VkMemoryRequirements req = buffer_requirements(4);
  MemoryRules r;
  r.size_granularity = std::max<uint64_t>({req.alignment, req.size, 1});
  r.offset_alignment = std::max<uint64_t>(req.alignment, 256);
  r.guard_bytes = buffer_guard_bytes();
  r.max_block = dev_.caps().max_allocation_size;
  auto place = [&](MemoryUsage u) {
    MemoryRules::Placement p;
    p.type = choose_type(req.memoryTypeBits, u);
    if (p.type == UINT32_MAX) return p;  // Buffer creation reports it
    const VkMemoryPropertyFlags f = dev_.caps().memory_types[p.type].flags;
    p.device_local = f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    p.host_visible = f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    return p;
  };
  r.device = place(MemoryUsage::Device);
  r.upload = place(MemoryUsage::Upload);
  r.readback = place(MemoryUsage::Readback);
  std::lock_guard lock(mutex_);
  if (!rules_) rules_ = std::make_unique<MemoryRules>(r);
  return *rules_;
}

Arena::Arena(Allocator& alloc, const MemoryLayout& layout) : alloc_(alloc) {
  (void)alloc.rules();  // placement needs them; probe before taking the lock
  std::lock_guard lock(alloc.mutex_);
  id_ = alloc.next_arena_++;
  const uint64_t need = layout.device_local_bytes(), budget = alloc.budget_locked();
  const uint64_t have = budget > alloc.stats_.device_local_allocated ? budget - alloc.stats_.device_local_allocated : 0;
  if (need > have)
    throw VkError(fmt::format("needs at least {:.1f} MiB of device memory (have {:.1f} MiB{})",
                              (alloc.stats_.device_local_allocated + need) / 1048576.0, budget / 1048576.0,
                              alloc.user_budget_ ? ", the memory budget" : ""),
                  VK_ERROR_OUT_OF_DEVICE_MEMORY);
  try {
    for (const MemoryLayout::Block& lb : layout.blocks) {
      if (lb.type == UINT32_MAX)
        throw VkError("no Vulkan memory type fits the buffer's requirements", VK_ERROR_FEATURE_NOT_PRESENT);
      Allocator::Block b;
      b.size = lb.bytes;
      b.type = lb.type;
      b.arena = id_;
      b.usage = lb.usage;
      b.memory = alloc.allocate_memory(lb.bytes, lb.type, &b.mapped);
      blocks_.push_back(static_cast<int32_t>(alloc.blocks_.size()));
      alloc.blocks_.push_back(std::move(b));
      alloc.stats_.blocks++;
      bytes_ += lb.bytes;
      if (alloc.is_device_local(lb.type)) device_local_bytes_ += lb.bytes;
    }
  } catch (...) {
    for (int32_t bi : blocks_) alloc.release_block_locked(alloc.blocks_[bi]);
    throw;
  }
}

Arena::~Arena() {
  std::lock_guard lock(alloc_.mutex_);
  for (int32_t bi : blocks_) {
    Allocator::Block& b = alloc_.blocks_[bi];
    b.closed = true;
    if (b.memory && b.live == 0) alloc_.release_block_locked(b);
  }
}

ArenaScope::ArenaScope(const Arena& arena) : previous_(t_arena) { t_arena = &arena; }
ArenaScope::~ArenaScope() { t_arena = previous_; }

MemoryStats Allocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

namespace {
// Guard mode (VKGEMMA_GUARD=1, on under ctest): every host-visible buffer gets kGuardBytes of
// canary after its end, checked when it is freed. On CPU devices such as lavapipe a shader's
// out-of-bounds write lands there instead of in someone else's memory, and is reported.
constexpr uint64_t kGuardBytes = 4096;
constexpr uint8_t kGuardByte = 0xA5;
std::atomic<bool> g_guard{false};
bool guard_mode() { return g_guard.load(std::memory_order_relaxed); }
std::atomic<uint64_t> g_guard_violations{0};
}  // namespace

void set_buffer_guard(bool on) { g_guard.store(on, std::memory_order_relaxed); }

uint64_t buffer_guard_violations() { return g_guard_violations.load(); }
uint64_t buffer_guard_bytes() { return guard_mode() ? kGuardBytes : 0; }

bool Buffer::guard_intact() const {
  if (!guarded_ || !alloc_.mapped) return true;
  const uint8_t* g = alloc_.mapped + size_;
  for (uint64_t i = 0; i < kGuardBytes; ++i)
    if (g[i] != kGuardByte) return false;
  return true;
}

Buffer::Buffer(Device& dev, uint64_t size, MemoryUsage usage) : dev_(&dev), size_(size) {
  const BufferInfo info(dev, size);
  check(vkCreateBuffer(dev.handle(), &info.ci, nullptr, &buffer_), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev.handle(), buffer_, &req);
  const bool guard = guard_mode();
  if (guard) req.size = std::max<uint64_t>(req.size, size) + kGuardBytes;
  try {
    alloc_ = dev.allocator().allocate(req, usage, size);
    if (guard && alloc_.mapped) {
      std::memset(alloc_.mapped + size_, kGuardByte, kGuardBytes);
      guarded_ = true;
    }
    check(vkBindBufferMemory(dev.handle(), buffer_, alloc_.memory, alloc_.offset), "vkBindBufferMemory");
  } catch (...) {
    if (alloc_.memory) dev.allocator().free(alloc_);
    vkDestroyBuffer(dev.handle(), buffer_, nullptr);
    throw;
  }
}

void Buffer::release() {
  if (buffer_) {
    if (!guard_intact()) {
      g_guard_violations++;
      log_message(LogLevel::error, fmt::format("BUFFER OVERRUN: a kernel wrote past the end of a {}-byte buffer", size_));
    }
    vkDestroyBuffer(dev_->handle(), buffer_, nullptr);
    dev_->allocator().free(alloc_);
  }
  buffer_ = VK_NULL_HANDLE;
  alloc_ = {};
}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& o) noexcept
    : dev_(o.dev_), buffer_(o.buffer_), size_(o.size_), alloc_(o.alloc_), guarded_(o.guarded_) {
  o.buffer_ = VK_NULL_HANDLE;
  o.alloc_ = {};
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    dev_ = o.dev_;
    buffer_ = o.buffer_;
    size_ = o.size_;
    alloc_ = o.alloc_;
    guarded_ = o.guarded_;
    o.buffer_ = VK_NULL_HANDLE;
    o.alloc_ = {};
  }
  return *this;
}

void Buffer::flush(uint64_t offset, uint64_t size) const {
  if (alloc_.coherent || !alloc_.mapped) return;
  VkMappedMemoryRange r{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, alloc_.memory, 0, VK_WHOLE_SIZE};
  check(vkFlushMappedMemoryRanges(dev_->handle(), 1, &r), "vkFlushMappedMemoryRanges");
  (void)offset;
  (void)size;
}

void Buffer::invalidate(uint64_t offset, uint64_t size) const {
  if (alloc_.coherent || !alloc_.mapped) return;
  VkMappedMemoryRange r{VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, nullptr, alloc_.memory, 0, VK_WHOLE_SIZE};
  check(vkInvalidateMappedMemoryRanges(dev_->handle(), 1, &r), "vkInvalidateMappedMemoryRanges");
  (void)offset;
  (void)size;
}

} // namespace vkg
