#pragma once

#include <cstdint>
#include <ctime>
#include <string_view>

namespace ringwire::core {

// Clock is a worker's idea of "now", refreshed once per loop turn so that
// request handling never calls into the kernel for the time. It also keeps
// the IMF-fixdate for the current second ("Sun, 06 Nov 1994 08:49:37 GMT"),
// formatted only when the second changes. One per worker thread; not shared.
class Clock {
 public:
  Clock() { update(); }

  // Reads the clocks; call once per loop turn.
  void update() noexcept;

  int64_t monotonic_ms() const noexcept { return mono_ms_; }
  time_t unix_seconds() const noexcept { return unix_s_; }
  // Always 29 characters.
  std::string_view http_date() const noexcept { return {date_, kHttpDateLen}; }

  static constexpr size_t kHttpDateLen = 29;

 private:
  int64_t mono_ms_ = 0;
  time_t unix_s_ = -1;
  char date_[kHttpDateLen + 1] = {};
};

// Formats `t` as an IMF-fixdate into `out` (at least 30 bytes); returns 29.
size_t format_http_date(time_t t, char* out) noexcept;

// Parses IMF-fixdate (the only form senders should generate) plus the two
// obsolete forms RFC 9110 asks recipients to accept. Returns false on garbage.
bool parse_http_date(std::string_view text, time_t& out) noexcept;

}  // namespace ringwire::core
