#include "lb/policy.h"

#include <gtest/gtest.h>

namespace ringwire::lb {
namespace {

TEST(ParsePolicy, KnowsTheThreeNames) {
  struct {
    const char* text;
    Policy policy;
  } cases[] = {{"roundrobin", Policy::RoundRobin}, {"leastconn", Policy::LeastConn}, {"maglev", Policy::Maglev}};
  for (const auto& c : cases) {
    Policy p = Policy::Maglev == c.policy ? Policy::RoundRobin : Policy::Maglev;
    EXPECT_TRUE(parse_policy(c.text, p)) << c.text;
    EXPECT_EQ(p, c.policy) << c.text;
    EXPECT_EQ(policy_name(c.policy), c.text);
  }
}

TEST(ParsePolicy, RejectsOthersAndLeavesTheOutputAlone) {
  for (const char* text : {"", "rr", "RoundRobin", "least_conn", "maglev ", "hash"}) {
    Policy p = Policy::LeastConn;
    EXPECT_FALSE(parse_policy(text, p)) << text;
    EXPECT_EQ(p, Policy::LeastConn);
  }
}

}  // namespace
}  // namespace ringwire::lb
