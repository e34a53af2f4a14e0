#pragma once

#include <cstdint>

#include "lb/lb_worker.h"
#include "lb/relay.h"
#include "proactor/loop.h"

namespace ringwire::proactor {

// RelayHandler runs one balanced connection (lb::Relay) on the io_uring
// loop: "poll, then splice(2) inline". A multishot poll on each socket
// reports readiness; the relay's pumps then splice from the loop thread.
// (IORING_OP_SPLICE cannot poll and always runs on io-wq threads; see
// proactor/README.md.) The backend connect is watched by a one-shot
// POLLOUT poll.
class RelayHandler final : public Handler {
 public:
  RelayHandler(Loop& loop, lb::LbWorker& worker, core::Fd client, const core::Endpoint& peer)
      : loop_(loop), relay_(worker, std::move(client), peer) {}

  void start();

  void on_completion(unsigned op, int res, uint32_t flags) override;
  void on_timeout(int kind) override;
  void on_stop() override;
  void abort() override { close(); }
  void on_resume() override {
    if (relay_.connected()) pump();
  }
  bool in_flight() const noexcept override { return client_poll_ || backend_poll_ || connect_poll_; }

 private:
  enum Op : unsigned { kClientPoll = 1, kBackendPoll = 2, kConnectPoll = 3 };

  void connect();
  void on_connected();
  void arm_poll(int fd, unsigned op);
  void on_poll(core::Readiness& r, int res, uint32_t flags, bool& armed, unsigned op, int fd);
  void pump();
  void close();

  Loop& loop_;
  lb::Relay relay_;
  bool client_poll_ = false;   // multishot poll on the client socket armed
  bool backend_poll_ = false;  // multishot poll on the backend socket armed
  bool connect_poll_ = false;  // the connect's POLLOUT poll armed
};

// RelayAcceptor makes a RelayHandler for each accepted client, and owns
// the worker's share of the balancer's state (its pipe pool).
class RelayAcceptor final : public Acceptor {
 public:
  RelayAcceptor(Loop& loop, lb::Balancer& balancer, const lb::RelayOptions& options, const core::Clock& clock)
      : loop_(loop), worker_(balancer, options, clock) {}
  void on_accept(core::Fd fd) override;

 private:
  Loop& loop_;
  lb::LbWorker worker_;
};

}  // namespace ringwire::proactor
