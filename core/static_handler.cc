#include "core/static_handler.h"

#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <string>

#include "core/path.h"

namespace ringwire::core {
namespace {

// A decoded path that is written percent-encoded: every byte but unreserved
// ones and '/' becomes %XX, so that nothing in it can end a header line early
// (a decoded CR LF would otherwise inject header fields).
struct PercentEncoded {
  std::string_view bytes;
};

}  // namespace
}  // namespace ringwire::core

template <>
struct fmt::formatter<ringwire::core::PercentEncoded> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class Context>
  auto format(const ringwire::core::PercentEncoded& p, Context& ctx) const {
    auto it = ctx.out();
    for (char ch : p.bytes) {
      unsigned char c = static_cast<unsigned char>(ch);
      // ASCII only: isalnum() would follow the locale and might pass high bytes.
      bool plain = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
      if (plain || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
        *it++ = ch;
      } else {
        *it++ = '%';
        *it++ = "0123456789ABCDEF"[c >> 4];
        *it++ = "0123456789ABCDEF"[c & 15];
      }
    }
    return it;
  }
};

namespace ringwire::core {
namespace {

using http::Method;

constexpr std::string_view kConnectionLine[] = {"", "Connection: keep-alive\r\n", "Connection: close\r\n"};

std::string_view connection_line(ConnectionMode m) {
  return kConnectionLine[static_cast<int>(m)];
}

// Writes a formatted header block into the queue's arena. A block too long
// for the arena (only a redirect to a long path makes one) is formatted again
// into a string on the heap that the queue holds until it is sent.
template <class... Args>
void push_formatted(OutQueue& out, fmt::format_string<Args...> f, Args&&... args) {
  // The arguments are used twice, so they go on as lvalues, whose types no
  // longer match `f`'s; `f` was checked when push_formatted was called.
  fmt::string_view checked = f;
  char* p = out.arena_reserve();
  auto r = fmt::format_to_n(p, OutQueue::kMaxFormatted, fmt::runtime(checked), args...);
  if (r.size <= OutQueue::kMaxFormatted) {
    out.arena_commit(r.size);
    return;
  }
  auto block = std::make_shared<const std::string>(fmt::format(fmt::runtime(checked), args...));
  out.push_bytes(*block, block);
}

enum class EtagCompare { Strong, Weak };

// Whether an If-Match or If-None-Match value names `etag` (RFC 9110 section
// 13.1). The value is "*" or a list of entity-tags, [W/]"opaque", whose opaque
// part may hold commas, so the list is split at the quotes. Strong comparison
// (If-Match) needs both tags strong; weak comparison (If-None-Match) ignores
// W/. A list that breaks the syntax matches nothing from there on.
bool etag_matches(std::string_view list, std::string_view etag, EtagCompare how) {
  bool etag_weak = etag.starts_with("W/");
  if (etag_weak) etag.remove_prefix(2);
  for (;;) {
    while (!list.empty() && (list.front() == ' ' || list.front() == ',' || list.front() == '\t')) list.remove_prefix(1);
    if (list.empty()) return false;
    if (list.front() == '*') return true;  // any current representation: the file exists
    bool weak = list.starts_with("W/");
    if (weak) list.remove_prefix(2);
    if (list.empty() || list.front() != '"') return false;
    size_t close = list.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (list.substr(0, close + 1) == etag && (how == EtagCompare::Weak || (!weak && !etag_weak))) return true;
    list.remove_prefix(close + 1);
  }
}

bool parse_u64(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && p == s.data() + s.size();
}

enum class RangeResult { None, Ok, Unsatisfiable };

// One "bytes=first-last", "bytes=first-" or "bytes=-suffix". Several ranges
// or a syntax error mean the header is ignored and the whole file is sent,
// which RFC 9110 section 14.2 allows.
RangeResult parse_range(std::string_view h, uint64_t size, uint64_t& first, uint64_t& last) {
  if (!h.starts_with("bytes=")) return RangeResult::None;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return RangeResult::None;
  size_t dash = h.find('-');
  if (dash == std::string_view::npos) return RangeResult::None;
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  if (a.empty()) {
    uint64_t suffix;
    if (!parse_u64(b, suffix)) return RangeResult::None;
    if (suffix == 0 || size == 0) return RangeResult::Unsatisfiable;
    first = suffix >= size ? 0 : size - suffix;
    last = size - 1;
    return RangeResult::Ok;
  }
  if (!parse_u64(a, first)) return RangeResult::None;
  if (b.empty()) {
    last = size ? size - 1 : 0;
  } else {
    if (!parse_u64(b, last) || last < first) return RangeResult::None;
    if (last >= size) last = size ? size - 1 : 0;
  }
  if (first >= size) return RangeResult::Unsatisfiable;
  return RangeResult::Ok;
}

std::string_view error_body(int status) {
  switch (status) {
#define RW_BODY(code, text) \
  case code:                \
    return "<html><head><title>" #code " " text "</title></head><body><h1>" #code " " text "</h1></body></html>\n";
    RW_BODY(400, "Bad Request")
    RW_BODY(403, "Forbidden")
    RW_BODY(404, "Not Found")
    RW_BODY(405, "Method Not Allowed")
    RW_BODY(408, "Request Timeout")
    RW_BODY(412, "Precondition Failed")
    RW_BODY(413, "Content Too Large")
    RW_BODY(414, "URI Too Long")
    RW_BODY(416, "Range Not Satisfiable")
    RW_BODY(431, "Request Header Fields Too Large")
    RW_BODY(500, "Internal Server Error")
    RW_BODY(501, "Not Implemented")
    RW_BODY(503, "Service Unavailable")
    RW_BODY(505, "HTTP Version Not Supported")
#undef RW_BODY
  }
  return "<html><body>error</body></html>\n";
}

}  // namespace

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

StaticHandler::StaticHandler(int root_fd, const CacheLimits& limits, const Clock& clock)
    : clock_(clock), cache_(root_fd, limits, clock) {}

ResponseInfo StaticHandler::error(int status, ConnectionMode mode, OutQueue& out, bool head_only) {
  std::string_view body = error_body(status);
  std::string_view allow = status == 405 ? "Allow: GET, HEAD\r\n" : "";
  push_formatted(out,
                 "HTTP/1.1 {} {}\r\nServer: ringwire\r\nDate: {}\r\n"
                 "Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n{}{}\r\n",
                 status, reason_phrase(status), clock_.http_date(), body.size(), allow, connection_line(mode));
  if (!head_only) out.push_static(body);
  return {status, head_only ? 0 : body.size()};
}

ResponseInfo StaticHandler::serve(const http::Request& req, ConnectionMode mode, OutQueue& out) {
  bool head = req.method == Method::Head;
  if (req.method != Method::Get && !head) return error(req.method == Method::Unknown ? 501 : 405, mode, out);

  std::string_view target = req.target;
  if (!target.starts_with('/')) {
    // absolute-form (RFC 9112 3.2.2): keep only the path.
    size_t scheme = target.find("://");
    if (scheme == std::string_view::npos) return error(400, mode, out, head);
    size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  char path[http::kMaxRequestLine + 1];
  size_t path_len = 0;
  if (target.size() > http::kMaxRequestLine || normalize_target(target, path, path_len) != PathStatus::Ok)
    return error(400, mode, out, head);

  FileCache::Lookup found = cache_.get({path, path_len});
  switch (found.status) {
    case FileCache::Status::Ok: break;
    case FileCache::Status::NotFound: return error(404, mode, out, head);
    case FileCache::Status::Forbidden: return error(403, mode, out, head);
    case FileCache::Status::Error: return error(500, mode, out, head);
    case FileCache::Status::Redirect: return redirect({path, path_len}, mode, out, head);
  }
  const FileEntry& e = *found.entry;

  // Preconditions in the order of RFC 9110 section 13.2.2: If-Match, else
  // If-Unmodified-Since (412); then If-None-Match, else If-Modified-Since
  // (304); If-Range is judged with the Range in serve_file. A date that does
  // not parse is ignored, as section 13.1.4 asks.
  if (!req.if_match.empty()) {
    if (!etag_matches(req.if_match, e.meta->etag, EtagCompare::Strong)) return error(412, mode, out, head);
  } else if (!req.if_unmodified_since.empty()) {
    time_t since;
    if (parse_http_date(req.if_unmodified_since, since) && e.meta->mtime.tv_sec > since)
      return error(412, mode, out, head);
  }
  if (!req.if_none_match.empty()) {
    if (etag_matches(req.if_none_match, e.meta->etag, EtagCompare::Weak)) return not_modified(e, mode, out);
  } else if (!req.if_modified_since.empty()) {
    time_t since;
    if (parse_http_date(req.if_modified_since, since) && e.meta->mtime.tv_sec <= since)
      return not_modified(e, mode, out);
  }
  return serve_file(req, e, found.entry, mode, out);
}

ResponseInfo StaticHandler::serve_file(const http::Request& req, const FileEntry& e,
                                       const std::shared_ptr<const FileEntry>& hold, ConnectionMode mode,
                                       OutQueue& out) {
  bool head = req.method == Method::Head;
  uint64_t first = 0, last = 0;
  RangeResult range = RangeResult::None;
  if (!req.range.empty() && !head &&
      (req.if_range.empty() || req.if_range == e.meta->etag || req.if_range == e.meta->last_modified))
    range = parse_range(req.range, e.meta->size, first, last);

  if (range == RangeResult::Unsatisfiable) {
    std::string_view body = error_body(416);
    push_formatted(out,
                   "HTTP/1.1 416 Range Not Satisfiable\r\nServer: ringwire\r\nDate: {}\r\n"
                   "Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n"
                   "Content-Range: bytes */{}\r\n{}\r\n",
                   clock_.http_date(), body.size(), e.meta->size, connection_line(mode));
    out.push_static(body);
    return {416, body.size()};
  }
  if (range == RangeResult::Ok) {
    uint64_t len = last - first + 1;
    push_formatted(out,
                   "HTTP/1.1 206 Partial Content\r\nServer: ringwire\r\nDate: {}\r\n"
                   "Content-Type: {}\r\nContent-Length: {}\r\nContent-Range: bytes {}-{}/{}\r\n"
                   "Last-Modified: {}\r\nETag: {}\r\n{}\r\n",
                   clock_.http_date(), e.meta->mime, len, first, last, e.meta->size, e.meta->last_modified,
                   e.meta->etag, connection_line(mode));
    if (e.meta->whole)
      out.push_bytes(e.body().substr(first, len), hold);
    else
      out.push_file(e.meta->fd.get(), static_cast<off_t>(first), len, hold);
    return {206, len};
  }

  // 200. The cached block ends in the blank line; for the default mode it
  // goes out as is, header and body in one piece. Otherwise the Connection
  // line is slipped in before the blank line, still without copying.
  std::string_view header = e.header_block();
  if (mode == ConnectionMode::Default) {
    if (e.meta->whole && !head) {
      out.push_bytes(e.response, hold);
      return {200, e.meta->size};
    }
    out.push_bytes(header, hold);
  } else {
    out.push_bytes(header.substr(0, header.size() - 2), hold);
    out.push_static(mode == ConnectionMode::Close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
  }
  if (head) return {200, 0};
  if (e.meta->whole)
    out.push_bytes(e.body(), hold);
  else
    out.push_file(e.meta->fd.get(), 0, e.meta->size, hold);
  return {200, e.meta->size};
}

ResponseInfo StaticHandler::not_modified(const FileEntry& e, ConnectionMode mode, OutQueue& out) {
  push_formatted(out,
                 "HTTP/1.1 304 Not Modified\r\nServer: ringwire\r\nDate: {}\r\n"
                 "Last-Modified: {}\r\nETag: {}\r\n{}\r\n",
                 clock_.http_date(), e.meta->last_modified, e.meta->etag, connection_line(mode));
  return {304, 0};
}

ResponseInfo StaticHandler::redirect(std::string_view path, ConnectionMode mode, OutQueue& out, bool head) {
  // The path can be as long as a request line, and three times that once
  // encoded: push_formatted takes such a block to the heap, so every
  // directory that can be asked for can be redirected to.
  std::string_view body = "<html><body>moved</body></html>\n";
  push_formatted(out,
                 "HTTP/1.1 301 Moved Permanently\r\nServer: ringwire\r\nDate: {}\r\n"
                 "Location: /{}/\r\nContent-Type: text/html; charset=utf-8\r\n"
                 "Content-Length: {}\r\n{}\r\n",
                 clock_.http_date(), PercentEncoded{path}, body.size(), connection_line(mode));
  if (!head) out.push_static(body);
  return {301, head ? 0 : body.size()};
}

}  // namespace ringwire::core
