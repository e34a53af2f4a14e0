#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "core/fd.h"

namespace ringwire::lb {

class Balancer;

// HealthChecker: one thread for the whole process. Every `interval_ms` it
// makes a nonblocking TCP connect to each backend (bounded by `timeout_ms`)
// and reports each outcome to the balancer (connect_succeeded/failed), which
// counts rise and fall.
//
// All backends of a round are probed at once, in one poll, so a round takes
// at most `timeout_ms` however many backends are down. The thread sleeps
// between rounds in poll on an eventfd, which stop() signals: stopping takes
// effect at once, even in the middle of a round.
class HealthChecker {
 public:
  // Borrows `balancer`, which must outlive this object. Throws
  // std::system_error when the eventfd cannot be created.
  HealthChecker(Balancer& balancer, int64_t interval_ms, int64_t timeout_ms);
  ~HealthChecker();  // stops and joins
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Starts the thread; the first round runs at once. Calling start() while
  // running does nothing; after stop() it starts a new thread.
  void start();
  // Asks the thread to end and wakes it; returns without waiting for it (the
  // destructor, or the next start(), joins). Only writes an atomic and an
  // eventfd, so it may be called from any thread.
  void stop() noexcept;

 private:
  void run();
  // One round: probes every backend, reports the outcomes. Returns false when
  // stop() interrupted it (nothing more is reported then).
  bool probe_all();
  // Sleeps until `ms` have passed or stop() is called; false when stopped.
  bool wait_ms(int64_t ms);

  Balancer& balancer_;
  const int64_t interval_ms_;
  const int64_t timeout_ms_;
  core::Fd wake_;  // eventfd, readable once stop() was called
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// "connection refused", "timed out", ...: a connect's errno as a reason for
// the balancer's "backend X is down (REASON)" line.
std::string describe_connect_error(int err);

}  // namespace ringwire::lb
