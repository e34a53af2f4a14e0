#pragma once

#include "core/engine.h"
#include "lb/balancer.h"
#include "lb/lb_config.h"

namespace ringwire::app {

// LbService is `ringwire lb` as a core::Service: each worker loop gets a
// RelayAcceptor (and with it the worker's pipe pool), all picking from one
// shared Balancer.
class LbService final : public core::Service {
 public:
  LbService(const lb::LbConfig& config, lb::Balancer& balancer) noexcept : config_(config), balancer_(balancer) {}

  std::array<int64_t, core::kTimerKinds> timeouts() const override;
  uint64_t max_conns() const override { return config_.max_conns; }
  std::unique_ptr<reactor::Acceptor> make_acceptor(reactor::Loop& loop, const core::Clock& clock) const override;
  std::unique_ptr<proactor::Acceptor> make_acceptor(proactor::Loop& loop, const core::Clock& clock) const override;

 private:
  const lb::LbConfig& config_;
  lb::Balancer& balancer_;
};

}  // namespace ringwire::app
