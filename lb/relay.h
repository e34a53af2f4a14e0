#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/fd.h"
#include "core/relay_pump.h"
#include "core/socket.h"
#include "lb/balancer.h"
#include "lb/lb_worker.h"

namespace ringwire::lb {

// Relay is one balanced TCP connection, engine-agnostic: the client socket,
// the backend chosen for it (retrying the next backend while no byte has
// moved), the nonblocking connect, and the two RelayPumps (client ->
// backend, backend -> client) that move bytes with splice(2). An engine's
// relay handler owns a Relay, watches its sockets, feeds it readiness and
// does what it says. It logs the connection when --log-connections is on.
//
// The io_uring engine's splice and recv modes move the bytes with their own
// SQEs instead of the pumps: they use a Relay for the backend, the connect
// and the log, and report the bytes they move with moved().
class Relay {
 public:
  enum class Connect : uint8_t { InProgress, Connected, NoBackend };
  enum class Step : uint8_t { Wait, Again, Close };

  Relay(LbWorker& worker, core::Fd client, const core::Endpoint& peer);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Picks the next backend not tried yet and starts connecting to it.
  // InProgress: watch backend_fd() for writability (then finish_connect());
  // Connected: relay at once; NoBackend: every backend is down or failed
  // for this client, which is closed (and the log says why).
  Connect connect_next();
  // The connecting socket reported writable or an error. True when
  // connected; false when the connect failed (counted against the
  // backend): call connect_next() again.
  bool finish_connect();
  // The connect timer expired: counted against the backend; call connect_next() again.
  void connect_timed_out();
  // Asked when the connect timer expires, before connect_timed_out(). A
  // loop busy with thousands of sockets can reach the timer before the
  // event saying the connect completed, which is then already queued: true
  // (once per connect) when the kernel has a peer for the socket, so the
  // caller waits one more timer period for that event instead of giving up
  // on a connection that has in fact been made.
  bool connect_landed_late();
  bool connected() const noexcept { return connected_; }

  int client_fd() const noexcept { return client_.get(); }
  int backend_fd() const noexcept { return backend_.get(); }
  core::Readiness& client_ready() noexcept { return client_ready_; }
  core::Readiness& backend_ready() noexcept { return backend_ready_; }

  // Moves bytes both ways as far as readiness allows. Wait: for an event;
  // Again: the work budget ran out with more to move (resume after other
  // sockets); Close: both directions are done, or a reset or error ended it.
  // `progressed` is set when any byte moved (the idle timer restarts).
  Step pump(bool& progressed);

  // Bytes sent on to the backend (`up`) and to the client (`down`) by a
  // handler that moves them itself, for the close line of the log.
  void moved(uint64_t up, uint64_t down) noexcept {
    bytes_up_ += up;
    bytes_down_ += down;
  }

  // Why the relay ends, for the close line of the log ("idle timeout", ...).
  void set_end_reason(const char* reason) noexcept { end_reason_ = reason; }

 private:
  void connect_failed(const char* reason);

  LbWorker& worker_;
  core::Fd client_;
  core::Fd backend_;
  core::Endpoint peer_;
  std::shared_ptr<Backend> target_;
  std::vector<const Backend*> tried_;
  core::Readiness client_ready_;
  core::Readiness backend_ready_;
  core::RelayPump up_;    // client -> backend
  core::RelayPump down_;  // backend -> client
  uint64_t bytes_up_ = 0;
  uint64_t bytes_down_ = 0;
  int64_t start_ms_ = 0;
  const char* end_reason_ = "closed";
  bool connected_ = false;
  bool late_checked_ = false;  // connect_landed_late() has answered for this connect
};

}  // namespace ringwire::lb
