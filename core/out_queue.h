#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace ringwire::core {

// OutQueue is the ResponsePlan of DESIGN.md: the ordered list of what a
// connection still has to send. Engines only ever send what is in it.
//
// A segment is either
//  - bytes that already exist and outlive the send (a cached file's whole
//    response, a static string): queued by reference, never copied; `hold`
//    keeps the owner (a cache entry) alive until the bytes are sent, even if
//    the cache replaces the entry meanwhile;
//  - a short header block formatted for this response (304, 206, errors),
//    copied into the queue's own arena;
//  - a file range (borrowed fd, offset, length), kept open by `hold`.
//
// Responses to pipelined requests are appended back to back, so one writev
// answers many requests. Capacity is fixed: when `full()` the engine sends
// before asking the session for more. Queues are pooled per worker, so an
// idle connection holds none.
class OutQueue {
 public:
  static constexpr size_t kMaxSegments = 64;
  static constexpr size_t kArenaSize = 4096;
  // Room a caller may assume for one formatted header block.
  static constexpr size_t kMaxFormatted = 1024;

  struct Segment {
    const char* data = nullptr;  // bytes, or nullptr for a file range
    size_t len = 0;
    int file_fd = -1;  // borrowed; valid while `hold` lives
    off_t file_offset = 0;
    std::shared_ptr<const void> hold;

    bool is_file() const noexcept { return data == nullptr; }
  };

  bool empty() const noexcept { return head_ == tail_; }
  size_t segments() const noexcept { return tail_ - head_; }
  // True when a caller should flush before queueing another response.
  bool full() const noexcept { return tail_ + 4 > kMaxSegments || arena_used_ + kMaxFormatted > kArenaSize; }
  void push_bytes(std::string_view bytes, std::shared_ptr<const void> hold = {});
  void push_static(std::string_view bytes) { push_bytes(bytes); }
  void push_file(int fd, off_t offset, size_t len, std::shared_ptr<const void> hold);

  // Reserves up to kMaxFormatted bytes in the arena for a header block; the
  // caller writes into it and then commits the length it used.
  char* arena_reserve() noexcept { return arena_.data() + arena_used_; }
  void arena_commit(size_t len);

  const Segment& front() const noexcept { return segs_[head_]; }
  bool front_is_file() const noexcept { return !empty() && segs_[head_].is_file(); }

  // Fills `iov` with the leading byte segments, stopping before a file range.
  // Returns how many entries were written.
  size_t fill_iovec(iovec* iov, size_t max) const noexcept;

  // True when the front segment's bytes live in this queue's arena (and so
  // cannot outlive the queue).
  bool front_in_arena() const noexcept {
    const char* d = segs_[head_].data;
    return d >= arena_.data() && d < arena_.data() + kArenaSize;
  }

  // Removes the front segment and hands it over, its hold included, so an
  // engine can send it while the queue serves someone else. Not for a
  // segment in the arena.
  Segment pop_front() noexcept;

  // Marks `n` bytes at the front as sent, dropping finished segments.
  void consume(size_t n) noexcept;

  // Drops everything (connection closing).
  void clear() noexcept;

 private:
  Segment& push_segment();

  std::array<Segment, kMaxSegments> segs_;
  size_t head_ = 0;
  size_t tail_ = 0;
  size_t arena_used_ = 0;
  std::array<char, kArenaSize> arena_;
};

}  // namespace ringwire::core
