#include "lb/maglev_table.h"

#include <algorithm>
#include <cassert>

namespace ringwire::lb {
namespace {
// Arbitrary distinct seeds for the offset and skip hashes.
constexpr uint64_t kOffsetSeed = 0x6d61676c65762d31ULL;
constexpr uint64_t kSkipSeed = 0x6d61676c65762d32ULL;
constexpr uint32_t kEmpty = UINT32_MAX;
}  // namespace

uint64_t hash_bytes(const void* data, size_t len, uint64_t seed) noexcept {
  uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < len; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

bool MaglevTable::is_prime(uint64_t n) noexcept {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

MaglevTable::MaglevTable(uint32_t size) : size_(size) {
  assert(size_ > 1 && is_prime(size_));
}

void MaglevTable::build(std::span<const Member> members) {
  table_.clear();
  if (members.empty()) return;
  const size_t n = members.size();

  // next[i] is the next slot of member i's permutation to try: it starts at
  // offset and advances by skip modulo the (prime) size, so it visits every
  // slot exactly once before repeating.
  std::vector<uint32_t> next(n), skip(n);
  std::vector<uint64_t> credit(n, 0);
  unsigned max_weight = 1;
  for (size_t i = 0; i < n; ++i) {
    next[i] = hash_bytes(members[i].name.data(), members[i].name.size(), kOffsetSeed) % size_;
    skip[i] = hash_bytes(members[i].name.data(), members[i].name.size(), kSkipSeed) % (size_ - 1) + 1;
    max_weight = std::max(max_weight, std::max(members[i].weight, 1u));
  }

  table_.assign(size_, kEmpty);
  uint32_t filled = 0;
  for (;;) {
    for (size_t i = 0; i < n; ++i) {
      credit[i] += std::max(members[i].weight, 1u);
      if (credit[i] < max_weight) continue;
      credit[i] -= max_weight;
      // The table is not full here, so the walk ends within size_ steps.
      while (table_[next[i]] != kEmpty) next[i] = (next[i] + skip[i]) % size_;
      table_[next[i]] = static_cast<uint32_t>(i);
      next[i] = (next[i] + skip[i]) % size_;
      if (++filled == size_) return;
    }
  }
}

}  // namespace ringwire::lb
