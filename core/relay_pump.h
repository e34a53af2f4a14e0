#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/pipe_pool.h"

namespace ringwire::core {

// Readiness of one socket as the relay has seen it. Edge-triggered events
// set the flags; a syscall that would block clears the matching one.
struct Readiness {
  bool readable = false;
  bool writable = false;
  // The peer's FIN (EPOLLRDHUP / POLLRDHUP) has been reported: its edge is
  // spent, so a short read must not be taken for an emptied socket.
  bool hangup = false;
};

// RelayPump moves bytes one way, from socket `from` to socket `to`. A burst
// starts by copy: one recv(2) into a 16 KiB chunk on the stack and a send(2)
// at once, which for the small messages of a request/response protocol
// costs less than two splices and a pipe (HAProxy's splice-auto makes the
// same call). A read that fills the chunk means bulk traffic: the rest of
// the burst, and the bursts after it, go by splice(2) through a pipe
// (socket -> pipe -> socket, SPLICE_F_MOVE | SPLICE_F_NONBLOCK: the payload
// never enters user space), or through a 16 KiB buffer when no pipe can be
// had, until a burst opens with less than kSmallBurst. Staying in splice
// between the bursts of one large response (the socket empties whenever the
// relay outruns the sender) moved a 1 MiB download 0.93x -> 1.07x HAProxy's
// throughput (perf/compare-haproxy), as HAProxy's own forced splice does
// against its splice-auto; re-opening each burst with a 16 KiB copy sent
// it on in smaller pieces. It never reads more
// than it can hold, so a peer that stops reading stops the other side too:
// bytes in flight are bounded per direction. A pipe (or buffer) is held
// only while bytes sit in it. When `from` reaches EOF and everything is
// sent, `to` is shut down for writing (the half-close is forwarded).
//
// Engine-agnostic: both engines' relay handlers call pump() when a socket
// becomes ready, the reactor on epoll events, the proactor on poll CQEs.
class RelayPump {
 public:
  enum class Status : uint8_t { Idle, Budget, Done, Error };
  static constexpr size_t kCopyBuffer = 16 * 1024;  // the chunk, and the buffer without a pipe
  static constexpr size_t kSmallBurst = 4 * 1024;   // a spliced burst opening below this goes back to copying

  // Moves what it can now, at most about `budget` bytes. Idle: waiting for
  // readiness; Budget: more could move, call again after other work; Done:
  // EOF forwarded; Error: a reset or another error (errno_ tells).
  Status pump(int from, int to, Readiness& from_ready, Readiness& to_ready, PipePool& pool, size_t budget);

  bool done() const noexcept { return shut_; }
  bool eof() const noexcept { return eof_; }
  uint64_t bytes() const noexcept { return bytes_; }
  int error() const noexcept { return errno_; }
  bool holds_pipe() const noexcept { return static_cast<bool>(pipe_); }
  // At close: an empty pipe goes back to the pool, a full one is closed.
  void release(PipePool& pool) noexcept;

 private:
  size_t held() const noexcept { return in_pipe_ + (buf_len_ - buf_off_); }
  // One recv into a chunk on the stack and a send at once; what the peer
  // cannot take yet is kept in buf_. False when nothing happened.
  bool copy_through(int from, int to, Readiness& from_ready, Readiness& to_ready, size_t& moved);
  // One splice into the pipe (or recv into buf_ without one).
  bool read_bulk(int from, Readiness& from_ready, PipePool& pool);

  Pipe pipe_;
  size_t in_pipe_ = 0;
  std::unique_ptr<char[]> buf_;  // the fallback when no pipe could be had
  size_t buf_off_ = 0;
  size_t buf_len_ = 0;
  uint64_t bytes_ = 0;
  int errno_ = 0;
  bool bulk_ = false;  // a read filled the chunk: splice until the socket is drained
  bool eof_ = false;
  bool shut_ = false;
};

}  // namespace ringwire::core
