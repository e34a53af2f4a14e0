#pragma once

#include <cstdint>

#include "lb/lb_worker.h"
#include "lb/relay.h"
#include "proactor/loop.h"

namespace ringwire::proactor {

// RelayHandler is one balanced connection (lb::Relay) on the io_uring loop:
// the part every --uring-relay mode shares. It connects to the backend
// (watched by a one-shot POLLOUT poll, with the connect timeout and the
// transparent retry of the next backend), keeps the idle timer, stops and
// closes. Moving the bytes is the subclass's: PollRelay (a multishot poll,
// then splice(2) inline), SpliceRelay (IORING_OP_SPLICE through a pipe) or
// RecvRelay (a multishot receive into provided buffers, then send). See
// proactor/README.md for how they compare.
//
// Operation 1 is the connect's poll; a subclass tags its own with 2..7.
// Sockets close only when the loop frees the handler, after the last CQE
// (the Relay owns them), so the kernel never acts on a reused descriptor.
class RelayHandler : public Handler {
 public:
  RelayHandler(Loop& loop, lb::LbWorker& worker, core::Fd client, const core::Endpoint& peer)
      : loop_(loop), worker_(worker), relay_(worker, std::move(client), peer) {}

  void start();

  void on_completion(unsigned op, int res, uint32_t flags) final;
  void on_timeout(int kind) final;
  void on_stop() final;
  void abort() final { close(); }
  bool in_flight() const noexcept final { return connect_poll_ || moving(); }

 protected:
  static constexpr unsigned kConnectPoll = 1;

  // Before the connect starts (mode (b) watches the client at once).
  virtual void before_connect() {}
  // The backend is connected and the idle timer runs: start moving bytes.
  virtual void on_connected() = 0;
  // A CQE of the subclass's operation `op` (2..7).
  virtual void on_relay_completion(unsigned op, int res, uint32_t flags) = 0;
  // The subclass's operations whose last CQE has not come back yet.
  virtual bool moving() const noexcept = 0;
  // Cancels what the subclass has in flight (close() calls it once).
  virtual void cancel_moving() = 0;

  // Bytes moved: the idle timer starts again.
  void progressed() { loop_.schedule(this, core::kRelayTimer); }
  // A reset or an error on either socket ends both sides.
  void reset() {
    relay_.set_end_reason("reset");
    close();
  }
  void close();

  Loop& loop_;
  lb::LbWorker& worker_;
  lb::Relay relay_;

 private:
  void connect();
  void connected();

  bool connect_poll_ = false;  // the connect's POLLOUT poll armed
};

// RelayAcceptor makes a relay handler of the --uring-relay mode for each
// accepted client, and owns the worker's share of the balancer's state (its
// pipe pool, and for the recv mode its buffer ring).
class RelayAcceptor final : public Acceptor {
 public:
  RelayAcceptor(Loop& loop, lb::Balancer& balancer, const lb::RelayOptions& options, const core::Clock& clock);
  void on_accept(core::Fd fd) override;

 private:
  Loop& loop_;
  lb::LbWorker worker_;
  lb::UringRelay mode_;
  BufferRing* relay_buffers_ = nullptr;  // the recv mode's, owned by the loop
};

}  // namespace ringwire::proactor
