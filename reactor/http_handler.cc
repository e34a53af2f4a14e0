#include "reactor/http_handler.h"

#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <cerrno>

namespace ringwire::reactor {
namespace {
// A connection is read at most this many times per readiness event. One that
// still has bytes waiting is resumed from the loop's ready list after the
// rest of the batch, so a client that pipelines without pause cannot hold
// the worker (the edge is not lost: the ready list stands in for it).
constexpr int kReadsPerEvent = 4;
constexpr uint32_t kEvents = EPOLLIN | EPOLLRDHUP | EPOLLET;
}  // namespace

void HttpAcceptor::on_accept(core::Fd fd, const core::Endpoint& peer) {
  int raw = fd.get();
  auto* h = new HttpHandler(loop_, worker_, std::move(fd));
  if (!loop_.adopt(raw, h, kEvents)) {
    delete h;  // closes the socket
    return;
  }
  h->connection().set_peer(peer);
  loop_.schedule(h, core::kHeaderTimer);
}

void HttpHandler::on_event(uint32_t events, unsigned /*side*/) {
  if (events & EPOLLERR) {
    close();
    return;
  }
  if (events & EPOLLOUT) {
    on_writable();
    if (closed) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) on_readable();
}

void HttpHandler::on_readable() {
  if (conn_.lingering()) {
    char sink[4096];
    for (;;) {
      ssize_t n = ::recv(fd_.get(), sink, sizeof sink, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      close();  // EOF or error: the client has read our answer
      return;
    }
  }
  // Backpressure: while output is blocked, leave input in the kernel. The
  // edge is not lost: the handler reads again once the output drains.
  if (blocked_) return;
  for (int reads = 0;; ++reads) {
    if (reads == kReadsPerEvent) {
      loop_.resume_later(this);
      return;
    }
    size_t room;
    char* at = conn_.input_space(room);
    if (room == 0) {
      // Cannot happen with the parser's limits below the buffer size; be safe.
      close();
      return;
    }
    ssize_t n = ::recv(fd_.get(), at, room, 0);
    if (n > 0) {
      conn_.input_added(static_cast<size_t>(n));
      if (!drive()) return;
      if (blocked_ || conn_.lingering()) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      conn_.return_idle_buffers();
      return;
    }
    if (n < 0) {  // a reset: nothing can be delivered any more
      close();
      return;
    }
    // EOF: complete requests already buffered are still answered.
    conn_.set_eof();
    drive();
    return;
  }
}

void HttpHandler::on_writable() {
  blocked_ = false;
  if (!drive()) return;
  // Input may have arrived while it was not being read.
  if (!blocked_ && !conn_.lingering() && !closed) on_readable();
}

bool HttpHandler::drive() {
  if (conn_.lingering()) return true;
  for (;;) {
    bool again = conn_.parse();
    if (conn_.has_output()) {
      if (!flush()) {
        close();
        return false;
      }
      if (blocked_) {
        set_want_write(true);
        if (loop_.timer_of(this) != core::kWriteTimer) loop_.schedule(this, core::kWriteTimer);
        return true;
      }
    }
    if (!again) break;
  }
  set_want_write(false);
  core::HttpConnection::Settle s = conn_.settle(loop_.stopping());
  switch (s.next) {
    case core::HttpConnection::Next::Close: close(); return false;
    case core::HttpConnection::Next::Linger:
      // Everything is sent. Half-close and drain whatever the client still
      // sends, so that closing with unread input does not make the kernel
      // reset the connection and destroy the answer before it is read.
      ::shutdown(fd_.get(), SHUT_WR);
      conn_.set_lingering();
      break;
    case core::HttpConnection::Next::Read: break;
  }
  if (s.restart || loop_.timer_of(this) != s.timer) loop_.schedule(this, s.timer);
  return true;
}

bool HttpHandler::flush() {
  while (conn_.has_output()) {
    core::HttpConnection::Send s = conn_.next_send();
    ssize_t n;
    if (s.is_file()) {
      off_t off = s.file_offset;
      n = ::sendfile(fd_.get(), s.file_fd, &off, s.file_len);
      if (n == 0) return false;  // the file shrank under us: the framing is lost
    } else if (s.iovcnt == 1) {
      n = ::send(fd_.get(), s.iov[0].iov_base, s.iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      n = ::sendmsg(fd_.get(), s.msg, MSG_NOSIGNAL);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        blocked_ = true;
        return true;
      }
      return false;
    }
    conn_.sent(static_cast<size_t>(n));
    // Progress restarts the send timeout.
    if (loop_.timer_of(this) == core::kWriteTimer) loop_.schedule(this, core::kWriteTimer);
  }
  return true;
}

void HttpHandler::set_want_write(bool on) noexcept {
  if (want_write_ == on) return;
  loop_.modify(fd_.get(), this, kEvents | (on ? uint32_t{EPOLLOUT} : 0u));
  want_write_ = on;
}

void HttpHandler::on_timeout(int kind) {
  if (conn_.on_timeout(kind)) {
    // A 408 is queued: send it, then the connection lingers and closes.
    if (!drive()) return;
    if (loop_.timer_of(this) == kind) close();
    return;
  }
  close();
}

void HttpHandler::on_stop() {
  if (conn_.stop()) {
    close();
    return;
  }
  if (!blocked_) drive();
}

void HttpHandler::close() {
  if (closed) return;
  fd_.reset();  // also removes it from the epoll set
  conn_.release();
  loop_.retire(this);
}

}  // namespace ringwire::reactor
