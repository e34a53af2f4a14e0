// Integration tests: the real `ringwire serve` binary on an ephemeral
// loopback port, spoken to over real sockets. The suite is parameterized by
// engine: a new engine joins by adding its name to kServeEngines (harness.h).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace ringwire::test;

class ServeTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    root_ = fresh_test_dir();
    fs::create_directories(root_ / "www" / "sub");
    write(root_ / "www" / "index.html", "<h1>index</h1>\n");
    write(root_ / "www" / "page.html", "<html><body>small</body></html>\n");
    write(root_ / "www" / "sub" / "index.html", "sub index\n");
    write(root_ / "secret.txt", "outside the root\n");
    big_.resize(300 * 1024);
    for (size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>('a' + i % 26);
    write(root_ / "www" / "big.bin", big_);
    fs::create_symlink(root_ / "secret.txt", root_ / "www" / "escape.txt");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
  std::string www() const { return (root_ / "www").string(); }

  fs::path root_;
  std::string big_;
};

TEST_P(ServeTest, ServesIndexAndPage) {
  Server s(GetParam(), www());
  Response r = request(s.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<h1>index</h1>\n");
  EXPECT_NE(r.headers.find("Content-Type: text/html"), std::string::npos);
  EXPECT_NE(r.headers.find("ETag: \""), std::string::npos);
  r = request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.body, "<html><body>small</body></html>\n");
}

