#pragma once

#include <cstdint>

#include "lb/lb_worker.h"
#include "lb/relay.h"
#include "reactor/loop.h"

namespace ringwire::reactor {

// RelayHandler runs one balanced connection (lb::Relay) on the epoll loop:
// the client socket is side 0, the backend socket side 1, both
// edge-triggered for reading and writing, so every readiness reaches the
// relay's pumps. While the backend connects, the client's bytes wait in the
// kernel.
class RelayHandler final : public Handler {
 public:
  RelayHandler(Loop& loop, lb::LbWorker& worker, core::Fd client, const core::Endpoint& peer)
      : loop_(loop), relay_(worker, std::move(client), peer) {}

  int client_fd() const noexcept { return relay_.client_fd(); }
  // Picks a backend and connects; false when the relay is already over.
  void start();

  void on_event(uint32_t events, unsigned side) override;
  void on_timeout(int kind) override;
  void on_stop() override;
  void abort() override { close(); }

 private:
  void connect();
  void pump();
  void close();

  Loop& loop_;
  lb::Relay relay_;
};

// RelayAcceptor makes a RelayHandler for each accepted client, and owns
// the worker's share of the balancer's state (its pipe pool).
class RelayAcceptor final : public Acceptor {
 public:
  RelayAcceptor(Loop& loop, lb::Balancer& balancer, const lb::RelayOptions& options, const core::Clock& clock)
      : loop_(loop), worker_(balancer, options, clock) {}
  void on_accept(core::Fd fd, const core::Endpoint& peer) override;

 private:
  Loop& loop_;
  lb::LbWorker worker_;
};

}  // namespace ringwire::reactor
