#include "proactor/loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/log.h"

namespace ringwire::proactor {
namespace {
// The SQ only has to hold one turn's submissions; when it fills, sqe()
// submits early. The CQ (--ring-cq, 16384 by default) holds a busy turn of
// thousands of connections; a turn with more completions than that is not
// lost: the kernel keeps the rest on its overflow list (IORING_FEAT_NODROP)
// and reap() flushes them in as it frees room.
constexpr unsigned kSqEntries = 1024;
constexpr uint16_t kBufferGroup = 0;
constexpr int64_t kStopGraceMs = 5000;
constexpr int64_t kTeardownMs = 1000;

// CQE user_data: a Handler* with the operation in its three low bits
// (handlers are 8-aligned), or one of the small tags below, which no heap
// pointer can equal.
constexpr uint64_t kOpMask = 7;
constexpr uint64_t kIgnoreTag = 0;  // cancel requests: their own CQE says nothing we need
constexpr uint64_t kAcceptTag = 8;
constexpr uint64_t kWakeTag = 16;
}  // namespace

core::Result<std::unique_ptr<Loop>> Loop::create(const Options& options, core::ConnectionBudget& budget,
                                                 const std::array<int64_t, core::kTimerKinds>& timeouts,
                                                 core::Clock& clock) {
  auto ring = Ring::create(std::min(kSqEntries, options.cq_entries), options.cq_entries);
  if (!ring) return std::unexpected(ring.error());
  auto bufs = BufferRing::create((*ring)->get(), options.ring_buffers, kBufferGroup);
  if (!bufs) return std::unexpected(bufs.error());
  return std::unique_ptr<Loop>(
      new Loop(std::move(*ring), std::move(*bufs), budget, timeouts, clock, options.busy_poll_us));
}

Loop::Loop(std::unique_ptr<Ring> ring, std::unique_ptr<BufferRing> bufs, core::ConnectionBudget& budget,
           const std::array<int64_t, core::kTimerKinds>& timeouts, core::Clock& clock, uint32_t busy_poll_us)
    : clock_(clock),
      wake_(::eventfd(0, EFD_CLOEXEC)),
      ring_(std::move(ring)),
      bufs_(std::move(bufs)),
      budget_(budget),
      busy_(busy_poll_us) {
  if (!wake_) throw std::runtime_error("eventfd setup failed");
  for (int k = 0; k < core::kTimerKinds; ++k) timers_.set_timeout(k, timeouts[k]);
}

Loop::~Loop() {
  // run() returns with every handler gone; this covers a loop never run.
  while (Handler* h = timers_.any()) h->abort();
  bury_closed();
}

core::Result<BufferRing*> Loop::add_buffers(unsigned count, size_t size) {
  auto group = static_cast<uint16_t>(kBufferGroup + 1 + more_bufs_.size());
  auto b = BufferRing::create(ring_->get(), count, group, size);
  if (!b) return std::unexpected(b.error());
  more_bufs_.push_back(std::move(*b));
  return more_bufs_.back().get();
}

void Loop::request_stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t rc = ::write(wake_.get(), &one, sizeof one);
  (void)rc;
}

void Loop::run(core::Fd listener) {
  thread_.bind();
  listener_ = std::move(listener);
  ring_->enable();
  submit_wake();
  for (;;) {
    clock_.update();
    int64_t now = clock_.monotonic_ms();
    if (stop_requested_.load(std::memory_order_acquire) && !stopping_) begin_stop();
    if (stopping_ && (live_ == 0 || now >= stop_deadline_ms_)) break;

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
    if (!starved_.empty()) wait = 0;  // handlers to resume: do not sleep on the ring
    if (busy_.spinning()) wait = 0;
    ring_->submit_and_wait(wait);
    clock_.update();
    if (acceptor_) acceptor_->begin_turn();
    ++turns_;

    uint64_t cqes_before = cqes_;
    reap();
    busy_.after_wait(cqes_ != cqes_before);
    // Buffers used in the batch go back in one store; only then can the
    // receives that found the ring empty be re-armed without failing again.
    bufs_->publish();
    for (auto& b : more_bufs_) b->publish();
    starved_now_.swap(starved_);
    for (Handler* h : starved_now_) {
      h->starved = false;
      if (!h->closed) h->on_resume();
    }
    starved_now_.clear();
    expire_timers();
    if (acceptor_) acceptor_->end_turn();
    bury_closed();
  }

  // Whatever is still open after the grace period is closed; then wait
  // (bounded) for the kernel to give every operation back before the
  // handlers and buffers it may still point at are freed.
  while (Handler* h = timers_.any()) h->abort();
  waiting_.clear();
  if (accept_armed_ && !accept_cancelled_) cancel(kAcceptTag);
  if (wake_armed_) cancel(kWakeTag);
  int64_t until = clock_.monotonic_ms() + kTeardownMs;
  while ((zombies_ > 0 || accept_armed_ || wake_armed_) && clock_.monotonic_ms() < until) {
    ring_->submit_and_wait(50);
    reap();
    clock_.update();
  }
  bury_closed();
  if (acceptor_) acceptor_->end_turn();
  RW_LOG_DEBUG(
      "uring worker: {} loop turns, {} submits, {} CQEs, {} CQ overflow flushes, {} receives re-armed after ENOBUFS "
      "({})",
      turns_, ring_->enters(), cqes_, overflow_flushes_, starved_total_, ring_->mode());
  thread_.unbind();
}

