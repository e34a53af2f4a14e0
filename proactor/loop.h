#pragma once

#include <liburing.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/busy_poll.h"
#include "core/clock.h"
#include "core/connection_budget.h"
#include "core/deadline_lists.h"
#include "core/fd.h"
#include "core/loop_thread.h"
#include "core/result.h"
#include "core/timer_kind.h"
#include "proactor/buffer_ring.h"
#include "proactor/ring.h"

namespace ringwire::proactor {

// Handler is what a CQE (its user_data is the handler's address with the
// operation in the three low bits: see tag()) or a timer is delivered to:
// an HTTP connection today, a balancer relay tomorrow. A handler closes its
// own sockets, cancelling what it has in flight first, then calls
// Loop::retire(); the loop deletes it once its last CQE has come back.
class Handler {
 public:
  virtual ~Handler() = default;
  // One CQE for operation `op` (1..7) of this handler.
  virtual void on_completion(unsigned op, int res, uint32_t flags) = 0;
  // Its timer of kind `kind` (a core::TimerKind) expired.
  virtual void on_timeout(int kind) = 0;
  // The loop stops: close now, or finish what is in flight and then close.
  virtual void on_stop() = 0;
  // Close now, whatever is in flight (the stop's grace period is over).
  virtual void abort() = 0;
  // After Loop::starve (its receive ended with ENOBUFS: the loop has handed
  // buffers back and it may re-arm) or Loop::resume_later, once per turn.
  virtual void on_resume() {}
  // Operations whose last CQE has not come back yet.
  virtual bool in_flight() const noexcept = 0;

  uint64_t tag(unsigned op) const noexcept { return reinterpret_cast<uintptr_t>(this) | op; }

  core::DeadlineHook<Handler> timer;
  bool closed = false;
  bool starved = false;  // on the resume list (Loop::starve, Loop::resume_later)
  bool buried = false;   // on the graveyard
};

// Acceptor turns an accepted socket into a handler on the loop.
class Acceptor {
 public:
  virtual ~Acceptor() = default;
  // `fd` is nonblocking; the acceptor owns it from here on, and calls
  // loop.adopt() for the handler it makes (or closes fd and returns).
  virtual void on_accept(core::Fd fd) = 0;
  // Once per loop turn, before the turn's completions, and after them.
  virtual void begin_turn() noexcept {}
  virtual void end_turn() noexcept {}
};

// Loop is one io_uring worker: a completion-driven loop that owns its
// SO_REUSEPORT listener, its ring, its provided-buffer ring, the deadline
// lists, accepting (a multishot accept, paused at --max-conns) and the
// graceful stop. One loop per thread: create() runs on the set-up thread,
// run() on the worker thread, which becomes the ring's only submitter;
// request_stop() is the one method safe from any thread.
//
// A turn, top to bottom: submit everything queued and wait for a completion
// in one io_uring_enter; dispatch every CQE in the batch and advance the CQ
// once; hand the buffers taken during the batch back to the kernel in one
// store; let starved receives re-arm; expire timers; free what has retired.
class Loop {
 public:
  struct Options {
    unsigned ring_buffers = 512;
    unsigned cq_entries = 16384;
    uint32_t busy_poll_us = 0;  // --busy-poll (core/busy_poll.h); 0 is off
  };
  // Sets up the ring and the buffer ring. The error is the errno that made
  // io_uring unusable (EPERM, ENOSYS, ENOMEM, ...): the caller falls back.
  static core::Result<std::unique_ptr<Loop>> create(const Options& options, core::ConnectionBudget& budget,
                                                    const std::array<int64_t, core::kTimerKinds>& timeouts,
                                                    core::Clock& clock);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void set_acceptor(Acceptor* acceptor) noexcept { acceptor_ = acceptor; }
  // Serves `listener` until stopped; returns once every handler is gone.
  // The listener is handed over here, not at create(), so that a failed
  // set-up leaves every listener to the fallback engine.
  void run(core::Fd listener);
  // Thread-safe and async-signal-safe: asks the loop to stop gracefully.
  void request_stop() noexcept;

