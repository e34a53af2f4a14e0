#include "lb/policy.h"

namespace ringwire::lb {
namespace {
constexpr struct {
  std::string_view name;
  Policy policy;
} kPolicies[] = {
    {"roundrobin", Policy::RoundRobin},
    {"leastconn", Policy::LeastConn},
    {"maglev", Policy::Maglev},
};
}  // namespace

bool parse_policy(std::string_view text, Policy& out) noexcept {
  for (const auto& p : kPolicies) {
    if (text == p.name) {
      out = p.policy;
      return true;
    }
  }
  return false;
}

std::string_view policy_name(Policy policy) noexcept {
  for (const auto& p : kPolicies)
    if (p.policy == policy) return p.name;
  return "?";
}

}  // namespace ringwire::lb
