#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/fd.h"
#include "core/timer_kind.h"

namespace ringwire::reactor {
class Loop;
class Acceptor;
}  // namespace ringwire::reactor
namespace ringwire::proactor {
class Loop;
class Acceptor;
}  // namespace ringwire::proactor

namespace ringwire::core {

// Service is what an engine runs: `ringwire serve` (HTTP) or `ringwire lb`
// (the TCP relay). For each worker loop it makes the acceptor that turns
// accepted sockets into its handlers, for whichever engine runs it. Its
// methods are called on the set-up thread; the acceptors it makes then live
// on their worker's thread. It outlives the engine.
class Service {
 public:
  virtual ~Service() = default;
  // Milliseconds for each TimerKind.
  virtual std::array<int64_t, kTimerKinds> timeouts() const = 0;
  // --max-conns: a total over every worker.
  virtual uint64_t max_conns() const = 0;
  virtual std::unique_ptr<reactor::Acceptor> make_acceptor(reactor::Loop& loop, const Clock& clock) const = 0;
  virtual std::unique_ptr<proactor::Acceptor> make_acceptor(proactor::Loop& loop, const Clock& clock) const = 0;
};

// Loop tuning: the io_uring sizes (the reactor ignores them) and
// --busy-poll (both event engines; see core/busy_poll.h).
struct RingOptions {
  unsigned buffers = 512;
  unsigned cq_entries = 16384;
  uint32_t busy_poll_us = 0;
};

// Engine is what `ringwire serve` runs on: a set of workers (loop threads
// for reactor and uring; later a thread per connection, or a parent and its
// pre-forked children) behind one server-level lifecycle:
//
//   auto engine = make_engine(kind, service, ring, listeners);  // set up, nothing runs yet
//   engine->start();          // workers serve
//   ... wait for SIGINT/SIGTERM on the main thread ...
//   engine->request_stop();   // graceful: stop accepting, finish what is in flight
//   engine->wait();           // every worker has stopped; exit 0
//
// The connection-level rules (parsing, the response plan, timeouts, linger)
// are in the service's handlers; this is only who runs them.
class Engine {
 public:
  virtual ~Engine() = default;

  // "reactor", "uring", ...: what is really running (after any fallback).
  virtual const char* name() const noexcept = 0;
  // Starts the workers; returns at once. Called once.
  virtual void start() = 0;
  // Asks every worker to stop gracefully (accepting stops, idle connections
  // close, answers in flight finish within the grace period). Safe from any
  // thread; main calls it after sigwait. (The event engines only store a
  // flag and write to eventfds; the blocking ones also shut sockets down.)
  virtual void request_stop() noexcept = 0;
  // Returns once every worker has stopped.
  virtual void wait() = 0;
};

// Builds the engine `kind` over `listeners` (one SO_REUSEPORT listener per
// worker). Where io_uring cannot be set up (EPERM in a container whose
// seccomp policy forbids it, ENOSYS on an old kernel, ENOMEM), `uring` falls
// back to `reactor` with one warning line. Throws std::runtime_error with a
// clear message for an engine that cannot run at all.
std::unique_ptr<Engine> make_engine(EngineKind kind, const Service& service, const RingOptions& ring,
                                    std::vector<Fd> listeners);

}  // namespace ringwire::core
