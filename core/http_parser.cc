#include "core/http_parser.h"

#include <cstring>

#include "core/ascii.h"

namespace ringwire::core::http {
namespace {

// RFC 9110 tchar.
constexpr bool is_tchar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// RFC 3986 unreserved and sub-delims: what a reg-name holds besides pct-encoded
// bytes, and so what a Host name may hold.
constexpr bool is_reg_name(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("-._~!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
}

// A 256-entry lookup table for a byte class, built at compile time so that
// the per-byte loops cost one load each.
struct CharTable {
  bool t[256] = {};
  constexpr explicit CharTable(bool (*in_class)(unsigned char)) {
    for (int c = 0; c < 256; ++c) t[c] = in_class(static_cast<unsigned char>(c));
  }
  bool operator[](char c) const { return t[static_cast<unsigned char>(c)]; }
};
constexpr CharTable kTchar(is_tchar);
constexpr CharTable kRegName(is_reg_name);

inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

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

// RFC 3986 dec-octet "." dec-octet "." dec-octet "." dec-octet: no leading
// zeros, each at most 255.
bool valid_ipv4(std::string_view s) {
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (s.empty() || s.front() != '.') return false;
      s.remove_prefix(1);
    }
    size_t n = 0;
    int value = 0;
    while (n < s.size() && n < 3 && s[n] >= '0' && s[n] <= '9') value = value * 10 + (s[n++] - '0');
    if (n == 0 || value > 255 || (n > 1 && s[0] == '0')) return false;
    s.remove_prefix(n);
  }
  return s.empty();
}

// RFC 3986 IPv6address: eight groups of one to four hex digits, one run of
// groups possibly shortened to "::", and the last two groups possibly written
// as an IPv4 address.
bool valid_ipv6(std::string_view s) {
  int groups = 0;
  bool elided = false;
  size_t i = 0;
  if (s.starts_with("::")) {
    elided = true;
    i = 2;
    if (s.size() == 2) return true;
  }
  for (;;) {
    size_t start = i;
    while (i < s.size() && i - start < 4 && hex_value(s[i]) >= 0) ++i;
    if (i < s.size() && s[i] == '.') {
      if (!valid_ipv4(s.substr(start))) return false;
      groups += 2;
      break;
    }
    if (i == start) return false;
    ++groups;
    if (i == s.size()) break;
    // Anything but a colon here is a stray byte or a fifth hex digit.
    if (s[i] != ':' || ++i == s.size()) return false;
    if (s[i] == ':') {
      if (elided) return false;
      elided = true;
      if (++i == s.size()) break;
    }
  }
  return elided ? groups <= 7 : groups == 8;
}

// RFC 3986 IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
bool valid_ipvfuture(std::string_view s) {
  if (s.size() < 4 || (s[0] | 0x20) != 'v') return false;
  size_t i = 1;
  while (i < s.size() && hex_value(s[i]) >= 0) ++i;
  if (i == 1 || i + 1 >= s.size() || s[i] != '.') return false;
  for (++i; i < s.size(); ++i)
    if (!kRegName[s[i]] && s[i] != ':') return false;
  return true;
}

// RFC 9112 section 3.2: Host = uri-host [ ":" port ], where uri-host is an
// IP-literal in brackets or a reg-name (an IPv4 address is also a reg-name),
// and port is any number of digits. An empty value is allowed: it is what a
// client sends when the target URI has no authority.
bool valid_host(std::string_view v) {
  size_t i = 0;
  if (!v.empty() && v[0] == '[') {
    size_t close = v.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view literal = v.substr(1, close - 1);
    if (!valid_ipv6(literal) && !valid_ipvfuture(literal)) return false;
    i = close + 1;
  } else {
    // The common case, a name of plain bytes, runs through the inner loop.
    for (;;) {
      while (i < v.size() && kRegName[v[i]]) ++i;
      if (i == v.size() || v[i] != '%') break;
      if (i + 2 >= v.size() || hex_value(v[i + 1]) < 0 || hex_value(v[i + 2]) < 0) return false;
      i += 3;
    }
  }
  if (i == v.size()) return true;
  if (v[i] != ':') return false;
  for (++i; i < v.size(); ++i)
    if (v[i] < '0' || v[i] > '9') return false;
  return true;
}

// What the header fields say about the message as a whole, gathered while
// they are parsed and judged once all have been seen.
struct FieldFacts {
  bool has_host = false;
  bool has_te = false;
  bool conn_close = false;
  bool conn_keep = false;
};

// RFC 9112 section 3: method SP request-target SP HTTP-version, given without
// its LF (a CR before it is allowed). Fills the request line's part of `r`.
// Returns 0, or the status to fail with.
int parse_request_line(std::string_view line, Request& r) {
  if (line.size() > kMaxRequestLine) return 414;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  r.request_line = line;

  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos) return 400;
  std::string_view method = line.substr(0, sp1);
  for (char c : method)
    if (!kTchar[c]) return 400;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return 400;
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return 400;
  }
  std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9')
    return 400;
  if (version[5] != '1') return 505;

  r.method_name = method;
  r.method = method_from(method);
  r.target = target;
  r.version_minor = version[7] >= '1' ? 1 : 0;
  return 0;
}

