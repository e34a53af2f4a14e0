#pragma once

#include <cstdint>

#include "core/clock.h"
#include "core/pipe_pool.h"
#include "lb/balancer.h"

namespace ringwire::lb {

// What `ringwire lb` is told that a relay needs.
struct RelayOptions {
  int64_t connect_timeout_ms = 2000;
  int64_t idle_timeout_ms = 60000;
  bool log_connections = false;
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
