// HttpSession over a real docroot: what it consumes, what it queues, and the
// phase and progress it reports to the engine's timers.
#include "core/http_session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ringwire::core {
namespace {

namespace fs = std::filesystem;

class HttpSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rw-session-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "page.html", std::ios::binary) << "<p>hi</p>\n";
    root_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    handler_ = std::make_unique<StaticHandler>(root_.get(), CacheLimits{}, clock_);
    services_ = std::make_unique<HttpServices>(HttpServices{clock_, *handler_, nullptr});
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Feeds `in` and returns the status lines queued, space-separated.
  std::string feed(std::string_view in, size_t* used = nullptr) {
    OutQueue out;
    size_t n = session_.process(in, out, *services_, peer_);
    if (used) *used = n;
    std::string all;
    iovec iov[OutQueue::kMaxSegments];
    size_t cnt = out.fill_iovec(iov, OutQueue::kMaxSegments);
    for (size_t i = 0; i < cnt; ++i) all.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
    std::string statuses;
    for (size_t at = all.find("HTTP/1.1 "); at != std::string::npos; at = all.find("HTTP/1.1 ", at + 1)) {
      if (!statuses.empty()) statuses += ' ';
      statuses.append(all, at + 9, 3);
    }
    return statuses;
  }

  fs::path dir_;
  Fd root_;
  Clock clock_;
  std::unique_ptr<StaticHandler> handler_;
  std::unique_ptr<HttpServices> services_;
  Endpoint peer_;
  HttpSession session_;
};

TEST_F(HttpSessionTest, EmptyLinesBeforeARequestAreIgnored) {
  size_t used = 0;
  EXPECT_EQ(
      feed("\r\n\r\nGET /page.html HTTP/1.1\r\nHost: x\r\n\r\n\nGET /page.html HTTP/1.1\r\nHost: x\r\n\r\n", &used),
      "200 200");
  EXPECT_FALSE(session_.closing());
  // A lone CRLF is consumed, not held as the start of a head.
  EXPECT_EQ(feed("\r\n", &used), "");
  EXPECT_EQ(used, 2u);
  EXPECT_EQ(session_.phase(), HttpSession::Phase::Idle);
}

TEST_F(HttpSessionTest, PhaseAndProgressFollowTheRequest) {
  EXPECT_EQ(session_.phase(), HttpSession::Phase::Idle);
  EXPECT_FALSE(session_.take_progress());
  size_t used = 0;
  std::string head = "POST /page.html HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n";
  EXPECT_EQ(feed(head.substr(0, 20), &used), "");
  EXPECT_EQ(used, 0u);
  EXPECT_EQ(session_.phase(), HttpSession::Phase::Head);
  EXPECT_FALSE(session_.take_progress());  // nothing completed yet
  EXPECT_EQ(feed(head + "12345", &used), "405");
  EXPECT_EQ(used, head.size() + 5);
  EXPECT_EQ(session_.phase(), HttpSession::Phase::Body);
  EXPECT_TRUE(session_.take_progress());
  EXPECT_FALSE(session_.take_progress());  // reported once
  EXPECT_EQ(feed("678", &used), "");
  EXPECT_EQ(session_.phase(), HttpSession::Phase::Body);
  EXPECT_TRUE(session_.take_progress());  // body bytes are progress too
  EXPECT_EQ(feed("90\r\nGET /page.html HTTP/1.1\r\nHost: x\r\n\r\n", &used), "200");
  EXPECT_EQ(session_.phase(), HttpSession::Phase::Idle);
  EXPECT_TRUE(session_.take_progress());
}

}  // namespace
}  // namespace ringwire::core
