//! Full-text search over a time window, planned by how common the search is.
//!
//! FTS5 keeps its index apart from the rows, so the one-statement plan
//! (`e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)`, `query::index_first`)
//! reads every matching note first: it costs with how many notes match, not with the window (a
//! word in 1.9M notes: a second over 10M events). That is the right plan for a rare search.
//! A common one is answered time first: the events the query would list without the search,
//! newest first, checked against the full-text index a chunk at a time (by rowid range where
//! their ids are close, one by one where not) until the page is full. Both give the same
//! events in the same order: the walk is the query's own order, each event is checked by the
//! same `MATCH`, and after [`WALK_MAX`] events without a full page the rest of the page comes
//! from the one-statement plan, after the last event walked.

use std::collections::HashSet;

use kubetrail_model::EventFilter;
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::filter::{Where, micros, search_error, timestamp};
use super::query;
use crate::rows::{EVENT_COLUMNS as COLUMNS, stored_event};
use crate::{Page, Result, StoredEvent};

/// Events seen over longer than this (micros) are in the `events_long_span` index; its
/// condition is [`LONG_SPAN_TERM`], word for word (SQLite matches a partial index by its text).
pub(crate) const LONG_SPAN: i64 = 600_000_000;
const LONG_SPAN_TERM: &str = "e.last_seen - e.first_seen > 600000000";

/// Events walked before the rest of the page is left to the one-statement plan: a search that
/// is common in the store but rare in the window.
const WALK_MAX: usize = 50_000;

const EVENTS: &str = "events e";

/// Ids at most this far apart are checked with one rowid range.
const GAP: i64 = 16;

/// The time-first plan's answer, or `None` when the one-statement plan is the cheaper one
/// (no search, a rare search, or no page limit).
pub(crate) fn time_first(
    conn: &Connection,
    f: &EventFilter,
    page: &Page,
) -> Result<Option<Vec<StoredEvent>>> {
    let Some(search) = &f.search else {
        return Ok(None);
    };
    if page.limit == 0 || !is_common(conn, search, page.limit).map_err(|e| search_error(e, f))? {
        return Ok(None);
    }
    let tx = conn.unchecked_transaction()?;
    let found = walk(&tx, f, search, page, WALK_MAX).map_err(|e| match e {
        crate::Error::Sqlite(e) => search_error(e, f),
        other => other,
    })?;
    tx.commit()?;
    Ok(Some(found))
}

/// Whether at least as many notes match as make the time-first plan the cheaper one. The
/// index-first plan costs about 2 µs per matching note, the walk about 0.2 µs per event walked,
/// and the walk needs `limit / share` events for a search in that share of the notes: they
/// cost the same at `sqrt(limit * events / 10)` matching notes.
fn is_common(conn: &Connection, search: &str, limit: usize) -> rusqlite::Result<bool> {
    let events: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM events")?
        .query_row([], |r| r.get(0))?;
    let threshold = ((limit as f64) * (events.max(0) as f64) / 10.0).sqrt() as i64;
    let threshold = threshold.clamp(1_000, 1_000_000);
    let matching: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM
                 (SELECT 1 FROM events_fts WHERE events_fts MATCH ?1 LIMIT ?2)",
        )?
        .query_row(params![search, threshold], |r| r.get(0))?;
    Ok(matching >= threshold)
}

