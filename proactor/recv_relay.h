#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "proactor/buffer_ring.h"
#include "proactor/relay_handler.h"

namespace ringwire::proactor {

// RecvRelay is --uring-relay recv: a multishot receive on each socket into
// the relay's provided-buffer ring, then IORING_OP_SEND (or SENDMSG over
// several buffers) of those buffers to the other socket. Every byte is
// copied in and out of user space, but nothing is a syscall of its own:
// all the SQEs go in the loop's one io_uring_enter per turn.
//
// Per direction one send is in flight, and the receive is cancelled (or not
// re-armed) once kHold bytes wait to be sent: a peer that stops reading
// stops the other side. Sends carry MSG_DONTWAIT, so a full peer is an
// EAGAIN (or a short send) at once rather than a send parked inside
// io_uring holding ring buffers for as long as the peer does not read. The
// bytes then move to the direction's own buffer (at most kHold plus one
// ring buffer), the ring buffers go back for other connections, and a
// POLLOUT poll says when to send again.
class RecvRelay final : public RelayHandler {
 public:
  static constexpr size_t kBufferSize = 16 * 1024;
  static constexpr unsigned kBuffers = 256;  // per worker: 4 MiB, touched as the ring cycles
  static constexpr size_t kHold = 64 * 1024;

  RecvRelay(Loop& loop, lb::LbWorker& worker, core::Fd client, const core::Endpoint& peer, BufferRing& buffers)
      : RelayHandler(loop, worker, std::move(client), peer), bufs_(buffers) {}
  ~RecvRelay() override;

  // After ENOBUFS (Loop::starve): the ring has buffers again.
  void on_resume() override { drive(); }

 private:
  enum Op : unsigned { kUpRecv = 2, kUpSend = 3, kUpPoll = 4, kDownRecv = 5, kDownSend = 6, kDownPoll = 7 };
  static constexpr size_t kMaxIov = 8;  // buffers per send, and received buffers a direction holds at most
  static constexpr size_t kStash = kHold + kBufferSize;

  // Part of a ring buffer received and not yet sent.
  struct Piece {
    uint16_t bid;
    uint32_t off;
    uint32_t len;
  };
  // One direction: flow 0 from the client to the backend (up), flow 1 back (down).
  struct Flow {
    // Bytes parked while the peer was full; they go before the pieces.
    std::unique_ptr<char[]> stash;
    size_t stash_off = 0;
    size_t stash_len = 0;
    std::vector<Piece> pieces;  // in order; the ones before `first` are sent
    size_t first = 0;
    size_t held = 0;  // stash and pieces
    // The send in flight: its iovecs live here until its CQE.
    iovec iov[kMaxIov];
    msghdr msg{};
    size_t send_len = 0;
    size_t send_stash = 0;  // of which from the stash
    bool recv_armed = false;
    bool recv_cancelled = false;  // a cancel of the receive is on its way
    bool sending = false;
    bool polling = false;  // a POLLOUT poll on the peer
    bool eof = false;
    bool shut = false;  // the EOF is forwarded
  };

  void on_connected() override { drive(); }
  void on_relay_completion(unsigned op, int res, uint32_t flags) override;
  bool moving() const noexcept override;
  void cancel_moving() override;

  int from_fd(unsigned flow) const noexcept { return flow == 0 ? relay_.client_fd() : relay_.backend_fd(); }
  int to_fd(unsigned flow) const noexcept { return flow == 0 ? relay_.backend_fd() : relay_.client_fd(); }
  static unsigned op(unsigned flow, unsigned up_op) noexcept { return flow == 0 ? up_op : up_op + 3; }
  // Starts what each flow can do now; closes the relay once both are done.
  void drive();
  void drive(unsigned flow);
  void submit_recv(unsigned flow);
  void on_recv(unsigned flow, int res, uint32_t flags);
  void submit_send(unsigned flow);
  void on_send(unsigned flow, int res);
  // The send moved `n` bytes: drop them, giving back the buffers emptied.
  void consume(Flow& f, size_t n);
  // The peer is full: park what is held in the stash, and poll for room.
  void park(unsigned flow);
  void on_poll(unsigned flow, int res);

  BufferRing& bufs_;
  Flow flows_[2];
};

}  // namespace ringwire::proactor
