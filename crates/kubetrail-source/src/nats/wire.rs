//! What travels through JetStream: batches of processed events of one cluster as JSON, cut to
//! fit the server's largest message, each with a message id derived from its content (the
//! Events' `(cluster, uid, count)`), so that JetStream drops an identical batch published twice
//! within its duplicate window.

use std::hash::{Hash, Hasher};

use kubetrail_model::{Event, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::NatsError;

/// The format version written in every message.
pub const VERSION: u32 = 1;

/// Events of one cluster, and the gaps its watch recorded with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchMessage {
    /// The format version ([`VERSION`]); a reader refuses a newer one.
    pub v: u32,
    /// The cluster the events come from.
    pub cluster: String,
    /// The processed events.
    pub events: Vec<Event>,
    /// The gaps the agent's watch recorded; absent from the JSON when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<GapMessage>,
}

/// A period in which the agent's watch may have missed events (see `kubetrail_store::Gap`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapMessage {
    /// Which stream of the cluster, e.g. `events`.
    pub stream: String,
    /// When the stream last saw events for sure.
    pub from: Timestamp,
    /// When it was caught up again.
    pub to: Timestamp,
    /// Why events may be missing, for people.
    pub cause: String,
}

/// `<prefix>.<cluster>`, the cluster name made a single subject token.
pub fn subject(prefix: &str, cluster: &str) -> String {
    format!("{prefix}.{}", subject_token(cluster))
}

/// The cluster name as one subject token, also valid in a consumer's name: `.`, `*`, `>`,
/// `/`, `\` and white space become `_`.
pub fn subject_token(cluster: &str) -> String {
    let token: String = cluster
        .chars()
        .map(|c| match c {
            '.' | '*' | '>' | '/' | '\\' => '_',
            c if c.is_whitespace() => '_',
            c => c,
        })
        .collect();
    if token.is_empty() { "_".into() } else { token }
}

/// One encoded message: its id and its JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The JetStream message id (`Nats-Msg-Id`), derived from the content, for duplicate detection.
    pub id: String,
    /// The message body: a [`BatchMessage`] as JSON.
    pub payload: Vec<u8>,
}

/// Encodes the batch as messages of at most `max_bytes` (one event bigger than that still goes
/// alone); the gaps travel with the first message.
pub fn encode(
    cluster: &str,
    events: &[Event],
    gaps: &[GapMessage],
    max_bytes: usize,
) -> Result<Vec<Encoded>, NatsError> {
    let mut out = Vec::new();
    let mut chunk: Vec<Vec<u8>> = Vec::new();
    let mut ids: Vec<(&str, u64)> = Vec::new();
    let mut size = 0;
    let mut first = true;
    let mut flush = |chunk: &mut Vec<Vec<u8>>, ids: &mut Vec<(&str, u64)>, first: &mut bool| {
        let gaps = if *first { gaps } else { &[] };
        *first = false;
        let head = serde_json::to_vec(&Head {
            v: VERSION,
            cluster,
            gaps,
        })
        .map_err(NatsError::Encode)?;
        // `{"v":..,"cluster":..,"gaps":[..]` + `,"events":[` + events + `]}`
        let mut payload =
            Vec::with_capacity(head.len() + chunk.iter().map(Vec::len).sum::<usize>() + 16);
        payload.extend_from_slice(&head[..head.len() - 1]);
        payload.extend_from_slice(b",\"events\":[");
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                payload.push(b',');
            }
            payload.extend_from_slice(e);
        }
        payload.extend_from_slice(b"]}");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        cluster.hash(&mut h);
        ids.hash(&mut h);
        gaps.hash(&mut h);
        out.push(Encoded {
            id: format!("{:016x}-{}", h.finish(), ids.len()),
            payload,
        });
        chunk.clear();
        ids.clear();
        Ok::<(), NatsError>(())
    };
    for e in events {
        let json = serde_json::to_vec(e).map_err(NatsError::Encode)?;
        if !chunk.is_empty() && size + json.len() + 1 > max_bytes {
            flush(&mut chunk, &mut ids, &mut first)?;
            size = 0;
        }
        size += json.len() + 1;
        ids.push((e.uid.as_str(), e.count));
        chunk.push(json);
    }
    if !chunk.is_empty() || !gaps.is_empty() {
        flush(&mut chunk, &mut ids, &mut first)?;
    }
    Ok(out)
}