/// The time-first plan; after `walk_max` events without a full page, the rest of it comes from
/// the one-statement plan.
fn walk(
    conn: &Connection,
    f: &EventFilter,
    search: &str,
    page: &Page,
    walk_max: usize,
) -> Result<Vec<StoredEvent>> {
    let unsearched = EventFilter {
        search: None,
        ..f.clone()
    };
    let mut check = query::conditions(&unsearched, page)?;
    check.and("e.id = ?", []);
    let check_sql = format!("SELECT {COLUMNS} FROM events e{}", check.sql);
    let mut found = Vec::new();
    let mut walked = 0;
    let mut chunk_len = 256;
    for (from, arm) in arms(&unsearched, page)? {
        let sql = format!(
            "SELECT e.id, e.last_seen FROM {from}{} ORDER BY e.last_seen DESC, e.id DESC",
            arm.sql
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(arm.params.iter()))?;
        let mut chunk: Vec<(i64, i64)> = Vec::with_capacity(chunk_len);
        let mut done = false;
        while !done {
            match rows.next()? {
                Some(row) => chunk.push((row.get(0)?, row.get(1)?)),
                None => done = true,
            }
            if (chunk.len() < chunk_len && !done) || chunk.is_empty() {
                continue;
            }
            let matching = matching_ids(conn, search, &chunk)?;
            for &(id, _) in &chunk {
                if !matching.contains(&id) {
                    continue;
                }
                // The window's other bounds, checked on the matches only (see `arms`).
                let mut params = check.params.clone();
                params.push(Value::Integer(id));
                let mut stmt = conn.prepare_cached(&check_sql)?;
                let mut rows = stmt.query(params_from_iter(params.iter()))?;
                if let Some(row) = rows.next()? {
                    found.push(stored_event(row)?);
                    if found.len() == page.limit {
                        return Ok(found);
                    }
                }
            }
            walked += chunk.len();
            let &(last_id, last_seen) = chunk.last().expect("the chunk is not empty");
            if walked >= walk_max {
                let rest = Page {
                    limit: page.limit - found.len(),
                    after: Some((timestamp(last_seen, "last_seen")?, last_id)),
                };
                found.extend(hand_over(
                    conn,
                    f,
                    search,
                    &rest,
                    &check_sql,
                    &check.params,
                )?);
                return Ok(found);
            }
            chunk.clear();
            chunk_len = (chunk_len * 2).min(4_096);
        }
    }
    Ok(found)
}

/// The rest of a page the walk did not fill: a search common in the store but rare in the
/// window. With only a window (no other filter), the window is read again from its indexes by
/// `last_seen` and each entry checked against the set of matching rowids (SQLite builds it once
/// from the full-text index), so no row is read but those returned: the one-statement plan
/// would read the row of every matching note in the store instead (measured on 6M events: 32–139
/// ms of CPU for words in 12,000–58,000 notes, against 11–15 ms). With other filters, whose
/// own indexes may be better, the one-statement plan.
fn hand_over(
    conn: &Connection,
    f: &EventFilter,
    search: &str,
    rest: &Page,
    check_sql: &str,
    check_params: &[Value],
) -> Result<Vec<StoredEvent>> {
    let window_only = EventFilter {
        since: None,
        until: None,
        search: None,
        ..f.clone()
    } == EventFilter::default();
    if !window_only {
        return query::index_first(conn, f, rest);
    }
    let mut found = Vec::new();
    for (sql, params) in hand_over_statements(f, search, rest)? {
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut ids = stmt.query(params_from_iter(params.iter()))?;
        while let Some(row) = ids.next()? {
            // The window's other bounds, checked on the matches only (see `arms`).
            let mut params = check_params.to_vec();
            params.push(Value::Integer(row.get(0)?));
            let mut check = conn.prepare_cached(check_sql)?;
            let mut rows = check.query(params_from_iter(params.iter()))?;
            if let Some(row) = rows.next()? {
                found.push(stored_event(row)?);
                if found.len() == rest.limit {
                    return Ok(found);
                }
            }
        }
    }
    Ok(found)
}

/// The events table read by `last_seen` only, for [`hand_over`].
const BY_LAST_SEEN: &str = "events e INDEXED BY events_last_seen";

