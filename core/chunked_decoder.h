#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringwire::core::http {

// ChunkedDecoder walks a chunked request body (RFC 9112 section 7.1) across
// any number of reads, discarding the data: the static server never uses a
// request body, but must find where it ends so the next pipelined request is
// framed correctly. It keeps a few bytes of state and allocates nothing.
class ChunkedDecoder {
 public:
  enum class Status : uint8_t { NeedMore, Done, Error };

  void reset() noexcept { *this = ChunkedDecoder{}; }

  // Consumes bytes from `in`; `consumed` says how many belonged to the body.
  // Done means the last chunk and the trailer section have been read.
  Status feed(std::string_view in, size_t& consumed) noexcept;

 private:
  enum class State : uint8_t {
    Size,     // hex digits of a chunk size
    SizeExt,  // chunk extensions, skipped up to the line end
    SizeLf,   // the LF after the size line's CR
    Data,     // chunk data
    DataCr,   // the CRLF after chunk data
    DataLf,
    TrailerStart,  // start of a trailer line, or the final empty line
    Trailer,       // inside a trailer field line
    TrailerLf,     // LF after the CR of a trailer field line
    FinalLf,       // LF after the CR of the final empty line
  };
  static constexpr uint64_t kMaxChunk = uint64_t{1} << 60;
  static constexpr size_t kMaxLine = 4096;  // size line or trailer line

  State state_ = State::Size;
  bool have_digit_ = false;
  uint64_t size_ = 0;
  uint64_t remaining_ = 0;
  size_t line_ = 0;
};

}  // namespace ringwire::core::http
