#include "proactor/http_handler.h"

#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <cerrno>

namespace ringwire::proactor {
namespace {
constexpr size_t kInPause = 16 * 1024;  // stop receiving while this much waits behind a send
}  // namespace

void HttpAcceptor::on_accept(core::Fd fd) {
  auto* h = new HttpHandler(loop_, worker_, std::move(fd));
  loop_.adopt(h);
  h->start();
}

void HttpHandler::start() {
  if (conn_.wants_peer()) {
    // A multishot accept does not deliver the address: look it up, and keep
    // it, only when the access log needs it.
    core::Endpoint peer;
    peer.len = sizeof peer.addr;
    ::getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&peer.addr), &peer.len);
    conn_.set_peer(peer);
  }
  loop_.schedule(this, core::kHeaderTimer);
  submit_recv();
}

void HttpHandler::on_completion(unsigned op, int res, uint32_t flags) {
  switch (op) {
    case kRecv: return on_recv(res, flags);
    case kSend: return on_send(res);
    case kPollOut: return on_poll_out(res);
  }
}

void HttpHandler::submit_recv() {
  // Multishot with buffer select: the kernel picks a buffer from the ring
  // only when bytes arrive, and keeps the receive armed after each one.
  io_uring_sqe* s = loop_.sqe();
  io_uring_prep_recv_multishot(s, fd_.get(), nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = loop_.buffers().group();
  io_uring_sqe_set_data64(s, tag(kRecv));
  recv_armed_ = true;
  recv_cancelled_ = false;
}

void HttpHandler::on_recv(int res, uint32_t flags) {
  if (res > 0) {
    auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    bool ok = closed || conn_.absorb(loop_.buffers().data(bid), static_cast<size_t>(res));
    loop_.buffers().give_back(bid);
    if (!ok) {  // pipelined far more than it reads
      close();
      return;
    }
  }
  // Without F_MORE the multishot receive has ended (EOF, error, ENOBUFS,
  // cancel, or the kernel's own reasons): it is re-armed if still wanted.
  if (!(flags & IORING_CQE_F_MORE)) recv_armed_ = false;
  if (closed) return;
  if (res > 0 || res == -ECANCELED) {
    drive();
  } else if (res == 0) {
    conn_.set_eof();
    drive();
  } else if (res == -ENOBUFS) {
    loop_.starve(this);
  } else {
    close();
  }
}

void HttpHandler::on_resume() {
  drive();
}

void HttpHandler::drive() {
  for (;;) {
    bool again = conn_.parse();
    if (conn_.has_output() && !sending_ && !submit_send()) return;
    // A queue emptied without a send in flight (sendfile finished inline)
    // leaves room to parse the requests still buffered.
    if (!again || sending_) break;
  }

  if (sending_ || conn_.has_output()) {
    if (loop_.timer_of(this) != core::kWriteTimer) loop_.schedule(this, core::kWriteTimer);
  } else {
    core::HttpConnection::Settle s = conn_.settle(loop_.stopping());
    switch (s.next) {
      case core::HttpConnection::Next::Close: close(); return;
      case core::HttpConnection::Next::Linger:
        // Everything is sent. Half-close and drain whatever the client
        // still sends, so that closing with unread input does not make the
        // kernel reset the connection and destroy the answer before the
        // client reads it.
        ::shutdown(fd_.get(), SHUT_WR);
        conn_.set_lingering();
        break;
      case core::HttpConnection::Next::Read: break;
    }
    if (s.restart || loop_.timer_of(this) != s.timer) loop_.schedule(this, s.timer);
  }

  // Backpressure: while a send is in flight and requests pile up behind
  // it, the receive is cancelled and the bytes wait in the kernel.
  bool want_recv = !conn_.eof() && !(sending_ && conn_.buffered() >= kInPause);
  if (want_recv && !recv_armed_ && !starved) {
    submit_recv();
  } else if (!want_recv && recv_armed_ && !recv_cancelled_) {
    recv_cancelled_ = true;
    loop_.cancel(tag(kRecv));
  }
}

bool HttpHandler::submit_send() {
  for (;;) {
    core::HttpConnection::Send s = conn_.next_send();
    if (s.is_file()) {
      // File ranges go out with sendfile(2) from the loop while the socket
      // takes them; when it is full, a POLLOUT poll says when to go on.
      // (See proactor/README.md for why not splice or reads into buffers.)
      off_t off = s.file_offset;
      ssize_t n = ::sendfile(fd_.get(), s.file_fd, &off, s.file_len);
      if (n > 0) {
        conn_.sent(static_cast<size_t>(n));
        if (!conn_.has_output()) return true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        submit_poll_out();
        return true;
      }
      close();  // an error, or the file shrank under us: the framing is lost
      return false;
    }
    if (s.iovcnt == 0) return true;
    // One send in flight per connection: two could complete out of order
    // when the socket buffer fills. The iovecs live in the connection's
    // Output (or its flight) until on_send.
    io_uring_sqe* sqe = loop_.sqe();
    if (s.iovcnt == 1)
      io_uring_prep_send(sqe, fd_.get(), s.iov[0].iov_base, s.iov[0].iov_len, MSG_NOSIGNAL);
    else
      io_uring_prep_sendmsg(sqe, fd_.get(), s.msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(kSend));
    sending_ = true;
    return true;
  }
}

void HttpHandler::on_send(int res) {
  sending_ = false;
  if (closed) return;
  if (res == -EAGAIN) {
    // Not an error. io_uring retries a send that finds the socket full
    // after polling it, but a wake-up that is not writability (the FIN of a
    // client that half-closed wakes every waiter on the socket, whatever
    // they wait for) makes it retry too early; a request already polled
    // once then goes to an io-wq worker, whose "blocking" retry of a socket
    // opened O_NONBLOCK fails with EAGAIN again, and that is final. The
    // sockets stay nonblocking for the inline sendfile(2), so wait for
    // POLLOUT here and send the same bytes again.
    submit_poll_out();
    return;
  }
  if (res <= 0) {  // EPIPE, ECONNRESET, ...: the client is gone
    close();
    return;
  }
  // A short send leaves the rest queued; drive() sends it next.
  conn_.sent(static_cast<size_t>(res));
  if (loop_.timer_of(this) == core::kWriteTimer) loop_.schedule(this, core::kWriteTimer);  // progress
  drive();
}

void HttpHandler::submit_poll_out() {
  io_uring_sqe* s = loop_.sqe();
  io_uring_prep_poll_add(s, fd_.get(), POLLOUT);
  io_uring_sqe_set_data64(s, tag(kPollOut));
  sending_ = true;
}

void HttpHandler::on_poll_out(int res) {
  sending_ = false;
  if (closed) return;
  if (res < 0) {
    close();
    return;
  }
  drive();
}

void HttpHandler::on_timeout(int kind) {
  if (conn_.on_timeout(kind)) {
    // A 408 is queued: send it, then the connection lingers and closes.
    drive();
    if (!closed && loop_.timer_of(this) == kind) close();
    return;
  }
  close();
}

void HttpHandler::on_stop() {
  if (conn_.stop()) {
    close();
    return;
  }
  if (!sending_) drive();
}

void HttpHandler::close() {
  if (closed) return;
  if (in_flight()) {
    // Operations still hold the socket: cancel them all, and submit the
    // cancel before closing the fd, since the kernel finds them by fd. The
    // handler is freed when the last of their CQEs comes back; until then
    // the connection's buffers stay where the kernel may still read them.
    io_uring_sqe* s = loop_.sqe();
    io_uring_prep_cancel_fd(s, fd_.get(), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(s, 0);
    loop_.submit();
  } else {
    conn_.release();
  }
  fd_.reset();
  loop_.retire(this);
}

}  // namespace ringwire::proactor
