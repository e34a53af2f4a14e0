#pragma once

#include <cstdint>

#include "proactor/relay_handler.h"

namespace ringwire::proactor {

// PollRelay is --uring-relay poll (the default): "poll, then splice(2)
// inline". A multishot poll on each socket reports readiness; the relay's
// pumps (core::RelayPump, the reactor's too) then copy or splice from the
// loop thread, so no byte waits for an io-wq thread.
class PollRelay final : public RelayHandler {
 public:
  using RelayHandler::RelayHandler;

  void on_resume() override {
    if (relay_.connected()) pump();
  }

 private:
  enum Op : unsigned { kClientPoll = 2, kBackendPoll = 3 };

  void before_connect() override;
  void on_connected() override;
  void on_relay_completion(unsigned op, int res, uint32_t flags) override;
  bool moving() const noexcept override { return client_poll_ || backend_poll_; }
  void cancel_moving() override;

  void arm_poll(int fd, unsigned op);
  void on_poll(core::Readiness& r, int res, uint32_t flags, bool& armed, unsigned op, int fd);
  void pump();

  bool client_poll_ = false;   // multishot poll on the client socket armed
  bool backend_poll_ = false;  // multishot poll on the backend socket armed
};

}  // namespace ringwire::proactor
