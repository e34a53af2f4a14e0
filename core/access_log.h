#pragma once

#include <cstdint>
#include <string>

#include "core/clock.h"
#include "core/http_parser.h"
#include "core/socket.h"

namespace ringwire::core {

// AccessLog writes one line per request in the combined log format:
//   host - - [22/Nov/2026:05:40:00 +0000] "GET / HTTP/1.1" 200 33 "referer" "agent"
// Each worker has its own, buffering lines and writing whole lines with
// one write(2) on an O_APPEND descriptor shared by all workers, so lines from
// different workers never interleave. Flushed every loop turn.
class AccessLog {
 public:
  explicit AccessLog(int fd, const Clock& clock) : fd_(fd), clock_(clock) {}
  ~AccessLog() { flush(); }

  void record(const Endpoint& peer, const http::Request* req, int status, uint64_t bytes);
  void flush() noexcept;

 private:
  int fd_;  // borrowed
  const Clock& clock_;
  std::string buf_;
  time_t stamp_second_ = -1;
  char stamp_[32] = {};
};

}  // namespace ringwire::core
