// The file cache seen from outside: a file replaced on disk is served new on
// the very next request, for each engine, with no wait for the cache's
// once-a-second check.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "harness.h"

namespace {

namespace fs = std::filesystem;
using namespace ringwire::test;

class CacheTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    root_ = fresh_test_dir();
    fs::create_directories(root_ / "sub");
    write(root_ / "page.html", "version 0\n");
    write(root_ / "sub" / "index.html", "sub version 0\n");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void write(const fs::path& p, const std::string& s) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
  }
  // Writes `body` beside `p` and renames it over `p`, as deploy tools do.
  static void replace(const fs::path& p, const std::string& body) {
    fs::path tmp = p;
    tmp += ".tmp";
    write(tmp, body);
    fs::rename(tmp, p);
  }

  fs::path root_;
};

TEST_P(CacheTest, ReplacedFileIsServedNewOnTheNextRequest) {
  // One worker, so every request meets the same cache.
  Server s(GetParam(), root_.string(), {"--workers", "1"});
  // Several rounds inside a few seconds: a cache that waited for its clock
  // to tick before looking at the disk again would serve a stale version.
  for (int i = 1; i <= 5; ++i) {
    std::string was = "version " + std::to_string(i - 1) + "\n";
    ASSERT_EQ(request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n").body, was);
    ASSERT_EQ(request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n").body, was);
    std::string now = "version " + std::to_string(i) + "\n";
    replace(root_ / "page.html", now);
    Response r = request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, now) << "round " << i;
  }
}

TEST_P(CacheTest, ReplacedDirectoryIndexIsServedNewOnTheNextRequest) {
  Server s(GetParam(), root_.string(), {"--workers", "1"});
  for (int i = 1; i <= 5; ++i) {
    std::string was = "sub version " + std::to_string(i - 1) + "\n";
    ASSERT_EQ(request(s.port(), "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n").body, was);
    ASSERT_EQ(request(s.port(), "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n").body, was);
    std::string now = "sub version " + std::to_string(i) + "\n";
    replace(root_ / "sub" / "index.html", now);
    Response r = request(s.port(), "GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, now) << "round " << i;
  }
}

TEST_P(CacheTest, DeletedFileIsGoneOnTheNextRequest) {
  Server s(GetParam(), root_.string(), {"--workers", "1"});
  ASSERT_EQ(request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  ASSERT_EQ(request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
  fs::remove(root_ / "page.html");
  EXPECT_EQ(request(s.port(), "GET /page.html HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
}

INSTANTIATE_TEST_SUITE_P(Engines, CacheTest, ::testing::ValuesIn(kServeEngines), EngineName());

}  // namespace
