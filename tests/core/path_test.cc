// Unit tests of request-target normalization (core/path.h).

#include "core/path.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ringwire::core {
namespace {

struct Normalized {
  PathStatus status;
  std::string path;
};

Normalized normalize(std::string_view target) {
  // Exactly the documented minimum, plus a guard region checked for overruns.
  constexpr size_t kGuard = 16;
  std::vector<char> buf(target.size() + 1 + kGuard, '#');
  size_t len = 0xdead;
  PathStatus s = normalize_target(target, buf.data(), len);
  for (size_t i = target.size() + 1; i < buf.size(); ++i) {
    EXPECT_EQ(buf[i], '#') << "wrote past target.size() + 1 for " << target;
  }
  if (s != PathStatus::Ok) return {s, {}};
  EXPECT_LE(len, target.size() + 1) << target;
  if (len > target.size() + 1) return {s, {}};
  return {s, std::string(buf.data(), len)};
}

struct OkCase {
  const char* name;
  std::string_view target;
  std::string_view expected;
};

class NormalizeOk : public ::testing::TestWithParam<OkCase> {};

TEST_P(NormalizeOk, Path) {
  const OkCase& c = GetParam();
  Normalized n = normalize(c.target);
  ASSERT_EQ(n.status, PathStatus::Ok) << c.target;
  EXPECT_EQ(n.path, c.expected) << c.target;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NormalizeOk,
    ::testing::Values(OkCase{"root", "/", ""}, OkCase{"file", "/a/b.html", "a/b.html"}, OkCase{"dot", "/a/./b", "a/b"},
                      OkCase{"dotdot", "/a/../b", "b"}, OkCase{"dir", "/dir/", "dir/"}, OkCase{"query", "/x?q=1", "x"},
                      OkCase{"query_root", "/?q=1", ""}, OkCase{"query_with_dotdot", "/x?../../etc/passwd", "x"},
                      OkCase{"percent", "/%61%62", "ab"}, OkCase{"percent_upper_lower", "/%4a%4B", "JK"},
                      OkCase{"percent_space", "/a%20b.txt", "a b.txt"}, OkCase{"encoded_slash", "/a%2fb", "a/b"},
                      OkCase{"dotdot_to_root", "/a/..", ""}, OkCase{"dotdot_to_root_slash", "/a/../", ""},
                      OkCase{"dot_end", "/a/.", "a/"}, OkCase{"dot_only", "/.", ""},
                      OkCase{"nested_dotdot", "/a/b/c/../../d", "a/d"}, OkCase{"dotdot_then_dir", "/a/b/../c/", "a/c/"},
                      OkCase{"encoded_dot", "/a/%2e/b", "a/b"}, OkCase{"encoded_dotdot_inside", "/a/%2E%2E/b", "b"},
                      OkCase{"dots_in_name", "/a/..b/c...d", "a/..b/c...d"},
                      OkCase{"hidden_file", "/.well-known/x", ".well-known/x"}),
    [](const ::testing::TestParamInfo<OkCase>& i) { return std::string(i.param.name); });

class NormalizeBad : public ::testing::TestWithParam<OkCase> {};

TEST_P(NormalizeBad, Rejected) {
  const OkCase& c = GetParam();
  Normalized n = normalize(c.target);
  EXPECT_EQ(n.status, PathStatus::BadRequest) << c.target << " gave '" << n.path << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NormalizeBad,
    ::testing::Values(OkCase{"climb", "/../x", ""}, OkCase{"climb_encoded", "/%2e%2e/x", ""},
                      OkCase{"climb_encoded_upper", "/%2E%2E/x", ""}, OkCase{"climb_mixed", "/.%2e/x", ""},
                      OkCase{"climb_after_descend", "/a/../../x", ""}, OkCase{"climb_only", "/..", ""},
                      OkCase{"climb_encoded_slash", "/a%2f..%2f..%2fx", ""}, OkCase{"nul", "/%00", ""},
                      OkCase{"nul_middle", "/a%00.html", ""}, OkCase{"bad_escape", "/%zz", ""},
                      OkCase{"bad_escape_half", "/%4g", ""}, OkCase{"truncated_escape", "/%4", ""},
                      OkCase{"truncated_escape_end", "/a%", ""}, OkCase{"truncated_escape_before_query", "/a%4?x", ""}),
    [](const ::testing::TestParamInfo<OkCase>& i) { return std::string(i.param.name); });

TEST(Normalize, NoLeadingSlashInResult) {
  for (std::string_view t : {"/", "/a", "//a", "/a/b/", "/./a"}) {
    Normalized n = normalize(t);
    if (n.status == PathStatus::Ok && !n.path.empty()) {
      EXPECT_NE(n.path.front(), '/') << t;
    }
  }
}

TEST(Normalize, LongTarget) {
  std::string target = "/";
  std::string expected;
  for (int i = 0; i < 500; ++i) {
    target += "seg" + std::to_string(i) + "/";
    expected += "seg" + std::to_string(i) + "/";
  }
  target += "f.txt";
  expected += "f.txt";
  Normalized n = normalize(target);
  ASSERT_EQ(n.status, PathStatus::Ok);
  EXPECT_EQ(n.path, expected);
}

}  // namespace
}  // namespace ringwire::core
