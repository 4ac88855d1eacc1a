//! `EventFilter` → SQL `WHERE` terms, for the `events` table and for the rollup tables.

use kubetrail_model::{Dimension, EventFilter, Timestamp};
use rusqlite::types::Value;

use crate::{Error, Result};

pub(crate) use crate::plan::{Table, column, timestamp};

/// A `WHERE` clause under construction: `1 = 1` followed by `AND` terms, with their parameters.
#[derive(Debug)]
pub(crate) struct Where {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Where {
    pub fn new() -> Self {
        Where {
            sql: String::from(" WHERE 1 = 1"),
            params: Vec::new(),
        }
    }

    /// Adds `AND <term>` with the parameters written `?` in `term`, in order.
    pub fn and<const N: usize>(&mut self, term: &str, params: [Value; N]) {
        self.sql.push_str(" AND ");
        self.sql.push_str(term);
        self.params.extend(params);
    }

    /// Adds `AND column IN (?, ...)`; nothing for an empty list (meaning "any").
    pub fn any_of<'a>(&mut self, column: &str, values: impl IntoIterator<Item = &'a str>) {
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            return;
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(column);
        self.sql.push_str(" IN (");
        for (i, v) in values.enumerate() {
            self.sql.push_str(if i == 0 { "?" } else { ", ?" });
            self.params.push(Value::Text(v.to_owned()));
        }
        self.sql.push(')');
    }

    /// Adds the filter's list and search terms (not its times: they mean different things to
    /// queries and aggregations). Fails for a filter the table cannot answer; callers check
    /// `crate::plan::rollup_can_answer` first.
    pub fn filter(&mut self, f: &EventFilter, table: Table) -> Result<()> {
        let lists: [(Dimension, Vec<&str>); 10] = [
            (Dimension::Cluster, strs(&f.clusters)),
            (Dimension::Namespace, strs(&f.namespaces)),
            (Dimension::Kind, strs(&f.kinds)),
            (Dimension::Name, strs(&f.names)),
            (Dimension::Reason, strs(&f.reasons)),
            (
                Dimension::Category,
                f.categories.iter().map(|c| c.as_str()).collect(),
            ),
            (
                Dimension::Severity,
                f.severities.0.iter().map(|s| s.as_str()).collect(),
            ),
            (Dimension::Type, strs(&f.types)),
            (Dimension::Correlation, strs(&f.correlations)),
            (Dimension::Node, strs(&f.nodes)),
        ];
        for (dim, values) in lists {
            if values.is_empty() {
                continue;
            }
            let col = column(dim, table).ok_or_else(|| {
                Error::InvalidQuery(format!("the rollups cannot filter by {dim}"))
            })?;
            self.any_of(col, values);
        }
        if let Some(search) = &f.search {
            if table != Table::Events {
                return Err(Error::InvalidQuery(
                    "the rollups cannot search notes".into(),
                ));
            }
            self.and(
                "e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)",
                [Value::Text(search.clone())],
            );
        }
        Ok(())
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// Turns a SQLite error caused by a bad full-text search into [`Error::InvalidQuery`]: with a
/// search, a generic SQL error comes from its syntax (the rest of the SQL is ours and fixed).
pub(crate) fn search_error(e: rusqlite::Error, f: &EventFilter) -> Error {
    if let (Some(search), rusqlite::Error::SqliteFailure(code, Some(msg))) = (&f.search, &e)
        && code.code == rusqlite::ErrorCode::Unknown
    {
        return Error::InvalidQuery(format!("search {search:?}: {msg}"));
    }
    Error::Sqlite(e)
}
