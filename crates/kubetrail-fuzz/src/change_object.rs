//! Change tracking's parser: any bytes as a watched object's JSON through
//! [`snapshot`], then [`observe`] against itself and
//! against an empty state. Checks the caps hold and that an object never differs from itself.

use kubetrail_process::change::{Previous, Seen, State, diff, limits, observe, snapshot};

/// Parses `data` as an object and diffs it.
///
/// # Panics
/// When a state exceeds its caps, an object differs from itself, a state does not read back
/// from its text, or where the code under test panics.
pub fn run(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(snap) = snapshot(&value) else {
        return;
    };
    assert!(snap.state.entries().len() <= limits::MAX_STATE_ENTRIES + 1);
    assert!(diff(&snap.state, &snap.state).is_empty());
    assert_eq!(
        State::from_text(&snap.state.to_text()).as_ref(),
        Some(&snap.state)
    );
    let empty = State::default();
    let fields = diff(&empty, &snap.state);
    assert!(fields.len() <= limits::MAX_FIELDS + 1);
    let now = jiff::Timestamp::UNIX_EPOCH;
    let previous = Previous {
        state: &empty,
        generation: None,
    };
    let _ = observe("fuzz", Some(previous), &snap, Seen::Watched, now);
}