void Loop::reap() {
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

void Loop::dispatch(io_uring_cqe* cqe) {
  uint64_t ud = io_uring_cqe_get_data64(cqe);
  switch (ud) {
    case kIgnoreTag: return;
    case kAcceptTag: return on_accept(cqe->res, cqe->flags & IORING_CQE_F_MORE);
    case kWakeTag: return on_wake();
    default: break;
  }
  auto* h = reinterpret_cast<Handler*>(ud & ~kOpMask);
  h->on_completion(static_cast<unsigned>(ud & kOpMask), cqe->res, cqe->flags);
  if (h->closed && !h->in_flight()) bury(h);
}

void Loop::submit_accept() {
  // Multishot: one SQE accepts every connection until it is cancelled. The
  // peer address cannot come with it (one address buffer would be shared by
  // all completions), so it is asked for only when the access log needs it.
  io_uring_sqe* s = ring_->sqe();
  io_uring_prep_multishot_accept(s, listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, kAcceptTag);
  accept_armed_ = true;
  accept_cancelled_ = false;
}

void Loop::on_accept(int res, bool more) {
  if (!more) accept_armed_ = false;
  if (res >= 0) {
    core::Fd fd(res);
    if (stopping_) return;  // closed, as the kernel does with the backlog when the listener closes
    if (!waiting_.empty() || !budget_.try_take()) {
      // Accepted while the cancel at the limit was on its way: the client
      // waits, as it would in the backlog; closing would reset it.
      waiting_.push_back(std::move(fd));
      return;
    }
    uint64_t before = live_;
    acceptor_->on_accept(std::move(fd));
    if (live_ == before) budget_.give_back();  // the acceptor refused it
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

void Loop::admit_waiting() {
  while (!waiting_.empty() && budget_.try_take()) {
    core::Fd fd = std::move(waiting_.front());
    waiting_.pop_front();
    uint64_t before = live_;
    acceptor_->on_accept(std::move(fd));
    if (live_ == before) budget_.give_back();
  }
}

void Loop::submit_wake() {
  io_uring_sqe* s = ring_->sqe();
  io_uring_prep_read(s, wake_.get(), &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(s, kWakeTag);
  wake_armed_ = true;
}

void Loop::on_wake() {
  wake_armed_ = false;
  // The loop reads stop_requested_ at the top of the next turn.
  if (!stop_requested_.load(std::memory_order_acquire)) submit_wake();
}

void Loop::cancel(uint64_t user_data) noexcept {
  io_uring_sqe* s = ring_->sqe();
  io_uring_prep_cancel64(s, user_data, 0);
  io_uring_sqe_set_data64(s, kIgnoreTag);
}

void Loop::starve(Handler* h) {
  if (h->starved) return;
  ++starved_total_;
  resume_later(h);
}

void Loop::resume_later(Handler* h) {
  if (h->starved) return;
  h->starved = true;
  starved_.push_back(h);
}

void Loop::schedule(Handler* h, int kind) noexcept {
  timers_.schedule(h, kind, clock_.monotonic_ms());
}

void Loop::retire(Handler* h) {
  thread_.assert_here();
  if (h->closed) return;
  h->closed = true;
  timers_.unlink(h);
  --live_;
  ++zombies_;
  budget_.give_back();
  if (!h->in_flight()) bury(h);
}

void Loop::bury(Handler* h) {
  if (h->buried) return;
  h->buried = true;
  --zombies_;
  graveyard_.push_back(h);
}

void Loop::bury_closed() {
  // Closed, and the kernel holds nothing of theirs any more. A starved one
  // may still be listed for on_resume(): it was skipped there as closed.
  if (graveyard_.empty()) return;
  std::erase_if(starved_, [](Handler* h) { return h->closed; });
  for (Handler* h : graveyard_) delete h;
  graveyard_.clear();
}

void Loop::expire_timers() {
  timers_.expire(
      clock_.monotonic_ms(), [](Handler* h, int kind) { h->on_timeout(kind); }, [](Handler* h) { h->abort(); });
}

void Loop::begin_stop() {
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
  // Every handler decides: idle ones close now, the others finish what
  // they have in flight.
  for (Handler* h : timers_.snapshot())
    if (!h->closed) h->on_stop();
}

}  // namespace ringwire::proactor
