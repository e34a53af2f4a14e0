// StaticHandler and FileCache against a real temporary docroot: what is
// queued for each kind of request, and that a changed file is noticed.
#include "core/static_handler.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/http_parser.h"

namespace ringwire::core {
namespace {

namespace fs = std::filesystem;

class StaticHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rw-static-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "docs");
    put("page.html", "<p>hi</p>\n");
    put("docs/index.html", "docs\n");
    put("big.bin", std::string(100 * 1024, 'z'));
    root_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    handler_ = std::make_unique<StaticHandler>(root_.get(), CacheLimits{64 * 1024, 16, 1 << 20}, clock_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void put(const std::string& name, const std::string& body) {
    std::ofstream(dir_ / name, std::ios::binary | std::ios::trunc) << body;
  }

  // Parses `raw`, serves it, and returns everything queued (file ranges read back).
  std::string serve(const std::string& raw, ResponseInfo* info = nullptr,
                    ConnectionMode mode = ConnectionMode::Default) {
    OutQueue out;
    ResponseInfo i = serve_into(raw, out, mode);
    if (info) *info = i;
    return drain(out);
  }

  // Parses `raw` and queues the handler's answer into `out`.
  ResponseInfo serve_into(const std::string& raw, OutQueue& out, ConnectionMode mode = ConnectionMode::Default) {
    http::Request req;
    EXPECT_EQ(http::parse_request(raw, req).status, http::ParseStatus::Complete);
    return handler_->serve(req, mode, out);
  }

  static std::string drain(OutQueue& out) {
    std::string all;
    while (!out.empty()) {
      const auto& s = out.front();
      size_t n = s.len;
      if (s.is_file()) {
        std::string buf(n, '\0');
        EXPECT_EQ(::pread(s.file_fd, buf.data(), n, s.file_offset), static_cast<ssize_t>(n));
        all += buf;
      } else {
        all.append(s.data, n);
      }
      out.consume(n);
    }
    return all;
  }

  fs::path dir_;
  Fd root_;
  Clock clock_;
  std::unique_ptr<StaticHandler> handler_;
};

TEST_F(StaticHandlerTest, CachedHitIsOneSegmentWithWholeResponse) {
  OutQueue out;
  ResponseInfo info = serve_into("GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n", out);
  EXPECT_EQ(info.status, 200);
  EXPECT_EQ(info.body_bytes, 10u);
  ASSERT_EQ(out.segments(), 1u);  // status line, headers and body in one piece
  std::string all = drain(out);
  EXPECT_TRUE(all.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(all.find("Content-Length: 10\r\n"), std::string::npos);
  EXPECT_NE(all.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  EXPECT_TRUE(all.ends_with("\r\n\r\n<p>hi</p>\n"));
  EXPECT_EQ(all.find("Connection:"), std::string::npos);
}

TEST_F(StaticHandlerTest, ConnectionModesAndHead) {
  std::string close = serve("GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n", nullptr, ConnectionMode::Close);
  EXPECT_NE(close.find("Connection: close\r\n\r\n<p>hi</p>\n"), std::string::npos);
  std::string ka = serve("GET /page.html HTTP/1.0\r\n\r\n", nullptr, ConnectionMode::KeepAlive);
  EXPECT_NE(ka.find("Connection: keep-alive\r\n\r\n<p>hi</p>\n"), std::string::npos);
  ResponseInfo info;
  std::string head = serve("HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n", &info);
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
  EXPECT_NE(head.find("Content-Length: 10\r\n"), std::string::npos);
  EXPECT_EQ(info.body_bytes, 0u);
}

TEST_F(StaticHandlerTest, LargeFileGoesOutAsFileRange) {
  OutQueue out;
  serve_into("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", out);
  ASSERT_EQ(out.segments(), 2u);
  out.consume(out.front().len);
  ASSERT_TRUE(out.front_is_file());
  EXPECT_EQ(out.front().len, 100u * 1024);
}

TEST_F(StaticHandlerTest, ConditionalRangeAndErrors) {
  std::string first = serve("GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t at = first.find("ETag: ");
  std::string etag = first.substr(at + 6, first.find("\r\n", at) - at - 6);
  ResponseInfo info;
  serve("GET /page.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n", &info);
  EXPECT_EQ(info.status, 304);
  serve("GET /page.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/" + etag + ", \"other\"\r\n\r\n", &info);
  EXPECT_EQ(info.status, 304);
  serve(
      "GET /page.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 "
      "GMT\r\n\r\n",
      &info);
  EXPECT_EQ(info.status, 304);
  serve(
      "GET /page.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 "
      "GMT\r\n\r\n",
      &info);
  EXPECT_EQ(info.status, 200);
  std::string part = serve("GET /page.html HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n", &info);
  EXPECT_EQ(info.status, 206);
  EXPECT_NE(part.find("Content-Range: bytes 7-9/10\r\n"), std::string::npos);
  EXPECT_TRUE(part.ends_with("p>\n"));
  serve("GET /page.html HTTP/1.1\r\nHost: x\r\nRange: bytes=10-\r\n\r\n", &info);
  EXPECT_EQ(info.status, 416);
  serve("GET /page.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,3-4\r\n\r\n", &info);
  EXPECT_EQ(info.status, 200);  // several ranges: the whole file
  serve("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", &info);
  EXPECT_EQ(info.status, 404);
  std::string moved = serve("GET /docs HTTP/1.1\r\nHost: x\r\n\r\n", &info);
  EXPECT_EQ(info.status, 301);
  EXPECT_NE(moved.find("Location: /docs/\r\n"), std::string::npos);
  EXPECT_TRUE(serve("GET /docs/ HTTP/1.1\r\nHost: x\r\n\r\n", &info).ends_with("docs\n"));
  EXPECT_EQ(info.status, 200);
  std::string not_allowed = serve("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", &info);
  EXPECT_EQ(info.status, 405);
  EXPECT_NE(not_allowed.find("Allow: GET, HEAD\r\n"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Preconditions (RFC 9110 section 13), against page.html.

struct PreconditionCase {
  const char* name;
  std::string fields;  // header lines; "{etag}" stands for page.html's ETag
  int status;
  const char* method = "GET";
};

class StaticHandlerPrecondition : public StaticHandlerTest, public ::testing::WithParamInterface<PreconditionCase> {};

TEST_P(StaticHandlerPrecondition, Status) {
  const PreconditionCase& c = GetParam();
  std::string first = serve("GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
  size_t at = first.find("ETag: ");
  ASSERT_NE(at, std::string::npos);
  std::string etag = first.substr(at + 6, first.find("\r\n", at) - at - 6);
  std::string fields = c.fields;
  for (size_t pos; (pos = fields.find("{etag}")) != std::string::npos;) fields.replace(pos, 6, etag);
  ResponseInfo info;
  std::string got = serve(std::string(c.method) + " /page.html HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n", &info);
  EXPECT_EQ(info.status, c.status) << got;
  EXPECT_TRUE(got.starts_with("HTTP/1.1 " + std::to_string(c.status) + " ")) << got;
  if (c.status == 412) {
    // Never the file, whatever else was asked.
    EXPECT_EQ(got.find("<p>hi</p>"), std::string::npos) << got;
    EXPECT_NE(got.find(" 412 Precondition Failed\r\n"), std::string::npos) << got;
    if (std::string_view(c.method) == "GET")
      EXPECT_TRUE(got.ends_with("<h1>412 Precondition Failed</h1></body></html>\n")) << got;
    else
      EXPECT_TRUE(got.ends_with("\r\n\r\n")) << got;
  }
}

constexpr const char* kPast = "Thu, 01 Jan 1970 00:00:00 GMT";
constexpr const char* kFuture = "Fri, 01 Jan 2100 00:00:00 GMT";

std::string line(const std::string& name, const std::string& value) {
  return name + ": " + value + "\r\n";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StaticHandlerPrecondition,
    ::testing::Values(
        PreconditionCase{"if_match_same", line("If-Match", "{etag}"), 200},
        PreconditionCase{"if_match_other", line("If-Match", "\"other\""), 412},
        PreconditionCase{"if_match_in_list", line("If-Match", "\"a\", {etag}"), 200},
        PreconditionCase{"if_match_list_no_space", line("If-Match", "\"a\",{etag}"), 200},
        PreconditionCase{"if_match_comma_in_tag", line("If-Match", "\"a,{etag}\""), 412},
        PreconditionCase{"if_match_weak_never", line("If-Match", "W/{etag}"), 412},
        PreconditionCase{"if_match_star", line("If-Match", "*"), 200},
        PreconditionCase{"if_match_unquoted", line("If-Match", "garbage"), 412},
        PreconditionCase{"if_match_head", line("If-Match", "\"other\""), 412, "HEAD"},
        PreconditionCase{"if_match_other_with_range", line("If-Match", "\"other\"") + line("Range", "bytes=0-1"), 412},
        PreconditionCase{"if_match_same_with_range", line("If-Match", "{etag}") + line("Range", "bytes=0-1"), 206},
        PreconditionCase{"if_match_before_if_none_match",
                         line("If-Match", "\"other\"") + line("If-None-Match", "{etag}"), 412},
        PreconditionCase{"if_match_then_if_none_match", line("If-Match", "{etag}") + line("If-None-Match", "{etag}"),
                         304},
        // If-Unmodified-Since is not looked at when If-Match is present.
        PreconditionCase{"if_match_hides_ius", line("If-Match", "{etag}") + line("If-Unmodified-Since", kPast), 200},
        PreconditionCase{"ius_past", line("If-Unmodified-Since", kPast), 412},
        PreconditionCase{"ius_future", line("If-Unmodified-Since", kFuture), 200},
        PreconditionCase{"ius_invalid_ignored", line("If-Unmodified-Since", "yesterday"), 200},
        PreconditionCase{"ius_past_with_range", line("If-Unmodified-Since", kPast) + line("Range", "bytes=0-1"), 412},
        PreconditionCase{"ius_future_with_range", line("If-Unmodified-Since", kFuture) + line("Range", "bytes=0-1"),
                         206},
        PreconditionCase{"ius_before_ims", line("If-Unmodified-Since", kPast) + line("If-Modified-Since", kFuture),
                         412},
        PreconditionCase{"ius_then_if_none_match",
                         line("If-Unmodified-Since", kFuture) + line("If-None-Match", "{etag}"), 304},
        // If-None-Match compares weakly.
        PreconditionCase{"inm_same", line("If-None-Match", "{etag}"), 304},
        PreconditionCase{"inm_weak", line("If-None-Match", "W/{etag}"), 304},
        PreconditionCase{"inm_in_list", line("If-None-Match", "\"a\", W/{etag}"), 304},
        PreconditionCase{"inm_comma_in_tag", line("If-None-Match", "\"a,b\", {etag}"), 304},
        PreconditionCase{"inm_tag_holding_ours", line("If-None-Match", "\"x{etag}\""), 200},
        PreconditionCase{"inm_other", line("If-None-Match", "\"other\""), 200},
        PreconditionCase{"inm_star", line("If-None-Match", "*"), 304},
        PreconditionCase{"inm_hides_ims", line("If-None-Match", "\"other\"") + line("If-Modified-Since", kFuture), 200},
        // If-Range compares strongly: a weak tag sends the whole file.
        PreconditionCase{"if_range_same", line("If-Range", "{etag}") + line("Range", "bytes=0-1"), 206},
        PreconditionCase{"if_range_weak", line("If-Range", "W/{etag}") + line("Range", "bytes=0-1"), 200}),
    [](const ::testing::TestParamInfo<PreconditionCase>& i) { return std::string(i.param.name); });

// ---------------------------------------------------------------------------
// Directory redirects

TEST_F(StaticHandlerTest, RedirectForLongDirectoryPath) {
  // Four levels of 200 bytes: far above what one arena block holds once
  // encoded, and above the old 256-byte limit.
  std::string rel;
  for (int i = 0; i < 4; ++i) rel += (i ? "/" : "") + std::string(200, static_cast<char>('a' + i));
  fs::create_directories(dir_ / rel);
  put(rel + "/index.html", "deep\n");
  ResponseInfo info;
  std::string moved = serve("GET /" + rel + " HTTP/1.1\r\nHost: x\r\n\r\n", &info);
  EXPECT_EQ(info.status, 301);
  EXPECT_NE(moved.find("\r\nLocation: /" + rel + "/\r\n"), std::string::npos) << moved;
  EXPECT_TRUE(moved.ends_with("\r\n\r\n<html><body>moved</body></html>\n"));
  EXPECT_TRUE(serve("GET /" + rel + "/ HTTP/1.1\r\nHost: x\r\n\r\n", &info).ends_with("deep\n"));
  EXPECT_EQ(info.status, 200);
}

TEST_F(StaticHandlerTest, RedirectForLongPathNeedingEncodingOnTheHeap) {
  // Spaces triple in the Location: about 3 KB, so the header block cannot
  // be formatted in the OutQueue's arena.
  std::string name(250, ' ');
  name.front() = 'd';
  std::string rel = name + "/" + name + "/" + name + "/" + name;
  fs::create_directories(dir_ / rel);
  std::string encoded_name = "d";
  for (size_t i = 1; i < name.size(); ++i) encoded_name += "%20";
  std::string encoded = encoded_name + "/" + encoded_name + "/" + encoded_name + "/" + encoded_name;
  ASSERT_GT(encoded.size(), OutQueue::kMaxFormatted);
  ResponseInfo info;
  OutQueue out;
  info = serve_into("GET /" + encoded + " HTTP/1.1\r\nHost: x\r\n\r\n", out);
  EXPECT_EQ(info.status, 301);
  EXPECT_FALSE(out.front_in_arena());  // held on the heap by the queue
  std::string moved = drain(out);
  EXPECT_NE(moved.find("\r\nLocation: /" + encoded + "/\r\n"), std::string::npos) << moved;
  EXPECT_TRUE(moved.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
  EXPECT_TRUE(moved.ends_with("\r\n\r\n<html><body>moved</body></html>\n"));
}

TEST_F(StaticHandlerTest, RedirectLocationCannotInjectHeaders) {
  // A directory whose decoded name holds CR LF: the Location carries it encoded.
  fs::create_directories(dir_ / "a\r\nSet-Cookie: x=1");
  ResponseInfo info;
  std::string moved = serve("GET /a%0D%0ASet-Cookie:%20x=1 HTTP/1.1\r\nHost: x\r\n\r\n", &info);
  EXPECT_EQ(info.status, 301);
  EXPECT_NE(moved.find("\r\nLocation: /a%0D%0ASet-Cookie%3A%20x%3D1/\r\n"), std::string::npos) << moved;
  EXPECT_EQ(moved.find("\r\nSet-Cookie"), std::string::npos) << moved;
}

TEST_F(StaticHandlerTest, ChangedFileIsNoticedWithinASecond) {
  EXPECT_TRUE(serve("GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n").ends_with("<p>hi</p>\n"));
  put("page.html", "<p>changed!</p>\n");
  // The cache compares with the disk once per second of the worker's clock.
  std::string got;
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    clock_.update();
    got = serve("GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
    if (got.ends_with("<p>changed!</p>\n")) break;
  }
  EXPECT_TRUE(got.ends_with("<p>changed!</p>\n")) << got;
  EXPECT_NE(got.find("Content-Length: 16\r\n"), std::string::npos);
}

TEST_F(StaticHandlerTest, PendingSendKeepsOldBytesWhenDateRefreshes) {
  const std::string raw = "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n";
  OutQueue pending;
  serve_into(raw, pending);
  std::string before(pending.front().data, pending.front().len);
  for (int i = 0; i < 15; ++i) {  // let the second change, then serve again
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    clock_.update();
    OutQueue other;
    serve_into(raw, other);
  }
  // The first queue's bytes were not rewritten under it.
  EXPECT_EQ(std::string(pending.front().data, pending.front().len), before);
}

}  // namespace
}  // namespace ringwire::core
