//! The stored text of a kept pattern part (`pattern_parts.body`, issue 14 §1).
//!
//! The maintainer writes one body per pattern key and hour or day: 257,363 of them for 1M
//! events over 30 days. Version 1 was the `PatternPart` as serde writes it, ~1.25 KB each
//! (320 MB on that store), a fifth of which repeated what the row's columns already hold (the
//! key) and much of the rest field names, RFC 3339 times and each object's kind. Version 2
//! ([`encode`]) is a JSON array holding only what the columns do not:
//!
//! ```text
//! [2, count, first, last, {name: n, …}, [[name, note, at, uid], …], worst]
//! ```
//!
//! Times are microseconds since the epoch; objects and samples' objects are named without
//! their kind (every object of a part is of the key's kind: `Kind/name`); `worst` is the index
//! `[severity, category, i]` when it is the `i`th sample (same time and uid), else `[severity,
//! category, at, uid]`. A part that
//! version 2 cannot hold exactly (a time finer than a microsecond, an object of another kind)
//! is written as version 1. [`decode`] reads both: stores written before keep their bodies.

use std::collections::BTreeMap;

use jiff::Timestamp;
use kubetrail_analyze::{Candidate, PatternKey, PatternPart, Worst};
use kubetrail_model::{Category, Severity};
use kubetrail_store::PartKey;
use serde::ser::{Serialize, Serializer};
use serde::{Deserialize, Serialize as DeriveSerialize};

use crate::Result;

/// The version [`encode`] writes, the array's first element.
const VERSION: u8 = 2;

/// `p`'s body: version 2 when it holds `p` exactly, else version 1.
pub(crate) fn encode(p: &PatternPart) -> Result<String> {
    match compact(p) {
        Some(v2) => serde_json::to_string(&v2),
        None => serde_json::to_string(p),
    }
    .map_err(json_error)
}

/// The part of `key` stored as `body` (either version; a version 1 body holds its own key).
pub(crate) fn decode(key: &PartKey, body: &str) -> Result<PatternPart> {
    if !body.trim_start().starts_with('[') {
        return serde_json::from_str(body).map_err(json_error);
    }
    let Stored(version, count, first, last, objects, samples, worst) =
        serde_json::from_str(body).map_err(json_error)?;
    if version != VERSION {
        return Err(corrupt(body));
    }
    let prefix = format!("{}/", key.kind);
    let object = |name: &str| format!("{prefix}{name}");
    let time = |us: i64| Timestamp::from_microsecond(us).map_err(|_| corrupt(body));
    let samples = samples
        .into_iter()
        .map(|(name, note, at, uid)| {
            Ok(Candidate {
                object: object(&name),
                note,
                at: time(at)?,
                uid,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let worst = match worst {
        StoredWorst::Sample(severity, category, i) => {
            let s = samples.get(i).ok_or_else(|| corrupt(body))?;
            Worst {
                severity,
                category,
                at: s.at,
                uid: s.uid.clone(),
            }
        }
        StoredWorst::Whole(severity, category, at, uid) => Worst {
            severity,
            category,
            at: time(at)?,
            uid,
        },
    };
    Ok(PatternPart {
        key: PatternKey {
            cluster: key.cluster.clone(),
            namespace: key.namespace.clone(),
            kind: key.kind.clone(),
            reason: key.reason.clone(),
            template: key.template.clone(),
        },
        count,
        first: time(first)?,
        last: time(last)?,
        objects: objects
            .into_iter()
            .map(|(name, n)| (object(&name), n))
            .collect(),
        samples,
        worst,
    })
}

/// A version 2 body as read.
#[derive(Deserialize)]
struct Stored(
    u8,
    u64,
    i64,
    i64,
    BTreeMap<String, u64>,
    Vec<(String, String, i64, String)>,
    StoredWorst,
);

/// A version 2 body's `worst`.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredWorst {
    /// Its severity and category, and the sample it is.
    Sample(Severity, Category, usize),
    /// Its severity, category, time and uid.
    Whole(Severity, Category, i64, String),
}

/// A version 2 body to write, borrowing the part.
#[derive(DeriveSerialize)]
struct Compact<'a>(
    u8,
    u64,
    i64,
    i64,
    Names<'a>,
    Vec<(&'a str, &'a str, i64, &'a str)>,
    CompactWorst<'a>,
);

/// `Compact`'s `worst`.
#[derive(DeriveSerialize)]
#[serde(untagged)]
enum CompactWorst<'a> {
    Sample(Severity, Category, usize),
    Whole(Severity, Category, i64, &'a str),
}

/// The objects of a part, written as `{name: count}` without the kind each name begins with
/// (`skip` bytes).
struct Names<'a> {
    objects: &'a BTreeMap<String, u64>,
    skip: usize,
}

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.objects.iter().map(|(o, n)| (&o[self.skip..], n)))
    }
}

