#pragma once

#include <cstdint>

#include "core/fd.h"
#include "core/http_connection.h"
#include "core/http_worker.h"
#include "reactor/loop.h"

namespace ringwire::reactor {

// HttpHandler runs one HTTP connection on the epoll loop: it reads into the
// connection's buffer, sends its response plan with send/sendmsg/sendfile
// until the socket would block (then waits for EPOLLOUT), and does what
// HttpConnection::settle() says next. Edge-triggered, with at most
// kReadsPerEvent reads per event before yielding to the other sockets.
class HttpHandler final : public Handler {
 public:
  HttpHandler(Loop& loop, core::HttpWorker& worker, core::Fd fd) noexcept
      : loop_(loop), fd_(std::move(fd)), conn_(worker) {}

  core::HttpConnection& connection() noexcept { return conn_; }
  int fd() const noexcept { return fd_.get(); }

  void on_event(uint32_t events, unsigned side) override;
  void on_timeout(int kind) override;
  void on_stop() override;
  void abort() override { close(); }

 private:
  void on_readable();
  void on_writable();
  // Parses what is buffered, sends, and settles; false when closed.
  bool drive();
  // Sends the plan until it is empty or the socket is full; false on a fatal error.
  bool flush();
  void set_want_write(bool on) noexcept;
  void close();

  Loop& loop_;
  core::Fd fd_;  // the client socket
  core::HttpConnection conn_;
  bool want_write_ = false;  // EPOLLOUT armed
  bool blocked_ = false;     // the last send hit EAGAIN
};

// HttpAcceptor makes an HttpHandler for each accepted client, and owns
// what the worker's HTTP connections share.
class HttpAcceptor final : public Acceptor {
 public:
  HttpAcceptor(Loop& loop, const core::ServeConfig& config, const core::Clock& clock, int root_fd, int access_log_fd)
      : loop_(loop), worker_(config, clock, root_fd, access_log_fd) {}
  void on_accept(core::Fd fd, const core::Endpoint& peer) override;
  void begin_turn() noexcept override { worker_.begin_turn(); }
  void end_turn() noexcept override { worker_.end_turn(); }

 private:
  Loop& loop_;
  core::HttpWorker worker_;
};

}  // namespace ringwire::reactor
