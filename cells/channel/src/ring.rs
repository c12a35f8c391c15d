//! Ring index arithmetic. Indices are free-running `u32` counters that wrap;
//! a slot is an index modulo the (power-of-two) slot count. Pure functions,
//! so that the wrap-around is tested on its own.
#![forbid(unsafe_code)]

/// How many messages are in a ring with producer index `tail` and consumer
/// index `head`, or `None` if the indices cannot both be right (the
/// producer more than `slot_count` ahead, or behind the consumer).
pub const fn occupancy(tail: u32, head: u32, slot_count: u32) -> Option<u32> {
    let used = tail.wrapping_sub(head);
    if used <= slot_count {
        Some(used)
    } else {
        None
    }
}

/// The slot of message `index` in a ring of `slot_count` slots (a power of
/// two, so this is `index mod slot_count`, also across the `u32` wrap).
pub const fn slot(index: u32, slot_count: u32) -> u32 {
    index & slot_count.wrapping_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn occupancy_without_wrap() {
        assert_eq!(occupancy(0, 0, 4), Some(0));
        assert_eq!(occupancy(3, 1, 4), Some(2));
        assert_eq!(occupancy(5, 1, 4), Some(4));
        assert_eq!(occupancy(6, 1, 4), None, "more than a ring ahead");
        assert_eq!(occupancy(1, 2, 4), None, "producer behind consumer");
    }

    #[test]
    fn occupancy_across_the_u32_wrap() {
        assert_eq!(occupancy(2, u32::MAX - 1, 8), Some(4));
        assert_eq!(occupancy(0, u32::MAX, 8), Some(1));
        assert_eq!(occupancy(u32::MAX, u32::MAX, 8), Some(0));
        assert_eq!(occupancy(7, u32::MAX, 8), Some(8));
        assert_eq!(occupancy(8, u32::MAX, 8), None);
        assert_eq!(occupancy(u32::MAX, 0, 8), None, "behind across the wrap");
    }

    #[test]
    fn slots_continue_across_the_wrap() {
        // 2^32 is a multiple of every power-of-two count, so the slot
        // sequence does not jump when the index wraps.
        assert_eq!(slot(u32::MAX, 8), 7);
        assert_eq!(slot(0, 8), 0);
        assert_eq!(slot(u32::MAX, 1), 0);
        assert_eq!(slot(u32::MAX, 1 << 31), (1 << 31) - 1);
    }

    proptest! {
        #[test]
        fn occupancy_counts_the_messages_in_between(
            head in any::<u32>(),
            used in 0u32..=64,
            count_log in 0u32..=6,
        ) {
            let count = 1u32 << count_log;
            let tail = head.wrapping_add(used);
            let expected = if used <= count { Some(used) } else { None };
            prop_assert_eq!(occupancy(tail, head, count), expected);
        }

        #[test]
        fn consecutive_indices_take_consecutive_slots(
            index in any::<u32>(),
            count_log in 0u32..=31,
        ) {
            let count = 1u32 << count_log;
            let next = slot(index.wrapping_add(1), count);
            prop_assert_eq!(next, (slot(index, count) + 1) % count);
            prop_assert!(slot(index, count) < count);
        }
    }
}
