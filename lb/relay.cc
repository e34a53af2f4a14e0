#include "lb/relay.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace ringwire::lb {
namespace {
// Bytes one pump() call moves per direction before yielding to other
// sockets: a bulk transfer cannot hold the worker.
constexpr size_t kBudget = 256 * 1024;
}  // namespace

Relay::Relay(LbWorker& worker, core::Fd client, const core::Endpoint& peer)
    : worker_(worker), client_(std::move(client)), peer_(peer), start_ms_(worker.clock.monotonic_ms()) {}

Relay::~Relay() {
  up_.release(worker_.pipes);
  down_.release(worker_.pipes);
  if (connected_) {
    target_->relay_ended();
    if (worker_.options.log_connections) {
      double secs = static_cast<double>(worker_.clock.monotonic_ms() - start_ms_) / 1000.0;
      RW_LOG_INFO("connection from {} to {} {} after {:.3f} s: {} bytes up, {} bytes down", peer_.to_string(),
                  target_->spec().text, end_reason_, secs, bytes_up_, bytes_down_);
    }
  }
}

Relay::Connect Relay::connect_next() {
  for (;;) {
    target_ = worker_.balancer.pick(peer_, tried_);
    if (!target_) {
      RW_LOG_WARN("connection from {}: no backend available ({} tried, the others down); closing it", peer_.to_string(),
                  tried_.size());
      return Connect::NoBackend;
    }
    const core::Endpoint& addr = target_->spec().addr;
    backend_.reset(::socket(addr.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!backend_) {
      // Out of descriptors: not the backend's fault, and the next would fail too.
      RW_LOG_WARN("connection from {}: socket: {}; closing it", peer_.to_string(), strerror(errno));
      return Connect::NoBackend;
    }
    int one = 1;
    ::setsockopt(backend_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    backend_ready_ = {};
    late_checked_ = false;
    if (::connect(backend_.get(), reinterpret_cast<const sockaddr*>(&addr.addr), addr.len) == 0) {
      if (finish_connect()) return Connect::Connected;
      continue;
    }
    if (errno == EINPROGRESS) return Connect::InProgress;
    connect_failed(strerror(errno));
  }
}

bool Relay::finish_connect() {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(backend_.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0) {
    // A readiness left over from an earlier socket of the same number may
    // arrive: connected only if the kernel says there is a peer.
    core::Endpoint p;
    p.len = sizeof p.addr;
    if (::getpeername(backend_.get(), reinterpret_cast<sockaddr*>(&p.addr), &p.len) < 0) {
      if (errno == ENOTCONN) return false;
      err = errno;
    }
  }
  if (err != 0) {
    connect_failed(strerror(err));
    return false;
  }
  connected_ = true;
  backend_ready_.writable = true;
  worker_.balancer.connect_succeeded(*target_);
  target_->relay_started();
  if (worker_.options.log_connections)
    RW_LOG_INFO("connection from {} forwarded to {}", peer_.to_string(), target_->spec().text);
  return true;
}

bool Relay::connect_landed_late() {
  if (late_checked_ || !backend_) return false;
  late_checked_ = true;
  core::Endpoint p;
  p.len = sizeof p.addr;
  return ::getpeername(backend_.get(), reinterpret_cast<sockaddr*>(&p.addr), &p.len) == 0;
}

void Relay::connect_timed_out() {
  connect_failed("connect timeout");
}

void Relay::connect_failed(const char* reason) {
  worker_.balancer.connect_failed(*target_, reason);
  tried_.push_back(target_.get());
  target_.reset();
  backend_.reset();
}

Relay::Step Relay::pump(bool& progressed) {
  const uint64_t up_before = up_.bytes(), down_before = down_.bytes();
  core::RelayPump::Status a =
      up_.pump(client_.get(), backend_.get(), client_ready_, backend_ready_, worker_.pipes, kBudget);
  core::RelayPump::Status b = core::RelayPump::Status::Idle;
  if (a != core::RelayPump::Status::Error)
    b = down_.pump(backend_.get(), client_.get(), backend_ready_, client_ready_, worker_.pipes, kBudget);
  moved(up_.bytes() - up_before, down_.bytes() - down_before);
  progressed = up_.bytes() != up_before || down_.bytes() != down_before;
  if (a == core::RelayPump::Status::Error || b == core::RelayPump::Status::Error) {
    // A reset on one side ends the other too.
    end_reason_ = "reset";
    return Step::Close;
  }
  if (up_.done() && down_.done()) return Step::Close;
  if (a == core::RelayPump::Status::Budget || b == core::RelayPump::Status::Budget) return Step::Again;
  return Step::Wait;
}

}  // namespace ringwire::lb
