//! The opaque cursor of event pages: the store's keyset position `(last_seen, id)` of the last
//! event sent, the time range the first page resolved (so that `since=2h` means the same thing
//! on every page), and a fingerprint of the other filters (a cursor is refused with a
//! different filter rather than giving a page of something else).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kubetrail_model::{EventFilter, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// `last_seen` of the last event sent, in microseconds.
    t: i64,
    /// Its store id.
    id: i64,
    /// The resolved range of the first page, in microseconds.
    since: Option<i64>,
    until: Option<i64>,
    /// Fingerprint of the filter without its times.
    f: String,
}

impl Cursor {
    pub fn after(last_seen: Timestamp, id: i64, filter: &EventFilter) -> Cursor {
        Cursor {
            t: last_seen.as_microsecond(),
            id,
            since: filter.since.map(|t| t.as_microsecond()),
            until: filter.until.map(|t| t.as_microsecond()),
            f: fingerprint(filter),
        }
    }

    pub fn encode(&self) -> String {
        // Serializing plain integers and strings cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::bad_parameter("cursor", "not a cursor this server gave out");
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }

    /// The keyset position, after checking that `filter` (its times replaced by the cursor's)
    /// is the one the cursor was made for.
    pub fn resume(&self, filter: &mut EventFilter) -> Result<(Timestamp, i64), ApiError> {
        let time = |us: i64| {
            Timestamp::from_microsecond(us)
                .map_err(|_| ApiError::bad_parameter("cursor", "holds an impossible time"))
        };
        filter.since = self.since.map(time).transpose()?;
        filter.until = self.until.map(time).transpose()?;
        if fingerprint(filter) != self.f {
            return Err(ApiError::bad_parameter(
                "cursor",
                "was made for other filters; start again without a cursor",
            ));
        }
        Ok((time(self.t)?, self.id))
    }
}

/// A short hash of the filter's non-time parts.
fn fingerprint(filter: &EventFilter) -> String {
    let mut f = filter.clone();
    f.since = None;
    f.until = None;
    let digest = Sha256::digest(format!("{f:?}").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_keeps_the_first_pages_range() {
        let mut f = EventFilter {
            namespaces: vec!["shop".into()],
            since: Some(Timestamp::from_second(100).unwrap()),
            ..EventFilter::default()
        };
        let c = Cursor::after(Timestamp::from_second(150).unwrap(), 42, &f);
        let back = Cursor::decode(&c.encode()).unwrap();
        f.since = Some(Timestamp::from_second(999).unwrap());
        let at = back.resume(&mut f).unwrap();
        assert_eq!(at, (Timestamp::from_second(150).unwrap(), 42));
        assert_eq!(f.since, Some(Timestamp::from_second(100).unwrap()));
    }

    #[test]
    fn a_cursor_with_other_filters_or_garbage_is_refused() {
        let f = EventFilter::default();
        let c = Cursor::after(Timestamp::from_second(1).unwrap(), 1, &f);
        let mut other = EventFilter {
            reasons: vec!["BackOff".into()],
            ..EventFilter::default()
        };
        assert_eq!(
            Cursor::decode(&c.encode())
                .unwrap()
                .resume(&mut other)
                .unwrap_err()
                .code,
            "bad_parameter"
        );
        assert!(Cursor::decode("!!").is_err());
    }
}
