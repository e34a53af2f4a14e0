#include "proactor/relay_handler.h"

#include <poll.h>
#include <sys/socket.h>

namespace ringwire::proactor {
namespace {
constexpr unsigned kPollMask = POLLIN | POLLOUT | POLLRDHUP | POLLERR | POLLHUP;
}  // namespace

void RelayAcceptor::on_accept(core::Fd fd) {
  // A multishot accept does not deliver the address: the relay needs it
  // for Maglev and the log, so it is looked up here.
  core::Endpoint peer;
  peer.len = sizeof peer.addr;
  ::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer.addr), &peer.len);
  auto* h = new RelayHandler(loop_, worker_, std::move(fd), peer);
  loop_.adopt(h);
  h->start();
}

void RelayHandler::start() {
  // Until the backend answers, the client's bytes wait in the kernel; its
  // poll goes on now so that a hang-up is seen.
  arm_poll(relay_.client_fd(), kClientPoll);
  connect();
}

void RelayHandler::arm_poll(int fd, unsigned op) {
  io_uring_sqe* s = loop_.sqe();
  if (op == kConnectPoll) {
    io_uring_prep_poll_add(s, fd, POLLOUT);
    connect_poll_ = true;
  } else {
    io_uring_prep_poll_multishot(s, fd, kPollMask);
    (op == kClientPoll ? client_poll_ : backend_poll_) = true;
  }
  io_uring_sqe_set_data64(s, tag(op));
}

void RelayHandler::connect() {
  switch (relay_.connect_next()) {
    case lb::Relay::Connect::NoBackend: close(); return;
    case lb::Relay::Connect::InProgress:
      arm_poll(relay_.backend_fd(), kConnectPoll);
      loop_.schedule(this, core::kConnectTimer);
      return;
    case lb::Relay::Connect::Connected: on_connected(); return;
  }
}

void RelayHandler::on_connected() {
  arm_poll(relay_.backend_fd(), kBackendPoll);
  loop_.schedule(this, core::kRelayTimer);
  pump();
}

void RelayHandler::on_completion(unsigned op, int res, uint32_t flags) {
  switch (op) {
    case kConnectPoll:
      connect_poll_ = false;
      if (closed) return;
      if (res == -ECANCELED) {
        // The connect timer cancelled it: now the socket can go.
        relay_.connect_timed_out();
        connect();
        return;
      }
      if (!relay_.finish_connect()) {
        connect();  // the next backend, transparently: no byte has moved
        return;
      }
      on_connected();
      return;
    case kClientPoll: return on_poll(relay_.client_ready(), res, flags, client_poll_, kClientPoll, relay_.client_fd());
    case kBackendPoll:
      return on_poll(relay_.backend_ready(), res, flags, backend_poll_, kBackendPoll, relay_.backend_fd());
  }
}

void RelayHandler::on_poll(core::Readiness& r, int res, uint32_t flags, bool& armed, unsigned op, int fd) {
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

void RelayHandler::pump() {
  bool progressed = false;
  lb::Relay::Step step = relay_.pump(progressed);
  if (step == lb::Relay::Step::Close) {
    close();
    return;
  }
  if (progressed) loop_.schedule(this, core::kRelayTimer);
  // The work budget ran out: the rest moves next turn, after other
  // connections (no new poll CQE may come for bytes already there).
  if (step == lb::Relay::Step::Again) loop_.resume_later(this);
}

void RelayHandler::on_timeout(int kind) {
  if (kind == core::kConnectTimer && !relay_.connected()) {
    // The socket stays open until the poll's cancel comes back (the kernel
    // finds the poll by the tag, and a new connect would reuse the tag).
    if (connect_poll_) {
      loop_.cancel(tag(kConnectPoll));
      loop_.schedule(this, core::kConnectTimer);
      return;
    }
    relay_.connect_timed_out();
    connect();
    return;
  }
  relay_.set_end_reason("idle timeout");
  close();
}

void RelayHandler::on_stop() {
  // Established relays finish on their own within the grace period; one
  // still connecting has moved nothing yet and closes now.
  if (!relay_.connected()) close();
}

void RelayHandler::close() {
  if (closed) return;
  // Cancel what is armed on either socket; the sockets themselves close
  // when the handler is freed, after the last CQE, so the kernel never
  // polls a reused descriptor number.
  if (client_poll_) loop_.cancel(tag(kClientPoll));
  if (backend_poll_) loop_.cancel(tag(kBackendPoll));
  if (connect_poll_) loop_.cancel(tag(kConnectPoll));
  loop_.retire(this);
}

}  // namespace ringwire::proactor
