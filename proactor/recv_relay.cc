#include "proactor/recv_relay.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringwire::proactor {

RecvRelay::~RecvRelay() {
  // Every CQE is back: the buffers still held go back to the ring.
  for (Flow& f : flows_)
    for (size_t i = f.first; i < f.pieces.size(); ++i) bufs_.give_back(f.pieces[i].bid);
}

void RecvRelay::on_relay_completion(unsigned op, int res, uint32_t flags) {
  switch (op) {
    case kUpRecv: return on_recv(0, res, flags);
    case kUpSend: return on_send(0, res);
    case kUpPoll: return on_poll(0, res);
    case kDownRecv: return on_recv(1, res, flags);
    case kDownSend: return on_send(1, res);
    case kDownPoll: return on_poll(1, res);
  }
}

void RecvRelay::drive() {
  drive(0);
  if (!closed) drive(1);
  if (!closed && flows_[0].shut && flows_[1].shut) close();
}

void RecvRelay::drive(unsigned flow) {
  Flow& f = flows_[flow];
  if (f.held > 0 && !f.sending && !f.polling) submit_send(flow);
  if (f.eof && f.held == 0 && !f.sending && !f.shut) {
    // Everything received has been sent: forward the half-close.
    ::shutdown(to_fd(flow), SHUT_WR);
    f.shut = true;
  }
  // Backpressure: with kHold bytes (or kMaxIov buffers) waiting, the
  // receive stops and the bytes wait in the kernel, so the peer's sender
  // stops too.
  bool want_recv = !f.eof && f.held < kHold && f.pieces.size() - f.first < kMaxIov;
  if (want_recv && !f.recv_armed && !starved) {
    submit_recv(flow);
  } else if (!want_recv && f.recv_armed && !f.recv_cancelled) {
    loop_.cancel(tag(op(flow, kUpRecv)));
    f.recv_cancelled = true;
  }
  if (f.stash && f.stash_len == 0 && !f.sending) f.stash.reset();  // an idle direction holds no buffer
}

void RecvRelay::submit_recv(unsigned flow) {
  // Multishot with buffer select: the kernel takes a ring buffer only when
  // bytes arrive, and keeps the receive armed after each one.
  io_uring_sqe* s = loop_.sqe();
  io_uring_prep_recv_multishot(s, from_fd(flow), nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = bufs_.group();
  io_uring_sqe_set_data64(s, tag(op(flow, kUpRecv)));
  flows_[flow].recv_armed = true;
  flows_[flow].recv_cancelled = false;
}

void RecvRelay::on_recv(unsigned flow, int res, uint32_t flags) {
  Flow& f = flows_[flow];
  // Without F_MORE the multishot receive has ended (EOF, error, ENOBUFS,
  // cancel, or the kernel's own reasons): drive() re-arms it if wanted.
  if (!(flags & IORING_CQE_F_MORE)) f.recv_armed = false;
  if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
    auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    auto n = static_cast<size_t>(res);
    if (closed) {
      bufs_.give_back(bid);
      return;
    }
    // While bytes are parked (the peer is full), new ones join them, and
    // the ring buffer goes back at once; otherwise it is sent from.
    bool behind_stash = f.stash_len > 0 && f.first == f.pieces.size();
    if (behind_stash && f.stash_off + f.stash_len + n <= kStash) {
      memcpy(f.stash.get() + f.stash_off + f.stash_len, bufs_.data(bid), n);
      f.stash_len += n;
      bufs_.give_back(bid);
    } else {
      f.pieces.push_back({bid, 0, static_cast<uint32_t>(n)});
    }
    f.held += n;
  }
  if (closed) return;
  if (res == 0) {
    f.eof = true;
  } else if (res == -ENOBUFS) {
    // Every ring buffer is taken: re-armed after this batch's go back.
    loop_.starve(this);
  } else if (res < 0 && res != -ECANCELED) {
    reset();
    return;
  }
  drive();
}

