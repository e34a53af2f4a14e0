#include "core/out_queue.h"

#include <cassert>

namespace ringwire::core {

OutQueue::Segment& OutQueue::push_segment() {
  assert(tail_ < kMaxSegments);
  return segs_[tail_++];
}

void OutQueue::push_bytes(std::string_view bytes, std::shared_ptr<const void> hold) {
  if (bytes.empty()) return;
  Segment& s = push_segment();
  s.data = bytes.data();
  s.len = bytes.size();
  s.file_fd = -1;
  s.hold = std::move(hold);
}

void OutQueue::push_file(int fd, off_t offset, size_t len, std::shared_ptr<const void> hold) {
  if (len == 0) return;
  Segment& s = push_segment();
  s.data = nullptr;
  s.len = len;
  s.file_fd = fd;
  s.file_offset = offset;
  s.hold = std::move(hold);
}

void OutQueue::arena_commit(size_t len) {
  assert(arena_used_ + len <= kArenaSize);
  push_bytes({arena_.data() + arena_used_, len});
  arena_used_ += len;
}

size_t OutQueue::fill_iovec(iovec* iov, size_t max) const noexcept {
  size_t n = 0;
  for (size_t i = head_; i < tail_ && n < max && !segs_[i].is_file(); ++i, ++n) {
    iov[n].iov_base = const_cast<char*>(segs_[i].data);
    iov[n].iov_len = segs_[i].len;
  }
  return n;
}

OutQueue::Segment OutQueue::pop_front() noexcept {
  assert(!empty() && !front_in_arena());
  Segment s = std::move(segs_[head_++]);
  if (head_ == tail_) clear();
  return s;
}

void OutQueue::consume(size_t n) noexcept {
  while (n > 0 && head_ < tail_) {
    Segment& s = segs_[head_];
    if (n < s.len) {
      s.len -= n;
      if (s.is_file())
        s.file_offset += static_cast<off_t>(n);
      else
        s.data += n;
      return;
    }
    n -= s.len;
    s.hold.reset();
    ++head_;
  }
  if (head_ == tail_) clear();
}

void OutQueue::clear() noexcept {
  for (size_t i = head_; i < tail_; ++i) segs_[i].hold.reset();
  head_ = tail_ = 0;
  arena_used_ = 0;
}

}  // namespace ringwire::core
