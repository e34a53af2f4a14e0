#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/engine.h"

namespace ringwire::baseline {

// PreforkEngine is the classic pre-forked process pool, kept for
// comparison: --workers processes forked at start, each blocking in
// accept(2) on its own SO_REUSEPORT listener and serving one connection at a
// time, to its end, with blocking syscalls (serve_blocking). With more
// keep-alive clients than processes, clients queue in the backlog: that is
// the model's real behaviour. The parent supervises: a worker that dies is
// logged and replaced. request_stop sends SIGTERM to every worker; each
// finishes the answer in hand and exits. --max-conns does not apply: the
// pool size is the limit.
class PreforkEngine final : public core::Engine {
 public:
  PreforkEngine(const core::ServeConfig& config, int root_fd, int access_log_fd, std::vector<core::Fd> listeners);
  ~PreforkEngine() override;

  const char* name() const noexcept override { return "prefork"; }
  void start() override;
  void request_stop() noexcept override;
  // Returns once every worker has exited (SIGKILL after the 5 s grace period).
  void wait() override;

 private:
  void spawn(size_t index);
  [[noreturn]] void run_worker(size_t index);
  void supervise();

  const core::ServeConfig& config_;
  int root_fd_;
  int access_log_fd_;
  std::vector<core::Fd> listeners_;
  std::mutex mu_;
  std::condition_variable done_;
  std::vector<pid_t> pids_;  // by worker index; -1 when not running (under mu_)
  size_t running_ = 0;       // (under mu_)
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

}  // namespace ringwire::baseline
