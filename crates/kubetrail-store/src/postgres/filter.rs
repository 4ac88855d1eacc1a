//! PostgreSQL's dialect of the shared `WHERE` builder (`crate::where_clause`): numbered
//! parameters; full-text searches checked and turned into `tsquery`s.

use kubetrail_model::Timestamp;
use tokio_postgres::types::ToSql;

use crate::where_clause::Dialect;
use crate::{Error, Result};

pub(crate) use crate::plan::{Table, timestamp};

pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// PostgreSQL's way: numbered `$n` placeholders, arrays for lists, `tsquery` searches.
pub(crate) struct Postgres;

/// A `WHERE` clause for PostgreSQL (see [`crate::where_clause`]).
pub(crate) type Where = crate::where_clause::Where<Postgres>;

impl Dialect for Postgres {
    type Param = Param;

    fn placeholder(n: usize) -> String {
        format!("${n}")
    }

    fn any_of(w: &mut Where, column: &str, values: Vec<&str>) {
        // One value is an equality: PostgreSQL 15 reads an index in order (newest first,
        // stopping at the page's limit) for `=`, not for `= ANY(array)`.
        if let [one] = values.as_slice() {
            let p = w.param(one.to_string());
            w.and(&format!("{column} = {p}"));
        } else {
            let owned: Vec<String> = values.into_iter().map(str::to_owned).collect();
            let p = w.param(owned);
            w.and(&format!("{column} = ANY({p})"));
        }
    }

    fn search(w: &mut Where, search: &str) -> Result<()> {
        check_search(search)?;
        let p = w.param(search.to_owned());
        w.and(&format!(
            "e.note_tsv @@ websearch_to_tsquery('simple', {p})"
        ));
        Ok(())
    }
}

impl Where {
    /// Adds a parameter and returns its placeholder (`$n`).
    pub fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.bind(Box::new(value))
    }

    /// Adds `AND <term>`, where `term` is built with placeholders from [`Where::param`].
    pub fn and(&mut self, term: &str) {
        self.and_term(term);
    }

    /// The parameters as the driver takes them.
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Rejects what the SQLite backend's FTS5 syntax rejects and `websearch_to_tsquery` would
/// silently accept: unbalanced quotes or parentheses, a dangling `OR`/`AND`/`NOT`, no words.
pub(crate) fn check_search(search: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidQuery(format!("search {search:?}: {why}")));
    if search.chars().filter(|c| *c == '"').count() % 2 == 1 {
        return bad("unterminated string");
    }
    let mut depth = 0i32;
    for c in search.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return bad("unbalanced parentheses");
        }
    }
    if depth != 0 {
        return bad("unbalanced parentheses");
    }
    let words: Vec<&str> = search.split_whitespace().collect();
    if !search.chars().any(char::is_alphanumeric) {
        return bad("no words to search for");
    }
    let operator = |w: &&str| matches!(*w, "OR" | "AND" | "NOT");
    if words.first().is_some_and(|w| matches!(*w, "OR" | "AND"))
        || words.last().is_some_and(operator)
    {
        return bad("an operator needs words on both sides");
    }
    Ok(())
}

pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_with_broken_syntax_are_invalid_queries() {
        for ok in [
            "probe",
            "\"probe failed\"",
            "nginx OR restarting",
            "a -b",
            "(x)",
        ] {
            assert!(check_search(ok).is_ok(), "{ok}");
        }
        for bad in ["\"unterminated", "(a", "a)", "failed OR", "OR x", "!!", ""] {
            assert!(
                matches!(check_search(bad), Err(Error::InvalidQuery(_))),
                "{bad}"
            );
        }
    }
}