/// `p` as version 2, or `None` when version 2 would not give `p` back exactly.
fn compact(p: &PatternPart) -> Option<Compact<'_>> {
    let skip = p.key.kind.len() + 1;
    let name = |object: &str| -> Option<()> {
        (object.len() >= skip
            && object.starts_with(p.key.kind.as_str())
            && object.as_bytes()[skip - 1] == b'/')
            .then_some(())
    };
    let micros = |t: Timestamp| -> Option<i64> {
        (t.subsec_nanosecond() % 1_000 == 0).then(|| t.as_microsecond())
    };
    for object in p.objects.keys() {
        name(object)?;
    }
    let mut samples = Vec::with_capacity(p.samples.len());
    for c in &p.samples {
        name(&c.object)?;
        samples.push((
            &c.object[skip..],
            c.note.as_str(),
            micros(c.at)?,
            c.uid.as_str(),
        ));
    }
    let w = &p.worst;
    let worst = match p
        .samples
        .iter()
        .position(|c| c.at == w.at && c.uid == w.uid)
    {
        Some(i) => CompactWorst::Sample(w.severity, w.category, i),
        None => CompactWorst::Whole(w.severity, w.category, micros(w.at)?, &w.uid),
    };
    Some(Compact(
        VERSION,
        p.count,
        micros(p.first)?,
        micros(p.last)?,
        Names {
            objects: &p.objects,
            skip,
        },
        samples,
        worst,
    ))
}

fn json_error(source: serde_json::Error) -> crate::Error {
    crate::Error::Store(kubetrail_store::Error::Json {
        column: "pattern_parts.body",
        source,
    })
}

