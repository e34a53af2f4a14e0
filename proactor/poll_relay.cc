#include "proactor/poll_relay.h"

#include <poll.h>

namespace ringwire::proactor {
namespace {
constexpr unsigned kPollMask = POLLIN | POLLOUT | POLLRDHUP | POLLERR | POLLHUP;
}  // namespace

void PollRelay::before_connect() {
  // Until the backend answers, the client's bytes wait in the kernel; its
  // poll goes on now so that a hang-up is seen.
  arm_poll(relay_.client_fd(), kClientPoll);
}

void PollRelay::on_connected() {
  arm_poll(relay_.backend_fd(), kBackendPoll);
  pump();
}

void PollRelay::arm_poll(int fd, unsigned op) {
  io_uring_sqe* s = loop_.sqe();
  io_uring_prep_poll_multishot(s, fd, kPollMask);
  io_uring_sqe_set_data64(s, tag(op));
  (op == kClientPoll ? client_poll_ : backend_poll_) = true;
}

void PollRelay::on_relay_completion(unsigned op, int res, uint32_t flags) {
  switch (op) {
    case kClientPoll: return on_poll(relay_.client_ready(), res, flags, client_poll_, kClientPoll, relay_.client_fd());
    case kBackendPoll:
      return on_poll(relay_.backend_ready(), res, flags, backend_poll_, kBackendPoll, relay_.backend_fd());
  }
}

void PollRelay::on_poll(core::Readiness& r, int res, uint32_t flags, bool& armed, unsigned op, int fd) {
  if (!(flags & IORING_CQE_F_MORE)) armed = false;
  if (closed) return;
  if (res >= 0) {
    // An error or a hang-up is found by the next read on that socket.
    if (res & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) r.readable = true;
    if (res & (POLLRDHUP | POLLHUP | POLLERR)) r.hangup = true;
    if (res & (POLLOUT | POLLHUP | POLLERR)) r.writable = true;
  } else if (res != -ECANCELED) {
    close();
    return;
  }
  // A multishot poll can end on its own (the kernel's reasons): re-arm.
  if (!armed) arm_poll(fd, op);
  if (relay_.connected()) pump();
}

void PollRelay::pump() {
  bool moved = false;
  lb::Relay::Step step = relay_.pump(moved);
  if (step == lb::Relay::Step::Close) {
    close();
    return;
  }
  if (moved) progressed();
  // The work budget ran out: the rest moves next turn, after other
  // connections (no new poll CQE may come for bytes already there).
  if (step == lb::Relay::Step::Again) loop_.resume_later(this);
}

void PollRelay::cancel_moving() {
  if (client_poll_) loop_.cancel(tag(kClientPoll));
  if (backend_poll_) loop_.cancel(tag(kBackendPoll));
}

}  // namespace ringwire::proactor
