#include "proactor/relay_handler.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>

#include "core/log.h"
#include "proactor/poll_relay.h"
#include "proactor/recv_relay.h"
#include "proactor/splice_relay.h"

namespace ringwire::proactor {

RelayAcceptor::RelayAcceptor(Loop& loop, lb::Balancer& balancer, const lb::RelayOptions& options,
                             const core::Clock& clock)
    : loop_(loop), worker_(balancer, options, clock), mode_(options.uring_relay) {
  if (mode_ != lb::UringRelay::Recv) return;
  // The relay's own group: fewer, larger buffers than HTTP's, since a relay
  // forwards whole chunks rather than parsing request heads.
  auto bufs = loop_.add_buffers(RecvRelay::kBuffers, RecvRelay::kBufferSize);
  if (bufs) {
    relay_buffers_ = *bufs;
    return;
  }
  RW_LOG_WARN("uring relay recv: cannot set up its buffer ring ({}); relaying with poll instead",
              strerror(bufs.error()));
  mode_ = lb::UringRelay::Poll;
}

void RelayAcceptor::on_accept(core::Fd fd) {
  // A multishot accept does not deliver the address: the relay needs it
  // for Maglev and the log, so it is looked up here.
  core::Endpoint peer;
  peer.len = sizeof peer.addr;
  ::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer.addr), &peer.len);
  RelayHandler* h = nullptr;
  switch (mode_) {
    case lb::UringRelay::Poll: h = new PollRelay(loop_, worker_, std::move(fd), peer); break;
    case lb::UringRelay::Splice: h = new SpliceRelay(loop_, worker_, std::move(fd), peer); break;
    case lb::UringRelay::Recv: h = new RecvRelay(loop_, worker_, std::move(fd), peer, *relay_buffers_); break;
  }
  loop_.adopt(h);
  h->start();
}

void RelayHandler::start() {
  before_connect();
  connect();
}

void RelayHandler::connect() {
  switch (relay_.connect_next()) {
    case lb::Relay::Connect::NoBackend: close(); return;
    case lb::Relay::Connect::InProgress: {
      io_uring_sqe* s = loop_.sqe();
      io_uring_prep_poll_add(s, relay_.backend_fd(), POLLOUT);
      io_uring_sqe_set_data64(s, tag(kConnectPoll));
      connect_poll_ = true;
      loop_.schedule(this, core::kConnectTimer);
      return;
    }
    case lb::Relay::Connect::Connected: connected(); return;
  }
}

void RelayHandler::connected() {
  loop_.schedule(this, core::kRelayTimer);
  on_connected();
}

void RelayHandler::on_completion(unsigned op, int res, uint32_t flags) {
  if (op != kConnectPoll) return on_relay_completion(op, res, flags);
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
  connected();
}

void RelayHandler::on_timeout(int kind) {
  if (kind == core::kConnectTimer && !relay_.connected()) {
    if (connect_poll_ && relay_.connect_landed_late()) {  // its poll CQE is on its way: wait for it
      loop_.schedule(this, core::kConnectTimer);
      return;
    }
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
  // Cancel what is armed; the sockets themselves close when the handler is
  // freed, after the last CQE, so the kernel never polls a reused
  // descriptor number.
  if (connect_poll_) loop_.cancel(tag(kConnectPoll));
  cancel_moving();
  loop_.retire(this);
}

}  // namespace ringwire::proactor
