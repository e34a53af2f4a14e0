#include "proactor/proactor.h"

#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <poll.h>

#include <array>
#include <cstring>

#include "core/log.h"
#include "core/out_queue.h"
#include "core/socket.h"

namespace ringwire::proactor {
namespace {
// The SQ only has to hold one turn's submissions; when it fills, sqe()
// submits early. The CQ (--ring-cq, 16384 by default) holds a busy turn of
// thousands of connections; a turn with more completions than that is not
// lost: the kernel keeps the rest on its overflow list (IORING_FEAT_NODROP)
// and reap() flushes them in as it frees room.
constexpr unsigned kSqEntries = 1024;
constexpr uint16_t kBufferGroup = 0;
constexpr size_t kInBuf = 32 * 1024;       // above http::kMaxHead, so limits trip first
constexpr size_t kInPause = 16 * 1024;     // stop receiving while this much waits behind a send
constexpr size_t kInMax = 1024 * 1024;     // a client that pipelines more without reading is cut
constexpr int64_t kLingerMs = 2000;
constexpr int64_t kStopGraceMs = 5000;
constexpr int64_t kTeardownMs = 1000;
enum ListKind { kHeader = 0, kIdle = 1, kWrite = 2, kLinger = 3, kBody = 4 };

// CQE user_data: a Connection* with the operation in its three low bits
// (connections are 8-aligned), or one of the small tags below, which no
// heap pointer can equal.
enum Op : uint64_t { kRecv = 1, kSend = 2, kPollOut = 3 };
constexpr uint64_t kOpMask = 7;
constexpr uint64_t kIgnoreTag = 0;  // cancel requests: their own CQE says nothing we need
constexpr uint64_t kAcceptTag = 8;
constexpr uint64_t kWakeTag = 16;
}  // namespace

// What a connection has queued to send: the response plan, plus the iovec
// and msghdr of the send in flight, which must stay put until it completes.
// Pooled per worker; a connection holds one only while output is pending.
struct Output {
  core::OutQueue q;
  std::array<iovec, core::OutQueue::kMaxSegments> iov;
  msghdr msg;
};

struct Connection {
  core::Fd fd;  // the client socket; closed by Proactor::close_conn
  bool recv_armed = false;
  bool recv_cancelled = false;  // a cancel of the receive is on its way
  bool sending = false;         // a send, or a POLLOUT poll for sendfile, is in flight
  bool eof = false;             // the client sends nothing more
  bool lingering = false;       // final response sent, draining input before close
  bool starved = false;         // its receive ended with ENOBUFS; re-armed after the batch
  bool closed = false;
  uint32_t in_len = 0;
  uint32_t in_cap = 0;
  char* in = nullptr;  // bytes received but not parsed yet; pooled when kInBuf
  Output* out = nullptr;
  // The common keep-alive answer, one cached response, is sent from here
  // rather than from an Output: a turn that answers hundreds of requests
  // then holds hundreds of these 32 bytes instead of 8 KiB queues.
  struct Flight {
    const char* data = nullptr;
    size_t len = 0;
    std::shared_ptr<const void> hold;
  } flight;
  core::HttpSession session;
  // Only the access log needs the client's address, and a multishot accept
  // does not deliver it: it is looked up, and stored, only when logging.
  // An idle connection stays ~130 bytes smaller without it.
  std::unique_ptr<core::Endpoint> peer;
  core::DeadlineHook<Connection> timer;

