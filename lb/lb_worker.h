#pragma once

#include <cstdint>

#include "core/clock.h"
#include "core/pipe_pool.h"
#include "lb/balancer.h"

namespace ringwire::lb {

// How the io_uring engine moves a relay's bytes (--uring-relay; the
// reactor always polls and splices). proactor/README.md has the measurements.
enum class UringRelay : uint8_t {
  Poll,    // a multishot poll on each socket, then splice(2) inline (core::RelayPump)
  Splice,  // IORING_OP_SPLICE socket -> pipe -> socket, run by io-wq threads
  Recv,    // a multishot receive into provided buffers, then IORING_OP_SEND
};

// The --uring-relay names, in the enum's order.
inline constexpr const char* kUringRelayNames[] = {"poll", "splice", "recv"};

// What `ringwire lb` is told that a relay needs.
struct RelayOptions {
  int64_t connect_timeout_ms = 2000;
  int64_t idle_timeout_ms = 60000;
  bool log_connections = false;
  UringRelay uring_relay = UringRelay::Poll;
};

// LbWorker is what one worker's relays share: the process-wide Balancer,
// the worker's own pipe pool, the options and the loop's clock. One per
// worker thread; only the Balancer is shared between threads.
struct LbWorker {
  LbWorker(Balancer& b, const RelayOptions& o, const core::Clock& c) noexcept : balancer(b), options(o), clock(c) {}

  Balancer& balancer;
  const RelayOptions& options;
  const core::Clock& clock;
  core::PipePool pipes;
};

}  // namespace ringwire::lb
