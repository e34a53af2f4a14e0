#pragma once

#include <fmt/format.h>

#include <string_view>

namespace ringwire::core {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

// Process-wide log threshold; set once at start-up, read everywhere.
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
bool parse_log_level(std::string_view text, LogLevel& out) noexcept;

// Writes one line "ringwire: <level>: <message>" to stderr in a single write.
void log_write(LogLevel level, std::string_view message) noexcept;

template <class... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level < log_level()) return;
  log_write(level, fmt::vformat(format, fmt::make_format_args(args...)));
}

}  // namespace ringwire::core

#define RW_LOG_DEBUG(...) ::ringwire::core::log(::ringwire::core::LogLevel::Debug, __VA_ARGS__)
#define RW_LOG_INFO(...) ::ringwire::core::log(::ringwire::core::LogLevel::Info, __VA_ARGS__)
#define RW_LOG_WARN(...) ::ringwire::core::log(::ringwire::core::LogLevel::Warn, __VA_ARGS__)
#define RW_LOG_ERROR(...) ::ringwire::core::log(::ringwire::core::LogLevel::Error, __VA_ARGS__)
