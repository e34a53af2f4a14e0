#include "core/chunked_decoder.h"

#include "core/ascii.h"

namespace ringwire::core::http {
using core::hex_value;

ChunkedDecoder::Status ChunkedDecoder::feed(std::string_view in, size_t& consumed) noexcept {
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    switch (state_) {
      case State::Data: {
        size_t take = in.size() - i;
        if (take > remaining_) take = static_cast<size_t>(remaining_);
        remaining_ -= take;
        i += take;
        if (remaining_ == 0) state_ = State::DataCr;
        continue;
      }
      case State::Size: {
        int h = hex_value(c);
        if (h >= 0) {
          if (size_ >= kMaxChunk / 16) return consumed = i, Status::Error;
          size_ = size_ * 16 + static_cast<uint64_t>(h);
          have_digit_ = true;
        } else if (!have_digit_) {
          return consumed = i, Status::Error;
        } else if (c == ';' || c == ' ' || c == '\t') {
          state_ = State::SizeExt;
        } else if (c == '\r') {
          state_ = State::SizeLf;
        } else if (c == '\n') {
          goto size_done;
        } else {
          return consumed = i, Status::Error;
        }
        break;
      }
      case State::SizeExt:
        if (++line_ > kMaxLine) return consumed = i, Status::Error;
        if (c == '\n') goto size_done;
        break;
      case State::SizeLf:
        if (c != '\n') return consumed = i, Status::Error;
      size_done:
        line_ = 0;
        have_digit_ = false;
        remaining_ = size_;
        state_ = size_ == 0 ? State::TrailerStart : State::Data;
        size_ = 0;
        break;
      case State::DataCr:
        if (c == '\r')
          state_ = State::DataLf;
        else if (c == '\n')
          state_ = State::Size;
        else
          return consumed = i, Status::Error;
        break;
      case State::DataLf:
        if (c != '\n') return consumed = i, Status::Error;
        state_ = State::Size;
        break;
      case State::TrailerStart:
        if (c == '\r') {
          state_ = State::FinalLf;
        } else if (c == '\n') {
          consumed = i + 1;
          return Status::Done;
        } else {
          line_ = 1;
          state_ = State::Trailer;
        }
        break;
      case State::Trailer:
        if (++line_ > kMaxLine) return consumed = i, Status::Error;
        if (c == '\r')
          state_ = State::TrailerLf;
        else if (c == '\n')
          state_ = State::TrailerStart;
        break;
      case State::TrailerLf:
        if (c != '\n') return consumed = i, Status::Error;
        state_ = State::TrailerStart;
        break;
      case State::FinalLf:
        if (c != '\n') return consumed = i, Status::Error;
        consumed = i + 1;
        return Status::Done;
    }
    ++i;
  }
  consumed = i;
  return Status::NeedMore;
}

}  // namespace ringwire::core::http