#[derive(Serialize)]
struct Head<'a> {
    v: u32,
    cluster: &'a str,
    gaps: &'a [GapMessage],
}

impl Hash for GapMessage {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.stream.hash(h);
        self.from.as_microsecond().hash(h);
        self.to.as_microsecond().hash(h);
        self.cause.hash(h);
    }
}

/// Decodes a message; an unknown version is an error (a newer agent than this consumer).
pub fn decode(subject: &str, payload: &[u8]) -> Result<BatchMessage, NatsError> {
    let batch: BatchMessage =
        serde_json::from_slice(payload).map_err(|source| NatsError::Decode {
            subject: subject.to_string(),
            source,
        })?;
    if batch.v != VERSION {
        return Err(NatsError::Version {
            subject: subject.to_string(),
            found: batch.v,
        });
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubetrail_model::{Category, ObjectRef, Severity};

    fn event(uid: &str, note_len: usize) -> Event {
        Event {
            cluster: "prod".into(),
            uid: uid.into(),
            namespace: "shop".into(),
            name: format!("web.{uid}"),
            regarding: ObjectRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: "web".into(),
                uid: "p".into(),
                field_path: String::new(),
            },
            related: None,
            reason: "BackOff".into(),
            note: "x".repeat(note_len),
            type_: "Warning".into(),
            action: String::new(),
            reporting_controller: "kubelet".into(),
            reporting_instance: String::new(),
            first_seen: Timestamp::from_second(1_700_000_000).unwrap(),
            last_seen: Timestamp::from_second(1_700_000_060).unwrap(),
            count: 2,
            resource_version: "7".into(),
            category: Category::Crash,
            severity: Severity::Error,
            correlation_id: "shop/Deployment/web".into(),
            owner: None,
            node: None,
            template: "x".into(),
            labels: Default::default(),
        }
    }

    #[test]
    fn batches_are_cut_to_the_size_limit_and_decode_to_the_same_events() {
        let events: Vec<Event> = (0..10).map(|i| event(&format!("u{i}"), 400)).collect();
        let gap = GapMessage {
            stream: "events".into(),
            from: Timestamp::from_second(1).unwrap(),
            to: Timestamp::from_second(2).unwrap(),
            cause: "410 Gone".into(),
        };
        let encoded = encode("prod", &events, std::slice::from_ref(&gap), 2_000).unwrap();
        assert!(encoded.len() >= 3, "{}", encoded.len());
        let mut back = Vec::new();
        for (i, m) in encoded.iter().enumerate() {
            assert!(m.payload.len() <= 2_000 + 200);
            let b = decode("kubetrail.events.prod", &m.payload).unwrap();
            assert_eq!(b.cluster, "prod");
            assert_eq!(
                b.gaps.is_empty(),
                i > 0,
                "the gap goes with the first message"
            );
            back.extend(b.events);
        }
        assert_eq!(back, events);
        let again = encode("prod", &events, &[gap], 2_000).unwrap();
        assert_eq!(again, encoded, "the same batch has the same message ids");
        let mut grown = events.clone();
        grown[0].count = 3;
        assert_ne!(
            encode("prod", &grown, &[], 2_000).unwrap()[0].id,
            encoded[0].id
        );
    }

    #[test]
    fn cluster_names_become_one_subject_token() {
        assert_eq!(
            subject("kubetrail.events", "prod-eu-1"),
            "kubetrail.events.prod-eu-1"
        );
        assert_eq!(
            subject("kubetrail.events", "a.b *>c"),
            "kubetrail.events.a_b___c"
        );
        assert_eq!(subject("p", ""), "p._");
        assert_eq!(subject_token("ns/prod\\x"), "ns_prod_x");
    }

    #[test]
    fn other_versions_and_garbage_are_decode_errors() {
        assert!(matches!(decode("s", b"{"), Err(NatsError::Decode { .. })));
        assert!(matches!(
            decode("s", br#"{"v":9,"cluster":"c","events":[]}"#),
            Err(NatsError::Version { found: 9, .. })
        ));
    }
}
