//! Queue allocation: which of a topic's queues this consumer owns, given every live consumer of its group.
//!
//! Every client of a group runs the same strategy over the same sorted inputs, so each computes a disjoint share
//! without talking to the others. The arithmetic must therefore match the Java client's exactly: a Rust consumer
//! and a Java consumer in one group would otherwise both own (or both skip) some queues.

use std::fmt::Debug;

use rmq_protocol::body::MessageQueue;

/// Decides which queues a consumer owns during rebalance; pick one per consumer group.
///
/// All members of a group must use the same strategy (Java's `AllocateMessageQueueStrategy`), or queues are
/// consumed twice or not at all.
pub trait AllocateStrategy: Send + Sync + Debug {
    /// The name Java reports for this strategy (`AVG`, `AVG_BY_CIRCLE`), shown by admin tools.
    fn name(&self) -> &'static str;

    /// The queues `current_cid` owns among `mqs`, shared by the consumers `cids` of `group`.
    ///
    /// Inputs need not be sorted or free of duplicates: implementations work on sorted, deduplicated copies, so
    /// every client sees the same order. A `current_cid` missing from `cids` (the broker has not seen its
    /// heartbeat yet) owns nothing.
    fn allocate(
        &self,
        group: &str,
        current_cid: &str,
        mqs: &[MessageQueue],
        cids: &[String],
    ) -> Vec<MessageQueue>;
}

/// Contiguous blocks of queues per consumer, the first `queues % consumers` consumers getting one extra; Java's
/// default (`AllocateMessageQueueAveragely`), so use it unless the group already uses another strategy.
///
/// 8 queues over 3 consumers: `[0 1 2] [3 4 5] [6 7]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Averagely;

/// Queues dealt round-robin to consumers (Java's `AllocateMessageQueueAveragelyByCircle`), which spreads a
/// broker's queues over more consumers when queues are sorted broker by broker.
///
/// 8 queues over 3 consumers: `[0 3 6] [1 4 7] [2 5]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AveragelyByCircle;

/// Sorted, deduplicated copies of the inputs and this consumer's index, or `None` when it owns nothing.
fn prepare(
    group: &str,
    current_cid: &str,
    mqs: &[MessageQueue],
    cids: &[String],
) -> Option<(Vec<MessageQueue>, usize, usize)> {
    let mut cids: Vec<&str> = cids.iter().map(String::as_str).collect();
    cids.sort_unstable();
    cids.dedup();
    let Ok(index) = cids.binary_search(&current_cid) else {
        tracing::warn!(
            group,
            current_cid,
            ?cids,
            "consumer id not among the group's consumers; allocating no queues"
        );
        return None;
    };
    if mqs.is_empty() {
        return None;
    }
    let mut mqs = mqs.to_vec();
    mqs.sort_unstable();
    mqs.dedup();
    Some((mqs, index, cids.len()))
}

impl AllocateStrategy for Averagely {
    fn name(&self) -> &'static str {
        "AVG"
    }

    fn allocate(
        &self,
        group: &str,
        current_cid: &str,
        mqs: &[MessageQueue],
        cids: &[String],
    ) -> Vec<MessageQueue> {
        let Some((mqs, index, consumers)) = prepare(group, current_cid, mqs, cids) else {
            return Vec::new();
        };
        let queues = mqs.len();
        let rest = queues % consumers;
        let gets_extra = index < rest;
        let size = if queues <= consumers {
            1
        } else if gets_extra {
            queues / consumers + 1
        } else {
            queues / consumers
        };
        // Consumers before `index` took `size` each, plus one extra each for the first `rest` of them.
        let start = if gets_extra {
            index * size
        } else {
            index * size + rest
        };
        let take = size.min(queues.saturating_sub(start));
        mqs.into_iter().skip(start).take(take).collect()
    }
}

