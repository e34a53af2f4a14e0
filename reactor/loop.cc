#include "reactor/loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/log.h"

namespace ringwire::reactor {
namespace {
constexpr int kAcceptBatch = 64;
constexpr int kMaxEvents = 256;
constexpr int64_t kStopGraceMs = 5000;

// Tags in epoll_event.data for the listener and the wake eventfd; anything
// else is a Handler*.
char kListenerTag, kWakeTag;
}  // namespace

Loop::Loop(core::Fd listener, core::ConnectionBudget& budget, const std::array<int64_t, core::kTimerKinds>& timeouts,
           core::Clock& clock, uint32_t busy_poll_us)
    : clock_(clock),
      listener_(std::move(listener)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      budget_(budget),
      busy_(busy_poll_us) {
  if (!epoll_ || !wake_) throw std::runtime_error("epoll/eventfd setup failed");
  for (int k = 0; k < core::kTimerKinds; ++k) timers_.set_timeout(k, timeouts[k]);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &kWakeTag;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  accept_paused_ = true;
  pause_accept(false);
}

Loop::~Loop() {
  // run() returns with every handler gone; this covers a loop never run.
  while (Handler* h = timers_.any()) h->abort();
  for (Handler* h : graveyard_) delete h;
}

void Loop::request_stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t rc = ::write(wake_.get(), &one, sizeof one);
  (void)rc;
}

void Loop::pause_accept(bool pause) {
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

void Loop::run() {
  thread_.bind();
  epoll_event events[kMaxEvents];
  for (;;) {
    clock_.update();
    int64_t now = clock_.monotonic_ms();
    if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
    if (stopping_ && (live_ == 0 || now >= stop_deadline_ms_)) break;
    // Accepting pauses when the budget is spent (another worker may free a
    // slot: look again every kRetryMs) or after EMFILE (a 100 ms back-off).
    int64_t cap = ready_.empty() ? 1000 : 0;
    if (accept_paused_ && !stopping_) {
      if (now >= accept_resume_ms_ && budget_.has_room())
        pause_accept(false);
      else
        cap = std::min(cap, std::max(accept_resume_ms_ - now, core::ConnectionBudget::kRetryMs));
    }
    int timeout = busy_.spinning() ? 0 : static_cast<int>(timers_.wait_ms(now, cap));
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout);
    busy_.after_wait(n > 0);
    clock_.update();
    if (acceptor_) acceptor_->begin_turn();
    for (int i = 0; i < n; ++i) {
      uint64_t tag = events[i].data.u64;
      if (tag == reinterpret_cast<uintptr_t>(&kListenerTag)) {
        on_accept();
      } else if (tag == reinterpret_cast<uintptr_t>(&kWakeTag)) {
        uint64_t v;
        ssize_t rc = ::read(wake_.get(), &v, sizeof v);
        (void)rc;
      } else {
        auto* h = reinterpret_cast<Handler*>(tag & ~uint64_t{7});
        // Closed earlier in this batch: skipped.
        if (!h->closed) h->on_event(events[i].events, static_cast<unsigned>(tag & 7));
      }
    }
    run_ready();
    expire_timers();
    if (acceptor_) acceptor_->end_turn();
    if (!graveyard_.empty()) {
      // A handler retired this turn may still be on the ready list.
      std::erase_if(ready_, [](Handler* h) { return h->closed; });
      for (Handler* h : graveyard_) delete h;
      graveyard_.clear();
    }
  }
  // The grace period is over: whatever is left closes now.
  while (Handler* h = timers_.any()) h->abort();
  std::erase_if(ready_, [](Handler* h) { return h->closed; });
  for (Handler* h : graveyard_) delete h;
  graveyard_.clear();
  if (acceptor_) acceptor_->end_turn();
  thread_.unbind();
}

void Loop::run_ready() {
  // Only those queued before this call: one that uses its budget again goes
  // back on the list for the next turn, after a look at the other sockets.
  ready_now_.swap(ready_);
  for (Handler* h : ready_now_) {
    h->ready = false;
    if (!h->closed) h->on_event(EPOLLIN, 0);
  }
  ready_now_.clear();
}

void Loop::on_accept() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    if (!budget_.try_take()) {
      pause_accept(true);  // resumed when a slot frees, here or on another worker
      return;
    }
    core::Endpoint peer;
    peer.len = sizeof peer.addr;
    int fd =
        ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&peer.addr), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    uint64_t before = live_;
    acceptor_->on_accept(core::Fd(fd), peer);
    if (live_ == before) budget_.give_back();  // the acceptor refused it
  }
}

bool Loop::adopt(int fd, Handler* h, uint32_t events) {
  if (!watch(fd, h, events, 0)) return false;
  ++live_;
  return true;
}

bool Loop::watch(int fd, Handler* h, uint32_t events, unsigned side) {
  thread_.assert_here();
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = reinterpret_cast<uintptr_t>(h) | side;
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

void Loop::modify(int fd, Handler* h, uint32_t events, unsigned side) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = reinterpret_cast<uintptr_t>(h) | side;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
}

void Loop::schedule(Handler* h, int kind) noexcept {
  timers_.schedule(h, kind, clock_.monotonic_ms());
}

void Loop::resume_later(Handler* h) {
  if (h->ready) return;
  h->ready = true;
  ready_.push_back(h);
}

void Loop::retire(Handler* h) {
  thread_.assert_here();
  if (h->closed) return;
  h->closed = true;
  timers_.unlink(h);
  graveyard_.push_back(h);
  --live_;
  budget_.give_back();
  if (accept_paused_ && !stopping_ && clock_.monotonic_ms() >= accept_resume_ms_) pause_accept(false);
}

void Loop::expire_timers() {
  timers_.expire(
      clock_.monotonic_ms(), [](Handler* h, int kind) { h->on_timeout(kind); }, [](Handler* h) { h->abort(); });
}

void Loop::begin_stop() {
  stopping_ = true;
  stop_deadline_ms_ = clock_.monotonic_ms() + kStopGraceMs;
  if (!accept_paused_) pause_accept(true);
  listener_.reset();
  // Every handler decides: idle ones close now, the others finish what
  // they have in flight.
  for (Handler* h : timers_.snapshot())
    if (!h->closed) h->on_stop();
}

}  // namespace ringwire::reactor
