#pragma once

namespace ringwire::core {

// The timeouts a loop keeps, one O(1) deadline list each (DeadlineLists):
// every handler a loop hosts sits in exactly one of them.
enum TimerKind : int {
  kHeaderTimer = 0,  // a request head is arriving (--header-timeout): 408 then close
  kIdleTimer,        // keep-alive, nothing started (--idle-timeout): close
  kWriteTimer,       // a send made no progress (--idle-timeout): close
  kLingerTimer,      // final answer sent, draining input before close (2 s)
  kBodyTimer,        // between two pieces of a request body (--body-timeout): close
  kConnectTimer,     // lb: a backend connect in progress (--connect-timeout): try the next
  kRelayTimer,       // lb: a relay that moved no byte either way (--idle-timeout): close
  kTimerKinds
};

}  // namespace ringwire::core
