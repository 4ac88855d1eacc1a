//! One `WHERE` builder for both SQL backends: `EventFilter` → `AND` terms with their
//! parameters, for the `events` table and for the rollup tables. What differs (how a parameter
//! is written, `?` or `$n`; how a list and a full-text search are matched) is the backend's
//! [`Dialect`].

use kubetrail_model::{Dimension, EventFilter};

use crate::plan::{Table, column};
use crate::{Error, Result};

/// How a backend writes what the shared builder asks for.
pub(crate) trait Dialect: Sized {
    /// A parameter value as the backend's driver takes it.
    type Param;
    /// The placeholder of the `n`th parameter (1-based): `?` or `$n`.
    fn placeholder(n: usize) -> String;
    /// Adds `AND <column> is one of <values>` (`values` is never empty).
    fn any_of(w: &mut Where<Self>, column: &str, values: Vec<&str>);
    /// Adds the term of a full-text search of the events' notes.
    fn search(w: &mut Where<Self>, search: &str) -> Result<()>;
}

/// A `WHERE` clause under construction: `1 = 1` followed by `AND` terms, with their
/// parameters in the order added.
pub(crate) struct Where<D: Dialect> {
    pub sql: String,
    pub params: Vec<D::Param>,
}

impl<D: Dialect> Where<D> {
    pub fn new() -> Self {
        Where {
            sql: String::from(" WHERE 1 = 1"),
            params: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, value: D::Param) -> String {
        self.params.push(value);
        D::placeholder(self.params.len())
    }

    /// Adds `AND <term>`, where `term` is built with placeholders from [`Where::bind`].
    pub fn and_term(&mut self, term: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(term);
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
            D::any_of(self, col, values);
        }
        if let Some(search) = &f.search {
            if table != Table::Events {
                return Err(Error::InvalidQuery(
                    "the rollups cannot search notes".into(),
                ));
            }
            D::search(self, search)?;
        }
        Ok(())
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
