#pragma once

#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "core/busy_poll.h"
#include "core/clock.h"
#include "core/connection_budget.h"
#include "core/deadline_lists.h"
#include "core/fd.h"
#include "core/loop_thread.h"
#include "core/socket.h"
#include "core/timer_kind.h"

namespace ringwire::reactor {

class Loop;

// Handler is what an epoll event or a timer is delivered to: an HTTP
// connection, or a balancer relay with two sockets. An event's data is the
// handler's address with the socket's side (0..7) in its three low bits. The loop owns none of a handler's sockets; a
// handler closes them and then calls Loop::retire(), and the loop deletes it after the batch, so that a later event of
// the same batch never touches freed memory.
class Handler {
 public:
  virtual ~Handler() = default;
  // `events` from epoll_wait for the socket registered as `side`; EPOLLIN
  // on side 0 when resumed from the ready list.
  virtual void on_event(uint32_t events, unsigned side) = 0;
  // Its timer of kind `kind` (a core::TimerKind) expired.
  virtual void on_timeout(int kind) = 0;
  // The loop stops: close now, or finish what is in flight and then close.
  virtual void on_stop() = 0;
  // Close now, whatever is in flight (the stop's grace period is over).
  virtual void abort() = 0;

  core::DeadlineHook<Handler> timer;
  bool closed = false;
  bool ready = false;  // on the loop's ready list
};

// Acceptor turns an accepted socket into a handler on the loop.
class Acceptor {
 public:
  virtual ~Acceptor() = default;
  // `fd` is nonblocking; the acceptor owns it from here on. It calls
  // loop.adopt() for the handler it makes (or closes fd and returns).
  virtual void on_accept(core::Fd fd, const core::Endpoint& peer) = 0;
  // Once per loop turn, before the turn's events, and after them.
  virtual void begin_turn() noexcept {}
  virtual void end_turn() noexcept {}
};

// Loop is one reactor worker: an edge-triggered epoll loop that owns its
// SO_REUSEPORT listener, the wake eventfd, the deadline lists, accepting
// (paused at --max-conns or EMFILE) and the graceful stop. One loop per
// thread; every method runs on the loop's thread (asserted in debug builds)
// except request_stop().
//
// A turn: wait (until the nearest deadline); dispatch the batch; resume the
// handlers on the ready list; expire timers; delete what was retired.
class Loop {
 public:
  // `clock` is the worker's: the loop updates it once per turn.
  // `busy_poll_us`: --busy-poll (core/busy_poll.h); 0 is off.
  Loop(core::Fd listener, core::ConnectionBudget& budget, const std::array<int64_t, core::kTimerKinds>& timeouts,
       core::Clock& clock, uint32_t busy_poll_us = 0);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void set_acceptor(Acceptor* acceptor) noexcept { acceptor_ = acceptor; }
  // Runs until stopped; returns once every handler is gone.
  void run();
  // Thread-safe and async-signal-safe: asks the loop to stop gracefully.
  void request_stop() noexcept;

  const core::Clock& clock() const noexcept { return clock_; }
  bool stopping() const noexcept { return stopping_; }

  // A new handler for an accepted socket: registered for `events` on `fd`
  // (side 0) and counted as live until retired.
  bool adopt(int fd, Handler* h, uint32_t events);
  // Another socket of a handler (a relay's backend), as `side`. Closing
  // the fd removes it.
  bool watch(int fd, Handler* h, uint32_t events, unsigned side);
  void modify(int fd, Handler* h, uint32_t events, unsigned side = 0) noexcept;
  // Moves `h` to the tail of timer list `kind` with a fresh deadline.
  void schedule(Handler* h, int kind) noexcept;
  int timer_of(const Handler* h) const noexcept { return h->timer.list; }
  // `h` used up its work budget with bytes still waiting in the socket:
  // on_event(EPOLLIN) again after the batch, since no new edge will come.
  void resume_later(Handler* h);
  // `h` has closed its sockets: unlinked now, deleted after the batch, and
  // its --max-conns slot freed.
  void retire(Handler* h);

 private:
  void on_accept();
  void run_ready();
  void expire_timers();
  void begin_stop();
  void pause_accept(bool pause);

  core::Clock& clock_;
  core::LoopThread thread_;
  core::Fd listener_;
  core::Fd epoll_;
  core::Fd wake_;
  core::ConnectionBudget& budget_;
  core::BusyPoll busy_;
  Acceptor* acceptor_ = nullptr;
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  bool accept_paused_ = false;
  int64_t accept_resume_ms_ = 0;
  int64_t stop_deadline_ms_ = 0;
  uint64_t live_ = 0;
  core::DeadlineLists<Handler, core::kTimerKinds> timers_;
  std::vector<Handler*> ready_;      // see resume_later()
  std::vector<Handler*> ready_now_;  // the batch run_ready() works through
  std::vector<Handler*> graveyard_;
};

}  // namespace ringwire::reactor
