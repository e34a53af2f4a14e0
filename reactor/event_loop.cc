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
// A connection is read at most this many times per readiness event. One that
// still has bytes waiting goes on the ready list and resumes after the rest
// of the batch, so a client that pipelines without pause cannot hold the
// worker (the edge is not lost: the ready list stands in for it).
constexpr int kReadsPerEvent = 4;
constexpr int64_t kLingerMs = 2000;
constexpr int64_t kStopGraceMs = 5000;
enum ListKind { kHeader = 0, kIdle = 1, kWrite = 2, kLinger = 3, kBody = 4 };

// Tags in epoll_event.data: the listener and the wake eventfd use these
// sentinel pointers; everything else is a Connection*.
char kListenerTag, kWakeTag;
}  // namespace

struct Connection {
  core::Fd fd;  // the client socket; closed by EventLoop::close_conn
  core::Endpoint peer;
  char* in = nullptr;  // pooled input buffer, held only while bytes are pending
  size_t in_len = 0;
  core::OutQueue* out = nullptr;  // pooled, held only while output is pending
  core::HttpSession session;
  bool want_write = false;  // EPOLLOUT armed
  bool blocked = false;     // last send hit EAGAIN
  bool lingering = false;   // final response sent, draining input before close
  bool ready = false;       // on the ready list: bytes may wait in the socket
  bool closed = false;
  core::DeadlineHook<Connection> timer;
};

