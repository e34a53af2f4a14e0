#include "proactor/ring.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace ringwire::proactor {

core::Result<std::unique_ptr<Ring>> Ring::create(unsigned entries, unsigned cq_entries) {
  struct Mode {
    unsigned flags;
    const char* name;
  };
  // SUBMIT_ALL keeps submitting past an SQE that fails at submission, so one
  // bad request never strands the ones queued behind it.
  constexpr unsigned kCommon = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  const Mode modes[] = {
      {kCommon | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single-issuer, defer-taskrun"},
      {kCommon | IORING_SETUP_COOP_TASKRUN, "coop-taskrun"},
      {IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE, "default"},
  };
  std::unique_ptr<Ring> ring(new Ring);
  int rc = -EINVAL;
  for (const Mode& m : modes) {
    io_uring_params p{};
    p.flags = m.flags;
    p.cq_entries = cq_entries;
    rc = io_uring_queue_init_params(entries, &ring->ring_, &p);
    if (rc == 0) {
      ring->mode_ = m.name;
      return ring;
    }
    ring->ring_.ring_fd = -1;
    // An older kernel answers EINVAL to flags it does not know: try fewer.
    if (rc != -EINVAL) break;
  }
  return std::unexpected(-rc);
}

Ring::~Ring() {
  if (ring_.ring_fd >= 0) io_uring_queue_exit(&ring_);
}

void Ring::enable() noexcept {
  // Debian's liburing 2.3 declares io_uring_enable_rings but does not export
  // it, so the register call is made directly.
  ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  // Optional: an older kernel keeps using the plain fd.
  io_uring_register_ring_fd(&ring_);
}

io_uring_sqe* Ring::sqe() noexcept {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (!s) {
    submit();
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

void Ring::submit() noexcept {
  ++enters_;
  io_uring_submit(&ring_);
}

void Ring::submit_and_wait(int64_t timeout_ms) noexcept {
  if (timeout_ms <= 0) {
    // Not waiting (--busy-poll, handlers to resume): one enter that submits
    // and runs the pending completions' task work, with no timer to arm;
    // a zero timeout through the wait path costs about twice as much.
    ++enters_;
    io_uring_submit_and_get_events(&ring_);
    return;
  }
  __kernel_timespec ts{};
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = (timeout_ms % 1000) * 1000000;
  io_uring_cqe* cqe = nullptr;
  ++enters_;
  // With IORING_FEAT_EXT_ARG (5.11) the timeout travels in the same
  // io_uring_enter as the submission: no timeout SQE, one syscall.
  io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

}  // namespace ringwire::proactor
