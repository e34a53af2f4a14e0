#include "core/http_connection.h"

#include <algorithm>
#include <cstring>

namespace ringwire::core {

HttpConnection::~HttpConnection() {
  release();
}

void HttpConnection::set_peer(const Endpoint& peer) {
  if (worker_.access_log()) peer_ = std::make_unique<Endpoint>(peer);
}

const Endpoint& HttpConnection::client() const noexcept {
  static const Endpoint kUnknown{};
  return peer_ ? *peer_ : kUnknown;
}

Output& HttpConnection::output() {
  if (!out_) out_ = worker_.take_output();
  return *out_;
}

bool HttpConnection::absorb(const char* data, size_t n) {
  // After the final response nothing more will be read: drop it.
  if (lingering_ || session_.closing()) return true;
  if (in_len_ == 0) {
    // The common case: parse straight from the engine's buffer, no copy.
    // Only what a request left incomplete is copied out, so the buffer can
    // go back to the kernel at once.
    OutQueue& q = output().q;
    if (!q.full()) {
      size_t used = session_.process({data, n}, q, worker_.services(), client());
      data += used;
      n -= used;
    }
    if (n == 0 || session_.closing()) return true;
  }
  return append_input(data, n);
}

bool HttpConnection::append_input(const char* data, size_t n) {
  size_t need = in_len_ + n;
  if (need > in_cap_) {
    if (need > kInMax) return false;
    char* grown;
    size_t cap;
    if (!in_ && need <= HttpWorker::kInBuf) {
      cap = HttpWorker::kInBuf;
      grown = worker_.take_input();
    } else {
      // Only a pipelined burst behind a slow send gets here: the engine
      // stops receiving, but a few buffers may already be on their way.
      cap = std::max(need, size_t{in_cap_} * 2);
      grown = new char[cap];
      if (in_len_) memcpy(grown, in_, in_len_);
      if (in_cap_ == HttpWorker::kInBuf)
        worker_.give_input(in_);
      else
        delete[] in_;
    }
    in_ = grown;
    in_cap_ = static_cast<uint32_t>(cap);
  }
  memcpy(in_ + in_len_, data, n);
  in_len_ = static_cast<uint32_t>(need);
  return true;
}

char* HttpConnection::input_space(size_t& room) {
  if (!in_) {
    in_ = worker_.take_input();
    in_cap_ = HttpWorker::kInBuf;
  }
  room = in_cap_ - in_len_;
  return in_ + in_len_;
}

bool HttpConnection::parse() {
  if (in_len_ == 0 || session_.closing() || lingering_) return false;
  OutQueue& q = output().q;
  if (q.full()) return true;  // come back once the plan is sent
  size_t used = session_.process({in_, in_len_}, q, worker_.services(), client());
  in_len_ -= static_cast<uint32_t>(used);
  if (used && in_len_) memmove(in_, in_ + used, in_len_);
  return used > 0 && in_len_ > 0 && !session_.closing();
}

HttpConnection::Send HttpConnection::next_send() {
  Send s;
  if (flight_.iov_len == 0 && out_) {
    // A lone answer that lives outside the queue (a cached response) is
    // taken out of it, and the queue goes back to the pool while it is sent.
    OutQueue& q = out_->q;
    if (q.segments() == 1 && !q.front_is_file() && !q.front_in_arena()) {
      OutQueue::Segment seg = q.pop_front();
      flight_ = {const_cast<char*>(seg.data), seg.len};
      flight_hold_ = std::move(seg.hold);
      worker_.give_output(out_);
      out_ = nullptr;
    }
  }
  if (flight_.iov_len > 0) {
    s.iov = &flight_;
    s.iovcnt = 1;
    return s;
  }
  if (!out_ || out_->q.empty()) return s;
  OutQueue& q = out_->q;
  if (q.front_is_file()) {
    const OutQueue::Segment& f = q.front();
    s.file_fd = f.file_fd;
    s.file_offset = f.file_offset;
    s.file_len = f.len;
    return s;
  }
  s.iovcnt = q.fill_iovec(out_->iov.data(), out_->iov.size());
  s.iov = out_->iov.data();
  out_->msg = {};
  out_->msg.msg_iov = out_->iov.data();
  out_->msg.msg_iovlen = s.iovcnt;
  s.msg = &out_->msg;
  return s;
}

void HttpConnection::sent(size_t n) noexcept {
  // A flight, when there is one, is always what was sent: it is older than the queue.
  if (flight_.iov_len > 0) {
    flight_.iov_base = static_cast<char*>(flight_.iov_base) + n;
    flight_.iov_len -= n;
    if (flight_.iov_len == 0) flight_hold_.reset();
    return;
  }
  out_->q.consume(n);
}

HttpConnection::Settle HttpConnection::settle(bool stopping) {
  if (lingering_) return {eof_ ? Next::Close : Next::Read, kLingerTimer, false};
  if (eof_) return {Next::Close, kLingerTimer, false};
  // On a stop, every connection ends at its first idle moment.
  if (session_.closing() || stopping) return {Next::Linger, kLingerTimer, true};
  // Progress (a head completed, body bytes consumed) restarts the phase's
  // timer, so that a timeout measures a stall, not a busy connection's age.
  bool progressed = session_.take_progress();
  switch (session_.phase()) {
    case HttpSession::Phase::Body: return {Next::Read, kBodyTimer, progressed};
    case HttpSession::Phase::Head: return {Next::Read, kHeaderTimer, progressed};
    case HttpSession::Phase::Idle: break;
  }
  if (in_len_ > 0) return {Next::Read, kHeaderTimer, progressed};
  return_idle_buffers();
  return {Next::Read, kIdleTimer, true};
}

void HttpConnection::set_lingering() noexcept {
  lingering_ = true;
  in_len_ = 0;
  return_idle_buffers();
}

bool HttpConnection::on_timeout(int kind) {
  if (kind == kHeaderTimer && !lingering_ && (session_.phase() == HttpSession::Phase::Head || in_len_ > 0)) {
    // A slow or stalled request head: answer 408, then close.
    in_len_ = 0;
    session_.fail(408, output().q, worker_.services(), client());
    return true;
  }
  // Idle, a stalled body (its request is answered: no second response), a
  // send that made no progress, or the end of a linger.
  return false;
}

bool HttpConnection::stop() {
  if (!session_.mid_request() && in_len_ == 0 && !has_output() && !lingering_) return true;
  session_.set_closing();
  return false;
}

void HttpConnection::return_idle_buffers() noexcept {
  if (in_ && in_len_ == 0) {
    if (in_cap_ == HttpWorker::kInBuf)
      worker_.give_input(in_);
    else
      delete[] in_;
    in_ = nullptr;
    in_cap_ = 0;
  }
  if (out_ && out_->q.empty()) {
    worker_.give_output(out_);
    out_ = nullptr;
  }
}

void HttpConnection::release() noexcept {
  in_len_ = 0;
  if (out_) out_->q.clear();
  flight_ = {};
  flight_hold_.reset();
  return_idle_buffers();
}

}  // namespace ringwire::core
