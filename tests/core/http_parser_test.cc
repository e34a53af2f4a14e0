// Unit tests of the HTTP/1.x request-head parser (core/http_parser.h).

#include "core/http_parser.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
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
  ASSERT_EQ(r.status, ParseStatus::Complete)
      << "error=" << r.error << " input: " << std::string(buf.substr(0, 200));
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
  EXPECT_EQ(req->user_agent,
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
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
  std::string target = "/" + std::string(8000 - 14, 'a');  // "GET " + target + " HTTP/1.1"
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

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpParserBody,
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
        KeepAliveCase{"http11_close", "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                      false},
        KeepAliveCase{"http11_close_upper",
                      "GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n", false},
        KeepAliveCase{"http11_keepalive",
                      "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", true},
        KeepAliveCase{"http11_list_close",
                      "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", false},
        KeepAliveCase{"http11_list_close_first",
                      "GET / HTTP/1.1\r\nHost: h\r\nConnection: close,foo\r\n\r\n", false},
        KeepAliveCase{"http11_list_no_close",
                      "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, closed\r\n\r\n", true},
        KeepAliveCase{"http11_upgrade", "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n",
                      true},
        KeepAliveCase{"http10_default", "GET / HTTP/1.0\r\n\r\n", false},
        KeepAliveCase{"http10_keepalive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
        KeepAliveCase{"http10_keepalive_case", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                      true},
        KeepAliveCase{"http10_list_keepalive",
                      "GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n", true},
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
  for (int i = 0; i < 10; ++i)
    buf += "X-Big" + std::to_string(i) + ": " + std::string(1800, 'v') + "\r\n";
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
        ErrorCase{"duplicate_cl",
                  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                  400},
        ErrorCase{"duplicate_cl_differs",
                  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                  400},
        ErrorCase{"cl_alpha", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400},
        ErrorCase{"cl_negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
        ErrorCase{"cl_two_numbers", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n",
                  400},
        ErrorCase{"cl_empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
        ErrorCase{"cl_overflow",
                  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                  400},
        ErrorCase{"missing_host_11", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
        ErrorCase{"missing_host_11_no_headers", "GET / HTTP/1.1\r\n\r\n", 400},
        ErrorCase{"http20", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        ErrorCase{"http09", "GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
        ErrorCase{"garbage_version", "GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400},
        ErrorCase{"lowercase_version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
        ErrorCase{"space_before_colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        ErrorCase{"space_before_colon_other", "GET / HTTP/1.1\r\nHost: h\r\nX-Foo : bar\r\n\r\n",
                  400},
        ErrorCase{"obs_fold_space", "GET / HTTP/1.1\r\nHost: h\r\nX-Foo: bar\r\n baz\r\n\r\n", 400},
        ErrorCase{"obs_fold_tab", "GET / HTTP/1.1\r\nHost: h\r\nX-Foo: bar\r\n\tbaz\r\n\r\n", 400},
        ErrorCase{"te_gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        ErrorCase{"header_without_colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
        ErrorCase{"empty_header_name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400},
        ErrorCase{"missing_target", "GET HTTP/1.1\r\nHost: h\r\n\r\n", 400}),
    [](const ::testing::TestParamInfo<ErrorCase>& i) { return std::string(i.param.name); });

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

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpMethod,
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
