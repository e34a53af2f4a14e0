#include "app/lb_service.h"

#include "proactor/relay_handler.h"
#include "reactor/relay_handler.h"

namespace ringwire::app {

std::array<int64_t, core::kTimerKinds> LbService::timeouts() const {
  std::array<int64_t, core::kTimerKinds> t{};
  t.fill(60000);  // kinds a relay never uses
  t[core::kConnectTimer] = config_.relay.connect_timeout_ms;
  t[core::kRelayTimer] = config_.relay.idle_timeout_ms;
  return t;
}

std::unique_ptr<reactor::Acceptor> LbService::make_acceptor(reactor::Loop& loop, const core::Clock& clock) const {
  return std::make_unique<reactor::RelayAcceptor>(loop, balancer_, config_.relay, clock);
}

std::unique_ptr<proactor::Acceptor> LbService::make_acceptor(proactor::Loop& loop, const core::Clock& clock) const {
  return std::make_unique<proactor::RelayAcceptor>(loop, balancer_, config_.relay, clock);
}

}  // namespace ringwire::app
