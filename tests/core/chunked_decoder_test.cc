// Unit tests of the chunked request-body walker (core/chunked_decoder.h).

#include "core/chunked_decoder.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace ringwire::core::http {
namespace {

using Status = ChunkedDecoder::Status;

const char* to_string(Status s) {
  switch (s) {
    case Status::NeedMore: return "NeedMore";
    case Status::Done: return "Done";
    case Status::Error: return "Error";
  }
  return "?";
}

// Feeds the whole body in one call.
struct OneShot {
  Status status;
  size_t consumed;
};

OneShot feed_all(std::string_view in) {
  ChunkedDecoder d;
  size_t consumed = 12345;
  Status s = d.feed(in, consumed);
  return {s, consumed};
}

// Feeds `body` one byte at a time; expects NeedMore (consuming that byte)
// until the last byte, which must give Done.
void expect_done_byte_at_a_time(std::string_view body) {
  ChunkedDecoder d;
  for (size_t i = 0; i < body.size(); ++i) {
    size_t consumed = 12345;
    Status s = d.feed(body.substr(i, 1), consumed);
    if (i + 1 < body.size()) {
      ASSERT_EQ(s, Status::NeedMore) << "byte " << i << " got " << to_string(s);
      EXPECT_EQ(consumed, 1u) << "byte " << i;
    } else {
      ASSERT_EQ(s, Status::Done) << "last byte got " << to_string(s);
      EXPECT_EQ(consumed, 1u);
    }
  }
}

// Feeds `body` in pieces of `step` bytes; expects Done exactly at the end.
void expect_done_in_steps(std::string_view body, size_t step) {
  ChunkedDecoder d;
  size_t total = 0;
  size_t pos = 0;
  Status s = Status::NeedMore;
  while (pos < body.size()) {
    std::string_view piece = body.substr(pos, step);
    size_t consumed = 0;
    s = d.feed(piece, consumed);
    ASSERT_NE(s, Status::Error) << "step " << step << " at " << pos;
    total += consumed;
    pos += piece.size();
    if (s == Status::Done) break;
    ASSERT_EQ(consumed, piece.size()) << "NeedMore must consume its whole input";
  }
  EXPECT_EQ(s, Status::Done) << "step " << step;
  EXPECT_EQ(total, body.size()) << "step " << step;
  EXPECT_EQ(pos, body.size()) << "step " << step;
}

struct ValidCase {
  const char* name;
  std::string_view body;
};

class ChunkedValid : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ChunkedValid, OneShot) {
  const ValidCase& c = GetParam();
  OneShot r = feed_all(c.body);
  EXPECT_EQ(r.status, Status::Done) << to_string(r.status);
  EXPECT_EQ(r.consumed, c.body.size());
}

TEST_P(ChunkedValid, ByteAtATime) {
  expect_done_byte_at_a_time(GetParam().body);
}

TEST_P(ChunkedValid, VariousSteps) {
  for (size_t step : {2u, 3u, 4u, 7u, 16u}) expect_done_in_steps(GetParam().body, step);
}

TEST_P(ChunkedValid, TrailingBytesNotConsumed) {
  const ValidCase& c = GetParam();
  std::string buf = std::string(c.body) + "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  OneShot r = feed_all(buf);
  EXPECT_EQ(r.status, Status::Done) << to_string(r.status);
  EXPECT_EQ(r.consumed, c.body.size());
}

