#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <vector>

#include "core/access_log.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/connection_budget.h"
#include "core/deadline_lists.h"
#include "core/fd.h"
#include "core/http_session.h"
#include "core/loop_thread.h"
#include "core/result.h"
#include "core/static_handler.h"
#include "proactor/buffer_ring.h"
#include "proactor/ring.h"

namespace ringwire::proactor {

struct Connection;
struct Output;

// Proactor is one io_uring worker: a completion-driven loop that owns its
// SO_REUSEPORT listener, its ring, its provided-buffer ring and every
// connection it accepts. One proactor per thread: create() runs on the
// set-up thread, run() on the worker thread, which becomes the ring's only
// submitter; request_stop() is the one method safe from any thread.
//
// The loop, top to bottom: submit everything queued and wait for a
// completion in one io_uring_enter; dispatch every CQE in the batch and
// advance the CQ once; hand the buffers taken during the batch back to the
// kernel in one store; re-arm receives that found no buffer; expire timers.
class Proactor {
 public:
  // Sets up the ring and the buffer ring. The error is the errno that made
  // io_uring unusable (EPERM, ENOSYS, ENOMEM, ...): the caller falls back.
  static core::Result<std::unique_ptr<Proactor>> create(const core::ServeConfig& config, int root_fd,
                                                        int access_log_fd, core::ConnectionBudget& budget);
  ~Proactor();

  // Serves `listener` until stopped; returns once every connection is
  // closed. The listener is handed over here, not at create(), so that a
  // failed set-up leaves every listener to the fallback engine.
  void run(core::Fd listener);
  // Thread-safe: asks the loop to stop gracefully.
  void request_stop() noexcept;

  const char* ring_mode() const noexcept { return ring_->mode(); }

 private:
  Proactor(const core::ServeConfig& config, std::unique_ptr<Ring> ring,
           std::unique_ptr<BufferRing> bufs, int root_fd, int access_log_fd,
           core::ConnectionBudget& budget);

  void reap();
  void dispatch(io_uring_cqe* cqe);
  void submit_accept();
  void on_accept(int res, bool more);
  // Serves accepted sockets that waited for a slot in the budget.
  void admit_waiting();
  void start_conn(int fd);
  void submit_wake();
  void on_wake();
  void submit_recv(Connection* c);
  void on_recv(Connection* c, int res, uint32_t flags);
  // Starts the next send if none is in flight; false when `c` was closed.
  bool submit_send(Connection* c);
  void on_send(Connection* c, int res);
  void submit_poll_out(Connection* c);
  void on_poll_out(Connection* c, int res);
  void cancel(uint64_t user_data);

  // Takes `n` received bytes: parses them in place when nothing is pending,
  // else appends them to the connection's input buffer.
  void absorb(Connection* c, const char* data, size_t n);
  // Parses what is buffered, sends, and settles timers and the receive.
  void drive(Connection* c);
  // After drive(), for a connection with nothing to send: its timer.
  void settle_timer(Connection* c);
  void finish(Connection* c);
  void close_conn(Connection* c);
  void op_done(Connection* c);
  void bury_closed();
  void schedule(Connection* c, int kind);
  void expire_timers();
  void begin_stop();
  void release_buffers(Connection* c);
  Output* output(Connection* c);
  bool append_input(Connection* c, const char* data, size_t n);

  core::Fd listener_;
  core::Fd wake_;
  uint64_t wake_value_ = 0;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<BufferRing> bufs_;
  core::Clock clock_;
  core::StaticHandler handler_;
  std::unique_ptr<core::AccessLog> access_log_;
  core::HttpServices services_;
  core::LoopThread thread_;  // debug builds: every method but request_stop runs there
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  bool accept_armed_ = false;      // the multishot accept is in flight
  bool accept_cancelled_ = false;  // and a cancel of it is on its way
  bool wake_armed_ = false;        // the read of wake_ is in flight
  int64_t accept_resume_ms_ = 0;
  int64_t stop_deadline_ms_ = 0;
  uint64_t conns_ = 0;    // open connections (not yet closed)
  uint64_t zombies_ = 0;  // closed, waiting for their last CQE
  core::ConnectionBudget& budget_;  // --max-conns, shared by every worker
  // Accepted while the budget was spent (the multishot accept takes what the
  // kernel has queued before its cancel lands): they wait here, unread, as
  // they would in the listen backlog, and are served in order as slots free.
  std::deque<core::Fd> waiting_;
  // Header, idle, write, linger and body timeouts; every open connection sits in one.
  core::DeadlineLists<Connection, 5> timers_;
  std::vector<Connection*> starved_;  // receives that ended with ENOBUFS
  std::vector<Connection*> graveyard_;
  std::vector<std::unique_ptr<Output>> free_outputs_;
  std::vector<std::unique_ptr<char[]>> free_inputs_;
  // Loop-turn cost, logged at debug level when the worker stops.
  uint64_t turns_ = 0;
  uint64_t cqes_ = 0;
  uint64_t starved_total_ = 0;
  uint64_t overflow_flushes_ = 0;
};

}  // namespace ringwire::proactor
