//! `EventFilter` → SQL `WHERE` terms with numbered parameters, for the `events` table and for
//! the rollup tables; full-text searches checked and turned into `tsquery`s.

use kubetrail_model::{Dimension, EventFilter, Timestamp};
use tokio_postgres::types::ToSql;

use crate::{Error, Result};

pub(crate) use crate::plan::{Table, column, timestamp};

pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// A `WHERE` clause under construction: `1 = 1` followed by `AND` terms, with their
/// parameters numbered `$1`, `$2`, … in the order added.
#[derive(Default)]
pub(crate) struct Where {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Where {
    pub fn new() -> Self {
        Where {
            sql: String::from(" WHERE 1 = 1"),
            params: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder (`$n`).
    pub fn param(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    /// Adds `AND <term>`, where `term` is built with placeholders from [`Where::param`].
    pub fn and(&mut self, term: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(term);
    }

    /// The parameters as the driver takes them.
    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }

    /// Adds the filter's list and search terms (not its times: they mean different things to
    /// queries and aggregations). Fails for a filter the table cannot answer.
    pub fn filter(&mut self, f: &EventFilter, table: Table) -> Result<()> {
        let lists: [(Dimension, Vec<String>); 10] = [
            (Dimension::Cluster, f.clusters.clone()),
            (Dimension::Namespace, f.namespaces.clone()),
            (Dimension::Kind, f.kinds.clone()),
            (Dimension::Name, f.names.clone()),
            (Dimension::Reason, f.reasons.clone()),
            (
                Dimension::Category,
                f.categories.iter().map(|c| c.as_str().to_owned()).collect(),
            ),
            (
                Dimension::Severity,
                f.severities
                    .0
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
            ),
            (Dimension::Type, f.types.clone()),
            (Dimension::Correlation, f.correlations.clone()),
            (Dimension::Node, f.nodes.clone()),
        ];
        for (dim, values) in lists {
            if values.is_empty() {
                continue;
            }
            let col = column(dim, table).ok_or_else(|| {
                Error::InvalidQuery(format!("the rollups cannot filter by {dim}"))
            })?;
            // One value is an equality: PostgreSQL 15 reads an index in order (newest first,
            // stopping at the page's limit) for `=`, not for `= ANY(array)`.
            if let [one] = values.as_slice() {
                let p = self.param(one.clone());
                self.and(&format!("{col} = {p}"));
            } else {
                let p = self.param(values);
                self.and(&format!("{col} = ANY({p})"));
            }
        }
        if let Some(search) = &f.search {
            if table != Table::Events {
                return Err(Error::InvalidQuery(
                    "the rollups cannot search notes".into(),
                ));
            }
            check_search(search)?;
            let p = self.param(search.clone());
            self.and(&format!(
                "e.note_tsv @@ websearch_to_tsquery('simple', {p})"
            ));
        }
        Ok(())
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
