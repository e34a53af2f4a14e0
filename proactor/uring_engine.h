#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "core/connection_budget.h"
#include "core/engine.h"
#include "core/result.h"

namespace ringwire::proactor {

// UringEngine: one io_uring Loop per listener, each on its own thread with
// the acceptor its service made for it, all sharing one ConnectionBudget
// (--max-conns is a total).
class UringEngine final : public core::Engine {
 public:
  // Sets up every ring before any worker runs, so that io_uring being
  // unavailable is known at once and the caller can fall back with nothing
  // half-started. The error is the errno that made io_uring unusable; the
  // listeners are then still the caller's.
  static core::Result<std::unique_ptr<UringEngine>> create(const core::Service& service, const core::RingOptions& ring,
                                                           std::vector<core::Fd>& listeners);
  ~UringEngine() override;

  const char* name() const noexcept override { return "uring"; }
  void start() override;
  void request_stop() noexcept override;
  void wait() override;

 private:
  struct Worker;
  explicit UringEngine(uint64_t max_conns);

  core::ConnectionBudget budget_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<core::Fd> listeners_;  // handed to the workers' threads at start()
  std::vector<std::thread> threads_;
};

}  // namespace ringwire::proactor
