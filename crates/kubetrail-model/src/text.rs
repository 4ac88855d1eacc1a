//! The one rule for what text an [`Event`] may hold, so that every backend stores the same text
//! and no field can make a store refuse its batch:
//!
//! - **NUL** (U+0000, which the Kubernetes API server accepts but PostgreSQL text cannot hold)
//!   becomes the visible symbol `␀` (U+2400, SYMBOL FOR NULL), on SQLite too. Every other
//!   character is kept as it came (a UTF-8 database holds them all).
//! - **Sizes** are bounded, in bytes of UTF-8: names and other identifiers
//!   [`MAX_NAME_BYTES`] (the Kubernetes name limit), the reason [`MAX_REASON_BYTES`], the note
//!   and its template [`MAX_NOTE_BYTES`], the correlation ID [`MAX_CORRELATION_BYTES`]. These
//!   keep every index entry under PostgreSQL's ~2.7 kB B-tree limit (the widest, a rollup key
//!   of cluster, namespace, kind, reason, type and correlation, stays under 2.1 kB) and a
//!   note's search text far under its 1 MB `tsvector` limit.
//! - A longer text is **cut** at a character boundary and ends with a marker that gives its
//!   original size, e.g. `Back-off restarting…[truncated from 1048576 bytes]`; the result,
//!   marker included, fits the limit. Bounding is idempotent: a bounded text stays as it is.
//!
//! Normalization applies it to every Event it makes (watch, import, `POST /api/v1/events`), and
//! the store again to every Event it writes (e.g. from an older agent over NATS).
//!
//! ```
//! use kubetrail_model::text::bounded;
//! assert_eq!(bounded("exit\0code", 100), "exit\u{2400}code");
//! let long = "x".repeat(300);
//! let cut = bounded(&long, 64);
//! assert!(cut.len() <= 64 && cut.ends_with("…[truncated from 300 bytes]"));
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::{Event, ObjectRef, Owner};

/// Stands for a NUL character in stored text: `␀` (U+2400, SYMBOL FOR NULL).
pub const NUL_SYMBOL: char = '\u{2400}';

/// Names, uids, kinds, namespaces, API versions, types, reporters, nodes, label keys and
/// values: the longest Kubernetes object name (a DNS subdomain).
pub const MAX_NAME_BYTES: usize = 253;

/// The reason (the API server's own limit for `events.k8s.io/v1` is 128 characters).
pub const MAX_REASON_BYTES: usize = 256;

/// The correlation ID: `namespace/Kind/name`, three names.
pub const MAX_CORRELATION_BYTES: usize = 3 * MAX_NAME_BYTES + 2;

/// The note (message) and its template: 128 KiB, far beyond real notes (1 kB for
/// `events.k8s.io/v1`; long admission and mount errors stay under a few kB). Its search text
/// stays under 0.5 MB even for text made of distinct short words (a `tsvector` takes at most
/// ~3.4 times the bytes of its text).
pub const MAX_NOTE_BYTES: usize = 128 * 1024;

/// `text` with NUL shown as [`NUL_SYMBOL`] and cut to at most `max` bytes with a visible
/// marker; borrowed when nothing had to change. (`max` must exceed the marker's ~35 bytes, as
/// every limit here does.)
pub fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    // Almost every text: short enough and without NUL. A byte search, cheaper for the short
    // texts of most fields than `str::contains` with a `char`.
    let has_nul = text.as_bytes().contains(&0);
    if !has_nul && text.len() <= max {
        return Cow::Borrowed(text);
    }
    let text: Cow<'_, str> = if has_nul {
        Cow::Owned(text.replace('\0', NUL_SYMBOL.encode_utf8(&mut [0; 4])))
    } else {
        Cow::Borrowed(text)
    };
    if text.len() <= max {
        return text;
    }
    let marker = format!("…[truncated from {} bytes]", text.len());
    let mut keep = max.saturating_sub(marker.len());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut out = String::with_capacity(keep + marker.len());
    out.push_str(&text[..keep]);
    out.push_str(&marker);
    Cow::Owned(out)
}

/// Applies [`bounded`] in place, allocating only when the text changes.
fn bound(text: &mut String, max: usize) {
    if let Cow::Owned(s) = bounded(text, max) {
        *text = s;
    }
}

fn bound_ref(r: &mut ObjectRef) {
    for s in [
        &mut r.api_version,
        &mut r.kind,
        &mut r.namespace,
        &mut r.name,
        &mut r.uid,
        &mut r.field_path,
    ] {
        bound(s, MAX_NAME_BYTES);
    }
}

impl Event {
    /// Applies the text rule of this module to every field: NUL shown as `␀`, sizes bounded.
    pub fn bound_text(&mut self) {
        for s in [
            &mut self.cluster,
            &mut self.uid,
            &mut self.namespace,
            &mut self.name,
            &mut self.type_,
            &mut self.action,
            &mut self.reporting_controller,
            &mut self.reporting_instance,
            &mut self.resource_version,
        ] {
            bound(s, MAX_NAME_BYTES);
        }
        bound(&mut self.reason, MAX_REASON_BYTES);
        bound(&mut self.note, MAX_NOTE_BYTES);
        bound(&mut self.template, MAX_NOTE_BYTES);
        bound(&mut self.correlation_id, MAX_CORRELATION_BYTES);
        bound_ref(&mut self.regarding);
        if let Some(r) = &mut self.related {
            bound_ref(r);
        }
        if let Some(Owner { kind, name }) = &mut self.owner {
            bound(kind, MAX_NAME_BYTES);
            bound(name, MAX_NAME_BYTES);
        }
        if let Some(node) = &mut self.node {
            bound(node, MAX_NAME_BYTES);
        }
        let needs = self.labels.iter().any(|(k, v)| {
            matches!(bounded(k, MAX_NAME_BYTES), Cow::Owned(_))
                || matches!(bounded(v, MAX_NAME_BYTES), Cow::Owned(_))
        });
        if needs {
            self.labels = std::mem::take(&mut self.labels)
                .into_iter()
                .map(|(mut k, mut v)| {
                    bound(&mut k, MAX_NAME_BYTES);
                    bound(&mut v, MAX_NAME_BYTES);
                    (k, v)
                })
                .collect::<BTreeMap<_, _>>();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_within_the_limit_without_nul_is_borrowed_unchanged() {
        assert!(matches!(bounded("BackOff", 10), Cow::Borrowed("BackOff")));
        assert!(matches!(bounded("", 0), Cow::Borrowed("")));
    }

    #[test]
    fn every_nul_becomes_the_nul_symbol() {
        assert_eq!(bounded("\0a\0\0b\0", 100), "␀a␀␀b␀");
    }

    #[test]
    fn a_long_text_is_cut_at_a_char_boundary_with_its_original_size() {
        let text = "é".repeat(200); // 400 bytes, two per character
        let cut = bounded(&text, 101);
        assert!(cut.len() <= 101, "{}", cut.len());
        assert!(cut.ends_with("…[truncated from 400 bytes]"));
        assert!(cut.starts_with("éé"));
        // A NUL counts as the three bytes of its symbol.
        let nuls = "\0".repeat(100);
        assert!(bounded(&nuls, 250).ends_with("…[truncated from 300 bytes]"));
    }

    #[test]
    fn bounding_twice_changes_nothing_more() {
        for (text, max) in [("x".repeat(5000), 253), ("a\0b".repeat(99), 256)] {
            let once = bounded(&text, max).into_owned();
            assert!(matches!(bounded(&once, max), Cow::Borrowed(_)), "{once}");
        }
    }
}