EventLoop::EventLoop(const core::ServeConfig& config, core::Fd listener, int root_fd,
                     int access_log_fd, core::ConnectionBudget& budget)
    : config_(config),
      listener_(std::move(listener)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      handler_(root_fd, config.cache, clock_),
      access_log_(access_log_fd >= 0 ? std::make_unique<core::AccessLog>(access_log_fd, clock_)
                                     : nullptr),
      services_{clock_, handler_, access_log_.get()},
      budget_(budget) {
  if (!epoll_ || !wake_) throw std::runtime_error("epoll/eventfd setup failed");
  timers_.set_timeout(kHeader, int64_t{config.header_timeout_s} * 1000);
  timers_.set_timeout(kIdle, int64_t{config.idle_timeout_s} * 1000);
  timers_.set_timeout(kWrite, int64_t{config.idle_timeout_s} * 1000);
  timers_.set_timeout(kLinger, kLingerMs);
  timers_.set_timeout(kBody, int64_t{config.body_timeout_s} * 1000);
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
  thread_.bind();
  epoll_event events[kMaxEvents];
  for (;;) {
    clock_.update();
    int64_t now = clock_.monotonic_ms();
    if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
    if (stopping_ && (conns_ == 0 || now >= stop_deadline_ms_)) break;
    // Accepting pauses when the budget is spent (another worker may free a
    // slot: look again every kRetryMs) or after EMFILE (a 100 ms back-off).
    int64_t cap = ready_.empty() ? 1000 : 0;
    if (accept_paused_ && !stopping_) {
      if (now >= accept_resume_ms_ && budget_.has_room())
        pause_accept(false);
      else
        cap = std::min(cap, std::max(accept_resume_ms_ - now, core::ConnectionBudget::kRetryMs));
    }
    int timeout = static_cast<int>(timers_.wait_ms(now, cap));
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
    run_ready();
    expire_timers();
    if (access_log_) access_log_->flush();
    // A connection closed this turn may still be on the ready list.
    if (!graveyard_.empty()) {
      std::erase_if(ready_, [](Connection* c) { return c->closed; });
      for (Connection* c : graveyard_) delete c;
      graveyard_.clear();
    }
  }
  while (Connection* c = timers_.any()) close_conn(c);
  if (access_log_) access_log_->flush();
  thread_.unbind();
}

void EventLoop::run_ready() {
  // Only those queued before this call: one that uses its budget again goes
  // back on the list for the next turn, after a look at the other sockets.
  ready_now_.swap(ready_);
  for (Connection* c : ready_now_) {
    c->ready = false;
    if (!c->closed) on_readable(c);
  }
  ready_now_.clear();
}

void EventLoop::on_accept() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (!budget_.try_take()) {
      pause_accept(true);  // resumed when a slot frees, here or on another worker
      return;
    }
    core::Endpoint peer;
    peer.len = sizeof peer.addr;
    int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer.addr), &peer.len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      budget_.give_back();
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
    c->fd.reset(fd);
    c->peer = peer;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
      budget_.give_back();
      delete c;  // closes fd
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
      ssize_t n = ::recv(c->fd.get(), sink, sizeof sink, 0);
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
  for (int reads = 0;; ++reads) {
    if (reads == kReadsPerEvent) {
      if (!c->ready) {
        c->ready = true;
        ready_.push_back(c);
      }
      return;
    }
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
    ssize_t n = ::recv(c->fd.get(), c->in + c->in_len, kInBuf - c->in_len, 0);
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

core::OutQueue& EventLoop::output(Connection* c) {
  if (!c->out) {
    if (!free_queues_.empty()) {
      c->out = free_queues_.back().release();
      free_queues_.pop_back();
    } else {
      c->out = new core::OutQueue;
    }
  }
  return *c->out;
}

bool EventLoop::drive(Connection* c) {
  thread_.assert_here();
  if (c->lingering) return true;
  for (;;) {
    size_t used = 0;
    bool was_full = false;
    if (c->in_len > 0 && !c->session.closing()) {
      core::OutQueue& q = output(c);
      was_full = q.full();
      if (!was_full) {
        used = c->session.process({c->in, c->in_len}, q, services_, c->peer);
        c->in_len -= used;
        if (used && c->in_len) memmove(c->in, c->in + used, c->in_len);
      }
    }
    if (c->out && !c->out->empty()) {
      if (!flush(c)) {
        close_conn(c);
        return false;
      }
      if (c->blocked) {
        set_want_write(c, true);
        if (c->timer.list != kWrite) schedule(c, kWrite);
        return true;
      }
    }
    // The queue is empty now. Parse on while the last round consumed
    // requests, or found the queue full and so left complete ones unread;
    // stop when what is left is an incomplete head.
    if ((used == 0 && !was_full) || c->in_len == 0 || c->session.closing()) break;
  }
  set_want_write(c, false);
  if (c->session.closing() || stopping_) {
    // Everything is sent. Half-close and drain whatever the client still
    // sends, so that closing with unread input does not make the kernel reset
    // the connection and destroy the answer before the client reads it. On
    // a stop this ends every connection at its first idle moment.
    c->in_len = 0;
    release_buffers(c);
    ::shutdown(c->fd.get(), SHUT_WR);
    c->lingering = true;
    schedule(c, kLinger);
    return true;
  }
  settle_timer(c);
  return true;
}

void EventLoop::settle_timer(Connection* c) {
  // Progress (a head completed, body bytes consumed) restarts the phase's
  // timer; a timeout then measures a stall, not a busy connection's age.
  bool progressed = c->session.take_progress();
  switch (c->session.phase()) {
    case core::HttpSession::Phase::Body:
      if (progressed || c->timer.list != kBody) schedule(c, kBody);
      return;
    case core::HttpSession::Phase::Head:
      if (progressed || c->timer.list != kHeader) schedule(c, kHeader);
      return;
    case core::HttpSession::Phase::Idle:
      if (c->in_len > 0) {
        if (progressed || c->timer.list != kHeader) schedule(c, kHeader);
        return;
      }
      release_buffers(c);
      schedule(c, kIdle);
      return;
  }
}

bool EventLoop::flush(Connection* c) {
  core::OutQueue& q = *c->out;
  while (!q.empty()) {
    ssize_t n;
    if (q.front_is_file()) {
      const auto& s = q.front();
      off_t off = s.file_offset;
      n = ::sendfile(c->fd.get(), s.file_fd, &off, s.len);
      if (n == 0) return false;  // the file shrank under us: the framing is lost
    } else {
      iovec iov[core::OutQueue::kMaxSegments];
      size_t cnt = q.fill_iovec(iov, core::OutQueue::kMaxSegments);
      if (cnt == 1) {
        n = ::send(c->fd.get(), iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
      } else {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = cnt;
        n = ::sendmsg(c->fd.get(), &msg, MSG_NOSIGNAL);
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
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c->fd.get(), &ev);
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
  for (int kind = 0; kind < 5; ++kind) {
    while (Connection* c = timers_.head(kind)) {
      if (c->timer.deadline > now) break;
      if (kind == kHeader && !c->lingering && (c->session.phase() == core::HttpSession::Phase::Head || c->in_len > 0)) {
        // A slow or stalled request head: answer 408 and close.
        c->in_len = 0;
        c->session.fail(408, output(c), services_, c->peer);
        if (!drive(c)) continue;
        if (c->timer.list == kHeader) close_conn(c);
        continue;
      }
      // Idle, a stalled body (its request is answered: no second response),
      // a send that made no progress, or the end of a linger.
      close_conn(c);
    }
  }
}

void EventLoop::begin_stop() {
  stopping_ = true;
  stop_deadline_ms_ = clock_.monotonic_ms() + kStopGraceMs;
  if (!accept_paused_) pause_accept(true);
  listener_.reset();
  // Idle connections, and new ones that have sent nothing yet, close now.
  // The others finish the answers they have queued and then close: requests
  // not parsed yet are dropped, as RFC 9112 section 9.3.2 lets a server do
  // (a pipelining client retries what was not answered).
  timers_.for_each(kIdle, [this](Connection* c) { close_conn(c); });
  std::vector<Connection*> active;
  for (int kind : {kHeader, kWrite, kBody})
    timers_.for_each(kind, [&active](Connection* c) { active.push_back(c); });
  for (Connection* c : active) {
    if (c->closed) continue;
    if (!c->session.mid_request() && c->in_len == 0 && c->timer.list == kHeader) {
      close_conn(c);
      continue;
    }
    c->session.set_closing();
    drive(c);
  }
}

void EventLoop::close_conn(Connection* c) {
  thread_.assert_here();
  if (c->closed) return;
  c->closed = true;
  timers_.unlink(c);
  c->fd.reset();  // also removes it from the epoll set
  // What it still buffered is dropped; its buffers go back to the pools.
  c->in_len = 0;
  if (c->out) c->out->clear();
  c->blocked = false;
  release_buffers(c);
  graveyard_.push_back(c);
  --conns_;
  budget_.give_back();
  if (accept_paused_ && !stopping_ && clock_.monotonic_ms() >= accept_resume_ms_) pause_accept(false);
}

}  // namespace ringwire::reactor