// The header fields between the request line and the end of the head
// (`end`, past the blank line). Returns 0, or the status to fail with.
int parse_header_fields(const char* q, const char* end, Request& r, FieldFacts& f) {
  r.if_match = r.if_unmodified_since = r.if_none_match = r.if_modified_since = r.range = r.if_range = r.user_agent =
      r.referer = {};
  r.content_length = 0;
  r.has_content_length = false;
  r.chunked = false;
  r.header_count = 0;

  if (static_cast<size_t>(end - q) > kMaxHeaderBlock + 2) return 431;
  while (q < end) {
    const char* nl = static_cast<const char*>(memchr(q, '\n', end - q));
    std::string_view fl(q, nl - q);
    q = nl + 1;
    if (!fl.empty() && fl.back() == '\r') fl.remove_suffix(1);
    if (fl.empty()) break;                                    // the blank line
    if (fl.front() == ' ' || fl.front() == '\t') return 400;  // obs-fold
    size_t colon = fl.find(':');
    if (colon == 0 || colon == std::string_view::npos) return 400;
    std::string_view name = fl.substr(0, colon);
    for (char c : name)
      if (!kTchar[c]) return 400;
    std::string_view value = trim_ows(fl.substr(colon + 1));
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7f) return 400;
    }
    if (r.header_count == kMaxHeaders) return 431;
    r.headers[r.header_count++] = {name, value};

    switch (lower(name[0])) {
      case 'h':
        if (iequals(name, "host")) {
          if (f.has_host || !valid_host(value)) return 400;
          f.has_host = true;
        }
        break;
      case 'c':
        if (iequals(name, "content-length")) {
          if (r.has_content_length || !parse_uint(value, r.content_length)) return 400;
          r.has_content_length = true;
        } else if (iequals(name, "connection")) {
          if (has_token(value, "close")) f.conn_close = true;
          if (has_token(value, "keep-alive")) f.conn_keep = true;
        }
        break;
      case 't':
        if (iequals(name, "transfer-encoding")) {
          if (f.has_te) return 400;
          f.has_te = true;
          if (!iequals(value, "chunked")) return 501;
          r.chunked = true;
        }
        break;
      case 'i':
        if (iequals(name, "if-match"))
          r.if_match = value;
        else if (iequals(name, "if-none-match"))
          r.if_none_match = value;
        else if (iequals(name, "if-modified-since"))
          r.if_modified_since = value;
        else if (iequals(name, "if-unmodified-since"))
          r.if_unmodified_since = value;
        else if (iequals(name, "if-range"))
          r.if_range = value;
        break;
      case 'r':
        if (iequals(name, "range"))
          r.range = value;
        else if (iequals(name, "referer"))
          r.referer = value;
        break;
      case 'u':
        if (iequals(name, "user-agent")) r.user_agent = value;
        break;
    }
  }
  return 0;
}

// RFC 9112 section 6.3: how the body is framed, and whether the connection
// persists. Returns 0, or the status to fail with.
int check_framing(Request& r, const FieldFacts& f) {
  // Both lengths at once is the classic smuggling vector.
  if (r.has_content_length && r.chunked) return 400;
  if (r.chunked && r.version_minor == 0) return 400;
  if (r.version_minor == 1 && !f.has_host) return 400;
  r.keep_alive = r.version_minor == 1 ? !f.conn_close : (f.conn_keep && !f.conn_close);
  return 0;
}

// The head is not complete yet: enforce the limits on what has arrived so
// far, so a client cannot make the server buffer without bound, and judge
// the request line once its LF is here.
ParseResult check_partial_head(std::string_view buf, Request& r, size_t prev_len) {
  size_t window = buf.size() < kMaxRequestLine + 2 ? buf.size() : kMaxRequestLine + 2;
  const void* nl = memchr(buf.data(), '\n', window);
  if (!nl) {
    if (buf.size() > kMaxRequestLine + 1) return ParseResult::fail(414);
    return ParseResult::incomplete();
  }
  size_t line_len = static_cast<const char*>(nl) - buf.data();
  // An LF among the bytes an earlier call saw was judged by that call, so a
  // client trickling header bytes pays for this check only once.
  if (line_len >= prev_len) {
    if (int status = parse_request_line(buf.substr(0, line_len), r)) return ParseResult::fail(status);
  }
  if (buf.size() - line_len > kMaxHeaderBlock + 2) return ParseResult::fail(431);
  return ParseResult::incomplete();
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
  constexpr std::string_view kNames[] = {"GET",     "HEAD",  "POST",  "PUT",     "DELETE",
                                         "OPTIONS", "PATCH", "TRACE", "CONNECT", "UNKNOWN"};
  return kNames[static_cast<int>(m)];
}

ParseResult parse_request(std::string_view buf, Request& r, size_t prev_len) noexcept {
  size_t from = prev_len > 3 ? prev_len - 3 : 0;
  size_t head_len = find_head_end(buf, from);
  if (head_len == 0) return check_partial_head(buf, r, prev_len);

  // A head that starts with an empty line is not a request (RFC 9112 allows
  // ignoring one leading CRLF; engines never send that, so refuse it).
  const char* p = buf.data();
  const char* line_end = static_cast<const char*>(memchr(p, '\n', head_len));
  if (int status = parse_request_line({p, static_cast<size_t>(line_end - p)}, r)) return ParseResult::fail(status);
  FieldFacts facts;
  if (int status = parse_header_fields(line_end + 1, p + head_len, r, facts)) return ParseResult::fail(status);
  if (int status = check_framing(r, facts)) return ParseResult::fail(status);
  return ParseResult::complete(head_len);
}

}  // namespace ringwire::core::http
