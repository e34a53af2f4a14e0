#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/log.h"
#include "core/socket.h"
#include "lb/balancer.h"
#include "lb/lb_worker.h"

namespace ringwire::lb {

// Everything `ringwire lb` is told on its command line, validated.
struct LbConfig {
  core::EngineKind engine = core::EngineKind::Uring;
  core::Endpoint listen;
  std::vector<BackendSpec> backends;  // from --backend, or read from backends_file
  std::string backends_file;          // re-read on SIGHUP when set
  Policy policy = Policy::RoundRobin;
  unsigned workers = 1;
  uint64_t max_conns = 100000;
  RelayOptions relay;
  int64_t health_interval_ms = 2000;
  unsigned rise = 2;
  unsigned fall = 3;
  core::LogLevel log_level = core::LogLevel::Info;
  unsigned ring_buffers = 512;
  unsigned ring_cq_entries = 16384;
  uint32_t busy_poll_us = 0;
};

}  // namespace ringwire::lb
