#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/pipe_pool.h"
#include "proactor/relay_handler.h"

namespace ringwire::proactor {

// SpliceRelay is --uring-relay splice: IORING_OP_SPLICE, socket -> pipe ->
// socket, as SQEs. io_uring cannot poll a splice: every one is run by an
// io-wq thread, and one on a nonblocking socket with nothing to read (or no
// room) ends with EAGAIN. So a multishot poll on each socket says when to
// splice, as in PollRelay, and only the splices leave the loop thread.
//
// Per direction at most one read (socket -> pipe) and one write (pipe ->
// socket) are in flight, and a read never asks for more than the pipe has
// room for (64 KiB, or a page once the kernel cuts pipes short): a peer
// that stops reading stops the other side. A direction takes a pool pipe
// only while bytes sit in it; when none can be had it copies through a
// 16 KiB buffer with recv and send SQEs, sent with MSG_DONTWAIT so that they
// too end with EAGAIN rather than wait inside io_uring.
class SpliceRelay final : public RelayHandler {
 public:
  using RelayHandler::RelayHandler;
  ~SpliceRelay() override;

 private:
  enum Op : unsigned { kClientPoll = 2, kBackendPoll = 3, kUpRead = 4, kUpWrite = 5, kDownRead = 6, kDownWrite = 7 };
  static constexpr size_t kCopyBuffer = 16 * 1024;

  // One socket as its multishot poll has reported it; side 0 is the client, side 1 the backend.
  struct Side {
    bool readable = false;
    bool writable = false;
    bool hangup = false;       // POLLRDHUP seen: a read finding no bytes waiting still has the EOF to read
    bool poll_armed = false;   // the multishot poll
    uint32_t out_reports = 0;  // POLLOUT reports so far (see on_write)
  };
  // One direction: flow 0 goes from the client to the backend (up), flow 1 back (down).
  struct Flow {
    core::Pipe pipe;
    std::unique_ptr<char[]> buf;  // instead of the pipe when none could be had
    size_t held = 0;              // read and not yet written
    size_t buf_off = 0;           // in buf: where the next write starts
    size_t read_len = 0;          // what the read in flight asked for
    uint32_t out_reports_at_write = 0;
    bool reading = false;  // a read SQE in flight
    bool writing = false;  // a write SQE in flight
    bool full = false;     // the pipe took no more while bytes wait: read again after a write
    bool eof = false;
    bool shut = false;  // the EOF is forwarded
  };

  void on_connected() override;
  void on_relay_completion(unsigned op, int res, uint32_t flags) override;
  bool moving() const noexcept override;
  void cancel_moving() override;

  int fd(unsigned side) const noexcept { return side == 0 ? relay_.client_fd() : relay_.backend_fd(); }
  void arm_poll(unsigned side);
  void on_poll(unsigned side, int res, uint32_t flags);
  // Starts what each flow can do now; closes the relay once both are done.
  void drive();
  void drive(unsigned flow);
  void submit_read(unsigned flow);
  void on_read(unsigned flow, int res);
  void submit_write(unsigned flow);
  void on_write(unsigned flow, int res);

  Side sides_[2];
  Flow flows_[2];
};

}  // namespace ringwire::proactor
