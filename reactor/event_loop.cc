#include "reactor/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <cstring>

#include "core/log.h"
#include "core/socket.h"

namespace ringwire::reactor {
namespace {
constexpr size_t kInBuf = 32 * 1024;  // above http::kMaxHead, so limits trip first
constexpr int kAcceptBatch = 64;
constexpr int kMaxEvents = 256;
constexpr int64_t kLingerMs = 2000;
constexpr int64_t kStopGraceMs = 5000;
enum ListKind { kHeader = 0, kIdle = 1, kWrite = 2, kLinger = 3 };

// Tags in epoll_event.data: the listener and the wake eventfd use these
// sentinel pointers; everything else is a Connection*.
char kListenerTag, kWakeTag;
}  // namespace

struct Connection {
  int fd = -1;  // owned: closed by EventLoop::close_conn
  core::Endpoint peer;
  char* in = nullptr;  // pooled input buffer, held only while bytes are pending
  size_t in_len = 0;
  core::OutQueue* out = nullptr;  // pooled, held only while output is pending
  core::HttpSession session;
  bool want_write = false;  // EPOLLOUT armed
  bool blocked = false;     // last send hit EAGAIN
  bool lingering = false;   // final response sent, draining input before close
  bool closed = false;
  core::DeadlineHook<Connection> timer;
};

EventLoop::EventLoop(const core::ServeConfig& config, core::Fd listener, int root_fd,
                     int access_log_fd)
    : config_(config),
      listener_(std::move(listener)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      handler_(root_fd, config.cache, clock_),
      access_log_(access_log_fd >= 0 ? std::make_unique<core::AccessLog>(access_log_fd, clock_)
                                     : nullptr),
      services_{clock_, handler_, access_log_.get()},
      max_conns_((config.max_conns + config.workers - 1) / config.workers) {
  if (!epoll_ || !wake_) throw std::runtime_error("epoll/eventfd setup failed");
  timers_.set_timeout(kHeader, int64_t{config.header_timeout_s} * 1000);
  timers_.set_timeout(kIdle, int64_t{config.idle_timeout_s} * 1000);
  timers_.set_timeout(kWrite, int64_t{config.idle_timeout_s} * 1000);
  timers_.set_timeout(kLinger, kLingerMs);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &kWakeTag;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  accept_paused_ = true;
  pause_accept(false);
}

EventLoop::~EventLoop() {
  while (Connection* c = timers_.any()) close_conn(c);
  for (Connection* c : graveyard_) delete c;
}

void EventLoop::request_stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t rc = ::write(wake_.get(), &one, sizeof one);
  (void)rc;
}

void EventLoop::pause_accept(bool pause) {
  if (!listener_ || pause == accept_paused_) return;
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: a batch limit leaves the rest for the next turn
  ev.data.ptr = &kListenerTag;
  if (pause)
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
  else
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev);
  accept_paused_ = pause;
}

void EventLoop::run() {
  epoll_event events[kMaxEvents];
  for (;;) {
    clock_.update();
    int64_t now = clock_.monotonic_ms();
    if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
    if (stopping_ && (conns_ == 0 || now >= stop_deadline_ms_)) break;
    if (accept_paused_ && !stopping_ && accept_resume_ms_ && now >= accept_resume_ms_ &&
        conns_ < max_conns_) {
      accept_resume_ms_ = 0;
      pause_accept(false);
    }
    // Sleep until the nearest deadline, at most a second.
    int timeout = static_cast<int>(timers_.wait_ms(now, 1000));
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout);
    clock_.update();
    handler_.cache().poll_changes();
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &kListenerTag) {
        on_accept();
      } else if (tag == &kWakeTag) {
        uint64_t v;
        ssize_t rc = ::read(wake_.get(), &v, sizeof v);
        (void)rc;
      } else {
        auto* c = static_cast<Connection*>(tag);
        if (c->closed) continue;  // closed earlier in this batch
        uint32_t e = events[i].events;
        if (e & (EPOLLERR)) {
          close_conn(c);
          continue;
        }
        if ((e & EPOLLOUT) && !c->closed) on_writable(c);
        if ((e & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) && !c->closed) on_readable(c);
      }
    }
    expire_timers();
    if (access_log_) access_log_->flush();
    for (Connection* c : graveyard_) delete c;
    graveyard_.clear();
  }
  while (Connection* c = timers_.any()) close_conn(c);
  if (access_log_) access_log_->flush();
}