/// The statements of [`hand_over`] and their parameters: the ids of the matching events of
/// each part of the window (see [`arms`]), in the query's order.
fn hand_over_statements(
    f: &EventFilter,
    search: &str,
    rest: &Page,
) -> Result<Vec<(String, Vec<Value>)>> {
    let unsearched = EventFilter {
        search: None,
        ..f.clone()
    };
    let mut statements = Vec::new();
    for (from, mut arm) in arms(&unsearched, rest)? {
        let from = if from == EVENTS { BY_LAST_SEEN } else { from };
        arm.and(
            "e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)",
            [Value::Text(search.to_string())],
        );
        let sql = format!(
            "SELECT e.id FROM {from}{} ORDER BY e.last_seen DESC, e.id DESC",
            arm.sql
        );
        statements.push((sql, arm.params));
    }
    Ok(statements)
}

/// The events the query lists without its search, in its order, as statements (what they read
/// from, and their conditions) that each read a range of `last_seen` from an index (with the
/// filter's lists and the page's keyset). An
/// event overlaps `[since, until)` when last seen at or after `since` and first seen before
/// `until`; those last seen inside the window are read from `events_last_seen` alone (that they
/// began before `until` is checked on the matches only), those last seen less than
/// [`LONG_SPAN`] after it are read with their first seen, and those last seen later must have
/// been seen over longer than that: they come from `events_long_span`. So the events last seen
/// after the window are not read. (Without statistics SQLite does not know how small the partial
/// index is: it is named.)
fn arms(f: &EventFilter, page: &Page) -> Result<Vec<(&'static str, Where)>> {
    let since = f.since.map(micros);
    let Some(until) = f.until.map(micros) else {
        let mut all = query::listed(f, page)?;
        if let Some(since) = since {
            all.and("e.last_seen >= ?", [Value::Integer(since)]);
        }
        return Ok(vec![(EVENTS, all)]);
    };
    let at_least = |t: i64| Value::Integer(since.map_or(t, |s| s.max(t)));
    let edge = until.saturating_add(LONG_SPAN);
    let mut long = query::listed(f, page)?;
    long.and(
        &format!("e.last_seen >= ? AND {LONG_SPAN_TERM} AND e.first_seen < ?"),
        [at_least(edge), Value::Integer(until)],
    );
    let mut just_after = query::listed(f, page)?;
    just_after.and(
        "e.last_seen >= ? AND e.last_seen < ? AND e.first_seen < ?",
        [at_least(until), Value::Integer(edge), Value::Integer(until)],
    );
    let mut inside = query::listed(f, page)?;
    inside.and("e.last_seen < ?", [Value::Integer(until)]);
    if let Some(since) = since {
        inside.and("e.last_seen >= ?", [Value::Integer(since)]);
    }
    Ok(vec![
        ("events e INDEXED BY events_long_span", long),
        (EVENTS, just_after),
        (EVENTS, inside),
    ])
}

