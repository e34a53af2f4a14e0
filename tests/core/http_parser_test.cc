// Unit tests of the HTTP/1.x request-head parser (core/http_parser.h).

#include "core/http_parser.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace ringwire::core::http {
namespace {

constexpr std::string_view kBrowserGet =
    "GET /index.html?lang=en HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: http://example.com:8080/\r\n"
    "Connection: keep-alive\r\n"
    "If-None-Match: \"abc123\"\r\n"
    "If-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "\r\n";

constexpr std::string_view kWrkGet =
    "GET / HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "\r\n";

// Request is large (100 headers); keep it off the stack of each test frame.
std::unique_ptr<Request> make_request() {
  return std::make_unique<Request>();
}

ParseResult parse(std::string_view buf, Request& req, size_t prev_len = 0) {
  return parse_request(buf, req, prev_len);
}

// The value of the first header field called `name`, or empty.
std::string_view field(const Request& r, std::string_view name) {
  for (size_t i = 0; i < r.header_count; ++i)
    if (iequals(r.headers[i].name, name)) return r.headers[i].value;
  return {};
}

// Parses `buf` and expects an Error with the given status.
void expect_error(std::string_view buf, int status) {
  auto req = make_request();
  ParseResult r = parse(buf, *req);
  EXPECT_EQ(r.status, ParseStatus::Error) << "input: " << std::string(buf.substr(0, 200));
  EXPECT_EQ(r.error, status) << "input: " << std::string(buf.substr(0, 200));
}

// Parses `buf` and expects Complete with consumed == buf.size().
void expect_complete(std::string_view buf, Request& req) {
  ParseResult r = parse(buf, req);
  ASSERT_EQ(r.status, ParseStatus::Complete) << "error=" << r.error << " input: " << std::string(buf.substr(0, 200));
  EXPECT_EQ(r.consumed, buf.size());
}

// ---------------------------------------------------------------------------
// Valid requests

TEST(HttpParser, BrowserGet) {
  auto req = make_request();
  ParseResult r = parse(kBrowserGet, *req);
  ASSERT_EQ(r.status, ParseStatus::Complete) << "error=" << r.error;
  EXPECT_EQ(r.consumed, kBrowserGet.size());
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(req->method, Method::Get);
  EXPECT_EQ(req->method_name, "GET");
  EXPECT_EQ(req->target, "/index.html?lang=en");
  EXPECT_EQ(req->version_minor, 1);
  EXPECT_EQ(field(*req, "host"), "example.com:8080");
  EXPECT_EQ(req->user_agent, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
  EXPECT_EQ(req->referer, "http://example.com:8080/");
  EXPECT_EQ(req->if_none_match, "\"abc123\"");
  EXPECT_EQ(req->if_modified_since, "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_EQ(req->header_count, 10u);
  EXPECT_TRUE(req->keep_alive);
  EXPECT_FALSE(req->chunked);
  EXPECT_FALSE(req->has_content_length);
  EXPECT_EQ(req->content_length, 0u);
  EXPECT_EQ(req->request_line, "GET /index.html?lang=en HTTP/1.1");
  ASSERT_GE(req->header_count, 2u);
  EXPECT_EQ(req->headers[0].name, "Host");
  EXPECT_EQ(req->headers[0].value, "example.com:8080");
  EXPECT_EQ(req->headers[1].name, "User-Agent");
}

TEST(HttpParser, WrkGet) {
  auto req = make_request();
  ParseResult r = parse(kWrkGet, *req);
  ASSERT_EQ(r.status, ParseStatus::Complete) << "error=" << r.error;
  EXPECT_EQ(r.consumed, kWrkGet.size());
  EXPECT_EQ(req->method, Method::Get);
  EXPECT_EQ(req->target, "/");
  EXPECT_EQ(req->version_minor, 1);
  EXPECT_EQ(field(*req, "host"), "localhost:8080");
  EXPECT_EQ(req->header_count, 1u);
  EXPECT_TRUE(req->keep_alive);
  EXPECT_EQ(req->request_line, "GET / HTTP/1.1");
}

TEST(HttpParser, EveryStrictPrefixIsIncomplete) {
  for (std::string_view full : {kBrowserGet, kWrkGet}) {
    for (size_t n = 0; n < full.size(); ++n) {
      // Copy so the parser cannot read past the prefix into valid bytes.
      std::string prefix(full.substr(0, n));
      auto req = make_request();
      ParseResult r = parse(prefix, *req);
      EXPECT_EQ(r.status, ParseStatus::Incomplete)
          << "prefix length " << n << " of " << full.size() << " error=" << r.error;
    }
  }
}

TEST(HttpParser, ByteAtATimeWithPrevLen) {
  for (std::string_view full : {kBrowserGet, kWrkGet}) {
    size_t prev = 0;
    for (size_t n = 1; n <= full.size(); ++n) {
      std::string prefix(full.substr(0, n));
      auto req = make_request();
      ParseResult r = parse(prefix, *req, prev);
      if (n < full.size()) {
        ASSERT_EQ(r.status, ParseStatus::Incomplete) << "length " << n << " error=" << r.error;
        prev = n;
      } else {
        ASSERT_EQ(r.status, ParseStatus::Complete) << "error=" << r.error;
        EXPECT_EQ(r.consumed, full.size());
        EXPECT_EQ(req->method, Method::Get);
        EXPECT_FALSE(field(*req, "host").empty());
      }
    }
  }
}

TEST(HttpParser, ChunksOfVaryingSizeWithPrevLen) {
  // The end of the head ("\r\n\r\n") straddles call boundaries.
  for (size_t step : {2u, 3u, 5u, 7u}) {
    size_t prev = 0;
    bool done = false;
    for (size_t n = step;; n += step) {
      if (n > kBrowserGet.size()) n = kBrowserGet.size();
      std::string prefix(kBrowserGet.substr(0, n));
      auto req = make_request();
      ParseResult r = parse(prefix, *req, prev);
      if (n < kBrowserGet.size()) {
        ASSERT_EQ(r.status, ParseStatus::Incomplete) << "step " << step << " length " << n;
        prev = n;
      } else {
        ASSERT_EQ(r.status, ParseStatus::Complete) << "step " << step << " error=" << r.error;
        EXPECT_EQ(r.consumed, kBrowserGet.size());
        EXPECT_EQ(field(*req, "host"), "example.com:8080");
        done = true;
        break;
      }
    }
    EXPECT_TRUE(done);
  }
}

TEST(HttpParser, BareLfLineEndings) {
  constexpr std::string_view buf =
      "GET /a HTTP/1.1\n"
      "Host: h\n"
      "Accept: */*\n"
      "\n";
  auto req = make_request();
  expect_complete(buf, *req);
  EXPECT_EQ(req->target, "/a");
  EXPECT_EQ(field(*req, "host"), "h");
  EXPECT_EQ(req->header_count, 2u);
  EXPECT_EQ(req->request_line, "GET /a HTTP/1.1");
  EXPECT_EQ(req->headers[1].value, "*/*");
}

TEST(HttpParser, BareLfPrefixesIncomplete) {
  constexpr std::string_view buf = "GET /a HTTP/1.1\nHost: h\n\n";
  for (size_t n = 0; n < buf.size(); ++n) {
    std::string prefix(buf.substr(0, n));
    auto req = make_request();
    EXPECT_EQ(parse(prefix, *req).status, ParseStatus::Incomplete) << "length " << n;
  }
}

TEST(HttpParser, Pipelined) {
  std::string first(kWrkGet);
  std::string second = "HEAD /b HTTP/1.1\r\nHost: other\r\n\r\n";
  std::string both = first + second;

  auto req = make_request();
  ParseResult r = parse(both, *req);
  ASSERT_EQ(r.status, ParseStatus::Complete) << "error=" << r.error;
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(req->target, "/");
  EXPECT_EQ(field(*req, "host"), "localhost:8080");
  EXPECT_EQ(req->header_count, 1u);

  auto req2 = make_request();
  std::string_view rest = std::string_view(both).substr(r.consumed);
  ParseResult r2 = parse(rest, *req2);
  ASSERT_EQ(r2.status, ParseStatus::Complete) << "error=" << r2.error;
  EXPECT_EQ(r2.consumed, second.size());
  EXPECT_EQ(req2->method, Method::Head);
  EXPECT_EQ(req2->target, "/b");
  EXPECT_EQ(field(*req2, "host"), "other");
}

TEST(HttpParser, PipelinedWithPartialSecond) {
  std::string both = std::string(kWrkGet) + "GET /x HT";
  auto req = make_request();
  ParseResult r = parse(both, *req);
  ASSERT_EQ(r.status, ParseStatus::Complete) << "error=" << r.error;
  EXPECT_EQ(r.consumed, kWrkGet.size());
}

TEST(HttpParser, ReusedRequestIsReset) {
  // A session parses every request of a connection into the same Request.
  auto req = make_request();
  expect_complete(
      "POST /a HTTP/1.1\r\nHost: one\r\nConnection: close\r\nContent-Length: 3\r\n"
      "Range: bytes=0-1\r\n\r\n",
      *req);
  EXPECT_FALSE(req->keep_alive);
  EXPECT_TRUE(req->has_content_length);
  expect_complete("GET /b HTTP/1.1\r\nHost: two\r\n\r\n", *req);
  EXPECT_EQ(req->method, Method::Get);
  EXPECT_EQ(req->target, "/b");
  EXPECT_EQ(field(*req, "host"), "two");
  EXPECT_TRUE(req->keep_alive);
  EXPECT_FALSE(req->has_content_length);
  EXPECT_EQ(req->content_length, 0u);
  EXPECT_TRUE(req->range.empty());
  EXPECT_EQ(req->header_count, 1u);
}

TEST(HttpParser, Http10WithoutHost) {
  auto req = make_request();
  expect_complete("GET /x HTTP/1.0\r\n\r\n", *req);
  EXPECT_EQ(req->version_minor, 0);
  EXPECT_TRUE(field(*req, "host").empty());
  EXPECT_EQ(req->header_count, 0u);
  EXPECT_FALSE(req->keep_alive);
}

TEST(HttpParser, HeaderValueWhitespaceTrimmed) {
  auto req = make_request();
  expect_complete("GET / HTTP/1.1\r\nHost:   spaced.example  \t\r\nX-Empty:\r\n\r\n", *req);
  EXPECT_EQ(field(*req, "host"), "spaced.example");
  ASSERT_EQ(req->header_count, 2u);
  EXPECT_EQ(req->headers[1].name, "X-Empty");
  EXPECT_EQ(req->headers[1].value, "");
}

TEST(HttpParser, HeaderNamesCaseInsensitive) {
  auto req = make_request();
  expect_complete(
      "GET / HTTP/1.1\r\nhOST: h\r\ncontent-LENGTH: 7\r\nCONNECTION: CLOSE\r\n"
      "range: bytes=0-1\r\nIF-RANGE: \"e\"\r\n\r\n",
      *req);
  EXPECT_EQ(field(*req, "host"), "h");
  EXPECT_TRUE(req->has_content_length);
  EXPECT_EQ(req->content_length, 7u);
  EXPECT_FALSE(req->keep_alive);
  EXPECT_EQ(req->range, "bytes=0-1");
  EXPECT_EQ(req->if_range, "\"e\"");
}

TEST(HttpParser, UnknownMethodTokenParses) {
  auto req = make_request();
  expect_complete("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n", *req);
  EXPECT_EQ(req->method, Method::Unknown);
  EXPECT_EQ(req->method_name, "BREW");
  EXPECT_EQ(req->target, "/pot");
}

TEST(HttpParser, LaterMinorVersionReadAsHttp11) {
  auto req = make_request();
  expect_complete("GET / HTTP/1.2\r\nHost: h\r\n\r\n", *req);
  EXPECT_EQ(req->version_minor, 1);
  EXPECT_TRUE(req->keep_alive);
}

TEST(HttpParser, ExactlyMaxHeadersIsAccepted) {
  std::string buf = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (size_t i = 1; i < kMaxHeaders; ++i) buf += "X-H" + std::to_string(i) + ": v\r\n";
  buf += "\r\n";
  auto req = make_request();
  expect_complete(buf, *req);
  EXPECT_EQ(req->header_count, kMaxHeaders);
  EXPECT_EQ(req->headers[kMaxHeaders - 1].name, "X-H99");
}

TEST(HttpParser, LongButAllowedRequestLine) {
  // Request line of 8000 bytes (well under the 8 KiB limit).
  // Built with append: GCC 12 warns (-Wrestrict, a false positive) about
  // operator+ on a temporary here.
  std::string target = "/";
  target.append(8000 - 14, 'a');  // "GET " + target + " HTTP/1.1"
  std::string line = "GET " + target + " HTTP/1.1";
  ASSERT_EQ(line.size(), 8000u);
  std::string buf = line + "\r\nHost: h\r\n\r\n";
  auto req = make_request();
  expect_complete(buf, *req);
  EXPECT_EQ(req->target, target);
}

// ---------------------------------------------------------------------------
// Content-Length, Transfer-Encoding

struct BodyCase {
  const char* name;
  std::string_view headers;  // between the request line and the final empty line
  bool has_content_length;
  uint64_t content_length;
  bool chunked;
};

class HttpParserBody : public ::testing::TestWithParam<BodyCase> {};

TEST_P(HttpParserBody, Extracted) {
  const BodyCase& c = GetParam();
  std::string buf = "POST /upload HTTP/1.1\r\nHost: h\r\n" + std::string(c.headers) + "\r\n";
  auto req = make_request();
  expect_complete(buf, *req);
  EXPECT_EQ(req->method, Method::Post);
  EXPECT_EQ(req->has_content_length, c.has_content_length);
  EXPECT_EQ(req->content_length, c.content_length);
  EXPECT_EQ(req->chunked, c.chunked);
}

INSTANTIATE_TEST_SUITE_P(Cases, HttpParserBody,
                         ::testing::Values(BodyCase{"none", "", false, 0, false},
                                           BodyCase{"cl_zero", "Content-Length: 0\r\n", true, 0, false},
                                           BodyCase{"cl_small", "Content-Length: 42\r\n", true, 42, false},
                                           BodyCase{"cl_large", "Content-Length: 1234567890123\r\n", true,
                                                    1234567890123ull, false},
                                           BodyCase{"cl_ows", "Content-Length:   13  \r\n", true, 13, false},
                                           BodyCase{"chunked", "Transfer-Encoding: chunked\r\n", false, 0, true},
                                           BodyCase{"chunked_case", "transfer-encoding: Chunked\r\n", false, 0, true}),
                         [](const ::testing::TestParamInfo<BodyCase>& i) { return std::string(i.param.name); });

// ---------------------------------------------------------------------------
// keep_alive

struct KeepAliveCase {
  const char* name;
  std::string_view request;
  bool keep_alive;
};

class HttpParserKeepAlive : public ::testing::TestWithParam<KeepAliveCase> {};

TEST_P(HttpParserKeepAlive, Rule) {
  const KeepAliveCase& c = GetParam();
  auto req = make_request();
  expect_complete(c.request, *req);
  EXPECT_EQ(req->keep_alive, c.keep_alive);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpParserKeepAlive,
    ::testing::Values(
        KeepAliveCase{"http11_default", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
        KeepAliveCase{"http11_close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
        KeepAliveCase{"http11_close_upper", "GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", false},
        KeepAliveCase{"http11_keepalive", "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", true},
        KeepAliveCase{"http11_list_close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", false},
        KeepAliveCase{"http11_list_close_first", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close,foo\r\n\r\n", false},
        KeepAliveCase{"http11_list_no_close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, closed\r\n\r\n", true},
        KeepAliveCase{"http11_upgrade", "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n", true},
        KeepAliveCase{"http10_default", "GET / HTTP/1.0\r\n\r\n", false},
        KeepAliveCase{"http10_keepalive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        KeepAliveCase{"http10_keepalive_case", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
        KeepAliveCase{"http10_list_keepalive", "GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n", true},
        KeepAliveCase{"http10_close", "GET / HTTP/1.0\r\nConnection: close\r\n\r\n", false}),
    [](const ::testing::TestParamInfo<KeepAliveCase>& i) { return std::string(i.param.name); });

// ---------------------------------------------------------------------------
// Errors

struct ErrorCase {
  const char* name;
  std::string request;
  int status;
};

class HttpParserError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(HttpParserError, Status) {
  const ErrorCase& c = GetParam();
  expect_error(c.request, c.status);
}

std::string many_headers(size_t n) {
  std::string buf = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (size_t i = 1; i < n; ++i) buf += "X-H" + std::to_string(i) + ": v\r\n";
  return buf + "\r\n";
}

std::string big_header_block() {
  // 10 fields of ~1.8 KB each: ~18 KB of header block, each line far below
  // any per-line limit but the block above 16 KiB.
  std::string buf = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 10; ++i) buf += "X-Big" + std::to_string(i) + ": " + std::string(1800, 'v') + "\r\n";
  return buf + "\r\n";
}

std::string long_request_line(bool complete) {
  std::string buf = "GET /" + std::string(9000, 'a') + " HTTP/1.1";
  if (complete) buf += "\r\nHost: h\r\n\r\n";
  return buf;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpParserError,
    ::testing::Values(
        ErrorCase{"uri_too_long", long_request_line(true), 414},
        ErrorCase{"uri_too_long_incomplete", long_request_line(false), 414},
        ErrorCase{"uri_too_long_no_line_end_at_all", "GET /" + std::string(kMaxHead, 'a'), 414},
        ErrorCase{"header_block_too_large", big_header_block(), 431},
        ErrorCase{"too_many_headers", many_headers(kMaxHeaders + 1), 431},
        ErrorCase{"far_too_many_headers", many_headers(kMaxHeaders + 50), 431},
        ErrorCase{"cl_and_te",
                  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  400},
        ErrorCase{"te_and_cl",
                  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 5\r\n\r\n",
                  400},
        ErrorCase{"duplicate_cl", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
        ErrorCase{"duplicate_cl_differs",
                  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
        ErrorCase{"cl_alpha", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400},
        ErrorCase{"cl_negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
        ErrorCase{"cl_two_numbers", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400},
        ErrorCase{"cl_empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
        ErrorCase{"cl_overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
        ErrorCase{"missing_host_11", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
        ErrorCase{"missing_host_11_no_headers", "GET / HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"http20", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        ErrorCase{"http09", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
        ErrorCase{"garbage_version", "GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400},
        ErrorCase{"lowercase_version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
        ErrorCase{"space_before_colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        ErrorCase{"space_before_colon_other", "GET / HTTP/1.1\r\nHost: h\r\nX-Foo : bar\r\n\r\n", 400},
        ErrorCase{"obs_fold_space", "GET / HTTP/1.1\r\nHost: h\r\nX-Foo: bar\r\n baz\r\n\r\n", 400},
        ErrorCase{"obs_fold_tab", "GET / HTTP/1.1\r\nHost: h\r\nX-Foo: bar\r\n\tbaz\r\n\r\n", 400},
        ErrorCase{"te_gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        ErrorCase{"header_without_colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
        ErrorCase{"empty_header_name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400},
        ErrorCase{"missing_target", "GET HTTP/1.1\r\nHost: h\r\n\r\n", 400}),
    [](const ::testing::TestParamInfo<ErrorCase>& i) { return std::string(i.param.name); });

// ---------------------------------------------------------------------------
// Host (RFC 9112 section 3.2, RFC 3986 section 3.2.2)

struct HostCase {
  const char* name;
  std::string_view value;
  bool valid;
};

class HttpParserHost : public ::testing::TestWithParam<HostCase> {};

TEST_P(HttpParserHost, Validated) {
  const HostCase& c = GetParam();
  std::string buf = "GET / HTTP/1.1\r\nHost: " + std::string(c.value) + "\r\n\r\n";
  auto req = make_request();
  ParseResult r = parse(buf, *req);
  if (c.valid) {
    EXPECT_EQ(r.status, ParseStatus::Complete) << "Host: " << c.value << " error=" << r.error;
  } else {
    EXPECT_EQ(r.status, ParseStatus::Error) << "Host: " << c.value;
    EXPECT_EQ(r.error, 400) << "Host: " << c.value;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpParserHost,
    ::testing::Values(
        HostCase{"name", "example.com", true}, HostCase{"name_port", "example.com:8080", true},
        HostCase{"empty", "", true}, HostCase{"empty_port", "example.com:", true}, HostCase{"only_colon", ":", true},
        HostCase{"only_port", ":80", true}, HostCase{"ipv4", "127.0.0.1", true},
        HostCase{"ipv4_port", "127.0.0.1:80", true},
        // Digits and dots that are no IPv4 address are still a reg-name.
        HostCase{"ipv4_like_reg_name", "999.1.1.1", true}, HostCase{"sub_delims", "a!$&'()*+,;=b", true},
        HostCase{"unreserved", "a-b.c_d~e", true}, HostCase{"pct_encoded", "a%2Db%c3%a9", true},
        HostCase{"ipv6_loopback", "[::1]", true}, HostCase{"ipv6_port", "[::1]:8080", true},
        HostCase{"ipv6_any", "[::]", true}, HostCase{"ipv6_full", "[2001:db8:0:0:0:0:0:1]", true},
        HostCase{"ipv6_elided_middle", "[2001:db8::1]", true}, HostCase{"ipv6_elided_end", "[fe80::]", true},
        HostCase{"ipv6_v4_tail", "[::ffff:192.0.2.1]", true},
        HostCase{"ipv6_full_v4_tail", "[1:2:3:4:5:6:1.2.3.4]", true}, HostCase{"ipvfuture", "[v1.fe80::a+en1]", true},
        HostCase{"space", "a b", false}, HostCase{"port_alpha", "x:abc", false}, HostCase{"port_sign", "x:-1", false},
        HostCase{"userinfo", "a@b", false}, HostCase{"list", "x, y", false},
        HostCase{"unclosed_literal", "[::1", false}, HostCase{"literal_trailer", "[::1]x", false},
        HostCase{"ipv6_unbracketed", "::1:80", false}, HostCase{"ipv6_two_elisions", "[1::2::3]", false},
        HostCase{"ipv6_nine_groups", "[1:2:3:4:5:6:7:8:9]", false},
        HostCase{"ipv6_seven_groups", "[1:2:3:4:5:6:7]", false},
        HostCase{"ipv6_elided_eight", "[1:2:3:4::5:6:7:8]", false}, HostCase{"ipv6_long_group", "[12345::1]", false},
        HostCase{"ipv6_not_hex", "[::g]", false}, HostCase{"ipv6_trailing_colon", "[1::2:]", false},
        HostCase{"ipv6_leading_colon", "[:1::2]", false}, HostCase{"ipv6_bad_v4_tail", "[::1.2.3.256]", false},
        HostCase{"ipv6_v4_leading_zero", "[::1.2.3.04]", false}, HostCase{"empty_literal", "[]", false},
        HostCase{"ipvfuture_no_dot", "[v1]", false}, HostCase{"pct_short", "a%2", false},
        HostCase{"pct_not_hex", "a%zz", false}, HostCase{"slash", "a/b", false}, HostCase{"question", "a?b", false},
        HostCase{"hash", "a#b", false}, HostCase{"quote", "a\"b", false}, HostCase{"high_byte", "caf\xc3\xa9", false}),
    [](const ::testing::TestParamInfo<HostCase>& i) { return std::string(i.param.name); });

TEST(HttpParser, HostIsTrimmedBeforeValidation) {
  auto req = make_request();
  expect_complete("GET / HTTP/1.1\r\nHost: \t[::1]:80 \r\n\r\n", *req);
}

// ---------------------------------------------------------------------------
// The request line is judged as soon as it is complete.

TEST_P(HttpParserError, StatusWhileHeadIncomplete) {
  // Every error of the request line is found as soon as its LF has arrived.
  const ErrorCase& c = GetParam();
  size_t lf = c.request.find('\n');
  if (lf == std::string::npos || c.request.size() <= lf + 1) return;  // no complete line
  std::string_view line(c.request.data(), lf + 1);
  auto req = make_request();
  ParseResult whole = parse(c.request, *req);
  ParseResult early = parse(line, *req);
  if (early.status == ParseStatus::Error) {
    EXPECT_EQ(early.error, whole.error);
  } else {
    EXPECT_EQ(early.status, ParseStatus::Incomplete);
  }
}

struct EarlyCase {
  const char* name;
  std::string bytes;  // a head that is not complete
  int status;         // 0: Incomplete
};

class HttpParserEarly : public ::testing::TestWithParam<EarlyCase> {};

TEST_P(HttpParserEarly, Status) {
  const EarlyCase& c = GetParam();
  auto req = make_request();
  ParseResult r = parse(c.bytes, *req);
  if (c.status == 0) {
    EXPECT_EQ(r.status, ParseStatus::Incomplete) << "error=" << r.error;
  } else {
    EXPECT_EQ(r.status, ParseStatus::Error);
    EXPECT_EQ(r.error, c.status);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpParserEarly,
    ::testing::Values(EarlyCase{"http09_crlf", "GET /x\r\n", 400}, EarlyCase{"http09_lf", "GET /x\n", 400},
                      EarlyCase{"http09_then_field", "GET /x\r\nHost: h\r\n", 400},
                      EarlyCase{"empty_line", "\r\n", 400}, EarlyCase{"bad_method", "G(T / HTTP/1.1\r\n", 400},
                      EarlyCase{"http2", "GET / HTTP/2.0\r\n", 505},
                      EarlyCase{"line_too_long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n", 414},
                      EarlyCase{"line_without_lf", "GET /x", 0}, EarlyCase{"line_before_lf", "GET /x\r", 0},
                      EarlyCase{"good_line", "GET /x HTTP/1.1\r\n", 0},
                      EarlyCase{"good_line_and_field", "GET /x HTTP/1.1\r\nHost: h\r\n", 0}),
    [](const ::testing::TestParamInfo<EarlyCase>& i) { return std::string(i.param.name); });

TEST(HttpParser, Http09LineFailsOnTheByteThatCompletesIt) {
  // Fed one byte at a time, as a session does with prev_len.
  constexpr std::string_view kLine = "GET /x\r\n";
  size_t prev = 0;
  for (size_t n = 1; n <= kLine.size(); ++n) {
    std::string prefix(kLine.substr(0, n));
    auto req = make_request();
    ParseResult r = parse(prefix, *req, prev);
    if (n < kLine.size()) {
      ASSERT_EQ(r.status, ParseStatus::Incomplete) << "length " << n;
      prev = n;
    } else {
      EXPECT_EQ(r.status, ParseStatus::Error);
      EXPECT_EQ(r.error, 400);
    }
  }
}

// ---------------------------------------------------------------------------
// Conditional fields

TEST(HttpParser, ConditionalFieldsExtracted) {
  auto req = make_request();
  expect_complete(
      "GET / HTTP/1.1\r\nHost: h\r\nif-match: \"a\", \"b\"\r\n"
      "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-None-Match: W/\"c\"\r\n"
      "If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\nIf-Range: \"d\"\r\n\r\n",
      *req);
  EXPECT_EQ(req->if_match, "\"a\", \"b\"");
  EXPECT_EQ(req->if_unmodified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(req->if_none_match, "W/\"c\"");
  EXPECT_EQ(req->if_modified_since, "Mon, 07 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(req->if_range, "\"d\"");
  expect_complete("GET / HTTP/1.1\r\nHost: h\r\n\r\n", *req);
  EXPECT_TRUE(req->if_match.empty());
  EXPECT_TRUE(req->if_unmodified_since.empty());
}

// ---------------------------------------------------------------------------
// Guard page: the parser never reads past the bytes it is given.

// Two pages, the second PROT_NONE: bytes placed to end at the boundary are
// followed by memory that faults when touched.
class GuardedBuffer {
 public:
  GuardedBuffer() : page_(static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    void* p = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<char*>(p);
    if (mprotect(base_ + page_, page_, PROT_NONE) != 0) {
      munmap(base_, 2 * page_);
      base_ = nullptr;
    }
  }
  ~GuardedBuffer() {
    if (base_) munmap(base_, 2 * page_);
  }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  bool ok() const { return base_ != nullptr; }
  size_t capacity() const { return page_; }
  // Copies `bytes` so that their last byte is the last readable one.
  std::string_view place(std::string_view bytes) {
    char* at = base_ + page_ - bytes.size();
    memcpy(at, bytes.data(), bytes.size());
    return {at, bytes.size()};
  }

 private:
  size_t page_;
  char* base_ = nullptr;
};

TEST(HttpParser, PrefixesAgainstGuardPage) {
  GuardedBuffer guard;
  ASSERT_TRUE(guard.ok());
  constexpr std::string_view kBareLf = "GET /a HTTP/1.1\nHost: [::1]:80\nIf-Match: *\n\n";
  for (std::string_view full : {kBrowserGet, kWrkGet, kBareLf}) {
    ASSERT_LE(full.size(), guard.capacity());
    for (size_t n = 0; n <= full.size(); ++n) {
      // Both a first call and a call that already saw all but the last byte.
      for (size_t prev : {size_t{0}, n > 0 ? n - 1 : 0}) {
        std::string_view bytes = guard.place(full.substr(0, n));
        auto req = make_request();
        ParseResult r = parse(bytes, *req, prev);
        if (n < full.size()) {
          ASSERT_EQ(r.status, ParseStatus::Incomplete) << "length " << n << " error=" << r.error;
        } else {
          ASSERT_EQ(r.status, ParseStatus::Complete) << "error=" << r.error;
          EXPECT_EQ(r.consumed, full.size());
        }
      }
    }
  }
}

TEST(HttpParser, ErrorsAgainstGuardPage) {
  // Invalid heads that end at the boundary, so every scan runs to the end.
  GuardedBuffer guard;
  ASSERT_TRUE(guard.ok());
  for (std::string_view bad :
       {"GET /x\r\n", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", "GET / HTTP/1.1\r\nHost: a%2\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:1.2.3.4\r\n\r\n", "GET / HTTP/1.1\r\nHost: x:\r\n"}) {
    std::string_view bytes = guard.place(bad);
    auto req = make_request();
    ParseResult r = parse(bytes, *req);
    EXPECT_NE(r.status, ParseStatus::Complete) << bad;
  }
}

// ---------------------------------------------------------------------------
// method_from / method_name / iequals

struct MethodCase {
  std::string_view name;
  Method method;
};

class HttpMethod : public ::testing::TestWithParam<MethodCase> {};

TEST_P(HttpMethod, FromAndName) {
  const MethodCase& c = GetParam();
  EXPECT_EQ(method_from(c.name), c.method);
  EXPECT_EQ(method_name(c.method), c.name);
}

INSTANTIATE_TEST_SUITE_P(Cases, HttpMethod,
                         ::testing::Values(MethodCase{"GET", Method::Get}, MethodCase{"HEAD", Method::Head},
                                           MethodCase{"POST", Method::Post}, MethodCase{"PUT", Method::Put},
                                           MethodCase{"DELETE", Method::Delete}, MethodCase{"OPTIONS", Method::Options},
                                           MethodCase{"PATCH", Method::Patch}, MethodCase{"TRACE", Method::Trace},
                                           MethodCase{"CONNECT", Method::Connect}));

TEST(HttpMethod, UnknownNames) {
  EXPECT_EQ(method_from("BREW"), Method::Unknown);
  EXPECT_EQ(method_from(""), Method::Unknown);
  EXPECT_EQ(method_from("GETX"), Method::Unknown);
  EXPECT_EQ(method_from("GE"), Method::Unknown);
  // Methods are case-sensitive (RFC 9110 section 9.1).
  EXPECT_EQ(method_from("get"), Method::Unknown);
}

TEST(HttpIequals, Basics) {
  EXPECT_TRUE(iequals("", ""));
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("HOST", "host"));
  EXPECT_FALSE(iequals("host", "hosts"));
  EXPECT_FALSE(iequals("host", "hast"));
  EXPECT_FALSE(iequals("a", ""));
}

}  // namespace
}  // namespace ringwire::core::http