void EventLoop::on_accept() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (conns_ >= max_conns_) {
      pause_accept(true);  // resumed when a connection closes
      return;
    }
    core::Endpoint peer;
    peer.len = sizeof peer.addr;
    int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer.addr), &peer.len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop polling the listener for a moment instead
        // of spinning on a readiness we cannot act on (nginx does the same).
        RW_LOG_WARN("accept: {}; pausing accepts for 100 ms", strerror(errno));
        pause_accept(true);
        accept_resume_ms_ = clock_.monotonic_ms() + 100;
      }
      return;
    }
    auto* c = new Connection;
    c->fd = fd;
    c->peer = peer;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
      ::close(fd);
      delete c;
      continue;
    }
    ++conns_;
    schedule(c, kHeader);
  }
}

void EventLoop::on_readable(Connection* c) {
  if (c->lingering) {
    char sink[4096];
    for (;;) {
      ssize_t n = ::recv(c->fd, sink, sizeof sink, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      close_conn(c);  // EOF or error: the client has read our answer
      return;
    }
  }
  // Backpressure: while output is blocked, leave input in the kernel. The
  // edge is not lost: drive() reads again once the output drains.
  if (c->blocked) return;
  for (;;) {
    if (!c->in) {
      if (!free_bufs_.empty()) {
        c->in = free_bufs_.back().release();
        free_bufs_.pop_back();
      } else {
        c->in = new char[kInBuf];
      }
    }
    if (c->in_len == kInBuf) {
      // Cannot happen with the parser's limits below the buffer size; be safe.
      close_conn(c);
      return;
    }
    ssize_t n = ::recv(c->fd, c->in + c->in_len, kInBuf - c->in_len, 0);
    if (n > 0) {
      c->in_len += static_cast<size_t>(n);
      if (!drive(c)) return;
      if (c->blocked || c->lingering) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (c->in_len == 0) release_buffers(c);
      return;
    }
    // EOF or a reset: nothing more will come. A request still half-read can
    // never complete; queued answers to complete ones are still sent.
    if (c->out && !c->out->empty() && n == 0) {
      c->session.set_closing();
      drive(c);
      return;
    }
    close_conn(c);
    return;
  }
}

void EventLoop::on_writable(Connection* c) {
  c->blocked = false;
  if (!drive(c)) return;
  // Input may have arrived while we were not reading it.
  if (!c->blocked && !c->lingering && !c->closed) on_readable(c);
}

bool EventLoop::drive(Connection* c) {
  for (;;) {
    size_t used = 0;
    if (c->in_len > 0 && !c->session.closing()) {
      if (!c->out) {
        if (!free_queues_.empty()) {
          c->out = free_queues_.back().release();
          free_queues_.pop_back();
        } else {
          c->out = new core::OutQueue;
        }
      }
      used = c->session.process({c->in, c->in_len}, *c->out, services_, c->peer);
      if (used > 0) {
        c->in_len -= used;
        if (c->in_len) memmove(c->in, c->in + used, c->in_len);
      }
    }
    if (c->out && !c->out->empty()) {
      if (!flush(c)) {
        close_conn(c);
        return false;
      }
      if (c->blocked) {
        set_want_write(c, true);
        schedule(c, kWrite);
        return true;
      }
    }
    if (used == 0) break;
  }
  set_want_write(c, false);
  if (c->session.closing() || (stopping_ && !c->session.mid_request())) {
    // Everything is sent. Half-close and drain whatever the client still
    // sends, so that closing with unread input does not make the kernel reset
    // the connection and destroy the answer before the client reads it.
    release_buffers(c);
    ::shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    schedule(c, kLinger);
    return true;
  }
  if (c->session.mid_request() || c->in_len > 0) {
    if (c->timer.list != kHeader) schedule(c, kHeader);
  } else {
    if (c->in_len == 0) release_buffers(c);
    schedule(c, kIdle);
  }
  return true;
}

bool EventLoop::flush(Connection* c) {
  core::OutQueue& q = *c->out;
  while (!q.empty()) {
    ssize_t n;
    if (q.front_is_file()) {
      const auto& s = q.front();
      off_t off = s.file_offset;
      n = ::sendfile(c->fd, s.file_fd, &off, s.len);
      if (n == 0) return false;  // the file shrank under us: the framing is lost
    } else {
      iovec iov[core::OutQueue::kMaxSegments];
      size_t cnt = q.fill_iovec(iov, core::OutQueue::kMaxSegments);
      if (cnt == 1) {
        n = ::send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
      } else {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = cnt;
        n = ::sendmsg(c->fd, &msg, MSG_NOSIGNAL);
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        c->blocked = true;
        return true;
      }
      return false;
    }
    q.consume(static_cast<size_t>(n));
    if (c->timer.list == kWrite) schedule(c, kWrite);  // progress restarts the send timeout
  }
  return true;
}

void EventLoop::set_want_write(Connection* c, bool on) {
  if (c->want_write == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (on ? uint32_t{EPOLLOUT} : 0u);
  ev.data.ptr = c;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c->fd, &ev);
  c->want_write = on;
}

void EventLoop::release_buffers(Connection* c) {
  if (c->in && c->in_len == 0) {
    free_bufs_.emplace_back(c->in);
    c->in = nullptr;
  }
  if (c->out && c->out->empty()) {
    free_queues_.emplace_back(c->out);
    c->out = nullptr;
  }
}

void EventLoop::schedule(Connection* c, int kind) { timers_.schedule(c, kind, clock_.monotonic_ms()); }

void EventLoop::expire_timers() {
  int64_t now = clock_.monotonic_ms();
  for (int kind = 0; kind < 4; ++kind) {
    while (Connection* c = timers_.head(kind)) {
      if (c->timer.deadline > now) break;
      if (kind == kHeader && !c->lingering && c->session.mid_request()) {
        // A slow or stalled request head: answer 408 and close.
        release_buffers(c);
        c->in_len = 0;
        if (!c->out) c->out = new core::OutQueue;
        c->session.fail(408, *c->out, services_, c->peer);
        if (!drive(c) || c->timer.list == kHeader) close_conn(c);
        continue;
      }
      close_conn(c);
    }
  }
}

void EventLoop::begin_stop() {
  stopping_ = true;
  stop_deadline_ms_ = clock_.monotonic_ms() + kStopGraceMs;
  if (!accept_paused_) pause_accept(true);
  listener_.reset();
  // Idle connections, and new ones that have sent nothing yet, close now;
  // the others once their answer is out.
  timers_.for_each(kIdle, [this](Connection* c) { close_conn(c); });
  timers_.for_each(kHeader, [this](Connection* c) {
    if (!c->session.mid_request() && c->in_len == 0) close_conn(c);
  });
}

void EventLoop::close_conn(Connection* c) {
  if (c->closed) return;
  c->closed = true;
  timers_.unlink(c);
  ::close(c->fd);  // also removes it from the epoll set
  delete[] c->in;
  c->in = nullptr;
  delete c->out;
  c->out = nullptr;
  graveyard_.push_back(c);
  --conns_;
  if (accept_paused_ && !stopping_ && !accept_resume_ms_ && conns_ < max_conns_) pause_accept(false);
}

}  // namespace ringwire::reactor
