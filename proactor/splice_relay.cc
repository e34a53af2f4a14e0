#include "proactor/splice_relay.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>

namespace ringwire::proactor {
namespace {
constexpr unsigned kPollMask = POLLIN | POLLOUT | POLLRDHUP | POLLERR | POLLHUP;

// Bytes waiting in a socket's receive queue, asked from the loop thread.
int bytes_waiting(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 ? n : 1;  // unknown: read again, which tells
}
}  // namespace

SpliceRelay::~SpliceRelay() {
  // Every CQE is back: a pipe nothing is left in goes back to the pool, one
  // still holding bytes closes with the relay.
  for (Flow& f : flows_)
    if (f.pipe && f.held == 0) worker_.pipes.give_back(std::move(f.pipe));
}

void SpliceRelay::on_connected() {
  arm_poll(0);
  arm_poll(1);
  sides_[1].writable = true;  // just connected
  drive();
}

void SpliceRelay::arm_poll(unsigned side) {
  io_uring_sqe* s = loop_.sqe();
  io_uring_prep_poll_multishot(s, fd(side), kPollMask);
  io_uring_sqe_set_data64(s, tag(side == 0 ? kClientPoll : kBackendPoll));
  sides_[side].poll_armed = true;
}

void SpliceRelay::on_relay_completion(unsigned op, int res, uint32_t flags) {
  switch (op) {
    case kClientPoll: return on_poll(0, res, flags);
    case kBackendPoll: return on_poll(1, res, flags);
    case kUpRead: return on_read(0, res);
    case kUpWrite: return on_write(0, res);
    case kDownRead: return on_read(1, res);
    case kDownWrite: return on_write(1, res);
  }
}

void SpliceRelay::on_poll(unsigned side, int res, uint32_t flags) {
  Side& s = sides_[side];
  if (!(flags & IORING_CQE_F_MORE)) s.poll_armed = false;
  if (closed) return;
  if (res >= 0) {
    // An error or a hang-up is found by the next splice on that socket.
    if (res & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) s.readable = true;
    if (res & (POLLRDHUP | POLLHUP | POLLERR)) s.hangup = true;
    if (res & (POLLOUT | POLLHUP | POLLERR)) {
      s.writable = true;
      ++s.out_reports;
    }
  } else if (res != -ECANCELED) {
    reset();
    return;
  }
  // A multishot poll can end on its own (the kernel's reasons): re-arm.
  if (!s.poll_armed) arm_poll(side);
  drive();
}

void SpliceRelay::drive() {
  drive(0);
  if (!closed) drive(1);
  if (!closed && flows_[0].shut && flows_[1].shut) close();
}

void SpliceRelay::drive(unsigned flow) {
  Flow& f = flows_[flow];
  const Side& from = sides_[flow];
  const Side& to = sides_[1 - flow];
  if (f.held > 0 && !f.writing && to.writable) submit_write(flow);
  // The buffer is filled only once emptied; the pipe while it has room.
  bool room = f.pipe ? f.held < f.pipe.capacity : (f.held == 0 && !f.writing);
  if (!f.eof && !f.reading && !f.full && from.readable && room) submit_read(flow);
  if (f.held == 0 && !f.reading && !f.writing) {
    // An idle direction holds no pipe, nor a buffer.
    if (f.pipe) worker_.pipes.give_back(std::move(f.pipe));
    f.pipe = {};
    f.buf.reset();
    if (f.eof && !f.shut) {
      // Everything read has been written: forward the half-close.
      ::shutdown(fd(1 - flow), SHUT_WR);
      f.shut = true;
    }
  }
}

void SpliceRelay::submit_read(unsigned flow) {
  Flow& f = flows_[flow];
  if (!f.pipe && !f.buf) {
    f.pipe = worker_.pipes.take();
    if (!f.pipe) f.buf = std::make_unique<char[]>(kCopyBuffer);
  }
  io_uring_sqe* s = loop_.sqe();
  if (f.pipe) {
    // The pipe's own O_NONBLOCK makes a full pipe an EAGAIN, as the
    // socket's makes an empty socket one: the io-wq thread never sleeps.
    f.read_len = f.pipe.capacity - f.held;
    io_uring_prep_splice(s, fd(flow), -1, f.pipe.write_end.get(), -1, static_cast<unsigned>(f.read_len),
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  } else {
    f.read_len = kCopyBuffer;
    f.buf_off = 0;
    io_uring_prep_recv(s, fd(flow), f.buf.get(), f.read_len, MSG_DONTWAIT);
  }
  io_uring_sqe_set_data64(s, tag(flow == 0 ? kUpRead : kDownRead));
  f.reading = true;
}

void SpliceRelay::on_read(unsigned flow, int res) {
  Flow& f = flows_[flow];
  f.reading = false;
  if (res > 0) f.held += static_cast<size_t>(res);  // counted even when closed: the pipe is not empty
  if (closed) return;
  Side& from = sides_[flow];
  if (res == 0) {
    f.eof = true;
  } else if (res < 0 && res != -EAGAIN) {
    reset();
    return;
  }
  if (res == -EAGAIN || (res > 0 && static_cast<size_t>(res) < f.read_len)) {
    // The read did not fill the room. The socket is asked, from this
    // thread, whether bytes still wait: an arrival after the splice ran
    // is counted here, and its poll CQE comes anyway. None waiting (and no
    // FIN, which a read has yet to report): wait for the poll. Bytes
    // waiting while the pipe holds some mean it is out of slots (each
    // holds one fragment, not always a full page): read after a write.
    if (!from.hangup && bytes_waiting(fd(flow)) == 0)
      from.readable = false;
    else if (f.held > 0)
      f.full = true;
  }
  drive();
}

void SpliceRelay::submit_write(unsigned flow) {
  Flow& f = flows_[flow];
  int to = fd(1 - flow);
  io_uring_sqe* s = loop_.sqe();
  if (f.pipe)
    io_uring_prep_splice(s, f.pipe.read_end.get(), -1, to, -1, static_cast<unsigned>(f.held),
                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  else
    io_uring_prep_send(s, to, f.buf.get() + f.buf_off, f.held, MSG_NOSIGNAL | MSG_DONTWAIT);
  io_uring_sqe_set_data64(s, tag(flow == 0 ? kUpWrite : kDownWrite));
  f.out_reports_at_write = sides_[1 - flow].out_reports;
  f.writing = true;
}

void SpliceRelay::on_write(unsigned flow, int res) {
  Flow& f = flows_[flow];
  f.writing = false;
  if (res > 0) {
    f.held -= static_cast<size_t>(res);
    if (!f.pipe) f.buf_off += static_cast<size_t>(res);
  }
  if (closed) return;
  if (res > 0) {
    f.full = false;
    relay_.moved(flow == 0 ? res : 0, flow == 1 ? res : 0);
    progressed();
  } else if (res == -EAGAIN) {
    // The socket is full. The splice ran on another thread: a POLLOUT
    // reported since it was submitted may already say there is room again,
    // and no other report would follow.
    Side& to = sides_[1 - flow];
    if (to.out_reports == f.out_reports_at_write) to.writable = false;
  } else {
    reset();
    return;
  }
  drive();
}

bool SpliceRelay::moving() const noexcept {
  return sides_[0].poll_armed || sides_[1].poll_armed || flows_[0].reading || flows_[0].writing || flows_[1].reading ||
         flows_[1].writing;
}

void SpliceRelay::cancel_moving() {
  // A splice an io-wq thread is already running is not stopped by this,
  // but it cannot wait either (both ends are nonblocking): its CQE follows.
  if (sides_[0].poll_armed) loop_.cancel(tag(kClientPoll));
  if (sides_[1].poll_armed) loop_.cancel(tag(kBackendPoll));
  for (unsigned flow = 0; flow < 2; ++flow) {
    if (flows_[flow].reading) loop_.cancel(tag(flow == 0 ? kUpRead : kDownRead));
    if (flows_[flow].writing) loop_.cancel(tag(flow == 0 ? kUpWrite : kDownWrite));
  }
}

}  // namespace ringwire::proactor
