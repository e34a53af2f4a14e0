#pragma once

#include <time.h>

#include <cstdint>

namespace ringwire::core {

// BusyPoll is --busy-poll USEC: after a loop turn that found work, the loop
// keeps polling (epoll_wait or io_uring_enter with a zero timeout) for USEC
// microseconds before it lets its thread sleep. On a VM an idle vCPU is
// woken through the hypervisor, which here costs tens of microseconds per
// message (perf/wake_latency); a loop that is still polling when the next
// request lands skips that. The price is CPU: up to USEC of spinning after
// every burst. Bounded, unlike HAProxy's `busy-polling` (always a null
// timeout), so an idle server still sleeps. 0 (the default) turns it off
// and costs one branch per turn.
class BusyPoll {
 public:
  explicit BusyPoll(uint32_t usec) noexcept : window_ns_(int64_t{usec} * 1000) {}

  // After each wait: `found` is whether it returned any work.
  void after_wait(bool found) noexcept {
    if (window_ns_ != 0 && found) last_work_ns_ = now_ns();
  }
  // Whether the next wait should not sleep.
  bool spinning() const noexcept { return window_ns_ != 0 && now_ns() - last_work_ns_ < window_ns_; }

 private:
  static int64_t now_ns() noexcept {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

  int64_t window_ns_;
  int64_t last_work_ns_ = 0;
};

}  // namespace ringwire::core
