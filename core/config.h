#pragma once

#include <cstdint>
#include <string>

#include "core/file_cache.h"
#include "core/log.h"
#include "core/socket.h"

namespace ringwire::core {

enum class EngineKind { Reactor, Uring, Threads, Prefork };

// Everything `ringwire serve` is told on its command line, validated.
struct ServeConfig {
  EngineKind engine = EngineKind::Uring;
  Endpoint listen;
  std::string root;
  unsigned workers = 1;
  uint64_t max_conns = 100000;  // across all workers
  unsigned idle_timeout_s = 60;
  unsigned header_timeout_s = 10;
  unsigned body_timeout_s = 30;  // between two pieces of a request body
  std::string access_log;        // empty: off; "-": stdout
  LogLevel log_level = LogLevel::Info;
  CacheLimits cache;                 // per worker
  unsigned ring_buffers = 512;       // uring: provided receive buffers per worker
  unsigned ring_cq_entries = 16384;  // uring: completion queue entries per worker
  uint32_t busy_poll_us = 0;         // event engines: poll this long after work before sleeping
};

const char* engine_name(EngineKind kind) noexcept;
bool parse_engine(std::string_view text, EngineKind& out) noexcept;

}  // namespace ringwire::core
