#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/config.h"
#include "core/connection_budget.h"
#include "core/engine.h"
#include "core/http_session.h"
#include "core/http_worker.h"

namespace ringwire::baseline {

// ThreadsEngine is the classic thread-per-connection server, kept for
// comparison: per listener a thread blocks in accept(2), and each accepted
// connection gets a detached thread with a small stack that serves it to its
// end with blocking syscalls (serve_blocking). --max-conns caps the live
// connection threads: at the cap the acceptors stop accepting and the next
// client waits in the listen backlog. The connection threads share one
// static handler, clock and access log behind a mutex (see HttpWorker).
class ThreadsEngine final : public core::Engine {
 public:
  ThreadsEngine(const core::ServeConfig& config, int root_fd, int access_log_fd, std::vector<core::Fd> listeners);
  ~ThreadsEngine() override;

  const char* name() const noexcept override { return "threads"; }
  void start() override;
  // Stops accepting, wakes the idle connection threads so they close; the
  // others finish their answer and close.
  void request_stop() noexcept override;
  // Returns once every connection thread is gone: after the 5 s grace
  // period the sockets still open are shut down, which ends their threads.
  void wait() override;

 private:
  struct Conn {
    int fd;                         // borrowed: owned by the connection thread
    std::atomic<bool> idle{false};  // waiting for a request, nothing started
  };
  struct Task;

  void accept_loop(int listener);
  void run_connection(core::Fd fd, const core::Endpoint& peer);
  static void* thread_main(void* task);

  const core::ServeConfig& config_;
  core::SharedHttp shared_;
  core::HttpWorker owner_;  // the shared handler and access log
  core::ConnectionBudget budget_;
  std::array<int64_t, core::kTimerKinds> timeouts_;
  std::vector<core::Fd> listeners_;
  std::vector<std::thread> acceptors_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable gone_;
  std::unordered_set<Conn*> conns_;
  size_t live_ = 0;  // connection threads not finished yet (under mu_)
};

}  // namespace ringwire::baseline
