#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/result.h"

namespace ringwire::proactor {

// BufferRing is a ring of provided buffers (one buffer group) that
// multishot receives pick from: the kernel takes a buffer only when data
// arrives, so an idle connection holds none. liburing 2.3 lacks
// io_uring_setup_buf_ring, so the ring memory is mapped here and registered.
// Buffers go back with give_back() and become visible to the kernel at the
// next publish(), once per loop turn. A loop may have several, one group
// each, with buffers of different sizes. Worker-thread only, except
// create(), which runs on the set-up thread before the ring is enabled.
class BufferRing {
 public:
  // Most request heads fit in one buffer (nginx starts with 1 KiB); a
  // longer one spans several and is copied out. Small buffers keep the
  // memory the kernel cycles through small.
  static constexpr size_t kHttpBufferSize = 1024;

  // `count` is rounded up to a power of two (the kernel's requirement).
  static core::Result<std::unique_ptr<BufferRing>> create(io_uring* ring, unsigned count, uint16_t group,
                                                          size_t size = kHttpBufferSize);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group() const noexcept { return group_; }
  size_t buffer_size() const noexcept { return size_; }
  char* data(uint16_t bid) const noexcept { return buffers_ + size_t{bid} * size_; }

  // Queues buffer `bid` for return to the kernel.
  void give_back(uint16_t bid) noexcept;
  // Makes the queued buffers visible to the kernel (one store).
  void publish() noexcept;

 private:
  BufferRing() = default;

  io_uring* ring_ = nullptr;  // borrowed
  io_uring_buf_ring* br_ = nullptr;
  size_t ring_bytes_ = 0;
  char* buffers_ = nullptr;
  size_t size_ = 0;
  unsigned count_ = 0;
  int mask_ = 0;
  int pending_ = 0;
  uint16_t group_ = 0;
};

}  // namespace ringwire::proactor
