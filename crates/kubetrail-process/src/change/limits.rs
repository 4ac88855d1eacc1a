//! What a change record and a stored state may hold at most, and the two ways a value is made
//! to fit: cut with a visible marker, or replaced by a content hash.

use sha2::{Digest, Sha256};

/// Entries a state keeps; the rest fold into one [`MORE`] entry holding their hash (a 1 MiB
/// ConfigMap with thousands of keys, a pod template with hundreds of containers).
pub const MAX_STATE_ENTRIES: usize = 512;

/// Characters a value keeps before it is cut (`…[truncated from N chars]`).
pub const MAX_VALUE_CHARS: usize = 256;

/// Fields one change lists; more become one `… N more fields changed` line.
pub const MAX_FIELDS: usize = 64;

/// The path of the entry that stands for the entries past [`MAX_STATE_ENTRIES`].
pub const MORE: &str = "…more";

/// `value` cut to [`MAX_VALUE_CHARS`] characters with a visible marker.
pub fn cut(value: &str) -> String {
    let chars = value.chars().count();
    if chars <= MAX_VALUE_CHARS {
        return value.to_owned();
    }
    let kept: String = value.chars().take(MAX_VALUE_CHARS).collect();
    format!("{kept}…[truncated from {chars} chars]")
}

/// A content hash of `bytes`: `sha256:<12 hex> (<n> bytes)`; what a ConfigMap or Secret key,
/// or a document too long to show, is recorded as.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex} ({} bytes)", bytes.len())
}

/// `text` as it is when short, else its content hash.
pub fn short_or_hash(text: &str) -> String {
    match text.chars().count() <= MAX_VALUE_CHARS {
        true => text.to_owned(),
        false => content_hash(text.as_bytes()),
    }
}
