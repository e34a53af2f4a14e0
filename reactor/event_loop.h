#pragma once

#include <atomic>
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
#include "core/out_queue.h"
#include "core/static_handler.h"

namespace ringwire::reactor {

struct Connection;

// EventLoop is one reactor worker: an edge-triggered epoll loop that owns
// its SO_REUSEPORT listener and every connection it accepts. One loop per
// thread; every method runs on the loop's thread except request_stop().
class EventLoop {
 public:
  EventLoop(const core::ServeConfig& config, core::Fd listener, int root_fd, int access_log_fd,
            core::ConnectionBudget& budget);
  ~EventLoop();

  // Runs until stopped; returns once every connection is closed.
  void run();
  // Thread-safe: asks the loop to stop gracefully.
  void request_stop() noexcept;

 private:
  void on_accept();
  void on_readable(Connection* c);
  // Connections that used up their read budget in an event resume here,
  // after the rest of the batch, one budget each.
  void run_ready();
  void on_writable(Connection* c);
  // Parses what is buffered and sends; returns false when `c` was closed.
  bool drive(Connection* c);
  // After drive(): the timer the connection's state calls for.
  void settle_timer(Connection* c);
  core::OutQueue& output(Connection* c);
  // Sends the queue; returns false on a fatal error. Sets c->blocked on EAGAIN.
  bool flush(Connection* c);
  void set_want_write(Connection* c, bool on);
  void close_conn(Connection* c);
  void schedule(Connection* c, int list);
  void expire_timers();
  void begin_stop();
  void pause_accept(bool pause);
  void release_buffers(Connection* c);

  const core::ServeConfig& config_;
  core::Fd listener_;
  core::Fd epoll_;
  core::Fd wake_;
  core::Clock clock_;
  core::StaticHandler handler_;
  std::unique_ptr<core::AccessLog> access_log_;
  core::HttpServices services_;
  core::LoopThread thread_;  // debug builds: every method but request_stop runs there
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  bool accept_paused_ = false;
  int64_t accept_resume_ms_ = 0;
  int64_t stop_deadline_ms_ = 0;
  uint64_t conns_ = 0;
  core::ConnectionBudget& budget_;  // shared by every worker
  // Header, idle, write, linger and body timeouts; every connection sits in one.
  core::DeadlineLists<Connection, 5> timers_;
  std::vector<Connection*> ready_;      // see run_ready()
  std::vector<Connection*> ready_now_;  // the batch run_ready() works through
  std::vector<Connection*> graveyard_;
  std::vector<std::unique_ptr<core::OutQueue>> free_queues_;
  std::vector<std::unique_ptr<char[]>> free_bufs_;
};

}  // namespace ringwire::reactor