/// The ids of `chunk` (id, last seen) whose note matches `search`, asked of the full-text index
/// by rowid range for ids close together and one by one for the others.
fn matching_ids(conn: &Connection, search: &str, chunk: &[(i64, i64)]) -> Result<HashSet<i64>> {
    let mut ids: Vec<i64> = chunk.iter().map(|&(id, _)| id).collect();
    ids.sort_unstable();
    let mut range = conn.prepare_cached(
        "SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 AND rowid >= ?2 AND rowid <= ?3",
    )?;
    let mut one = conn
        .prepare_cached("SELECT rowid FROM events_fts WHERE events_fts MATCH ?1 AND rowid = ?2")?;
    let mut out = HashSet::with_capacity(ids.len());
    for run in ids.chunk_by(|a, b| b - a <= GAP) {
        let (first, last) = (run[0], run[run.len() - 1]);
        let mut rows = if run.len() == 1 {
            one.query(params![search, first])?
        } else {
            range.query(params![search, first, last])?
        };
        while let Some(row) = rows.next()? {
            out.insert(row.get::<_, i64>(0)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use kubetrail_model::{Event, Timestamp};

    use super::*;
    use crate::conformance::{event, minute};
    use crate::sqlite::{schema, write};

    /// xorshift64*: the same store every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
        }
    }

    /// 3,000 events over three days, written in random order (so ids do not follow time),
    /// some seen again later (an old id last seen late), most at one instant, some over
    /// minutes, some over days, one first seen after it was last seen; notes with a word in
    /// 60% of them (`common`), one in 5% (`sometimes`) and one in 0.3% (`rare`).
    fn store(dir: &std::path::Path) -> Connection {
        let conn = Connection::open(dir.join("search.db")).expect("open");
        schema::prepare_writer(&conn, 8_192).expect("schema");
        let mut rng = Rng(0x5EA2C4);
        let mut events: Vec<Event> = Vec::new();
        for i in 0..3_000u64 {
            let last = minute(rng.below(3 * 24 * 60) as i64);
            let mut e = event(&format!("uid-{i}"), last, 1);
            e.first_seen = match rng.below(100) {
                0..=89 => last,
                90..=96 => last - SignedDuration::from_mins(rng.below(30) as i64),
                _ => last - SignedDuration::from_hours(rng.below(60) as i64),
            };
            if i == 7 {
                e.first_seen = last + SignedDuration::from_hours(2);
            }
            let mut words = vec!["Back-off", "restarting", "container"];
            if rng.below(100) < 60 {
                words.push("common");
            }
            if rng.below(100) < 5 {
                words.push("sometimes");
            }
            if rng.below(1000) < 3 {
                words.push("rare");
            }
            e.note = format!("{} {i}", words.join(" "));
            e.namespace = ["default", "shop", "kube-system"][rng.below(3) as usize].into();
            events.push(e);
        }
        let mut again: Vec<Event> = Vec::new();
        for e in &events {
            if rng.below(10) == 0 {
                let later = SignedDuration::from_hours(rng.below(30) as i64);
                again.push(Event {
                    count: 2,
                    last_seen: e.last_seen + later,
                    ..e.clone()
                });
            }
        }
        for i in (1..events.len()).rev() {
            events.swap(i, rng.below(i as u64 + 1) as usize);
        }
        events.append(&mut again);
        conn.execute_batch("BEGIN").expect("begin");
        for batch in events.chunks(500) {
            write::write_batch(&conn, batch, 0, true).expect("write");
        }
        conn.execute_batch("COMMIT").expect("commit");
        conn
    }

    fn ids(events: &[StoredEvent]) -> Vec<i64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn the_time_first_plan_finds_the_same_events_in_the_same_order_as_the_index_first_plan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = store(dir.path());
        let at = |h: i64| Some(minute(h * 60));
        let windows: [(Option<Timestamp>, Option<Timestamp>); 7] = [
            (None, None),
            (at(30), None),
            (None, at(40)),
            (at(24), at(48)),
            (at(50), at(51)),
            (at(-5), at(2)),
            (at(70), at(200)),
        ];
        let searches = [
            "common",
            "sometimes",
            "rare",
            "common AND sometimes",
            "comm*",
            "\"restarting container\"",
            "common NOT sometimes",
            "absent",
        ];
        let mut compared = 0;
        for search in searches {
            for (since, until) in windows {
                for namespaces in [vec![], vec!["shop".to_string()]] {
                    let f = EventFilter {
                        search: Some(search.into()),
                        since,
                        until,
                        namespaces,
                        ..EventFilter::default()
                    };
                    for limit in [1, 7, 100] {
                        let page = Page { limit, after: None };
                        let want = query::index_first(&conn, &f, &page).expect("index first");
                        for walk_max in [10, WALK_MAX] {
                            let got = walk(&conn, &f, search, &page, walk_max).expect("walk");
                            assert_eq!(ids(&got), ids(&want), "{f:?} {page:?} {walk_max}");
                            assert_eq!(got, want);
                        }
                        // The next page, after the last event of this one.
                        let Some(last) = want.last() else { continue };
                        let next = Page {
                            limit,
                            after: Some((last.event.last_seen, last.id)),
                        };
                        let want = query::index_first(&conn, &f, &next).expect("index first");
                        let got = walk(&conn, &f, search, &next, WALK_MAX).expect("walk");
                        assert_eq!(ids(&got), ids(&want), "{f:?} {next:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 200, "{compared} next pages compared");
    }

    #[test]
    fn a_common_search_walks_the_window_and_a_rare_one_reads_the_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = store(dir.path());
        let page = Page {
            limit: 50,
            after: None,
        };
        for (search, common) in [("common", true), ("rare", false), ("sometimes", false)] {
            let f = EventFilter {
                search: Some(search.into()),
                since: Some(minute(24 * 60)),
                until: Some(minute(48 * 60)),
                ..EventFilter::default()
            };
            let planned = time_first(&conn, &f, &page).expect("plan");
            assert_eq!(planned.is_some(), common, "{search}");
            let want = query::index_first(&conn, &f, &page).expect("index first");
            assert!(!want.is_empty(), "{search} is found");
            assert_eq!(planned.unwrap_or(want.clone()), want);
        }
    }

    #[test]
    fn a_broken_search_is_an_invalid_query_in_either_plan() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = store(dir.path());
        let f = EventFilter {
            search: Some("\"unbalanced".into()),
            ..EventFilter::default()
        };
        let page = Page {
            limit: 10,
            after: None,
        };
        let error = time_first(&conn, &f, &page).expect_err("broken");
        assert!(matches!(error, crate::Error::InvalidQuery(_)), "{error}");
    }

    /// A search common in the store but rare in the window: the rest of the page reads the
    /// window by `last_seen` and never drives the read from the full-text matches (which reads
    /// the row of every match in the store).
    #[test]
    fn the_hand_over_reads_the_window_by_last_seen_not_every_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = store(dir.path());
        let f = EventFilter {
            since: Some(minute(24 * 60)),
            until: Some(minute(48 * 60)),
            search: Some("common".into()),
            ..EventFilter::default()
        };
        let statements = hand_over_statements(&f, "common", &Page::default()).expect("sql");
        assert_eq!(statements.len(), 3);
        for (sql, params) in statements {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("plan");
            let details: Vec<String> = stmt
                .query_map(params_from_iter(params.iter()), |r| r.get(3))
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("plan");
            let plan = details.join("; ");
            assert!(
                plan.contains("INDEX events_last_seen") || plan.contains("INDEX events_long_span"),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
        }
    }

    #[test]
    fn each_part_of_the_window_is_read_from_an_index_by_last_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = store(dir.path());
        let f = EventFilter {
            since: Some(minute(24 * 60)),
            until: Some(minute(48 * 60)),
            ..EventFilter::default()
        };
        let plans: Vec<String> = arms(&f, &Page::default())
            .expect("arms")
            .iter()
            .map(|(from, arm)| {
                let sql = format!(
                    "EXPLAIN QUERY PLAN SELECT e.id, e.last_seen FROM {from}{} \
                     ORDER BY e.last_seen DESC, e.id DESC",
                    arm.sql
                );
                let mut stmt = conn.prepare(&sql).expect("plan");
                let details: Vec<String> = stmt
                    .query_map(params_from_iter(arm.params.iter()), |r| r.get(3))
                    .expect("plan")
                    .collect::<rusqlite::Result<_>>()
                    .expect("plan");
                details.join("; ")
            })
            .collect();
        assert!(plans[0].contains("events_long_span"), "{}", plans[0]);
        assert!(plans[1].contains("events_last_seen"), "{}", plans[1]);
        assert!(
            plans[2].contains("COVERING INDEX events_last_seen"),
            "{}",
            plans[2]
        );
        for p in &plans {
            assert!(!p.contains("TEMP B-TREE"), "no sort: {p}");
        }
    }
}
