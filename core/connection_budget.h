#pragma once

#include <atomic>
#include <cstdint>

namespace ringwire::core {

// ConnectionBudget is --max-conns: the open connections of every worker
// together, counted in one shared atomic so the limit is a real total
// (SO_REUSEPORT hashes clients over the workers' listeners unevenly, so a
// per-worker share would both refuse clients early and let more in than
// asked). A worker takes a slot before serving a connection and gives it
// back when the connection closes. A worker that found the budget spent
// re-checks it on a short timer (kRetryMs) rather than being woken: a slot
// freed on another worker is picked up within that delay.
class ConnectionBudget {
 public:
  static constexpr int64_t kRetryMs = 10;

  explicit ConnectionBudget(uint64_t max) noexcept : max_(max) {}

  // Thread-safe. False when every slot is taken.
  bool try_take() noexcept {
    uint64_t n = open_.load(std::memory_order_relaxed);
    while (n < max_) {
      if (open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void give_back() noexcept { open_.fetch_sub(1, std::memory_order_relaxed); }
  bool has_room() const noexcept { return open_.load(std::memory_order_relaxed) < max_; }

 private:
  const uint64_t max_;
  std::atomic<uint64_t> open_{0};
};

}  // namespace ringwire::core
