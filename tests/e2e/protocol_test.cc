// Protocol conformance over real sockets, for every engine: Host validation
// (RFC 9112 section 3.2), preconditions (RFC 9110 section 13), a request line
// without a version refused at once, and directory redirects for long paths.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ringwire::test;

const char kPage[] = "<html><body>small</body></html>\n";

class ProtocolTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    root_ = fresh_test_dir();
    fs::create_directories(root_ / "www");
    write(root_ / "www" / "page.html", kPage);
    big_.resize(100 * 1024);
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>('a' + i % 26);
    write(root_ / "www" / "big.bin", big_);
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
  std::string www() const { return (root_ / "www").string(); }

  // The ETag the server gives `path`.
  static std::string etag_of(int port, const std::string& path) {
    Response h = request(port, "HEAD " + path + " HTTP/1.1\r\nHost: x\r\n\r\n", true);
    size_t at = h.headers.find("ETag: ");
    if (at == std::string::npos) return {};
    return h.headers.substr(at + 6, h.headers.find("\r\n", at) - at - 6);
  }

  // Sends `raw` and reads until the server closes. The time it took tells a
  // close by the server from the client's 10 s receive timeout.
  static std::string exchange_until_close(int port, const std::string& raw, std::chrono::steady_clock::duration* took) {
    int fd = connect_to(port);
    EXPECT_GE(fd, 0);
    auto start = std::chrono::steady_clock::now();
    send_all(fd, raw);
    std::string all = read_all(fd);
    *took = std::chrono::steady_clock::now() - start;
    close(fd);
    return all;
  }

  fs::path root_;
  std::string big_;
};

TEST_P(ProtocolTest, InvalidHostGets400AndClose) {
  Server s(GetParam(), www());
  for (const char* host :
       {"a b", "x:abc", "a@b", "x, y", "[::1", "[::1]x", "[1::2::3]", "a%zz", "a/b", "caf\xc3\xa9"}) {
    std::chrono::steady_clock::duration took;
    std::string all =
        exchange_until_close(s.port(), std::string("GET /page.html HTTP/1.1\r\nHost: ") + host + "\r\n\r\n", &took);
    EXPECT_TRUE(all.starts_with("HTTP/1.1 400 ")) << "Host: " << host << "\n" << all;
    EXPECT_NE(all.find("Connection: close\r\n"), std::string::npos) << all;
    EXPECT_EQ(all.find(kPage), std::string::npos) << all;
    EXPECT_LT(took, 5s) << "Host: " << host;
  }
}

TEST_P(ProtocolTest, ValidHostsAreServed) {
  Server s(GetParam(), www());
  for (const char* host : {"example.com", "example.com:8080", "", "example.com:", "127.0.0.1:80", "[::1]", "[::1]:8080",
                           "[2001:db8::192.0.2.1]", "[v7.a:b]", "a-b_c~d!$&'()*+,;=", "%41bc"}) {
    Response r = request(s.port(), std::string("GET /page.html HTTP/1.1\r\nHost: ") + host + "\r\n\r\n");
    EXPECT_EQ(r.status, 200) << "Host: " << host;
    EXPECT_EQ(r.body, kPage) << "Host: " << host;
  }
}

TEST_P(ProtocolTest, RequestLineWithoutVersionGets400AtOnce) {
  // The header timeout is far away: an answer within seconds comes from the
  // request line alone, not from a timer.
  Server s(GetParam(), www(), {"--header-timeout", "30"});
  struct Case {
    const char* bytes;
    const char* status;
  };
  for (Case c : {Case{"GET /page.html\r\n", "HTTP/1.1 400 "}, Case{"GET /page.html\n", "HTTP/1.1 400 "},
                 Case{"GET /page.html HTTP/2.0\r\n", "HTTP/1.1 505 "}}) {
    std::chrono::steady_clock::duration took;
    std::string all = exchange_until_close(s.port(), c.bytes, &took);
    EXPECT_TRUE(all.starts_with(c.status)) << c.bytes << all;
    EXPECT_NE(all.find("Connection: close\r\n"), std::string::npos) << all;
    EXPECT_LT(took, 5s) << c.bytes;
  }
}