TEST_P(ServeTest, KeepAliveServesManyRequestsOnOneConnection) {
  Server s(GetParam(), www());
  int fd = connect_to(s.port());
  std::string pending;
  for (int i = 0; i < 50; ++i) {
    send_all(fd, "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
    Response r;
    ASSERT_TRUE(read_response(fd, pending, r));
    ASSERT_EQ(r.status, 200);
  }
  close(fd);
}

TEST_P(ServeTest, HundredPipelinedRequestsAnsweredInOrder) {
  Server s(GetParam(), www());
  int fd = connect_to(s.port());
  std::string batch;
  for (int i = 0; i < 100; ++i)
    batch += (i % 2 ? "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n");
  send_all(fd, batch);
  std::string pending;
  for (int i = 0; i < 100; ++i) {
    Response r;
    ASSERT_TRUE(read_response(fd, pending, r)) << i;
    EXPECT_EQ(r.body, i % 2 ? "<html><body>small</body></html>\n" : "sub index\n") << i;
  }
  close(fd);
}

TEST_P(ServeTest, HeadConditionalAndRange) {
  Server s(GetParam(), www());
  Response h = request(s.port(), "HEAD /page.html HTTP/1.1\r\nHost: x\r\n\r\n", true);
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.headers.find("Content-Length: 32"), std::string::npos);
  size_t at = h.headers.find("ETag: ");
  ASSERT_NE(at, std::string::npos);
  std::string etag = h.headers.substr(at + 6, h.headers.find("\r\n", at) - at - 6);
  Response nm = request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n");
  EXPECT_EQ(nm.status, 304);
  Response rg = request(s.port(), "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100-199\r\n\r\n");
  EXPECT_EQ(rg.status, 206);
  EXPECT_EQ(rg.body, big_.substr(100, 100));
  Response bad = request(s.port(), "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=999999999-\r\n\r\n");
  EXPECT_EQ(bad.status, 416);
  Response whole = request(s.port(), "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.body, big_);
}

TEST_P(ServeTest, ErrorsAndTraversal) {
  Server s(GetParam(), www());
  EXPECT_EQ(request(s.port(), "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
  EXPECT_EQ(request(s.port(), "GET /../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
  EXPECT_EQ(request(s.port(), "GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
  Response esc = request(s.port(), "GET /escape.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(esc.status, 403);
  EXPECT_EQ(esc.body.find("outside"), std::string::npos);
  EXPECT_EQ(request(s.port(), "GET / HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(request(s.port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").status, 405);
  EXPECT_EQ(request(s.port(), "BREW / HTTP/1.1\r\nHost: x\r\n\r\n").status, 501);
  EXPECT_EQ(request(s.port(), "GET / HTTP/2.0\r\nHost: x\r\n\r\n").status, 505);
  EXPECT_EQ(request(s.port(), "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n").status, 414);
  EXPECT_EQ(request(s.port(), "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(17000, 'a') + "\r\n\r\n").status, 431);
  Response redirect = request(s.port(), "GET /sub HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_NE(redirect.headers.find("Location: /sub/\r\n"), std::string::npos);
}

TEST_P(ServeTest, BodiesAreSkippedWithoutMisframing) {
  Server s(GetParam(), www());
  int fd = connect_to(s.port());
  send_all(fd,
           "GET /page.html HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
           "GET /sub/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
           "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string pending;
  Response a, b, c;
  ASSERT_TRUE(read_response(fd, pending, a));
  ASSERT_TRUE(read_response(fd, pending, b));
  ASSERT_TRUE(read_response(fd, pending, c));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.body, "sub index\n");
  EXPECT_EQ(c.status, 200);
  close(fd);
}

TEST_P(ServeTest, SmugglingAttemptGets400AndClose) {
  Server s(GetParam(), www());
  int fd = connect_to(s.port());
  send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  std::string all = read_all(fd);
  EXPECT_TRUE(all.starts_with("HTTP/1.1 400 ")) << all;
  EXPECT_NE(all.find("Connection: close"), std::string::npos);
  close(fd);
}

TEST_P(ServeTest, SlowClientCutAtHeaderTimeout) {
  Server s(GetParam(), www(), {"--header-timeout", "1"});
  int fd = connect_to(s.port());
  auto start = std::chrono::steady_clock::now();
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  bool cut = false;
  for (char ch : req) {
    if (send(fd, &ch, 1, MSG_NOSIGNAL) != 1) {
      cut = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 700) > 0) {
      cut = true;
      break;
    }
  }
  EXPECT_TRUE(cut);
  std::string got = read_all(fd);
  EXPECT_TRUE(got.empty() || got.starts_with("HTTP/1.1 408")) << got;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  close(fd);
}

TEST_P(ServeTest, IdleConnectionClosedAtIdleTimeout) {
  Server s(GetParam(), www(), {"--idle-timeout", "1"});
  int fd = connect_to(s.port());
  send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string pending;
  Response r;
  ASSERT_TRUE(read_response(fd, pending, r));
  auto start = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0);  // EOF from the server
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  close(fd);
}

TEST_P(ServeTest, ThousandConcurrentConnections) {
  if (std::string(GetParam()) == "prefork")
    GTEST_SKIP() << "a prefork worker serves one connection at a time: 1,000 open connections on 2 processes queue in "
                    "the backlog by design";
  Server s(GetParam(), www());
  std::vector<int> fds;
  for (int i = 0; i < 1000; ++i) {
    int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  for (int round = 0; round < 2; ++round) {
    for (int fd : fds) send_all(fd, "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int fd : fds) {
      std::string pending;
      Response r;
      ASSERT_TRUE(read_response(fd, pending, r));
      ASSERT_EQ(r.status, 200);
    }
  }
  for (int fd : fds) close(fd);
}

TEST_P(ServeTest, ClientResetMidResponseDoesNotHurtServer) {
  Server s(GetParam(), www());
  for (int i = 0; i < 20; ++i) {
    int fd = connect_to(s.port());
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    send_all(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[100];
    recv(fd, buf, sizeof buf, 0);
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);  // RST
  }
  Response r = request(s.port(), "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.body.size(), big_.size());
}

TEST_P(ServeTest, AccessLogNamesTheClientAndTheRequest) {
  std::string log_path = (root_ / "access.log").string();
  Server s(GetParam(), www(), {"--access-log", log_path});
  EXPECT_EQ(request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n\r\n").status, 200);
  EXPECT_EQ(request(s.port(), "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
  EXPECT_EQ(WEXITSTATUS(s.stop()), 0);  // the log is flushed by then
  std::ifstream in(log_path);
  std::string first, second;
  ASSERT_TRUE(std::getline(in, first));
  ASSERT_TRUE(std::getline(in, second));
  EXPECT_TRUE(first.starts_with("127.0.0.1 - - [")) << first;
  EXPECT_NE(first.find("\"GET /page.html HTTP/1.1\" 200 32 \"-\" \"t/1\""), std::string::npos) << first;
  EXPECT_TRUE(second.starts_with("127.0.0.1 - - [")) << second;
  EXPECT_NE(second.find("\"GET /nope HTTP/1.1\" 404 "), std::string::npos) << second;
}

TEST_P(ServeTest, GracefulStopExitsZero) {
  Server s(GetParam(), www());
  int idle = connect_to(s.port());
  send_all(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string pending;
  Response r;
  ASSERT_TRUE(read_response(idle, pending, r));
  auto start = std::chrono::steady_clock::now();
  int status = s.stop();
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  close(idle);
}

TEST_P(ServeTest, ApacheBenchKeepAliveHasNoFailures) {
  if (std::string(GetParam()) == "prefork")
    GTEST_SKIP() << "ab -k keeps more connections open than there are prefork workers, and waits for all of them: the "
                    "model queues them (the sweep shows it)";
  Server s(GetParam(), www());
  std::string out = run_command("ab -n 1000 -c 100 -k http://127.0.0.1:" + std::to_string(s.port()) + "/page.html");
  EXPECT_NE(out.find("Complete requests:      1000"), std::string::npos) << out;
  EXPECT_NE(out.find("Failed requests:        0"), std::string::npos) << out;
  EXPECT_NE(out.find("Keep-Alive requests:    1000"), std::string::npos) << out;
}

TEST_P(ServeTest, WrkShortRunHasNoErrors) {
  Server s(GetParam(), www());
  std::string out = run_command("wrk -t1 -c20 -d1s http://127.0.0.1:" + std::to_string(s.port()) + "/page.html");
  EXPECT_NE(out.find("requests in"), std::string::npos) << out;
  EXPECT_EQ(out.find("Socket errors"), std::string::npos) << out;
  EXPECT_EQ(out.find("Non-2xx"), std::string::npos) << out;
}

TEST_P(ServeTest, CurlFetchesPageAndHead) {
  Server s(GetParam(), www());
  std::string url = "http://127.0.0.1:" + std::to_string(s.port());
  EXPECT_EQ(run_command("curl -sS " + url + "/page.html"), "<html><body>small</body></html>\n");
  std::string head = run_command("curl -sSI " + url + "/");
  EXPECT_NE(head.find("HTTP/1.1 200 OK"), std::string::npos) << head;
  EXPECT_EQ(run_command("curl -s -o /dev/null -w '%{http_code}' " + url + "/missing"), "404");
}

INSTANTIATE_TEST_SUITE_P(Engines, ServeTest, ::testing::ValuesIn(kServeEngines), EngineName());

}  // namespace
