#pragma once

#include <memory>
#include <vector>

#include "core/config.h"
#include "core/fd.h"

namespace ringwire::core {

// What every worker of `ringwire serve` shares, owned by the caller for as
// long as the engine lives.
struct ServeResources {
  const ServeConfig& config;
  int root_fd;        // borrowed: the document root, opened O_DIRECTORY
  int access_log_fd;  // borrowed: -1 when the access log is off
};

// Engine is what `ringwire serve` runs on: a set of workers (loop threads
// for reactor and uring; later a thread per connection, or a parent and its
// pre-forked children) behind one server-level lifecycle:
//
//   auto engine = make_engine(kind, resources, listeners);  // set up, nothing runs yet
//   engine->start();          // workers serve
//   ... wait for SIGINT/SIGTERM on the main thread ...
//   engine->request_stop();   // graceful: stop accepting, finish what is in flight
//   engine->wait();           // every worker has stopped; exit 0
//
// The connection-level rules (parsing, the response plan, timeouts, linger)
// are in HttpSession and the engines' handlers; this is only who runs them.
class Engine {
 public:
  virtual ~Engine() = default;

  // "reactor", "uring", ...: what is really running (after any fallback).
  virtual const char* name() const noexcept = 0;
  // Starts the workers; returns at once. Called once.
  virtual void start() = 0;
  // Asks every worker to stop gracefully (accepting stops, idle connections
  // close, answers in flight finish within the grace period). Only stores a
  // flag and writes to eventfds: safe from any thread, even a signal handler.
  virtual void request_stop() noexcept = 0;
  // Returns once every worker has stopped.
  virtual void wait() = 0;
};

// Builds the engine `kind` over `listeners` (one SO_REUSEPORT listener per
// worker). Where io_uring cannot be set up (EPERM in a container whose
// seccomp policy forbids it, ENOSYS on an old kernel, ENOMEM), `uring` falls
// back to `reactor` with one warning line. Throws std::runtime_error with a
// clear message for an engine that cannot run at all.
std::unique_ptr<Engine> make_engine(EngineKind kind, const ServeResources& resources,
                                    std::vector<Fd> listeners);

}  // namespace ringwire::core
