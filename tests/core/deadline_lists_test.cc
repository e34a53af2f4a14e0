// DeadlineLists: per-kind lists kept in deadline order by appending, O(1)
// moves, the nearest deadline, and iteration that survives unlinking.
#include "core/deadline_lists.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringwire::core {
namespace {

struct Item {
  int id = 0;
  DeadlineHook<Item> timer;
};

TEST(DeadlineLists, EachListStaysInDeadlineOrder) {
  DeadlineLists<Item, 2> lists;
  lists.set_timeout(0, 100);
  lists.set_timeout(1, 10);
  Item a{1}, b{2}, c{3};
  lists.schedule(&a, 0, 1000);  // due 1100
  lists.schedule(&b, 0, 1005);  // due 1105
  lists.schedule(&c, 1, 1010);  // due 1020
  EXPECT_EQ(lists.head(0), &a);
  EXPECT_EQ(lists.head(1), &c);
  EXPECT_EQ(lists.wait_ms(1000, 5000), 20);  // the nearest is in the short list
  EXPECT_EQ(lists.wait_ms(1000, 7), 7);      // capped
  EXPECT_EQ(lists.wait_ms(2000, 5000), 0);   // overdue: no wait
  // Rescheduling moves to the tail with a fresh deadline.
  lists.schedule(&a, 0, 1010);
  EXPECT_EQ(lists.head(0), &b);
  EXPECT_EQ(b.timer.next, &a);
  EXPECT_EQ(a.timer.deadline, 1110);
  // Moving between lists.
  lists.schedule(&c, 0, 1020);
  EXPECT_EQ(lists.head(1), nullptr);
  EXPECT_EQ(c.timer.list, 0);
}

TEST(DeadlineLists, UnlinkAnywhereAndIterateWhileUnlinking) {
  DeadlineLists<Item, 1> lists;
  lists.set_timeout(0, 1);
  std::vector<Item> items(5);
  for (int i = 0; i < 5; ++i) {
    items[i].id = i;
    lists.schedule(&items[i], 0, i);
  }
  lists.unlink(&items[2]);
  EXPECT_EQ(items[2].timer.list, -1);
  lists.unlink(&items[2]);  // twice is harmless
  std::vector<int> seen;
  lists.for_each(0, [&](Item* it) {
    seen.push_back(it->id);
    if (it->id % 2 == 1) lists.unlink(it);
  });
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 3, 4}));
  seen.clear();
  lists.for_each(0, [&](Item* it) { seen.push_back(it->id); });
  EXPECT_EQ(seen, (std::vector<int>{0, 4}));
  EXPECT_EQ(lists.any(), &items[0]);
  lists.unlink(&items[0]);
  lists.unlink(&items[4]);
  EXPECT_EQ(lists.any(), nullptr);
  EXPECT_EQ(lists.head(0), nullptr);
}

TEST(DeadlineLists, ExpireVisitsTheDueAndTakesOutTheStuck) {
  DeadlineLists<Item, 2> lists;
  lists.set_timeout(0, 10);
  lists.set_timeout(1, 100);
  Item a{1}, b{2}, c{3}, d{4};
  lists.schedule(&a, 0, 0);   // due 10
  lists.schedule(&b, 0, 5);   // due 15
  lists.schedule(&c, 0, 50);  // due 60: not yet
  lists.schedule(&d, 1, 0);   // due 100: not yet
  EXPECT_EQ(lists.snapshot().size(), 4u);
  std::vector<int> expired, stuck;
  lists.expire(
      20,
      [&](Item* it, int kind) {
        expired.push_back(it->id);
        if (it->id == 1) lists.schedule(it, kind == 0 ? 1 : 0, 20);  // moves on: a later deadline
        // b does nothing: it would be met again at once
      },
      [&](Item* it) {
        stuck.push_back(it->id);
        lists.unlink(it);
      });
  EXPECT_EQ(expired, (std::vector<int>{1, 2}));
  EXPECT_EQ(stuck, (std::vector<int>{2}));
  EXPECT_EQ(lists.head(0), &c);
  EXPECT_EQ(b.timer.list, -1);
  EXPECT_EQ(a.timer.list, 1);
}

}  // namespace
}  // namespace ringwire::core