void RecvRelay::submit_send(unsigned flow) {
  Flow& f = flows_[flow];
  size_t n = 0;
  f.send_len = 0;
  f.send_stash = f.stash_len;
  if (f.stash_len > 0) f.iov[n++] = {f.stash.get() + f.stash_off, f.stash_len};
  for (size_t i = f.first; i < f.pieces.size() && n < kMaxIov; ++i)
    f.iov[n++] = {bufs_.data(f.pieces[i].bid) + f.pieces[i].off, f.pieces[i].len};
  for (size_t i = 0; i < n; ++i) f.send_len += f.iov[i].iov_len;
  io_uring_sqe* s = loop_.sqe();
  if (n == 1) {
    io_uring_prep_send(s, to_fd(flow), f.iov[0].iov_base, f.iov[0].iov_len, MSG_NOSIGNAL | MSG_DONTWAIT);
  } else {
    f.msg = {};
    f.msg.msg_iov = f.iov;
    f.msg.msg_iovlen = n;
    io_uring_prep_sendmsg(s, to_fd(flow), &f.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  io_uring_sqe_set_data64(s, tag(op(flow, kUpSend)));
  f.sending = true;
}

void RecvRelay::on_send(unsigned flow, int res) {
  Flow& f = flows_[flow];
  f.sending = false;
  if (res > 0) consume(f, static_cast<size_t>(res));  // even when closed: the buffers go back
  if (closed) return;
  if (res > 0) {
    relay_.moved(flow == 0 ? res : 0, flow == 1 ? res : 0);
    progressed();
    if (static_cast<size_t>(res) < f.send_len) park(flow);  // the peer took what it had room for
  } else if (res == -EAGAIN) {
    park(flow);
  } else {
    reset();  // EPIPE, ECONNRESET, ...: that side is gone
    return;
  }
  drive();
}

void RecvRelay::consume(Flow& f, size_t n) {
  f.held -= n;
  size_t from_stash = std::min(n, f.send_stash);
  f.stash_off += from_stash;
  f.stash_len -= from_stash;
  if (f.stash_len == 0) f.stash_off = 0;
  n -= from_stash;
  while (n > 0) {
    Piece& p = f.pieces[f.first];
    auto k = static_cast<uint32_t>(std::min<size_t>(n, p.len));
    p.off += k;
    p.len -= k;
    n -= k;
    if (p.len == 0) {
      bufs_.give_back(p.bid);
      ++f.first;
    }
  }
  if (f.first == f.pieces.size()) {
    f.pieces.clear();
    f.first = 0;
  }
}

void RecvRelay::park(unsigned flow) {
  Flow& f = flows_[flow];
  // The bytes wait in the direction's own buffer, and the ring buffers go
  // back at once: a peer that stops reading must not hold the ring that
  // every connection of the worker receives into.
  if (!f.stash) f.stash = std::make_unique<char[]>(kStash);
  if (f.stash_off > 0) {
    memmove(f.stash.get(), f.stash.get() + f.stash_off, f.stash_len);
    f.stash_off = 0;
  }
  while (f.first < f.pieces.size() && f.stash_len + f.pieces[f.first].len <= kStash) {
    const Piece& p = f.pieces[f.first];
    memcpy(f.stash.get() + f.stash_len, bufs_.data(p.bid) + p.off, p.len);
    f.stash_len += p.len;
    bufs_.give_back(p.bid);
    ++f.first;
  }
  if (f.first == f.pieces.size()) {
    f.pieces.clear();
    f.first = 0;
  }
  io_uring_sqe* s = loop_.sqe();
  io_uring_prep_poll_add(s, to_fd(flow), POLLOUT);
  io_uring_sqe_set_data64(s, tag(op(flow, kUpPoll)));
  f.polling = true;
}

void RecvRelay::on_poll(unsigned flow, int res) {
  flows_[flow].polling = false;
  if (closed) return;
  // POLLERR or POLLHUP: the next send finds out.
  if (res < 0) {
    reset();
    return;
  }
  drive();
}

bool RecvRelay::moving() const noexcept {
  for (const Flow& f : flows_)
    if (f.recv_armed || f.sending || f.polling) return true;
  return false;
}

void RecvRelay::cancel_moving() {
  for (unsigned flow = 0; flow < 2; ++flow) {
    const Flow& f = flows_[flow];
    if (f.recv_armed) loop_.cancel(tag(op(flow, kUpRecv)));
    if (f.sending) loop_.cancel(tag(op(flow, kUpSend)));
    if (f.polling) loop_.cancel(tag(op(flow, kUpPoll)));
  }
}

}  // namespace ringwire::proactor