  uint64_t tag(Op op) const noexcept { return reinterpret_cast<uintptr_t>(this) | op; }
  // The operations whose last CQE has not come back: the receive, and a
  // send or POLLOUT poll. A closed connection is freed once there are none.
  bool in_flight() const noexcept { return recv_armed || sending; }
  // Bytes wait to be sent: a flight, or a non-empty queue.
  bool output_queued() const noexcept { return flight.len > 0 || (out && !out->q.empty()); }
  const core::Endpoint& client() const noexcept {
    static const core::Endpoint kUnknown{};
    return peer ? *peer : kUnknown;
  }
};

core::Result<std::unique_ptr<Proactor>> Proactor::create(const core::ServeConfig& config, int root_fd,
                                                         int access_log_fd, core::ConnectionBudget& budget) {
  auto ring = Ring::create(std::min(kSqEntries, config.ring_cq_entries), config.ring_cq_entries);
  if (!ring) return std::unexpected(ring.error());
  auto bufs = BufferRing::create((*ring)->get(), config.ring_buffers, kBufferGroup);
  if (!bufs) return std::unexpected(bufs.error());
  return std::unique_ptr<Proactor>(
      new Proactor(config, std::move(*ring), std::move(*bufs), root_fd, access_log_fd, budget));
}

Proactor::Proactor(const core::ServeConfig& config, std::unique_ptr<Ring> ring, std::unique_ptr<BufferRing> bufs,
                   int root_fd, int access_log_fd, core::ConnectionBudget& budget)
    : wake_(::eventfd(0, EFD_CLOEXEC)),
      ring_(std::move(ring)),
      bufs_(std::move(bufs)),
      handler_(root_fd, config.cache, clock_),
      access_log_(access_log_fd >= 0 ? std::make_unique<core::AccessLog>(access_log_fd, clock_) : nullptr),
      services_{clock_, handler_, access_log_.get()},
      budget_(budget) {
  if (!wake_) throw std::runtime_error("eventfd setup failed");
  timers_.set_timeout(kHeader, int64_t{config.header_timeout_s} * 1000);
  timers_.set_timeout(kIdle, int64_t{config.idle_timeout_s} * 1000);
  timers_.set_timeout(kWrite, int64_t{config.idle_timeout_s} * 1000);
  timers_.set_timeout(kLinger, kLingerMs);
  timers_.set_timeout(kBody, int64_t{config.body_timeout_s} * 1000);
}

Proactor::~Proactor() {
  // run() returns with every connection gone; this covers a loop never run.
  while (Connection* c = timers_.any()) close_conn(c);
  bury_closed();
}

void Proactor::request_stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t rc = ::write(wake_.get(), &one, sizeof one);
  (void)rc;
}

void Proactor::run(core::Fd listener) {
  thread_.bind();
  listener_ = std::move(listener);
  ring_->enable();
  submit_wake();
  for (;;) {
    clock_.update();
    int64_t now = clock_.monotonic_ms();
    if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
    if (stopping_ && (conns_ == 0 || now >= stop_deadline_ms_)) break;

    // The accept runs while the budget has room and nobody waits for it; it
    // is cancelled at --max-conns or on stop, and re-armed once it has come
    // back. A slot freed on another worker is seen within kRetryMs.
    if (!stopping_) admit_waiting();
    bool want_accept = !stopping_ && waiting_.empty() && budget_.has_room() && now >= accept_resume_ms_;
    if (want_accept && !accept_armed_) submit_accept();
    if (!want_accept && accept_armed_ && !accept_cancelled_) {
      cancel(kAcceptTag);
      accept_cancelled_ = true;
    }

    int64_t wait = timers_.wait_ms(now, stopping_ ? 100 : 1000);
    if (accept_resume_ms_ > now) wait = std::min(wait, accept_resume_ms_ - now);
    if (!stopping_ && !want_accept) wait = std::min(wait, core::ConnectionBudget::kRetryMs);
    ring_->submit_and_wait(wait);
    clock_.update();
    handler_.cache().poll_changes();
    ++turns_;

    reap();

    // Buffers used in the batch go back in one store; only then can the
    // receives that found the ring empty be re-armed without failing again.
    bufs_->publish();
    for (Connection* c : starved_) {
      c->starved = false;
      if (!c->closed) drive(c);
    }
    starved_.clear();

    expire_timers();
    if (access_log_) access_log_->flush();
    bury_closed();
  }

  // Whatever is still open after the grace period is closed; then wait
  // (bounded) for the kernel to give every operation back before the
  // connections and buffers it may still point at are freed.
  while (Connection* c = timers_.any()) close_conn(c);
  if (accept_armed_ && !accept_cancelled_) cancel(kAcceptTag);
  if (wake_armed_) cancel(kWakeTag);
  int64_t until = clock_.monotonic_ms() + kTeardownMs;
  while ((zombies_ > 0 || accept_armed_ || wake_armed_) && clock_.monotonic_ms() < until) {
    ring_->submit_and_wait(50);
    reap();
    clock_.update();
  }
  bury_closed();
  if (access_log_) access_log_->flush();
  RW_LOG_DEBUG(
      "uring worker: {} loop turns, {} submits, {} CQEs, {} CQ overflow flushes, {} receives re-armed after ENOBUFS ({})",
      turns_, ring_->enters(), cqes_, overflow_flushes_, starved_total_, ring_->mode());
  thread_.unbind();
}

