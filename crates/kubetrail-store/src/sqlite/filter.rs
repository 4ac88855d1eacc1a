//! SQLite's dialect of the shared `WHERE` builder (`crate::where_clause`).

use kubetrail_model::{EventFilter, Timestamp};
use rusqlite::types::Value;

use crate::where_clause::Dialect;
use crate::{Error, Result};

pub(crate) use crate::plan::{Table, timestamp};

/// SQLite's way: `?` placeholders, `IN (?, ...)` lists, FTS5 searches.
pub(crate) struct Sqlite;

/// A `WHERE` clause for SQLite (see [`crate::where_clause`]).
pub(crate) type Where = crate::where_clause::Where<Sqlite>;

impl Dialect for Sqlite {
    type Param = Value;

    fn placeholder(_: usize) -> String {
        "?".to_owned()
    }

    fn any_of(w: &mut Where, column: &str, values: Vec<&str>) {
        let marks: Vec<String> = values
            .into_iter()
            .map(|v| w.bind(Value::Text(v.to_owned())))
            .collect();
        w.and_term(&format!("{column} IN ({})", marks.join(", ")));
    }

    fn search(w: &mut Where, search: &str) -> Result<()> {
        w.and(
            "e.id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)",
            [Value::Text(search.to_owned())],
        );
        Ok(())
    }
}

impl Where {
    /// Adds `AND <term>` with the parameters written `?` in `term`, in order.
    pub fn and<const N: usize>(&mut self, term: &str, params: [Value; N]) {
        self.and_term(term);
        self.params.extend(params);
    }
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
