#include "reactor/relay_handler.h"

#include <sys/epoll.h>

namespace ringwire::reactor {
namespace {
constexpr uint32_t kEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr unsigned kClient = 0, kBackend = 1;
}  // namespace

void RelayAcceptor::on_accept(core::Fd fd, const core::Endpoint& peer) {
  int raw = fd.get();
  auto* h = new RelayHandler(loop_, worker_, std::move(fd), peer);
  if (!loop_.adopt(raw, h, kEvents)) {
    delete h;
    return;
  }
  h->start();
}

void RelayHandler::start() {
  connect();
}

void RelayHandler::connect() {
  switch (relay_.connect_next()) {
    case lb::Relay::Connect::NoBackend: close(); return;
    case lb::Relay::Connect::InProgress:
      if (!loop_.watch(relay_.backend_fd(), this, kEvents, kBackend)) {
        close();
        return;
      }
      loop_.schedule(this, core::kConnectTimer);
      return;
    case lb::Relay::Connect::Connected:
      if (!loop_.watch(relay_.backend_fd(), this, kEvents, kBackend)) {
        close();
        return;
      }
      loop_.schedule(this, core::kRelayTimer);
      pump();
      return;
  }
}

void RelayHandler::on_event(uint32_t events, unsigned side) {
  core::Readiness& r = side == kClient ? relay_.client_ready() : relay_.backend_ready();
  if (!relay_.connected()) {
    if (side == kBackend && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      if (!relay_.finish_connect()) {
        connect();  // the next backend, transparently: no byte has moved
        return;
      }
      loop_.schedule(this, core::kRelayTimer);
      if (events & EPOLLIN) relay_.backend_ready().readable = true;
      if (events & (EPOLLRDHUP | EPOLLHUP)) relay_.backend_ready().readable = relay_.backend_ready().hangup = true;
      pump();
      return;
    }
    // The client spoke first, or hung up, before the backend answered.
    if (side == kClient) {
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) r.readable = true;
      if (events & (EPOLLRDHUP | EPOLLHUP)) r.hangup = true;
      if (events & EPOLLOUT) r.writable = true;
      if (events & EPOLLERR) close();
    }
    return;
  }
  // An error or a hang-up is found by the next read on that socket.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r.readable = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) r.hangup = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) r.writable = true;
  pump();
}

void RelayHandler::pump() {
  bool progressed = false;
  switch (relay_.pump(progressed)) {
    case lb::Relay::Step::Close: close(); return;
    case lb::Relay::Step::Again: loop_.resume_later(this); break;
    case lb::Relay::Step::Wait: break;
  }
  if (progressed) loop_.schedule(this, core::kRelayTimer);
}

void RelayHandler::on_timeout(int kind) {
  if (kind == core::kConnectTimer && !relay_.connected()) {
    if (relay_.connect_landed_late()) {  // its EPOLLOUT is queued: wait for it
      loop_.schedule(this, core::kConnectTimer);
      return;
    }
    relay_.connect_timed_out();  // closes that socket, which leaves the epoll set
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
  loop_.retire(this);
  // The Relay closes both sockets (which leaves the epoll set) and logs,
  // when the loop deletes this handler after the batch.
}

}  // namespace ringwire::reactor
