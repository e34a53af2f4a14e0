#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringwire::core::http {

enum class Method : uint8_t { Get, Head, Post, Put, Delete, Options, Patch, Trace, Connect, Unknown };

struct Header {
  std::string_view name;
  std::string_view value;
};

inline constexpr size_t kMaxHeaders = 100;
inline constexpr size_t kMaxRequestLine = 8 * 1024;   // longer: 414
inline constexpr size_t kMaxHeaderBlock = 16 * 1024;  // longer, or more fields: 431
// The largest request head the parser can accept; engines size input buffers above it.
inline constexpr size_t kMaxHead = kMaxRequestLine + kMaxHeaderBlock + 4;

// A parsed request head. Every view points into the caller's bytes, so a
// Request is valid only while those bytes are. The fields the server acts on
// are pulled out during the single parsing pass.
struct Request {
  Method method = Method::Unknown;
  std::string_view method_name;
  std::string_view target;
  int version_minor = 1;  // HTTP/1.<minor>; later 1.x versions are read as 1.1

  // Host is validated (RFC 9112 section 3.2) but not kept: one document root
  // serves every name, so nothing would read it.
  std::string_view if_match;
  std::string_view if_unmodified_since;
  std::string_view if_none_match;
  std::string_view if_modified_since;
  std::string_view range;
  std::string_view if_range;
  std::string_view user_agent;
  std::string_view referer;

  uint64_t content_length = 0;
  bool has_content_length = false;
  bool chunked = false;
  bool keep_alive = true;  // after the HTTP/1.0 and 1.1 rules and Connection

  size_t header_count = 0;
  std::array<Header, kMaxHeaders> headers;

  // The request line without its line ending, for the access log.
  std::string_view request_line;
};

enum class ParseStatus : uint8_t { Complete, Incomplete, Error };

struct ParseResult {
  ParseStatus status;
  size_t consumed = 0;  // Complete: the head's length, line ending included
  int error = 0;        // Error: the HTTP status to answer (400, 414, 431, 501, 505)

  static ParseResult complete(size_t n) { return {ParseStatus::Complete, n, 0}; }
  static ParseResult incomplete() { return {ParseStatus::Incomplete, 0, 0}; }
  static ParseResult fail(int status) { return {ParseStatus::Error, 0, status}; }
};

// Parses one request head at the start of `buf`. Allocates nothing.
//
// `prev_len` is how many of these bytes were already seen by an earlier call
// that returned Incomplete: only the new bytes are searched for the end of the
// head, so a client that sends one byte at a time costs one short scan per
// byte instead of a full parse (picohttpparser's slowloris check).
//
// The request line is checked as soon as its line ending arrives, even while
// the head is incomplete, so a request line without a version (HTTP/0.9
// style: "GET /x") is refused at once instead of waiting for a blank line.
//
// Errors are for framing and syntax; whether the method or target can be
// served is the handler's call. After an Error the connection must be closed:
// the parser cannot know where the next request would start.
ParseResult parse_request(std::string_view buf, Request& out, size_t prev_len = 0) noexcept;

Method method_from(std::string_view name) noexcept;
std::string_view method_name(Method m) noexcept;

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace ringwire::core::http
