#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lb/backend_spec.h"

namespace ringwire::lb::testing_util {

// Backends 127.0.0.1:9001, :9002, ... with the given weights.
inline std::vector<BackendSpec> make_specs(const std::vector<unsigned>& weights, unsigned first_port = 9001) {
  std::vector<BackendSpec> specs;
  for (size_t i = 0; i < weights.size(); ++i) {
    auto spec = parse_backend_arg(fmt::format("127.0.0.1:{},weight={}", first_port + i, weights[i]));
    EXPECT_TRUE(spec) << spec.error();
    specs.push_back(*spec);
  }
  return specs;
}

inline std::vector<BackendSpec> make_specs(size_t count, unsigned first_port = 9001) {
  return make_specs(std::vector<unsigned>(count, 1), first_port);
}

// Client number `i` as a distinct IPv4 address 10.x.y.z with the given port.
inline core::Endpoint client(uint32_t i, uint16_t port = 40000) {
  auto ep = core::parse_endpoint(fmt::format("10.{}.{}.{}:{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, port));
  EXPECT_TRUE(ep);
  return *ep;
}

}  // namespace ringwire::lb::testing_util
