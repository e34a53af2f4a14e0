#include "core/relay_pump.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace ringwire::core {

RelayPump::Status RelayPump::pump(int from, int to, Readiness& from_ready, Readiness& to_ready, PipePool& pool,
                                  size_t budget) {
  size_t moved = 0;
  for (;;) {
    bool acted = false;
    // Send what is held first: that makes room to read more.
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
    if (held() == 0 && pipe_) pool.give_back(std::move(pipe_));  // an idle direction holds no pipe
    if (held() == 0 && eof_) {
      if (!shut_) {
        ::shutdown(to, SHUT_WR);
        shut_ = true;
      }
      return Status::Done;
    }
    if (moved >= budget) return Status::Budget;
    // Then read what there is room for.
    if (!eof_ && from_ready.readable) {
      if (!pipe_ && !buf_) {
        pipe_ = pool.take();
        if (!pipe_) buf_ = std::make_unique<char[]>(kCopyBuffer);
      }
      size_t room = pipe_ ? pipe_.capacity - in_pipe_ : (buf_len_ == 0 ? kCopyBuffer : 0);
      if (room > 0) {
        ssize_t n;
        if (pipe_)
          n = ::splice(from, nullptr, pipe_.write_end.get(), nullptr, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        else
          n = ::recv(from, buf_.get(), room, MSG_DONTWAIT);
        if (n > 0) {
          if (pipe_)
            in_pipe_ += static_cast<size_t>(n);
          else
            buf_len_ = static_cast<size_t>(n);
          acted = true;
        } else if (n == 0) {
          eof_ = true;
          acted = true;
        } else if (errno == EAGAIN) {
          // With bytes already in the pipe, EAGAIN may mean the pipe is out
          // of slots (each holds a fragment, not always a full page) rather
          // than an empty socket: keep the readiness and read again once the
          // pipe has drained, or an edge-triggered wait could wait forever.
          if (in_pipe_ == 0) from_ready.readable = false;
        } else if (errno != EINTR) {
          errno_ = errno;
          return Status::Error;
        }
      }
    }
    if (!acted) return Status::Idle;
  }
}

void RelayPump::release(PipePool& pool) noexcept {
  if (pipe_ && in_pipe_ == 0) pool.give_back(std::move(pipe_));
  pipe_ = {};
  buf_.reset();
}

}  // namespace ringwire::core