TEST_P(ProtocolTest, RequestLineWithoutVersionSentByteByByte) {
  Server s(GetParam(), www(), {"--header-timeout", "30"});
  int fd = connect_to(s.port());
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  for (char ch : std::string("GET /page.html\r\n")) {
    ASSERT_EQ(send(fd, &ch, 1, MSG_NOSIGNAL), 1);
    std::this_thread::sleep_for(5ms);
  }
  std::string all = read_all(fd);
  close(fd);
  EXPECT_TRUE(all.starts_with("HTTP/1.1 400 ")) << all;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_P(ProtocolTest, IfMatchAndIfUnmodifiedSince) {
  Server s(GetParam(), www());
  std::string etag = etag_of(s.port(), "/big.bin");
  ASSERT_FALSE(etag.empty());
  auto get = [&](const std::string& fields) {
    return request(s.port(), "GET /big.bin HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
  };
  Response r = get("If-Match: \"nope\"\r\n");
  EXPECT_EQ(r.status, 412);
  EXPECT_NE(r.headers.find("HTTP/1.1 412 Precondition Failed\r\n"), std::string::npos);
  EXPECT_EQ(r.body.find("abcdef"), std::string::npos);
  r = get("If-Match: \"nope\"\r\nRange: bytes=0-9\r\n");
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(r.body.find("abcdef"), std::string::npos);
  r = get("If-Match: W/" + etag + "\r\n");
  EXPECT_EQ(r.status, 412);  // a weak tag never matches strongly
  r = get("If-Match: \"nope\", " + etag + "\r\nRange: bytes=0-9\r\n");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, big_.substr(0, 10));
  r = get("If-Match: *\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, big_);
  r = get("If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\nRange: bytes=0-9\r\n");
  EXPECT_EQ(r.status, 412);
  r = get("If-Unmodified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n");
  EXPECT_EQ(r.status, 200);
  r = get("If-Unmodified-Since: not a date\r\n");
  EXPECT_EQ(r.status, 200);
  r = get("If-Match: " + etag + "\r\nIf-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n");
  EXPECT_EQ(r.status, 200);  // If-Unmodified-Since only counts without If-Match
  r = get("If-Match: " + etag + "\r\nIf-None-Match: " + etag + "\r\n");
  EXPECT_EQ(r.status, 304);
  r = get("If-None-Match: \"nope\", W/" + etag + "\r\n");
  EXPECT_EQ(r.status, 304);  // If-None-Match compares weakly
}

TEST_P(ProtocolTest, PreconditionFailedKeepsTheConnection) {
  Server s(GetParam(), www());
  int fd = connect_to(s.port());
  ASSERT_GE(fd, 0);
  send_all(fd,
           "GET /page.html HTTP/1.1\r\nHost: x\r\nIf-Match: \"nope\"\r\n\r\n"
           "HEAD /page.html HTTP/1.1\r\nHost: x\r\nIf-Match: \"nope\"\r\n\r\n");
  std::string pending;
  Response a, b, c;
  ASSERT_TRUE(read_response(fd, pending, a));
  ASSERT_TRUE(read_response(fd, pending, b, true));
  EXPECT_EQ(a.status, 412);
  EXPECT_EQ(b.status, 412);
  send_all(fd, "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(read_response(fd, pending, c));
  EXPECT_EQ(c.status, 200);
  EXPECT_EQ(c.body, kPage);
  close(fd);
}

TEST_P(ProtocolTest, LongDirectoryPathsAreRedirected) {
  // One path of plain bytes past the old 256-byte limit, and one whose
  // Location, spaces encoded, is far longer than one arena block.
  std::string plain, spaced, spaced_encoded;
  for (int i = 0; i < 4; ++i) {
    char first = static_cast<char>('a' + i);
    if (i > 0) {
      plain += '/';
      spaced += '/';
      spaced_encoded += '/';
    }
    plain.append(200, first);
    spaced += first;
    spaced.append(219, ' ');
    spaced_encoded += first;
    for (int k = 0; k < 219; ++k) spaced_encoded += "%20";
  }
  for (const std::string& rel : {plain, spaced}) {
    fs::create_directories(root_ / "www" / rel);
    write(root_ / "www" / rel / "index.html", "deep\n");
  }
  ASSERT_GT(spaced_encoded.size(), 2000u);
  Server s(GetParam(), www());
  for (const std::string& target : {plain, spaced_encoded}) {
    int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    // Pipelined behind a second request: the long header block must stay
    // alive until it is sent, and the queue must go on after it.
    send_all(fd, "GET /" + target + " HTTP/1.1\r\nHost: x\r\n\r\nGET /" + target + "/ HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string pending;
    Response moved, page;
    ASSERT_TRUE(read_response(fd, pending, moved));
    ASSERT_TRUE(read_response(fd, pending, page));
    close(fd);
    EXPECT_EQ(moved.status, 301) << moved.headers.substr(0, 200);
    EXPECT_NE(moved.headers.find("\r\nLocation: /" + target + "/\r\n"), std::string::npos);
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.body, "deep\n");
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, ProtocolTest, ::testing::ValuesIn(kServeEngines), EngineName());

}  // namespace
