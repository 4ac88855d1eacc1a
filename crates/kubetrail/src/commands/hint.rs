//! What a read command says when nothing matches: what the store does hold, and how to reach
//! it (issue 16: an imported bundle from last year looked like an empty store).

use kubetrail_store::EventReader;

use crate::output::clock;

/// Writes to stderr, when the store holds events: how many, from when to when, and the
/// `--since` that reaches them. `what` names what matched nothing ("events", "incidents").
pub async fn nothing_matches(store: &dyn EventReader, what: &str) {
    let Ok(stats) = store.stats().await else {
        return;
    };
    let (Some(oldest), Some(newest)) = (stats.oldest, stats.newest) else {
        return;
    };
    if stats.events == 0 {
        return;
    }
    eprintln!(
        "hint: no {what} match, but the store holds {} events from {} to {}; try --since all, or --since {} (and fewer filters)",
        thousands(stats.events),
        clock(oldest),
        clock(newest),
        oldest.strftime("%Y-%m-%dT%H:%M:%SZ"),
    );
}

/// `1103` → `1,103`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(super::thousands(7), "7");
        assert_eq!(super::thousands(1103), "1,103");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
