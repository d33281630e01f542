//! "Did you mean ...?" hints for misspelt names.
//!
//! Not SQL92: it lives here because this is the one dependency-free crate that `rmq-macros` (listener
//! attributes), `rmq-broker` (broker.conf keys) and `rmq-runtime` (application settings) all depend on, so the
//! three share one implementation.

/// Levenshtein distance between `a` and `b`, counted in `char`s (insertions, deletions, substitutions).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate nearest to `word` when at most `max` edits away (the first of equally near ones), so a
/// message can suggest it.
pub fn closest<'a, I>(word: &str, candidates: I, max: usize) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    candidates
        .into_iter()
        .map(|c| (c, edit_distance(word, c)))
        .filter(|(_, d)| *d <= max)
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_nearest() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("brokerName", "brokerName"), 0);
        assert_eq!(
            closest("brokerNmae", ["brokerId", "brokerName"], 2),
            Some("brokerName")
        );
        assert_eq!(closest("zzz", ["brokerName"], 2), None);
    }
}