fn corrupt(body: &str) -> crate::Error {
    crate::Error::Store(kubetrail_store::Error::Corrupt {
        column: "pattern_parts.body",
        value: body.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::patterns::part_key as key_of;

    fn at(nanos: i64) -> Timestamp {
        Timestamp::from_nanosecond(i128::from(nanos)).expect("a time")
    }

    /// A time: whole microseconds, or (when `fine`) any nanosecond.
    fn time(fine: bool) -> impl Strategy<Value = Timestamp> {
        (1_600_000_000_000_000i64..1_800_000_000_000_000, 0i64..1_000)
            .prop_map(move |(us, ns)| at(us * 1_000 + if fine { ns } else { 0 }))
    }

    /// An object's name, of the key's kind or (rarely) another.
    fn object(kind: &'static str) -> impl Strategy<Value = String> {
        prop_oneof![
            9 => "[a-z0-9\\-\"\\\\é]{0,12}".prop_map(move |n| format!("{kind}/{n}")),
            1 => "[A-Za-z/]{0,8}[a-z0-9\\-]{0,8}",
        ]
    }

    fn part() -> impl Strategy<Value = PatternPart> {
        let kinds = prop::sample::select(vec!["Pod", "Node", "", "apps/Deployment"]);
        (kinds, any::<bool>()).prop_flat_map(|(kind, fine)| {
            let severities =
                prop::sample::select(vec![Severity::Info, Severity::Warning, Severity::Error]);
            let categories = prop::sample::select(vec![
                Category::Other,
                Category::Scheduling,
                Category::Storage,
            ]);
            let sample = (object(kind), ".{0,30}", time(fine), "[a-f0-9\\-]{0,36}").prop_map(
                |(object, note, at, uid)| Candidate {
                    object,
                    note,
                    at,
                    uid,
                },
            );
            (
                ("[a-z]{1,5}", "[a-z\\-]{0,8}", ".{0,10}", ".{0,40}"),
                any::<u64>(),
                (time(fine), time(fine)),
                prop::collection::btree_map(object(kind), any::<u64>(), 0..6),
                prop::collection::vec(sample, 0..4),
                (
                    severities,
                    categories,
                    time(fine),
                    "[a-f0-9\\-]{0,36}",
                    any::<Option<prop::sample::Index>>(),
                ),
            )
                .prop_map(
                    move |(
                        (cluster, namespace, reason, template),
                        count,
                        (a, b),
                        objects,
                        samples,
                        worst,
                    )| {
                        let (severity, category, at, uid, of_sample) = worst;
                        // The worst is most often one of the samples, as the maintainer finds it.
                        let (at, uid) = match of_sample.filter(|_| !samples.is_empty()) {
                            Some(i) => {
                                let s = &samples[i.index(samples.len())];
                                (s.at, s.uid.clone())
                            }
                            None => (at, uid),
                        };
                        PatternPart {
                            key: PatternKey {
                                cluster,
                                namespace,
                                kind: kind.to_string(),
                                reason,
                                template,
                            },
                            count,
                            first: a.min(b),
                            last: a.max(b),
                            objects,
                            samples,
                            worst: Worst {
                                severity,
                                category,
                                at,
                                uid,
                            },
                        }
                    },
                )
        })
    }

    proptest! {
        #[test]
        fn any_part_is_read_back_from_its_body(p in part()) {
            let body = encode(&p).expect("encoded");
            prop_assert_eq!(decode(&key_of(&p), &body).expect("decoded"), p);
        }

        /// Stores written before version 2 keep their bodies (serde's `PatternPart`).
        #[test]
        fn a_version_1_body_is_read_as_it_was_written(p in part()) {
            let body = serde_json::to_string(&p).expect("encoded");
            prop_assert_eq!(decode(&key_of(&p), &body).expect("decoded"), p);
        }
    }

    /// A part as the maintainer finds it on the 1M store (`pattern_parts` of the hour).
    fn typical() -> PatternPart {
        let t = |s: &str| s.parse::<Timestamp>().expect("a time");
        let uid = "c251bae4-285c-4e2a-b0c5-fb567e89dee7";
        PatternPart {
            key: PatternKey {
                cluster: "default".into(),
                namespace: "kube-system".into(),
                kind: "Pod".into(),
                reason: "BackOff".into(),
                template: "Back-off restarting failed container <*> in pod <*>".into(),
            },
            count: 14,
            first: t("2025-01-01T01:39:16Z"),
            last: t("2025-01-01T01:58:02.125Z"),
            objects: [("Pod/coredns-5d78c9869d-abcde".to_string(), 14)].into(),
            samples: vec![Candidate {
                object: "Pod/coredns-5d78c9869d-abcde".into(),
                note: "Back-off restarting failed container coredns in pod coredns-5d78c9869d-abcde_kube-system(0d2f…)".into(),
                at: t("2025-01-01T01:58:02.125Z"),
                uid: uid.into(),
            }],
            worst: Worst {
                severity: Severity::Warning,
                category: Category::Other,
                at: t("2025-01-01T01:58:02.125Z"),
                uid: uid.into(),
            },
        }
    }

    #[test]
    fn a_body_holds_neither_the_key_nor_the_kind_nor_the_worst_sample_twice() {
        let p = typical();
        let body = encode(&p).expect("encoded");
        assert_eq!(
            body,
            "[2,14,1735695556000000,1735696682125000,{\"coredns-5d78c9869d-abcde\":14},\
             [[\"coredns-5d78c9869d-abcde\",\"Back-off restarting failed container coredns in pod \
             coredns-5d78c9869d-abcde_kube-system(0d2f…)\",1735696682125000,\
             \"c251bae4-285c-4e2a-b0c5-fb567e89dee7\"]],[\"warning\",\"other\",0]]"
        );
        let v1 = serde_json::to_string(&p).expect("encoded");
        assert!(
            body.len() * 2 < v1.len(),
            "{} against {}",
            body.len(),
            v1.len()
        );
    }

    #[test]
    fn a_part_finer_than_a_microsecond_is_written_as_version_1() {
        let mut p = typical();
        p.last = at(p.last.as_nanosecond() as i64 + 1);
        let body = encode(&p).expect("encoded");
        assert!(body.starts_with("{\"key\":"), "{body}");
        assert_eq!(decode(&key_of(&p), &body).expect("decoded"), p);
    }

    #[test]
    fn a_body_of_another_version_is_refused() {
        let p = typical();
        let body = encode(&p).expect("encoded").replacen("[2,", "[3,", 1);
        let err = decode(&key_of(&p), &body).expect_err("refused");
        assert!(
            matches!(
                err,
                crate::Error::Store(kubetrail_store::Error::Corrupt { .. })
            ),
            "{err:?}"
        );
    }
}
