// Device memory: buffers suballocated from a few large VkDeviceMemory blocks, and a budget
// tracker that knows device-local and host bytes at every moment.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
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
  uint64_t arena_misses = 0;            // buffers created under an ArenaScope that its arena could not hold
};

/// How the allocator sizes and places buffers: a pure value (Allocator::rules() probes it from the
/// driver; tests build one by hand). A plan that sizes its buffers with buffer_footprint() and
/// memory_layout() is exactly what an Arena allocates.
struct MemoryRules {
  /// VkMemoryRequirements::size of an n-byte buffer is at most round_up(max(n, 4), size_granularity)
  /// (the driver's alignment, or its size rounding where that is coarser).
  uint64_t size_granularity = 256;
  uint64_t offset_alignment = 256;  // buffer offsets in a block: max(VkMemoryRequirements::alignment, 256)
  uint64_t guard_bytes = 0;         // canary after every buffer (guard mode, buffer_guard_bytes())
  uint64_t max_block = 1ull << 30;  // maxMemoryAllocationSize: the largest VkDeviceMemory
  /// The memory type each MemoryUsage gets (Allocator::choose_type) and its properties.
  struct Placement {
    uint32_t type = 0;
    bool device_local = true;
    bool host_visible = true;
  };
  Placement device, upload, readback;
  const Placement& of(MemoryUsage u) const {
    return u == MemoryUsage::Device ? device : u == MemoryUsage::Upload ? upload : readback;
  }
};

/// Bytes a buffer of `size` bytes takes in an arena block: its memory requirement (plus the guard),
/// rounded up to the offset alignment.
uint64_t buffer_footprint(const MemoryRules& r, uint64_t size);

/// One buffer a plan will create: Buffer(dev, size, usage).
struct BufferRequest {
  uint64_t size = 0;
  MemoryUsage usage = MemoryUsage::Device;
};

/// Exactly sized VkDeviceMemory blocks for a list of buffers: per (usage, memory type), the
/// buffers' footprints packed in request order, a new block when the next would pass max_block.
/// Every block is exactly the sum of its buffers' footprints, so the bytes are order-independent
/// (only the block split is not): what an Arena allocates for these requests.
struct MemoryLayout {
  struct Block {
    MemoryUsage usage = MemoryUsage::Device;
    uint32_t type = 0;
    bool device_local = true;
    uint64_t bytes = 0;
    uint32_t buffers = 0;
  };
  std::vector<Block> blocks;
  uint64_t bytes() const;
  uint64_t device_local_bytes() const;
};
MemoryLayout memory_layout(const MemoryRules& r, std::span<const BufferRequest> requests);
/// Device-local bytes of memory_layout(r, requests): the bytes a budget must hold for them.
uint64_t device_local_bytes(const MemoryRules& r, std::span<const BufferRequest> requests);

class Arena;

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
  /// memory type fits or the heap is exhausted. Under an ArenaScope of this allocator, a buffer
  /// of `buffer_size` bytes (0: unknown) is placed in the scope's arena when a block of its usage
  /// and type has its footprint left.
  Allocation allocate(const VkMemoryRequirements& req, MemoryUsage usage, uint64_t buffer_size = 0);
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
  /// Device-local bytes a plan may still count on: the budget minus what is allocated. A plan
  /// allocated through an Arena takes exactly its memory_layout() bytes, so no slack is needed.
  uint64_t plannable_bytes() const;
  /// The driver's sizing and placement rules for Buffer (probed once with a throwaway VkBuffer).
  MemoryRules rules() const;
  /// VkMemoryRequirements of a Buffer of `size` bytes, without allocating (tests check rules()).
  VkMemoryRequirements buffer_requirements(uint64_t size) const;
  /// Index of the memory type chosen for usage and the type bits (UINT32_MAX if none). Pure
  /// function of the device's memory types; exposed for tests.
  uint32_t choose_type(uint32_t type_bits, MemoryUsage usage) const;

 private:
  friend class Arena;
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    uint64_t size = 0;
    uint32_t type = 0;
    uint8_t* mapped = nullptr;
    std::map<uint64_t, uint64_t> free;  // offset -> size, coalesced
    bool dedicated = false;
    // Arena blocks: filled front to back, freed when closed and empty.
    uint64_t arena = 0;  // id of the owning Arena, 0 for shared blocks
    MemoryUsage usage = MemoryUsage::Device;
    uint64_t cursor = 0;
    uint32_t live = 0;
    bool closed = false;
  };
  VkDeviceMemory allocate_memory(uint64_t size, uint32_t type, uint8_t** mapped);
  bool is_device_local(uint32_t type) const;
  void release_block_locked(Block& b);
  bool place_in_arena_locked(const Arena& arena, const VkMemoryRequirements& req, MemoryUsage usage, uint32_t type,
                             uint64_t buffer_size, Allocation& a);

  uint64_t budget_locked() const;
  uint64_t block_size_locked() const;

  Device& dev_;
  mutable std::mutex mutex_;
  uint64_t user_budget_ = 0;
  std::vector<Block> blocks_;
  MemoryStats stats_;
  uint64_t next_arena_ = 1;
  mutable std::unique_ptr<MemoryRules> rules_;
};

/// Device memory reserved up front for one owner's planned buffers (a model's weights, a
/// session's caches and activations): exactly the blocks of a MemoryLayout. While an ArenaScope
/// is active on a thread, Buffers created there with the same allocator are placed in the
/// arena's blocks (request order reproduces the layout); a buffer the arena cannot hold goes to
/// the shared blocks and counts in MemoryStats::arena_misses. Destroying the Arena closes it:
/// each block is freed once its last buffer is.
class Arena {
 public:
  /// Allocates every block. Throws VkError(VK_ERROR_OUT_OF_DEVICE_MEMORY, "needs at least N MiB
  /// of device memory (have M MiB ...)") before allocating anything when the device-local blocks
  /// do not fit the budget, or the driver's error.
  Arena(Allocator& alloc, const MemoryLayout& layout);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  /// Bytes of the arena's blocks (all / device-local).
  uint64_t bytes() const { return bytes_; }
  uint64_t device_local_bytes() const { return device_local_bytes_; }

 private:
  friend class Allocator;
  Allocator& alloc_;
  uint64_t id_ = 0;
  std::vector<int32_t> blocks_;
  uint64_t bytes_ = 0, device_local_bytes_ = 0;
};

/// Places the Buffers created on this thread in `arena` until destroyed (scopes nest).
class ArenaScope {
 public:
  explicit ArenaScope(const Arena& arena);
  ~ArenaScope();
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  const Arena* previous_;
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

/// Guard mode, process-wide (off by default; the CLI and the C API turn it on for VKGEMMA_GUARD=1,
/// ctest sets that): every host-visible buffer created afterwards gets a canary after its end,
/// checked when it is freed (an overrun is counted and logged at LogLevel::error).
void set_buffer_guard(bool on);
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
