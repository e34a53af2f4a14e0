#include "core/http_parser.h"

#include <cstring>

namespace ringwire::core::http {
namespace {

// RFC 9110 tchar.
constexpr bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

struct TcharTable {
  bool t[256] = {};
  constexpr TcharTable() {
    for (int c = 0; c < 256; ++c) t[c] = is_tchar(static_cast<unsigned char>(c));
  }
};
constexpr TcharTable kTchar;

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Finds the end of the head: the blank line, with CRLF or bare LF line ends.
// Returns the head's length including the blank line, or 0.
size_t find_head_end(std::string_view buf, size_t from) {
  const char* p = buf.data();
  size_t n = buf.size();
  for (size_t i = from; i < n;) {
    const void* nl = memchr(p + i, '\n', n - i);
    if (!nl) return 0;
    size_t j = static_cast<const char*>(nl) - p;
    // The line after this LF is empty when it starts with LF or CRLF.
    if (j + 1 < n && p[j + 1] == '\n') return j + 2;
    if (j + 2 < n && p[j + 1] == '\r' && p[j + 2] == '\n') return j + 3;
    i = j + 1;
  }
  return 0;
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = trim_ows(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool parse_uint(std::string_view v, uint64_t& out) {
  if (v.empty() || v.size() > 18) return false;
  uint64_t x = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  out = x;
  return true;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

Method method_from(std::string_view m) noexcept {
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::Get;
      if (m == "PUT") return Method::Put;
      break;
    case 4:
      if (m == "HEAD") return Method::Head;
      if (m == "POST") return Method::Post;
      break;
    case 5:
      if (m == "PATCH") return Method::Patch;
      if (m == "TRACE") return Method::Trace;
      break;
    case 6:
      if (m == "DELETE") return Method::Delete;
      break;
    case 7:
      if (m == "OPTIONS") return Method::Options;
      if (m == "CONNECT") return Method::Connect;
      break;
  }
  return Method::Unknown;
}

std::string_view method_name(Method m) noexcept {
  constexpr std::string_view kNames[] = {"GET",   "HEAD",  "POST",    "PUT",    "DELETE",
                                         "OPTIONS", "PATCH", "TRACE", "CONNECT", "UNKNOWN"};
  return kNames[static_cast<int>(m)];
}

ParseResult parse_request(std::string_view buf, Request& r, size_t prev_len) noexcept {
  size_t from = prev_len > 3 ? prev_len - 3 : 0;
  size_t head_len = find_head_end(buf, from);
  if (head_len == 0) {
    // Incomplete: enforce the limits on what has arrived so far, so a client
    // cannot make the server buffer without bound.
    const void* nl = memchr(buf.data(), '\n', buf.size() < kMaxRequestLine + 2 ? buf.size() : kMaxRequestLine + 2);
    if (!nl) {
      if (buf.size() > kMaxRequestLine + 1) return ParseResult::fail(414);
    } else if (buf.size() - (static_cast<const char*>(nl) - buf.data()) > kMaxHeaderBlock + 2) {
      return ParseResult::fail(431);
    }
    return ParseResult::incomplete();
  }
  // A head that starts with an empty line is not a request (RFC 9112 allows
  // ignoring one leading CRLF; engines never send that, so refuse it).
  const char* p = buf.data();
  const char* end = p + head_len;

  // Request line.
  const char* line_end = static_cast<const char*>(memchr(p, '\n', head_len));
  size_t line_len = line_end - p;
  if (line_len > kMaxRequestLine) return ParseResult::fail(414);
  std::string_view line(p, line_len);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  r.request_line = line;

  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos) return ParseResult::fail(400);
  std::string_view method = line.substr(0, sp1);
  for (char c : method)
    if (!kTchar.t[static_cast<unsigned char>(c)]) return ParseResult::fail(400);
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return ParseResult::fail(400);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return ParseResult::fail(400);
  }
  std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return ParseResult::fail(400);
  if (version[5] != '1') return ParseResult::fail(505);
  int minor = version[7] - '0';

  r.method_name = method;
  r.method = method_from(method);
  r.target = target;
  r.version_minor = minor >= 1 ? 1 : 0;
  r.host = r.if_none_match = r.if_modified_since = r.range = r.if_range = r.user_agent =
      r.referer = {};
  r.content_length = 0;
  r.has_content_length = false;
  r.chunked = false;
  r.header_count = 0;

  // Header fields.
  if (static_cast<size_t>(end - (line_end + 1)) > kMaxHeaderBlock + 2) return ParseResult::fail(431);
  bool has_host = false, has_te = false, conn_close = false, conn_keep = false;
  const char* q = line_end + 1;
  while (q < end) {
    const char* nl = static_cast<const char*>(memchr(q, '\n', end - q));
    std::string_view fl(q, nl - q);
    q = nl + 1;
    if (!fl.empty() && fl.back() == '\r') fl.remove_suffix(1);
    if (fl.empty()) break;  // the blank line
    if (fl.front() == ' ' || fl.front() == '\t') return ParseResult::fail(400);  // obs-fold
    size_t colon = fl.find(':');
    if (colon == 0 || colon == std::string_view::npos) return ParseResult::fail(400);
    std::string_view name = fl.substr(0, colon);
    for (char c : name)
      if (!kTchar.t[static_cast<unsigned char>(c)]) return ParseResult::fail(400);
    std::string_view value = trim_ows(fl.substr(colon + 1));
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7f) return ParseResult::fail(400);
    }
    if (r.header_count == kMaxHeaders) return ParseResult::fail(431);
    r.headers[r.header_count++] = {name, value};

    switch (lower(name[0])) {
      case 'h':
        if (iequals(name, "host")) {
          if (has_host) return ParseResult::fail(400);
          has_host = true;
          r.host = value;
        }
        break;
      case 'c':
        if (iequals(name, "content-length")) {
          if (r.has_content_length || !parse_uint(value, r.content_length))
            return ParseResult::fail(400);
          r.has_content_length = true;
        } else if (iequals(name, "connection")) {
          if (has_token(value, "close")) conn_close = true;
          if (has_token(value, "keep-alive")) conn_keep = true;
        }
        break;
      case 't':
        if (iequals(name, "transfer-encoding")) {
          if (has_te) return ParseResult::fail(400);
          has_te = true;
          if (!iequals(value, "chunked")) return ParseResult::fail(501);
          r.chunked = true;
        }
        break;
      case 'i':
        if (iequals(name, "if-none-match")) r.if_none_match = value;
        else if (iequals(name, "if-modified-since")) r.if_modified_since = value;
        else if (iequals(name, "if-range")) r.if_range = value;
        break;
      case 'r':
        if (iequals(name, "range")) r.range = value;
        else if (iequals(name, "referer")) r.referer = value;
        break;
      case 'u':
        if (iequals(name, "user-agent")) r.user_agent = value;
        break;
    }
  }
  // Framing: both lengths at once is the classic smuggling vector.
  if (r.has_content_length && r.chunked) return ParseResult::fail(400);
  if (r.chunked && r.version_minor == 0) return ParseResult::fail(400);
  if (r.version_minor == 1 && !has_host) return ParseResult::fail(400);
  r.keep_alive = r.version_minor == 1 ? !conn_close : (conn_keep && !conn_close);
  return ParseResult::complete(head_len);
}

}  // namespace ringwire::core::http
