#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ringwire::lb {

// MaglevTable is the lookup table of Maglev hashing (Eisenbud et al., "Maglev:
// A Fast and Reliable Software Network Load Balancer", NSDI 2016, section
// 3.4). Each backend walks its own permutation of the table's slots, given by
// an offset and a skip derived from two hashes of its name, and the backends
// take turns claiming the next free slot of their permutation until the table
// is full. Because a backend's permutation depends only on its name, removing
// one backend frees its slots and leaves almost every other slot where it was.
//
// Weights follow Katran's scheme: in each turn a backend adds its weight to a
// credit and claims a slot only when the credit reaches the largest weight, so
// slot counts come out proportional to weights and equal weights give the
// paper's plain algorithm.
//
// Not thread-safe: the Balancer owns one and guards it with its mutex.
class MaglevTable {
 public:
  // The paper's smallest recommended size: prime, and large enough (M >> k)
  // that each backend's share is within a fraction of a percent of 1/k.
  static constexpr uint32_t kDefaultSize = 65537;

  struct Member {
    std::string_view name;  // hashed for the permutation: keep it stable across rebuilds
    unsigned weight = 1;
  };

  // `size` must be prime (asserted in debug builds) so every skip in
  // 1..size-1 generates a full permutation.
  explicit MaglevTable(uint32_t size = kDefaultSize);

  // Refills the table for `members`; slot entries are indexes into it. An
  // empty span leaves the table empty.
  void build(std::span<const Member> members);

  uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return table_.empty(); }
  // The slot a key hashes to, and the member index stored in a slot. Only
  // valid when !empty().
  uint32_t slot_of(uint64_t key_hash) const noexcept { return key_hash % size_; }
  uint32_t at(uint32_t slot) const noexcept { return table_[slot]; }

  static bool is_prime(uint64_t n) noexcept;

 private:
  uint32_t size_;
  std::vector<uint32_t> table_;
};

// 64-bit hashes of bytes with a seed (FNV-1a folded through MurmurHash3's
// finalizer for avalanche). Seeds give the independent hashes Maglev needs.
uint64_t hash_bytes(const void* data, size_t len, uint64_t seed) noexcept;

}  // namespace ringwire::lb
