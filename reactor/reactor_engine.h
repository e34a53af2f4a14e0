#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "core/connection_budget.h"
#include "core/engine.h"

namespace ringwire::reactor {

// ReactorEngine: one epoll Loop per listener, each on its own thread with
// the acceptor its service made for it, all sharing one ConnectionBudget
// (--max-conns is a total).
class ReactorEngine final : public core::Engine {
 public:
  // busy_poll_us: --busy-poll (core/busy_poll.h); 0 is off.
  ReactorEngine(const core::Service& service, std::vector<core::Fd> listeners, uint32_t busy_poll_us = 0);
  ~ReactorEngine() override;

  const char* name() const noexcept override { return "reactor"; }
  void start() override;
  void request_stop() noexcept override;
  void wait() override;

 private:
  struct Worker;

  core::ConnectionBudget budget_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace ringwire::reactor
