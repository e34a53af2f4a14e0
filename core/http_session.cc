#include "core/http_session.h"

namespace ringwire::core {
namespace {

// Runs `answer` (the handler, then the access log) as the engine requires:
// as is on a worker that owns its handler, under the shared lock with the
// clock refreshed (and the log written at once) on the threads engine.
template <class F>
ResponseInfo answer_with(HttpServices& s, F&& answer) {
  if (!s.shared) return answer();
  std::lock_guard lock(s.shared->mutex);
  s.shared->clock.update();
  s.handler.cache().poll_changes();
  ResponseInfo info = answer();
  if (s.access_log) s.access_log->flush();
  return info;
}

}  // namespace

size_t HttpSession::skip_body(std::string_view in) {
  if (body_ == Body::Length) {
    size_t take = in.size() < body_left_ ? in.size() : static_cast<size_t>(body_left_);
    body_left_ -= take;
    if (body_left_ == 0) body_ = Body::None;
    return take;
  }
  size_t used = 0;
  switch (chunked_.feed(in, used)) {
    case http::ChunkedDecoder::Status::Done: body_ = Body::None; break;
    case http::ChunkedDecoder::Status::Error:
      // The body's framing is broken: nothing after it can be trusted.
      body_ = Body::None;
      closing_ = true;
      break;
    case http::ChunkedDecoder::Status::NeedMore: break;
  }
  return used;
}

size_t HttpSession::process(std::string_view in, OutQueue& out, HttpServices& s, const Endpoint& peer) {
  size_t consumed = 0;
  http::Request& req = s.request;
  while (!closing_ && consumed < in.size() && !out.full()) {
    std::string_view rest = in.substr(consumed);
    if (body_ != Body::None) {
      size_t used = skip_body(rest);
      if (used == 0) break;
      consumed += used;
      progress_ = true;
      continue;
    }
    // RFC 9112 section 2.2: a server SHOULD ignore at least one empty line
    // before a request line (a client's CRLF after a body). Such lines are
    // dropped, not held as the start of a head, so they never start a
    // header timeout.
    if (rest[0] == '\n' || (rest[0] == '\r' && rest.size() > 1 && rest[1] == '\n')) {
      consumed += rest[0] == '\n' ? 1 : 2;
      scanned_ = 0;
      continue;
    }
    http::ParseResult r = http::parse_request(rest, req, scanned_);
    if (r.status == http::ParseStatus::Incomplete) {
      scanned_ = rest.size();
      break;
    }
    scanned_ = 0;
    if (r.status == http::ParseStatus::Error) {
      answer_with(s, [&] {
        ResponseInfo info = s.handler.error(r.error, ConnectionMode::Close, out);
        if (s.access_log) s.access_log->record(peer, nullptr, info.status, info.body_bytes);
        return info;
      });
      closing_ = true;
      consumed = in.size();
      break;
    }
    consumed += r.consumed;
    progress_ = true;
    if (req.chunked) {
      body_ = Body::Chunked;
      chunked_.reset();
    } else if (req.content_length > 0) {
      body_ = Body::Length;
      body_left_ = req.content_length;
    }
    ConnectionMode mode = !req.keep_alive          ? ConnectionMode::Close
                          : req.version_minor == 0 ? ConnectionMode::KeepAlive
                                                   : ConnectionMode::Default;
    answer_with(s, [&] {
      ResponseInfo info = s.handler.serve(req, mode, out);
      if (s.access_log) s.access_log->record(peer, &req, info.status, info.body_bytes);
      return info;
    });
    if (mode == ConnectionMode::Close) closing_ = true;
  }
  return consumed;
}

void HttpSession::fail(int status, OutQueue& out, HttpServices& s, const Endpoint& peer) {
  answer_with(s, [&] {
    ResponseInfo info = s.handler.error(status, ConnectionMode::Close, out);
    if (s.access_log) s.access_log->record(peer, nullptr, info.status, info.body_bytes);
    return info;
  });
  closing_ = true;
}

}  // namespace ringwire::core