TEST_P(ChunkedValid, EveryStrictPrefixNeedsMore) {
  const ValidCase& c = GetParam();
  for (size_t n = 0; n < c.body.size(); ++n) {
    std::string prefix(c.body.substr(0, n));
    OneShot r = feed_all(prefix);
    EXPECT_EQ(r.status, Status::NeedMore) << "prefix " << n << " got " << to_string(r.status);
    EXPECT_EQ(r.consumed, n) << "prefix " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ChunkedValid,
    ::testing::Values(ValidCase{"simple", "5\r\nhello\r\n0\r\n\r\n"}, ValidCase{"empty_body", "0\r\n\r\n"},
                      ValidCase{"two_chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
                      ValidCase{"hex_upper", "A\r\n0123456789\r\n0\r\n\r\n"},
                      ValidCase{"hex_lower", "a\r\n0123456789\r\n0\r\n\r\n"},
                      ValidCase{"hex_multi_digit", "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n"},
                      ValidCase{"leading_zeros", "0005\r\nhello\r\n000\r\n\r\n"},
                      ValidCase{"extension", "5;x=y\r\nhello\r\n0\r\n\r\n"},
                      ValidCase{"extension_quoted", "5;name=\"v a l\"\r\nhello\r\n0;z\r\n\r\n"},
                      ValidCase{"trailer", "0\r\nX: y\r\n\r\n"},
                      ValidCase{"data_then_trailers", "5\r\nhello\r\n0\r\nX: y\r\nExpires: never\r\n\r\n"},
                      ValidCase{"data_contains_crlf", "4\r\n\r\n\r\n\r\n0\r\n\r\n"}),
    [](const ::testing::TestParamInfo<ValidCase>& i) { return std::string(i.param.name); });

TEST(Chunked, SimpleExact) {
  constexpr std::string_view body = "5\r\nhello\r\n0\r\n\r\n";
  ChunkedDecoder d;
  size_t consumed = 0;
  EXPECT_EQ(d.feed(body, consumed), Status::Done);
  EXPECT_EQ(consumed, body.size());
}

TEST(Chunked, EmptyInputNeedsMore) {
  ChunkedDecoder d;
  size_t consumed = 99;
  EXPECT_EQ(d.feed("", consumed), Status::NeedMore);
  EXPECT_EQ(consumed, 0u);
}

TEST(Chunked, ResetAllowsReuse) {
  constexpr std::string_view body = "3\r\nabc\r\n0\r\n\r\n";
  ChunkedDecoder d;
  size_t consumed = 0;
  ASSERT_EQ(d.feed(body, consumed), Status::Done);
  d.reset();
  consumed = 0;
  EXPECT_EQ(d.feed(body, consumed), Status::Done);
  EXPECT_EQ(consumed, body.size());
  // And after a reset from a half-read state.
  d.reset();
  ASSERT_EQ(d.feed("3\r\nab", consumed), Status::NeedMore);
  d.reset();
  EXPECT_EQ(d.feed(body, consumed), Status::Done);
  EXPECT_EQ(consumed, body.size());
}

TEST(Chunked, LargeChunkAcrossFeeds) {
  std::string data(100000, 'x');
  std::string body = "186a0\r\n" + data + "\r\n0\r\n\r\n";  // 0x186a0 == 100000
  expect_done_in_steps(body, 4096);
  OneShot r = feed_all(body);
  EXPECT_EQ(r.status, Status::Done);
  EXPECT_EQ(r.consumed, body.size());
}

struct ErrorCase {
  const char* name;
  std::string_view body;
};

class ChunkedError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ChunkedError, OneShot) {
  OneShot r = feed_all(GetParam().body);
  EXPECT_EQ(r.status, Status::Error) << to_string(r.status);
}

TEST_P(ChunkedError, ByteAtATime) {
  std::string_view body = GetParam().body;
  ChunkedDecoder d;
  Status s = Status::NeedMore;
  for (size_t i = 0; i < body.size() && s == Status::NeedMore; ++i) {
    size_t consumed = 0;
    s = d.feed(body.substr(i, 1), consumed);
  }
  EXPECT_EQ(s, Status::Error) << to_string(s);
}

INSTANTIATE_TEST_SUITE_P(Cases, ChunkedError,
                         ::testing::Values(ErrorCase{"bad_hex", "zz\r\n"},
                                           ErrorCase{"bad_hex_after_digit", "5g\r\nhello\r\n0\r\n\r\n"},
                                           ErrorCase{"no_digits", "\r\nhello\r\n0\r\n\r\n"},
                                           ErrorCase{"negative", "-5\r\nhello\r\n0\r\n\r\n"},
                                           ErrorCase{"data_too_long", "5\r\nhello!\r\n0\r\n\r\n"},
                                           ErrorCase{"size_overflow", "ffffffffffffffffffff\r\n"}),
                         [](const ::testing::TestParamInfo<ErrorCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace ringwire::core::http
