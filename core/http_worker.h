#pragma once

#include <array>
#include <memory>
#include <vector>

#include "core/access_log.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/http_session.h"
#include "core/out_queue.h"
#include "core/static_handler.h"
#include "core/timer_kind.h"

namespace ringwire::core {

// What a connection has queued to send: the response plan, plus the iovec
// and msghdr of the send in flight, which must stay put until it completes
// (an io_uring send reads them when it runs, not when it is queued).
struct Output {
  OutQueue q;
  std::array<iovec, OutQueue::kMaxSegments> iov;
  msghdr msg;
};

// HttpWorker is what one worker's HTTP connections share, whatever the
// engine: the static handler and its file cache, the access log, the
// request scratch (HttpServices), the timeouts, and pools of input buffers
// and output queues, so that an idle keep-alive connection holds neither.
// One per worker thread; nothing in it is shared between workers, so it
// takes no locks. The clock is the loop's, updated once per turn.
//
// Sharing rule: on the event engines and in each prefork process, the file
// cache and the clock are per worker (per thread), never shared, so a hit
// takes no lock. The threads engine is the exception: a cache per
// connection thread would start cold for every connection and take an
// inotify instance each (128 per user by default), so its connection
// threads share one handler, clock and log behind a mutex (SharedHttp),
// each with its own HttpWorker for the pools and the request scratch.
class HttpWorker {
 public:
  // Input buffers are above http::kMaxHead, so the parser's limits trip first.
  static constexpr size_t kInBuf = 32 * 1024;

  HttpWorker(const ServeConfig& config, const Clock& clock, int root_fd, int access_log_fd);
  // The threads engine: borrows `owner`'s handler and access log, used under `shared`.
  HttpWorker(HttpWorker& owner, SharedHttp& shared);
  ~HttpWorker();
  HttpWorker(const HttpWorker&) = delete;
  HttpWorker& operator=(const HttpWorker&) = delete;

  HttpServices& services() noexcept { return services_; }
  StaticHandler& handler() noexcept { return *handler_; }
  AccessLog* access_log() noexcept { return access_log_; }
  // Milliseconds for each TimerKind, from the command line.
  static std::array<int64_t, kTimerKinds> timeouts(const ServeConfig& config) noexcept;

  // Once per loop turn, before the turn's events: file changes, and the
  // access log lines of the previous turn.
  void begin_turn() noexcept;
  void end_turn() noexcept;

  char* take_input();
  void give_input(char* buf) noexcept;
  Output* take_output();
  void give_output(Output* out) noexcept;

 private:
  std::unique_ptr<StaticHandler> own_handler_;
  std::unique_ptr<AccessLog> own_access_log_;
  StaticHandler* handler_;
  AccessLog* access_log_;
  HttpServices services_;
  std::vector<std::unique_ptr<char[]>> free_inputs_;
  std::vector<std::unique_ptr<Output>> free_outputs_;
};

}  // namespace ringwire::core