impl AllocateStrategy for AveragelyByCircle {
    fn name(&self) -> &'static str {
        "AVG_BY_CIRCLE"
    }

    fn allocate(
        &self,
        group: &str,
        current_cid: &str,
        mqs: &[MessageQueue],
        cids: &[String],
    ) -> Vec<MessageQueue> {
        let Some((mqs, index, consumers)) = prepare(group, current_cid, mqs, cids) else {
            return Vec::new();
        };
        mqs.into_iter().skip(index).step_by(consumers).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n)
            .map(|queue_id| MessageQueue {
                topic: "T".to_owned(),
                broker_name: "broker-a".to_owned(),
                queue_id,
            })
            .collect()
    }

    fn cids(m: usize) -> Vec<String> {
        // Zero-padded so the sorted order is the numeric order.
        (0..m).map(|i| format!("10.0.0.1@{i:03}")).collect()
    }

    fn ids(mqs: &[MessageQueue]) -> Vec<i32> {
        mqs.iter().map(|mq| mq.queue_id).collect()
    }

    fn shares(strategy: &dyn AllocateStrategy, n: i32, m: usize) -> Vec<Vec<i32>> {
        let mqs = queues(n);
        let cids = cids(m);
        cids.iter()
            .map(|cid| ids(&strategy.allocate("G", cid, &mqs, &cids)))
            .collect()
    }

    #[test]
    fn averagely_splits_eight_queues_three_two_ways() {
        assert_eq!(
            shares(&Averagely, 8, 3),
            vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7]]
        );
    }

    #[test]
    fn averagely_even_split() {
        assert_eq!(shares(&Averagely, 4, 2), vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(shares(&Averagely, 3, 3), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn averagely_more_consumers_than_queues_leaves_the_last_idle() {
        assert_eq!(
            shares(&Averagely, 2, 4),
            vec![vec![0], vec![1], vec![], vec![]]
        );
    }

    #[test]
    fn by_circle_deals_round_robin() {
        assert_eq!(
            shares(&AveragelyByCircle, 8, 3),
            vec![vec![0, 3, 6], vec![1, 4, 7], vec![2, 5]]
        );
        assert_eq!(
            shares(&AveragelyByCircle, 2, 4),
            vec![vec![0], vec![1], vec![], vec![]]
        );
    }

    #[test]
    fn unsorted_and_duplicated_inputs_give_the_sorted_answer() {
        let mut mqs = queues(8);
        mqs.reverse();
        mqs.push(mqs[0].clone());
        let mut group = cids(3);
        group.reverse();
        group.push(group[0].clone());
        let first = Averagely.allocate("G", "10.0.0.1@000", &mqs, &group);
        assert_eq!(ids(&first), vec![0, 1, 2]);
        let last = AveragelyByCircle.allocate("G", "10.0.0.1@002", &mqs, &group);
        assert_eq!(ids(&last), vec![2, 5]);
    }

    #[test]
    fn unknown_consumer_or_no_queues_gets_nothing() {
        for strategy in [&Averagely as &dyn AllocateStrategy, &AveragelyByCircle] {
            assert!(strategy
                .allocate("G", "stranger", &queues(4), &cids(2))
                .is_empty());
            assert!(strategy
                .allocate("G", "10.0.0.1@000", &queues(4), &[])
                .is_empty());
            assert!(strategy
                .allocate("G", "10.0.0.1@000", &[], &cids(2))
                .is_empty());
        }
    }

    #[test]
    fn names_match_java() {
        assert_eq!(Averagely.name(), "AVG");
        assert_eq!(AveragelyByCircle.name(), "AVG_BY_CIRCLE");
    }

    /// For every small group shape, the shares cover every queue exactly once.
    #[test]
    fn every_queue_has_exactly_one_owner() {
        for strategy in [&Averagely as &dyn AllocateStrategy, &AveragelyByCircle] {
            for n in 0..=40 {
                for m in 1..=12 {
                    let shares = shares(strategy, n, m);
                    let mut seen = BTreeSet::new();
                    for id in shares.iter().flatten() {
                        assert!(seen.insert(*id), "{strategy:?} n={n} m={m}: {id} twice");
                    }
                    assert_eq!(seen.len(), n as usize, "{strategy:?} n={n} m={m}");
                    let (min, max) = shares.iter().fold((usize::MAX, 0), |(lo, hi), s| {
                        (lo.min(s.len()), hi.max(s.len()))
                    });
                    assert!(max - min <= 1, "{strategy:?} n={n} m={m}: {shares:?}");
                }
            }
        }
    }

    /// Averagely hands out contiguous, ascending blocks in consumer order.
    #[test]
    fn averagely_blocks_are_contiguous_in_consumer_order() {
        for n in 1..=40 {
            for m in 1..=12 {
                let flat: Vec<i32> = shares(&Averagely, n, m).concat();
                assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n={n} m={m}");
            }
        }
    }
}
