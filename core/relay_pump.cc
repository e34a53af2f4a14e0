#include "core/relay_pump.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ringwire::core {

RelayPump::Status RelayPump::pump(int from, int to, Readiness& from_ready, Readiness& to_ready, PipePool& pool,
                                  size_t budget) {
  size_t moved = 0;
  for (;;) {
    bool acted = false;
    // Send what is held first: that makes room to read more. (A pipe is
    // only taken while the buffer is empty, so the order is kept.)
    if (held() > 0 && to_ready.writable) {
      ssize_t n;
      if (pipe_)
        n = ::splice(pipe_.read_end.get(), nullptr, to, nullptr, in_pipe_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      else
        n = ::send(to, buf_.get() + buf_off_, buf_len_ - buf_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        if (pipe_) {
          in_pipe_ -= static_cast<size_t>(n);
        } else {
          buf_off_ += static_cast<size_t>(n);
          if (buf_off_ == buf_len_) buf_off_ = buf_len_ = 0;
        }
        bytes_ += static_cast<uint64_t>(n);
        moved += static_cast<size_t>(n);
        acted = true;
      } else if (n < 0 && errno == EAGAIN) {
        to_ready.writable = false;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        errno_ = n < 0 ? errno : EPIPE;
        return Status::Error;
      }
    }
    if (held() == 0) {
      if (pipe_) pool.give_back(std::move(pipe_));  // an idle direction holds no pipe
      buf_.reset();                                 // nor a buffer
    }
    if (held() == 0 && eof_) {
      if (!shut_) {
        ::shutdown(to, SHUT_WR);
        shut_ = true;
      }
      return Status::Done;
    }
    if (moved >= budget) return Status::Budget;
    if (!eof_ && from_ready.readable) {
      if (held() == 0 && !bulk_) {
        acted = copy_through(from, to, from_ready, to_ready, moved);
        if (errno_) return Status::Error;
      } else {
        acted = read_bulk(from, from_ready, pool);
        if (errno_) return Status::Error;
      }
    }
    if (!acted) return Status::Idle;
  }
}

bool RelayPump::copy_through(int from, int to, Readiness& from_ready, Readiness& to_ready, size_t& moved) {
  char chunk[kCopyBuffer];
  ssize_t n = ::recv(from, chunk, sizeof chunk, MSG_DONTWAIT);
  if (n == 0) {
    eof_ = true;
    return true;
  }
  if (n < 0) {
    if (errno == EAGAIN)
      from_ready.readable = false;
    else if (errno != EINTR)
      errno_ = errno;
    return errno == EINTR;
  }
  auto got = static_cast<size_t>(n);
  // A short read emptied the socket: bytes arriving later bring a new
  // edge, so no read is spent to hear EAGAIN (unless the FIN has been
  // reported already: then the next read is the EOF, and no edge would
  // come for it). A full chunk means more is coming: the rest of the burst
  // is spliced.
  if (got == sizeof chunk)
    bulk_ = true;
  else if (!from_ready.hangup)
    from_ready.readable = false;
  size_t sent = 0;
  if (to_ready.writable) {
    ssize_t m = ::send(to, chunk, got, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (m > 0) {
      sent = static_cast<size_t>(m);
    } else if (m < 0 && errno == EAGAIN) {
      to_ready.writable = false;
    } else if (!(m < 0 && errno == EINTR)) {
      errno_ = m < 0 ? errno : EPIPE;
      return true;
    }
  }
  if (sent < got) {
    // What the peer could not take yet waits in the buffer.
    buf_ = std::make_unique<char[]>(kCopyBuffer);
    memcpy(buf_.get(), chunk + sent, got - sent);
    buf_off_ = 0;
    buf_len_ = got - sent;
  }
  bytes_ += sent;
  moved += got;
  return true;
}

bool RelayPump::read_bulk(int from, Readiness& from_ready, PipePool& pool) {
  if (!pipe_ && buf_len_ == 0) pipe_ = pool.take();
  if (!pipe_ && !buf_) buf_ = std::make_unique<char[]>(kCopyBuffer);
  size_t room = pipe_ ? pipe_.capacity - in_pipe_ : (buf_len_ == 0 ? kCopyBuffer : 0);
  if (room == 0) return false;
  ssize_t n;
  if (pipe_)
    n = ::splice(from, nullptr, pipe_.write_end.get(), nullptr, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  else
    n = ::recv(from, buf_.get(), room, MSG_DONTWAIT);
  if (n > 0) {
    // A burst that opens small is request/response traffic again: the
    // next one starts by copy.
    if (held() == 0 && static_cast<size_t>(n) < kSmallBurst) bulk_ = false;
    if (pipe_)
      in_pipe_ += static_cast<size_t>(n);
    else
      buf_len_ = static_cast<size_t>(n);
    return true;
  }
  if (n == 0) {
    eof_ = true;
    return true;
  }
  if (errno == EAGAIN) {
    // With bytes already in the pipe, EAGAIN may mean the pipe is out of
    // slots (each holds a fragment, not always a full page) rather than an
    // empty socket: keep the readiness and read again once the pipe has
    // drained, or an edge-triggered wait could wait forever. An empty one
    // means the socket is drained: the burst is over (the next one is
    // spliced too, unless it opens small: see above).
    if (held() == 0) from_ready.readable = false;
    return false;
  }
  if (errno != EINTR) errno_ = errno;
  return false;
}

void RelayPump::release(PipePool& pool) noexcept {
  if (pipe_ && in_pipe_ == 0) pool.give_back(std::move(pipe_));
  pipe_ = {};
  buf_.reset();
}

}  // namespace ringwire::core
