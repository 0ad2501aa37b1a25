// Device memory: buffers suballocated from a few large VkDeviceMemory blocks, and a budget
// tracker that knows device-local and host bytes at every moment.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>
#include <volk.h>

namespace vkg {

class Device;

/// Where a buffer should live.
enum class MemoryUsage {
  Device,    // device-local (on UMA also host-visible: written directly, no staging)
  Upload,    // host-visible, coherent: staging for host -> device copies
  Readback,  // host-visible, preferably cached: device -> host results
};

/// Bytes by category, from the allocator's point of view (VkDeviceMemory actually allocated).
struct MemoryStats {
  uint64_t device_local_allocated = 0;  // VkDeviceMemory in device-local heaps
  uint64_t host_allocated = 0;          // VkDeviceMemory in host (non-device-local) heaps
  uint64_t device_local_used = 0;       // bytes of live buffers in device-local heaps
  uint64_t host_used = 0;
  uint64_t device_local_peak = 0;       // max of device_local_allocated over time
  uint32_t blocks = 0, buffers = 0;
};

/// One suballocation.
struct Allocation {
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t offset = 0, size = 0;
  uint8_t* mapped = nullptr;  // host pointer when host-visible
  uint32_t type = 0;
  int32_t block = -1;         // index of the block, or -1 for a dedicated allocation
  bool device_local = false;
  bool coherent = true;
};

/// Suballocating allocator. Thread-safe. Blocks are kBlockSize (or less when the device's
/// maxMemoryAllocationSize is smaller); larger requests get a dedicated VkDeviceMemory.
class Allocator {
 public:
  static constexpr uint64_t kBlockSize = 256ull << 20;
  explicit Allocator(Device& dev);
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  /// Allocate memory for `req` with the given usage. Throws VkError (with byte counts) when no
  /// memory type fits or the heap is exhausted.
  Allocation allocate(const VkMemoryRequirements& req, MemoryUsage usage);
  void free(const Allocation& a);
  MemoryStats stats() const;

  /// Memory budget: at most `bytes` of device-local VkDeviceMemory (0: the heap budget alone,
  /// VK_EXT_memory_budget where present, else the heap sizes). Allocations past it throw
  /// VkError("needs at least N MiB of device memory (have M)"). With a budget set, blocks shrink
  /// to budget / 16 (1 .. 256 MiB) so block rounding wastes little of it.
  void set_budget(uint64_t bytes);
  /// The effective device-local budget: min(set_budget, heap budget).
  uint64_t budget() const;
  /// Size of the suballocation blocks now.
  uint64_t block_size() const;
  /// Device-local bytes a plan may still count on: the budget minus what is allocated, minus
  /// two blocks of rounding slack (a partly filled block per memory type in use).
  uint64_t plannable_bytes() const;
  /// Index of the memory type chosen for usage and the type bits (UINT32_MAX if none). Pure
  /// function of the device's memory types; exposed for tests.
  uint32_t choose_type(uint32_t type_bits, MemoryUsage usage) const;

 private:
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint64_t size = 0;
    uint32_t type = 0;
    uint8_t* mapped = nullptr;
    std::map<uint64_t, uint64_t> free;  // offset -> size, coalesced
    bool dedicated = false;
  };
  VkDeviceMemory allocate_memory(uint64_t size, uint32_t type, uint8_t** mapped);
  bool is_device_local(uint32_t type) const;

  uint64_t budget_locked() const;
  uint64_t block_size_locked() const;

  Device& dev_;
  mutable std::mutex mutex_;
  uint64_t user_budget_ = 0;
  std::vector<Block> blocks_;
  MemoryStats stats_;
};

/// A VkBuffer bound to an Allocation. Usable as storage buffer, transfer source and destination.
/// On devices with a separate transfer queue family it is shared CONCURRENT between both.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Device& dev, uint64_t size, MemoryUsage usage);
  ~Buffer();
  Buffer(Buffer&& o) noexcept;
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  VkBuffer handle() const { return buffer_; }
  uint64_t size() const { return size_; }
  /// Host pointer when the memory is host-visible, else nullptr.
  uint8_t* mapped() const { return alloc_.mapped; }
  bool host_visible() const { return alloc_.mapped != nullptr; }
  bool device_local() const { return alloc_.device_local; }
  /// Make host writes visible to the device (no-op on coherent memory).
  void flush(uint64_t offset = 0, uint64_t size = VK_WHOLE_SIZE) const;
  /// Make device writes visible to the host (no-op on coherent memory).
  void invalidate(uint64_t offset = 0, uint64_t size = VK_WHOLE_SIZE) const;
  explicit operator bool() const { return buffer_ != VK_NULL_HANDLE; }
  /// Guard mode (VKGEMMA_GUARD=1): false if something wrote into the canary after the end.
  bool guard_intact() const;

 private:
  void release();
  Device* dev_ = nullptr;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  uint64_t size_ = 0;
  Allocation alloc_;
  bool guarded_ = false;
};

/// Buffers freed with a damaged guard so far (guard mode only; see Buffer::guard_intact).
uint64_t buffer_guard_violations();
/// Extra bytes each buffer allocates for its guard (0 unless guard mode is on).
uint64_t buffer_guard_bytes();

/// A range of a buffer, as bound to one descriptor.
struct BufferRange {
  VkBuffer buffer = VK_NULL_HANDLE;
  uint64_t offset = 0;
  uint64_t range = VK_WHOLE_SIZE;
  BufferRange() = default;
  BufferRange(const Buffer& b) : buffer(b.handle()), offset(0), range(b.size()) {}  // NOLINT: implicit
  BufferRange(const Buffer& b, uint64_t off, uint64_t len) : buffer(b.handle()), offset(off), range(len) {}
};

} // namespace vkg