void Proactor::reap() {
  io_uring* ring = ring_->get();
  for (;;) {
    // One batch: every CQE that is there (including any that handlers cause
    // to be posted meanwhile), then one CQ advance.
    unsigned head, n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      dispatch(cqe);
      ++n;
    }
    io_uring_cq_advance(ring, n);
    cqes_ += n;
    // More completions than the CQ holds wait on the kernel's overflow list
    // until asked for: move them into the room just freed, and go on.
    if (!io_uring_cq_has_overflow(ring)) return;
    if (overflow_flushes_++ == 0)
      RW_LOG_INFO("uring worker: a turn had more completions than the CQ holds; consider a larger --ring-cq");
    io_uring_get_events(ring);
  }
}

void Proactor::dispatch(io_uring_cqe* cqe) {
  uint64_t ud = io_uring_cqe_get_data64(cqe);
  switch (ud) {
    case kIgnoreTag: return;
    case kAcceptTag: return on_accept(cqe->res, cqe->flags & IORING_CQE_F_MORE);
    case kWakeTag: return on_wake();
    default: break;
  }
  auto* c = reinterpret_cast<Connection*>(ud & ~kOpMask);
  switch (ud & kOpMask) {
    case kRecv: return on_recv(c, cqe->res, cqe->flags);
    case kSend: return on_send(c, cqe->res);
    case kPollOut: return on_poll_out(c, cqe->res);
  }
}

void Proactor::submit_accept() {
  // Multishot: one SQE accepts every connection until it is cancelled. The
  // peer address cannot come with it (one address buffer would be shared by
  // all completions), so it is asked for only when the access log needs it.
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_multishot_accept(sqe, listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, kAcceptTag);
  accept_armed_ = true;
  accept_cancelled_ = false;
}

void Proactor::on_accept(int res, bool more) {
  if (!more) accept_armed_ = false;
  if (res >= 0) {
    if (stopping_) {
      ::close(res);  // as the kernel does with the backlog when the listener closes
      return;
    }
    if (!waiting_.empty() || !budget_.try_take()) {
      // Accepted while the cancel at the limit was on its way: the client
      // waits, as it would in the backlog; closing would reset it.
      waiting_.emplace_back(res);
      return;
    }
    start_conn(res);
    return;
  }
  if (res == -ECANCELED) return;
  if (!stopping_) {
    // Out of descriptors or memory: wait a moment instead of spinning on an
    // accept we cannot act on (nginx does the same).
    RW_LOG_WARN("accept: {}; pausing accepts for 100 ms", strerror(-res));
    accept_resume_ms_ = clock_.monotonic_ms() + 100;
  }
}

void Proactor::admit_waiting() {
  while (!waiting_.empty() && budget_.try_take()) {
    start_conn(waiting_.front().release());
    waiting_.pop_front();
  }
}

void Proactor::start_conn(int fd) {
  auto* c = new Connection;
  c->fd.reset(fd);
  if (access_log_) {
    c->peer = std::make_unique<core::Endpoint>();
    c->peer->len = sizeof c->peer->addr;
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&c->peer->addr), &c->peer->len);
  }
  ++conns_;
  schedule(c, kHeader);
  submit_recv(c);
}

void Proactor::submit_wake() {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_read(sqe, wake_.get(), &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, kWakeTag);
  wake_armed_ = true;
}

void Proactor::on_wake() {
  wake_armed_ = false;
  // The loop reads stop_requested_ at the top of the next turn.
  if (!stop_requested_.load(std::memory_order_acquire)) submit_wake();
}

