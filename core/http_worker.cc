#include "core/http_worker.h"

namespace ringwire::core {

HttpWorker::HttpWorker(const ServeConfig& config, const Clock& clock, int root_fd, int access_log_fd)
    : own_handler_(std::make_unique<StaticHandler>(root_fd, config.cache, clock)),
      own_access_log_(access_log_fd >= 0 ? std::make_unique<AccessLog>(access_log_fd, clock) : nullptr),
      handler_(own_handler_.get()),
      access_log_(own_access_log_.get()),
      services_{clock, *handler_, access_log_} {}

HttpWorker::HttpWorker(HttpWorker& owner, SharedHttp& shared)
    : handler_(owner.handler_),
      access_log_(owner.access_log_),
      services_{shared.clock, *handler_, access_log_, {}, &shared} {}

std::array<int64_t, kTimerKinds> HttpWorker::timeouts(const ServeConfig& config) noexcept {
  std::array<int64_t, kTimerKinds> t{};
  t[kHeaderTimer] = int64_t{config.header_timeout_s} * 1000;
  t[kIdleTimer] = int64_t{config.idle_timeout_s} * 1000;
  t[kWriteTimer] = int64_t{config.idle_timeout_s} * 1000;
  t[kLingerTimer] = 2000;
  t[kBodyTimer] = int64_t{config.body_timeout_s} * 1000;
  return t;
}

HttpWorker::~HttpWorker() = default;

void HttpWorker::begin_turn() noexcept {
  handler_->cache().poll_changes();
}

void HttpWorker::end_turn() noexcept {
  if (access_log_) access_log_->flush();
}

char* HttpWorker::take_input() {
  if (free_inputs_.empty()) return new char[kInBuf];
  char* b = free_inputs_.back().release();
  free_inputs_.pop_back();
  return b;
}

void HttpWorker::give_input(char* buf) noexcept {
  free_inputs_.emplace_back(buf);
}

Output* HttpWorker::take_output() {
  if (free_outputs_.empty()) return new Output;
  Output* o = free_outputs_.back().release();
  free_outputs_.pop_back();
  return o;
}

void HttpWorker::give_output(Output* out) noexcept {
  out->q.clear();
  free_outputs_.emplace_back(out);
}

}  // namespace ringwire::core
