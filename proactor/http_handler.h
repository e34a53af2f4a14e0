#pragma once

#include <cstdint>

#include "core/fd.h"
#include "core/http_connection.h"
#include "core/http_worker.h"
#include "proactor/loop.h"

namespace ringwire::proactor {

// HttpHandler runs one HTTP connection on the io_uring loop: a multishot
// receive into the provided-buffer ring (bytes parsed in place), one send
// in flight at a time, sendfile(2) inline for file ranges with a POLLOUT
// poll when the socket is full, and what HttpConnection::settle() says next.
class HttpHandler final : public Handler {
 public:
  HttpHandler(Loop& loop, core::HttpWorker& worker, core::Fd fd) noexcept
      : loop_(loop), fd_(std::move(fd)), conn_(worker) {}

  core::HttpConnection& connection() noexcept { return conn_; }
  void start();

  void on_completion(unsigned op, int res, uint32_t flags) override;
  void on_timeout(int kind) override;
  void on_stop() override;
  void abort() override { close(); }
  void on_resume() override;
  // The receive, and a send or POLLOUT poll: a closed handler is freed once
  // neither is in flight.
  bool in_flight() const noexcept override { return recv_armed_ || sending_; }

 private:
  enum Op : unsigned { kRecv = 1, kSend = 2, kPollOut = 3 };

  void submit_recv();
  void on_recv(int res, uint32_t flags);
  // Starts the next send if none is in flight; false when closed.
  bool submit_send();
  void on_send(int res);
  void submit_poll_out();
  void on_poll_out(int res);
  // Parses what is buffered, sends, and settles the timer and the receive.
  void drive();
  void close();

  Loop& loop_;
  core::Fd fd_;  // the client socket
  core::HttpConnection conn_;
  bool recv_armed_ = false;
  bool recv_cancelled_ = false;  // a cancel of the receive is on its way
  bool sending_ = false;         // a send, or a POLLOUT poll for sendfile, is in flight
};

// HttpAcceptor makes an HttpHandler for each accepted client, and owns
// what the worker's HTTP connections share.
class HttpAcceptor final : public Acceptor {
 public:
  HttpAcceptor(Loop& loop, const core::ServeConfig& config, const core::Clock& clock, int root_fd, int access_log_fd)
      : loop_(loop), worker_(config, clock, root_fd, access_log_fd) {}
  void on_accept(core::Fd fd) override;
  void begin_turn() noexcept override { worker_.begin_turn(); }
  void end_turn() noexcept override { worker_.end_turn(); }

 private:
  Loop& loop_;
  core::HttpWorker worker_;
};

}  // namespace ringwire::proactor
