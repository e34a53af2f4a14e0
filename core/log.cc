#include "core/log.h"

#include <unistd.h>

#include <atomic>

namespace ringwire::core {
namespace {
std::atomic<LogLevel> g_level{LogLevel::Info};
constexpr const char* kNames[] = {"debug", "info", "warn", "error", "off"};
}  // namespace

void set_log_level(LogLevel level) noexcept {
  g_level.store(level, std::memory_order_relaxed);
}
LogLevel log_level() noexcept {
  return g_level.load(std::memory_order_relaxed);
}

bool parse_log_level(std::string_view text, LogLevel& out) noexcept {
  for (int i = 0; i < 5; ++i) {
    if (text == kNames[i]) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

void log_write(LogLevel level, std::string_view message) noexcept {
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line), "ringwire: {}: {}\n", kNames[static_cast<int>(level)], message);
  // One write per line so lines from different threads never interleave.
  ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

}  // namespace ringwire::core
