// The command line: what it refuses, with a clear message and a non-zero
// exit, before anything listens.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace {

using namespace ringwire::test;

// Runs the binary with `args`; returns its output and sets `status` to its exit code.
std::string ringwire(const std::string& args, int& status) {
  std::string out;
  FILE* f = popen(("timeout 10 " RINGWIRE_BINARY " " + args + " 2>&1; echo \"exit=$?\"").c_str(), "r");
  char buf[4096];
  size_t n;
  while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  if (f) pclose(f);
  size_t at = out.rfind("exit=");
  status = at == std::string::npos ? -1 : std::stoi(out.substr(at + 5));
  return out;
}

TEST(CliTest, BlockingEnginesAreRefusedForTheBalancer) {
  for (const char* engine : {"threads", "prefork"}) {
    int status = 0;
    std::string out = ringwire(std::string("lb --listen 127.0.0.1:0 --backend 127.0.0.1:1 --engine ") + engine, status);
    EXPECT_EQ(status, 2) << out;
    EXPECT_NE(out.find(std::string("engine '") + engine + "' serves HTTP only"), std::string::npos) << out;
  }
}

TEST(CliTest, BusyPollIsRefusedForTheBlockingEngines) {
  for (const char* engine : {"threads", "prefork"}) {
    int status = 0;
    std::string out =
        ringwire(std::string("serve --listen 127.0.0.1:0 --root /tmp --busy-poll 100 --engine ") + engine, status);
    EXPECT_NE(status, 0) << out;
    EXPECT_NE(out.find("--busy-poll needs an event engine"), std::string::npos) << out;
    EXPECT_EQ(out.find("listening on"), std::string::npos) << out;
  }
}

TEST(CliTest, BadValuesAreRefused) {
  for (const char* args :
       {"serve --cache-max-file 1000000000000", "serve --workers 0", "serve --engine epoll", "serve --listen nowhere",
        "serve --body-timeout 0", "serve --root /nonexistent/dir", "serve --root /tmp --busy-poll 2000000",
        "lb --listen 127.0.0.1:0 --backend 127.0.0.1:1 --busy-poll -1"}) {
    int status = 0;
    std::string out = ringwire(args, status);
    EXPECT_NE(status, 0) << args << ": " << out;
    EXPECT_EQ(out.find("listening on"), std::string::npos) << args << ": " << out;
  }
}

TEST(CliTest, HelpSaysWhatIsBuilt) {
  int status = 0;
  std::string out = ringwire("serve --help", status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("--ring-buffers"), std::string::npos);
  EXPECT_NE(out.find("the reactor ignores it"), std::string::npos);
  EXPECT_NE(out.find("--body-timeout"), std::string::npos);
  EXPECT_NE(out.find("--cache-max-bytes"), std::string::npos);
  out = ringwire("--help", status);
  EXPECT_NE(out.find("serve"), std::string::npos) << out;
  EXPECT_NE(out.find("lb"), std::string::npos) << out;
  out = ringwire("lb --help", status);
  EXPECT_EQ(status, 0) << out;
  for (const char* option : {"--backend", "--backends", "--policy", "--connect-timeout", "--health-interval", "--rise",
                             "--fall", "--log-connections"})
    EXPECT_NE(out.find(option), std::string::npos) << option;
}

}  // namespace