  const core::Clock& clock() const noexcept { return clock_; }
  bool stopping() const noexcept { return stopping_; }
  const char* ring_mode() const noexcept { return ring_->mode(); }

  // A free SQE (a full SQ is submitted early).
  io_uring_sqe* sqe() noexcept { return ring_->sqe(); }
  // Submits what is queued now (before closing an fd that a cancel names).
  void submit() noexcept { ring_->submit(); }
  // Cancels the operation tagged `user_data`; the cancel's own CQE is ignored.
  void cancel(uint64_t user_data) noexcept;
  BufferRing& buffers() noexcept { return *bufs_; }
  // Another provided-buffer ring, the next group, of `count` buffers of
  // `size` bytes, published with the loop's own after every batch (the
  // balancer's recv relay wants fewer, larger buffers than HTTP). Set-up
  // thread only, before run(); the loop owns it.
  core::Result<BufferRing*> add_buffers(unsigned count, size_t size);
  // `h`'s receive found the buffer ring empty: its on_resume() runs after
  // this batch's buffers have gone back, so its re-armed receive does not
  // fail again at once.
  void starve(Handler* h);
  // `h` used up its work budget with more to do: on_resume() after this
  // batch, since no new CQE may come for what is already there.
  void resume_later(Handler* h);

  // A new handler, live until retired.
  void adopt(Handler*) noexcept { ++live_; }
  void schedule(Handler* h, int kind) noexcept;
  int timer_of(const Handler* h) const noexcept { return h->timer.list; }
  // `h` has closed its sockets (after cancelling its operations): it is
  // freed once in_flight() is false, and its --max-conns slot is free now.
  void retire(Handler* h);

 private:
  Loop(std::unique_ptr<Ring> ring, std::unique_ptr<BufferRing> bufs, core::ConnectionBudget& budget,
       const std::array<int64_t, core::kTimerKinds>& timeouts, core::Clock& clock, uint32_t busy_poll_us);

  void reap();
  void dispatch(io_uring_cqe* cqe);
  void submit_accept();
  void on_accept(int res, bool more);
  void admit_waiting();
  void submit_wake();
  void on_wake();
  void expire_timers();
  void begin_stop();
  void bury(Handler* h);
  void bury_closed();

  core::Clock& clock_;
  core::LoopThread thread_;
  core::Fd listener_;
  core::Fd wake_;
  uint64_t wake_value_ = 0;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<BufferRing> bufs_;
  std::vector<std::unique_ptr<BufferRing>> more_bufs_;  // see add_buffers()
  core::ConnectionBudget& budget_;
  core::BusyPoll busy_;
  Acceptor* acceptor_ = nullptr;
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  bool accept_armed_ = false;      // the multishot accept is in flight
  bool accept_cancelled_ = false;  // and a cancel of it is on its way
  bool wake_armed_ = false;        // the read of wake_ is in flight
  int64_t accept_resume_ms_ = 0;
  int64_t stop_deadline_ms_ = 0;
  uint64_t live_ = 0;     // adopted, not yet retired
  uint64_t zombies_ = 0;  // retired, waiting for their last CQE
  // Accepted while the budget was spent (the multishot accept takes what the
  // kernel has queued before its cancel lands): they wait here, unread, as
  // they would in the listen backlog, and are served in order as slots free.
  std::deque<core::Fd> waiting_;
  core::DeadlineLists<Handler, core::kTimerKinds> timers_;
  std::vector<Handler*> starved_;      // see starve()
  std::vector<Handler*> starved_now_;  // the ones on_resume() is called for this turn
  std::vector<Handler*> graveyard_;
  // Loop-turn cost, logged at debug level when the worker stops.
  uint64_t turns_ = 0;
  uint64_t cqes_ = 0;
  uint64_t starved_total_ = 0;
  uint64_t overflow_flushes_ = 0;
};

}  // namespace ringwire::proactor
