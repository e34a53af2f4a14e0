#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "core/access_log.h"
#include "core/chunked_decoder.h"
#include "core/clock.h"
#include "core/out_queue.h"
#include "core/socket.h"
#include "core/static_handler.h"

namespace ringwire::core {

// The threads engine's one exception to "one handler per thread": every
// connection thread shares one handler, clock and access log, and makes
// each answer under this lock, with the clock refreshed first.
struct SharedHttp {
  std::mutex mutex;
  Clock clock;
};

// What a worker shares with all its connections' sessions.
struct HttpServices {
  const Clock& clock;
  StaticHandler& handler;
  AccessLog* access_log = nullptr;  // null when logging is off
  // Scratch for the request being parsed: a Request carries its header
  // array (a few KiB), so it is built once per worker, not once per read.
  http::Request request{};
  SharedHttp* shared = nullptr;  // the threads engine only; see SharedHttp
};

// HttpSession is the engine-agnostic protocol state of one connection: it
// turns the bytes an engine has buffered into queued responses. It parses
// requests in order (pipelining), skips request bodies it does not need
// (Content-Length or chunked) so the next request is framed correctly, and
// decides when the connection must close. It holds no buffers of its own,
// so it stays a few dozen bytes per connection.
class HttpSession {
 public:
  // Consumes what it can from `in` (the unconsumed bytes the engine holds,
  // always starting where the previous call's consumption ended) and queues
  // responses into `out`. It stops when input runs out, `out` is full, or the
  // session is closing. Returns the bytes consumed; the engine drops them.
  size_t process(std::string_view in, OutQueue& out, HttpServices& services, const Endpoint& peer);

  // Queues an error response outside any request (header timeout: 408;
  // shutdown) and marks the session closing.
  void fail(int status, OutQueue& out, HttpServices& services, const Endpoint& peer);

  // No further request will be read; close once the queue is sent.
  bool closing() const noexcept { return closing_; }
  void set_closing() noexcept { closing_ = true; }

  // A request head or body has started arriving but is not finished.
  bool mid_request() const noexcept { return scanned_ > 0 || body_ != Body::None; }

  // Where the session is between two calls to process(), for the engine's
  // timers: a partial head runs against the header timeout, a body (whose
  // request is already answered) against the body timeout, and Idle against
  // the keep-alive timeout.
  enum class Phase : uint8_t { Idle, Head, Body };
  Phase phase() const noexcept { return body_ != Body::None ? Phase::Body : scanned_ > 0 ? Phase::Head : Phase::Idle; }

  // True once after process() has completed a request head or consumed body
  // bytes: the engine then restarts the phase's timer, so a timeout measures
  // a stall, not the length of a busy connection.
  bool take_progress() noexcept {
    bool p = progress_;
    progress_ = false;
    return p;
  }

 private:
  enum class Body : uint8_t { None, Length, Chunked };

  size_t skip_body(std::string_view in);

  uint64_t body_left_ = 0;
  size_t scanned_ = 0;  // bytes of an incomplete head already searched
  Body body_ = Body::None;
  bool closing_ = false;
  bool progress_ = false;
  http::ChunkedDecoder chunked_;
};

}  // namespace ringwire::core