void Proactor::submit_recv(Connection* c) {
  // Multishot with buffer select: the kernel picks a buffer from the ring
  // only when bytes arrive, and keeps the receive armed after each one.
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_recv_multishot(sqe, c->fd.get(), nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = bufs_->group();
  io_uring_sqe_set_data64(sqe, c->tag(kRecv));
  c->recv_armed = true;
  c->recv_cancelled = false;
}

void Proactor::on_recv(Connection* c, int res, uint32_t flags) {
  if (res > 0) {
    auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    if (!c->closed) absorb(c, bufs_->data(bid), static_cast<size_t>(res));
    bufs_->give_back(bid);
  }
  // Without F_MORE the multishot receive has ended (EOF, error, ENOBUFS,
  // cancel, or the kernel's own reasons): it is re-armed if still wanted.
  if (!(flags & IORING_CQE_F_MORE)) {
    c->recv_armed = false;
    op_done(c);
  }
  if (c->closed) return;
  if (res > 0 || res == -ECANCELED) {
    drive(c);
  } else if (res == 0) {
    c->eof = true;
    drive(c);
  } else if (res == -ENOBUFS) {
    if (!c->starved) {
      c->starved = true;
      starved_.push_back(c);
      ++starved_total_;
    }
  } else {
    close_conn(c);
  }
}

void Proactor::absorb(Connection* c, const char* data, size_t n) {
  // After the final response nothing more will be read: drop it.
  if (c->lingering || c->session.closing()) return;
  if (c->in_len == 0) {
    // The common case: parse straight from the provided buffer, no copy.
    // Only what a request left incomplete is copied out, so the buffer can
    // go back to the kernel at once.
    core::OutQueue& q = output(c)->q;
    if (!q.full()) {
      size_t used = c->session.process({data, n}, q, services_, c->client());
      data += used;
      n -= used;
    }
    if (n == 0 || c->session.closing()) return;
  }
  if (!append_input(c, data, n)) close_conn(c);
}

bool Proactor::append_input(Connection* c, const char* data, size_t n) {
  size_t need = c->in_len + n;
  if (need > c->in_cap) {
    if (need > kInMax) return false;
    char* grown;
    size_t cap;
    if (!c->in && need <= kInBuf) {
      cap = kInBuf;
      if (!free_inputs_.empty()) {
        grown = free_inputs_.back().release();
        free_inputs_.pop_back();
      } else {
        grown = new char[kInBuf];
      }
    } else {
      // Only a pipelined burst behind a slow send gets here: the receive is
      // paused, but a few buffers may already be on their way.
      cap = std::max(need, size_t{c->in_cap} * 2);
      grown = new char[cap];
      if (c->in_len) memcpy(grown, c->in, c->in_len);
      if (c->in_cap == kInBuf)
        free_inputs_.emplace_back(c->in);
      else
        delete[] c->in;
    }
    c->in = grown;
    c->in_cap = static_cast<uint32_t>(cap);
  }
  memcpy(c->in + c->in_len, data, n);
  c->in_len = static_cast<uint32_t>(need);
  return true;
}

Output* Proactor::output(Connection* c) {
  if (!c->out) {
    if (!free_outputs_.empty()) {
      c->out = free_outputs_.back().release();
      free_outputs_.pop_back();
    } else {
      c->out = new Output;
    }
  }
  return c->out;
}

void Proactor::drive(Connection* c) {
  thread_.assert_here();
  for (;;) {
    size_t used = 0;
    bool was_full = false;
    if (c->in_len > 0 && !c->session.closing() && !c->lingering) {
      core::OutQueue& q = output(c)->q;
      was_full = q.full();
      if (!was_full) {
        used = c->session.process({c->in, c->in_len}, q, services_, c->client());
        c->in_len -= static_cast<uint32_t>(used);
        if (used && c->in_len) memmove(c->in, c->in + used, c->in_len);
      }
    }
    if (!c->sending && c->out && c->flight.len == 0) {
      core::OutQueue& q = c->out->q;
      if (q.segments() == 1 && !q.front_is_file() && !q.front_in_arena()) {
        core::OutQueue::Segment seg = q.pop_front();
        c->flight = {seg.data, seg.len, std::move(seg.hold)};
        release_buffers(c);
      }
    }
    if (c->output_queued() && !c->sending && !submit_send(c)) return;
    // A queue emptied without a send in flight (sendfile finished inline)
    // leaves room to parse the requests still buffered: go on while the
    // last round consumed requests or found the queue full, and stop at an
    // incomplete head.
    if ((used == 0 && !was_full) || c->sending || c->in_len == 0 || c->session.closing()) break;
  }

  if (c->sending || c->output_queued()) {
    if (c->timer.list != kWrite) schedule(c, kWrite);
  } else if (c->lingering) {
    // Waiting for the client's EOF, or the linger timeout.
    if (c->eof) {
      close_conn(c);
      return;
    }
  } else if (c->session.closing() || c->eof || stopping_) {
    // On a stop, every connection ends at its first idle moment.
    finish(c);
    if (c->closed) return;
  } else {
    settle_timer(c);
  }

  // Backpressure: while a send is in flight and requests pile up behind
  // it, the receive is cancelled and the bytes wait in the kernel.
  bool want_recv = !c->eof && !(c->sending && c->in_len >= kInPause);
  if (want_recv && !c->recv_armed && !c->starved) {
    submit_recv(c);
  } else if (!want_recv && c->recv_armed && !c->recv_cancelled) {
    c->recv_cancelled = true;
    cancel(c->tag(kRecv));
  }
}

void Proactor::settle_timer(Connection* c) {
  // Progress (a head completed, body bytes consumed) restarts the phase's
  // timer; a timeout then measures a stall, not a busy connection's age.
  bool progressed = c->session.take_progress();
  switch (c->session.phase()) {
    case core::HttpSession::Phase::Body:
      if (progressed || c->timer.list != kBody) schedule(c, kBody);
      return;
    case core::HttpSession::Phase::Head:
      if (progressed || c->timer.list != kHeader) schedule(c, kHeader);
      return;
    case core::HttpSession::Phase::Idle:
      if (c->in_len > 0) {
        if (progressed || c->timer.list != kHeader) schedule(c, kHeader);
        return;
      }
      release_buffers(c);
      schedule(c, kIdle);
      return;
  }
}

void Proactor::finish(Connection* c) {
  if (c->eof) {
    close_conn(c);
    return;
  }
  // Everything is sent. Half-close and drain whatever the client still
  // sends, so that closing with unread input does not make the kernel reset
  // the connection and destroy the answer before the client reads it.
  c->in_len = 0;
  release_buffers(c);
  ::shutdown(c->fd.get(), SHUT_WR);
  c->lingering = true;
  schedule(c, kLinger);
}

bool Proactor::submit_send(Connection* c) {
  if (c->flight.len > 0) {
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_send(sqe, c->fd.get(), c->flight.data, c->flight.len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, c->tag(kSend));
    c->sending = true;
    return true;
  }
  Output& o = *c->out;
  core::OutQueue& q = o.q;
  while (!q.empty()) {
    if (q.front_is_file()) {
      // File ranges go out with sendfile(2) from the loop while the socket
      // takes them; when it is full, a POLLOUT poll says when to go on.
      // (See proactor/README.md for why not splice or reads into buffers.)
      const auto& s = q.front();
      off_t off = s.file_offset;
      ssize_t n = ::sendfile(c->fd.get(), s.file_fd, &off, s.len);
      if (n > 0) {
        q.consume(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        submit_poll_out(c);
        return true;
      }
      close_conn(c);  // an error, or the file shrank under us: the framing is lost
      return false;
    }
    // One send in flight per connection: two could complete out of order
    // when the socket buffer fills.
    size_t cnt = q.fill_iovec(o.iov.data(), o.iov.size());
    io_uring_sqe* sqe = ring_->sqe();
    if (cnt == 1) {
      io_uring_prep_send(sqe, c->fd.get(), o.iov[0].iov_base, o.iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      o.msg = {};
      o.msg.msg_iov = o.iov.data();
      o.msg.msg_iovlen = cnt;
      io_uring_prep_sendmsg(sqe, c->fd.get(), &o.msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, c->tag(kSend));
    c->sending = true;
    return true;
  }
  return true;
}

void Proactor::on_send(Connection* c, int res) {
  c->sending = false;
  op_done(c);
  if (c->closed) return;
  if (res == -EAGAIN) {
    // Not an error. io_uring retries a send that finds the socket full
    // after polling it, but a wake-up that is not writability (the FIN of a
    // client that half-closed wakes every waiter on the socket, whatever
    // they wait for) makes it retry too early; a request already polled
    // once then goes to an io-wq worker, whose "blocking" retry of a socket
    // opened O_NONBLOCK fails with EAGAIN again, and that is final. The
    // sockets stay nonblocking for the inline sendfile(2), so wait for
    // POLLOUT here and send the same bytes again.
    submit_poll_out(c);
    return;
  }
  if (res <= 0) {  // EPIPE, ECONNRESET, ...: the client is gone
    close_conn(c);
    return;
  }
  // A short send leaves the rest queued; drive() sends it next. A flight,
  // when there is one, is always what was sent: it is older than the queue.
  auto n = static_cast<size_t>(res);
  if (c->flight.len > 0) {
    c->flight.data += n;
    c->flight.len -= n;
    if (c->flight.len == 0) c->flight.hold.reset();
  } else {
    c->out->q.consume(n);
  }
  if (c->timer.list == kWrite) schedule(c, kWrite);  // progress restarts the send timeout
  drive(c);
}

void Proactor::submit_poll_out(Connection* c) {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_poll_add(sqe, c->fd.get(), POLLOUT);
  io_uring_sqe_set_data64(sqe, c->tag(kPollOut));
  c->sending = true;
}

void Proactor::on_poll_out(Connection* c, int res) {
  c->sending = false;
  op_done(c);
  if (c->closed) return;
  if (res < 0) {
    close_conn(c);
    return;
  }
  drive(c);
}

void Proactor::cancel(uint64_t user_data) {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, kIgnoreTag);
}

void Proactor::op_done(Connection* c) {
  if (c->closed && !c->in_flight()) {
    --zombies_;
    graveyard_.push_back(c);
  }
}

void Proactor::release_buffers(Connection* c) {
  if (c->in && c->in_len == 0) {
    if (c->in_cap == kInBuf)
      free_inputs_.emplace_back(c->in);
    else
      delete[] c->in;
    c->in = nullptr;
    c->in_cap = 0;
  }
  if (c->out && c->out->q.empty() && !c->sending) {
    free_outputs_.emplace_back(c->out);
    c->out = nullptr;
  }
}

void Proactor::bury_closed() {
  // Closed, and the kernel holds nothing of theirs any more: what they
  // still buffered is dropped and their buffers go back to the pools.
  for (Connection* c : graveyard_) {
    c->in_len = 0;
    if (c->out) c->out->q.clear();
    release_buffers(c);
    delete c;
  }
  graveyard_.clear();
}

void Proactor::schedule(Connection* c, int kind) { timers_.schedule(c, kind, clock_.monotonic_ms()); }

void Proactor::expire_timers() {
  int64_t now = clock_.monotonic_ms();
  for (int kind = 0; kind < 5; ++kind) {
    while (Connection* c = timers_.head(kind)) {
      if (c->timer.deadline > now) break;
      if (kind == kHeader && !c->lingering &&
          (c->session.phase() == core::HttpSession::Phase::Head || c->in_len > 0)) {
        // A slow or stalled request head: answer 408 and close.
        c->in_len = 0;
        c->session.fail(408, output(c)->q, services_, c->client());
        drive(c);
        if (!c->closed && c->timer.list == kHeader) close_conn(c);
        continue;
      }
      // Idle, a stalled body (its request is answered: no second response),
      // a send that made no progress, or the end of a linger.
      close_conn(c);
    }
  }
}

void Proactor::begin_stop() {
  stopping_ = true;
  stop_deadline_ms_ = clock_.monotonic_ms() + kStopGraceMs;
  // The accept holds its own reference to the listener, so the fd can close
  // now; the socket goes (and new connections are refused) once it is
  // cancelled.
  if (accept_armed_ && !accept_cancelled_) {
    cancel(kAcceptTag);
    accept_cancelled_ = true;
  }
  listener_.reset();
  waiting_.clear();
  // Idle connections, and new ones that have sent nothing yet, close now.
  // The others finish the answers they have queued and then close: requests
  // not parsed yet are dropped, as RFC 9112 section 9.3.2 lets a server do
  // (a pipelining client retries what was not answered).
  timers_.for_each(kIdle, [this](Connection* c) { close_conn(c); });
  std::vector<Connection*> active;
  for (int kind : {kHeader, kWrite, kBody})
    timers_.for_each(kind, [&active](Connection* c) { active.push_back(c); });
  for (Connection* c : active) {
    if (c->closed) continue;
    if (!c->session.mid_request() && c->in_len == 0 && c->timer.list == kHeader) {
      close_conn(c);
      continue;
    }
    c->session.set_closing();
    drive(c);
  }
}

void Proactor::close_conn(Connection* c) {
  thread_.assert_here();
  if (c->closed) return;
  c->closed = true;
  timers_.unlink(c);
  --conns_;
  budget_.give_back();
  if (c->in_flight()) {
    // Operations still hold the socket: cancel them all, and submit the
    // cancel before closing the fd, since the kernel finds them by fd. The
    // connection is freed when the last of their CQEs comes back.
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_cancel_fd(sqe, c->fd.get(), IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, kIgnoreTag);
    ring_->submit();
    ++zombies_;
  } else {
    graveyard_.push_back(c);
  }
  c->fd.reset();
}

}  // namespace ringwire::proactor
