#pragma once

#include <string_view>

namespace ringwire::lb {

enum class Policy { RoundRobin, LeastConn, Maglev };

// "roundrobin", "leastconn" or "maglev" (--policy).
bool parse_policy(std::string_view text, Policy& out) noexcept;
std::string_view policy_name(Policy policy) noexcept;

}  // namespace ringwire::lb
