#include "proactor/buffer_ring.h"

#include <sys/mman.h>

#include <bit>

namespace ringwire::proactor {

core::Result<std::unique_ptr<BufferRing>> BufferRing::create(io_uring* ring, unsigned count, uint16_t group,
                                                             size_t size) {
  std::unique_ptr<BufferRing> b(new BufferRing);
  b->ring_ = ring;
  b->group_ = group;
  b->size_ = size;
  b->count_ = std::bit_ceil(count);
  b->mask_ = io_uring_buf_ring_mask(b->count_);
  // The ring of buffer descriptors must be page aligned: mmap gives that.
  b->ring_bytes_ = b->count_ * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, b->ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return core::last_errno();
  b->br_ = static_cast<io_uring_buf_ring*>(mem);
  // The buffers themselves: pages are touched only when the kernel fills them.
  mem = ::mmap(nullptr, b->count_ * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return core::last_errno();
  b->buffers_ = static_cast<char*>(mem);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(b->br_);
  reg.ring_entries = b->count_;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    b->ring_ = nullptr;  // nothing to unregister
    return std::unexpected(-rc);
  }
  io_uring_buf_ring_init(b->br_);
  for (unsigned i = 0; i < b->count_; ++i) b->give_back(static_cast<uint16_t>(i));
  b->publish();
  return b;
}

BufferRing::~BufferRing() {
  if (ring_) io_uring_unregister_buf_ring(ring_, group_);
  if (buffers_) ::munmap(buffers_, count_ * size_);
  if (br_) ::munmap(br_, ring_bytes_);
}

void BufferRing::give_back(uint16_t bid) noexcept {
  io_uring_buf_ring_add(br_, data(bid), static_cast<unsigned>(size_), bid, mask_, pending_++);
}

void BufferRing::publish() noexcept {
  if (pending_ == 0) return;
  io_uring_buf_ring_advance(br_, pending_);
  pending_ = 0;
}

}  // namespace ringwire::proactor
