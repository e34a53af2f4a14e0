#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "lb/backend_spec.h"

namespace ringwire::lb {

// Backend is one backend's shared state, seen by every worker and the
// health checker. Relays hold a shared_ptr, so a backend removed by a
// reload stays alive until its last relay ends.
//
// Thread rules: spec() never changes and may be read anywhere. healthy(),
// removed() and active() are atomics readable from any thread; healthy_ and
// removed_ are written only by the Balancer under its mutex, and active_ by
// the relays. The private counters below belong to the Balancer and are
// touched only under its mutex.
class Backend {
 public:
  explicit Backend(BackendSpec spec)
      : spec_(std::move(spec)), key_(backend_key(spec_)), weight_(spec_.weight ? spec_.weight : 1) {}
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // The spec this object was created with. A reload that changes only the
  // weight keeps the object and applies the new weight to picking, but the
  // spec stays as first configured so that it can be read without a lock.
  const BackendSpec& spec() const noexcept { return spec_; }
  bool healthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }
  // True once a reload dropped this backend: it is never picked again.
  bool removed() const noexcept { return removed_.load(std::memory_order_relaxed); }
  uint32_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  // A relay to this backend starts / ends (leastconn counts these).
  void relay_started() noexcept { active_.fetch_add(1, std::memory_order_relaxed); }
  void relay_ended() noexcept { active_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  friend class Balancer;

  const BackendSpec spec_;
  const std::string key_;  // backend_key(spec_): identity across reloads
  std::atomic<bool> healthy_{true};
  std::atomic<uint32_t> active_{0};
  std::atomic<bool> removed_{false};

  // Guarded by Balancer::mu_.
  unsigned weight_;             // the weight in force (a reload may change it)
  int64_t current_weight_ = 0;  // smooth weighted round robin's running score
  unsigned failures_in_row_ = 0;
  unsigned successes_in_row_ = 0;
};

}  // namespace ringwire::lb
