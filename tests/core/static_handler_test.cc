// StaticHandler and FileCache against a real temporary docroot: what is
// queued for each kind of request, and that a changed file is noticed.
#include "core/static_handler.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

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
  ResponseInfo serve_into(const std::string& raw, OutQueue& out,
                          ConnectionMode mode = ConnectionMode::Default) {
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
  serve("GET /page.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n", &info);
  EXPECT_EQ(info.status, 304);
  serve("GET /page.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n", &info);
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
