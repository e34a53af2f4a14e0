#include "lb/backend_spec.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace ringwire::lb {
namespace {

struct ArgCase {
  const char* text;
  bool ok;
  const char* addr;  // Endpoint::to_string() when ok
  unsigned weight;
  const char* error_part;  // a substring of the error when !ok
};

class ParseBackendArg : public testing::TestWithParam<ArgCase> {};

TEST_P(ParseBackendArg, Parses) {
  const ArgCase& c = GetParam();
  auto spec = parse_backend_arg(c.text);
  if (c.ok) {
    ASSERT_TRUE(spec) << spec.error();
    EXPECT_EQ(spec->addr.to_string(), c.addr);
    EXPECT_EQ(spec->weight, c.weight);
    std::string text = c.text;
    EXPECT_EQ(spec->text, text.substr(0, text.find(',')));
  } else {
    ASSERT_FALSE(spec) << c.text;
    EXPECT_NE(spec.error().find(fmt::format("bad backend '{}'", c.text)), std::string::npos) << spec.error();
    EXPECT_NE(spec.error().find(c.error_part), std::string::npos) << spec.error();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ParseBackendArg,
                         testing::Values(ArgCase{"127.0.0.1:9000", true, "127.0.0.1:9000", 1, ""},
                                         ArgCase{"localhost:9001", true, "127.0.0.1:9001", 1, ""},
                                         ArgCase{"[::1]:9002", true, "[::1]:9002", 1, ""},
                                         ArgCase{"10.0.0.2:80,weight=5", true, "10.0.0.2:80", 5, ""},
                                         ArgCase{"10.0.0.2:80,weight=1000", true, "10.0.0.2:80", 1000, ""},
                                         ArgCase{"[::1]:80,weight=2", true, "[::1]:80", 2, ""},
                                         ArgCase{"10.0.0.2:80,weight=0", false, "", 0, "weight '0'"},
                                         ArgCase{"10.0.0.2:80,weight=1001", false, "", 0, "weight '1001'"},
                                         ArgCase{"10.0.0.2:80,weight=x", false, "", 0, "weight 'x'"},
                                         ArgCase{"10.0.0.2:80,weight=", false, "", 0, "weight ''"},
                                         ArgCase{"10.0.0.2:80,", false, "", 0, "unknown option"},
                                         ArgCase{"10.0.0.2:80,max=3", false, "", 0, "unknown option 'max=3'"},
                                         ArgCase{"10.0.0.2", false, "", 0, "HOST:PORT"},
                                         ArgCase{"10.0.0.2:99999", false, "", 0, "invalid port"},
                                         ArgCase{"10.0.0.2:0", false, "", 0, "port 0"},
                                         ArgCase{":9000", false, "", 0, "missing host"},
                                         ArgCase{"example.com:80", false, "", 0, "numeric"},
                                         ArgCase{"", false, "", 0, "empty address"}));

// A temporary file removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/ringwire-backends-XXXXXX";
    int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ParseBackendsFile, ReadsAddressesWeightsCommentsAndBlankLines) {
  TempFile file(
      "# the pool\n"
      "\n"
      "127.0.0.1:9001\n"
      "  127.0.0.1:9002   3   # a heavier one\n"
      "\t[::1]:9003 weight=2\r\n"
      "localhost:9004#tight comment\n"
      "   \n");
  auto specs = parse_backends_file(file.path());
  ASSERT_TRUE(specs) << specs.error();
  ASSERT_EQ(specs->size(), 4u);
  EXPECT_EQ((*specs)[0].text, "127.0.0.1:9001");
  EXPECT_EQ((*specs)[0].weight, 1u);
  EXPECT_EQ((*specs)[1].text, "127.0.0.1:9002");
  EXPECT_EQ((*specs)[1].weight, 3u);
  EXPECT_EQ((*specs)[2].addr.to_string(), "[::1]:9003");
  EXPECT_EQ((*specs)[2].weight, 2u);
  EXPECT_EQ((*specs)[3].addr.to_string(), "127.0.0.1:9004");
}

struct BadFileCase {
  const char* content;
  const char* where;  // ":LINE: bad backend 'X'" after the path, or ": ..." for whole-file errors
  const char* reason;
};

class ParseBackendsFileErrors : public testing::TestWithParam<BadFileCase> {};

TEST_P(ParseBackendsFileErrors, NameTheLine) {
  const BadFileCase& c = GetParam();
  TempFile file(c.content);
  auto specs = parse_backends_file(file.path());
  ASSERT_FALSE(specs);
  EXPECT_EQ(specs.error().rfind(file.path() + c.where, 0), 0u) << specs.error();
  EXPECT_NE(specs.error().find(c.reason), std::string::npos) << specs.error();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseBackendsFileErrors,
    testing::Values(BadFileCase{"127.0.0.1:9001\n\nxyz\n", ":3: bad backend 'xyz': ", "HOST:PORT"},
                    BadFileCase{"# c\n127.0.0.1:9001 0\n", ":2: bad backend '127.0.0.1:9001 0': ", "weight '0'"},
                    BadFileCase{"127.0.0.1:9001 1001\n", ":1: bad backend '127.0.0.1:9001 1001': ", "weight '1001'"},
                    BadFileCase{"127.0.0.1:9001 2 3\n", ":1: bad backend '127.0.0.1:9001 2 3': ", "HOST:PORT [WEIGHT]"},
                    BadFileCase{"127.0.0.1:9001\n127.0.0.1:9002\nlocalhost:9001 # again\n",
                                ":3: bad backend 'localhost:9001': ", "already listed on line 1"},
                    BadFileCase{"127.0.0.1:0\n", ":1: bad backend '127.0.0.1:0': ", "port 0"},
                    BadFileCase{"", ": ", "no backends"},
                    BadFileCase{"# only comments\n\n   # and blanks\n", ": ", "no backends"}));

TEST(ParseBackendsFile, MissingFileIsAnError) {
  auto specs = parse_backends_file("/nonexistent/ringwire-backends");
  ASSERT_FALSE(specs);
  EXPECT_EQ(specs.error().rfind("/nonexistent/ringwire-backends: cannot open", 0), 0u) << specs.error();
}

}  // namespace
}  // namespace ringwire::lb
