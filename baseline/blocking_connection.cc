#include "baseline/blocking_connection.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>

#include "core/http_connection.h"

namespace ringwire::baseline {
namespace {

int64_t now_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

void set_timeout(int fd, int option, int64_t ms) noexcept {
  if (ms < 1) ms = 1;
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// Sends the whole plan; false when the client is gone or the send timed out.
bool send_all(int fd, core::HttpConnection& conn) {
  while (conn.has_output()) {
    core::HttpConnection::Send s = conn.next_send();
    ssize_t n;
    if (s.is_file()) {
      off_t off = s.file_offset;
      n = ::sendfile(fd, s.file_fd, &off, s.file_len);
      if (n == 0) return false;  // the file shrank under us: the framing is lost
    } else if (s.iovcnt == 1) {
      n = ::send(fd, s.iov[0].iov_base, s.iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      n = ::sendmsg(fd, s.msg, MSG_NOSIGNAL);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;  // EAGAIN here is the send timeout (SO_SNDTIMEO) running out
    }
    conn.sent(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

void serve_blocking(core::HttpWorker& worker, core::Fd fd, const core::Endpoint& peer,
                    const std::array<int64_t, core::kTimerKinds>& timeouts, const std::atomic<bool>& stopping,
                    std::atomic<bool>* idle) {
  core::HttpConnection conn(worker);
  conn.set_peer(peer);
  set_timeout(fd.get(), SO_SNDTIMEO, timeouts[core::kWriteTimer]);
  int timer = core::kHeaderTimer;
  int64_t deadline = now_ms() + timeouts[timer];
  for (;;) {
    for (;;) {
      bool again = conn.parse();
      if (conn.has_output() && !send_all(fd.get(), conn)) return;
      if (!again) break;
    }
    core::HttpConnection::Settle s = conn.settle(stopping.load());
    if (s.next == core::HttpConnection::Next::Close) return;
    if (s.next == core::HttpConnection::Next::Linger) {
      // Everything is sent: half-close and drain what the client still
      // sends, so that closing does not reset the answer away.
      ::shutdown(fd.get(), SHUT_WR);
      conn.set_lingering();
      set_timeout(fd.get(), SO_RCVTIMEO, timeouts[core::kLingerTimer]);
      char sink[4096];
      while (::recv(fd.get(), sink, sizeof sink, 0) > 0) {
      }
      return;
    }
    if (s.restart || s.timer != timer) {
      timer = s.timer;
      deadline = now_ms() + timeouts[timer];
    }
    int64_t left = deadline - now_ms();
    if (idle) idle->store(timer == core::kIdleTimer);
    // A stop that came while this thread was busy: an idle connection closes now.
    if (timer == core::kIdleTimer && stopping.load()) return;
    ssize_t n = -1;
    if (left > 0) {
      set_timeout(fd.get(), SO_RCVTIMEO, left);
      size_t room;
      char* at = conn.input_space(room);
      n = ::recv(fd.get(), at, room, 0);
    } else {
      errno = EAGAIN;
    }
    if (idle) idle->store(false);
    if (n > 0) {
      conn.input_added(static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      conn.set_eof();
      continue;
    }
    if (errno == EINTR) continue;
    if ((errno == EAGAIN || errno == EWOULDBLOCK) && now_ms() >= deadline) {
      // The phase's timeout: a 408 for a stalled head (then the loop sends
      // it and lingers), a close for anything else.
      if (!conn.on_timeout(timer)) return;
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) continue;  // woke early: wait out the rest
    return;                                                 // a reset
  }
}

}  // namespace ringwire::baseline
