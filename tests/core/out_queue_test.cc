#include "core/out_queue.h"

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <cstring>
#include <memory>
#include <string>

namespace ringwire::core {
namespace {

TEST(OutQueue, PopFrontHandsOverTheSegmentAndItsHold) {
  auto owner = std::make_shared<std::string>("HTTP/1.1 200 OK\r\n\r\nbody");
  std::weak_ptr<std::string> watch = owner;
  OutQueue q;
  q.push_bytes(*owner, owner);
  owner.reset();
  ASSERT_FALSE(q.front_in_arena());
  OutQueue::Segment s = q.pop_front();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(std::string(s.data, s.len), "HTTP/1.1 200 OK\r\n\r\nbody");
  EXPECT_FALSE(watch.expired()) << "the popped segment keeps its bytes alive";
  s.hold.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(OutQueue, FormattedBytesAreInTheArenaAndKeepTheirOrder) {
  OutQueue q;
  q.push_static("first ");
  char* p = q.arena_reserve();
  memcpy(p, "second ", 7);
  q.arena_commit(7);
  q.push_static("third");
  EXPECT_FALSE(q.front_in_arena());
  q.consume(6);
  EXPECT_TRUE(q.front_in_arena());
  iovec iov[4];
  ASSERT_EQ(q.fill_iovec(iov, 4), 2u);
  EXPECT_EQ(std::string(static_cast<char*>(iov[0].iov_base), iov[0].iov_len), "second ");
  EXPECT_EQ(iov[0].iov_len + iov[1].iov_len, 12u);
  q.consume(9);  // across the segment boundary
  EXPECT_FALSE(q.front_in_arena());
  EXPECT_EQ(std::string(q.front().data, q.front().len), "ird");
}

}  // namespace
}  // namespace ringwire::core
