#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>

#include "core/result.h"

namespace ringwire::proactor {

// Ring owns one io_uring instance. It is created disabled on the thread that
// sets the server up and enabled by the worker thread that will be its only
// submitter (SINGLE_ISSUER binds the ring to the thread that enables it).
// Every method but create() runs on that worker thread.
class Ring {
 public:
  // Sets up a ring with `entries` SQEs and `cq_entries` CQEs, asking for the
  // fastest task-running mode the kernel accepts: SINGLE_ISSUER with
  // DEFER_TASKRUN (6.1), else COOP_TASKRUN (5.19), else the default.
  // EPERM, ENOSYS and ENOMEM mean io_uring cannot be used here at all.
  static core::Result<std::unique_ptr<Ring>> create(unsigned entries, unsigned cq_entries);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // On the worker thread, before the first submission: enables the ring and
  // registers its fd, which spares every io_uring_enter a file lookup.
  void enable() noexcept;

  // A free SQE; when the SQ is full it submits what is queued to make room,
  // so the caller always gets one.
  io_uring_sqe* sqe() noexcept;

  // Submits everything queued and waits up to `timeout_ms` for at least one
  // completion, in one io_uring_enter (0: only collects what has completed).
  void submit_and_wait(int64_t timeout_ms) noexcept;
  // Submits without waiting.
  void submit() noexcept;

  io_uring* get() noexcept { return &ring_; }
  const char* mode() const noexcept { return mode_; }

  // Counters for the loop-turn cost: io_uring_enter calls made.
  uint64_t enters() const noexcept { return enters_; }

 private:
  Ring() { ring_.ring_fd = -1; }

  io_uring ring_{};
  const char* mode_ = "";
  uint64_t enters_ = 0;
};

}  // namespace ringwire::proactor
