//! Filters from text: the CLI's flags and the API's query parameters are the same names with
//! the same rules (comma lists trimmed, empty items dropped, severities as `error+`).

use kubetrail_model::{Category, EventFilter, SeveritySet};

use crate::{Error, Result};

/// The filter as typed, before parsing. Lists may hold comma-separated items.
#[derive(Debug, Clone, Default)]
pub struct FilterText {
    /// `cluster`: cluster names.
    pub clusters: Vec<String>,
    /// `namespace`: namespaces of the Event objects.
    pub namespaces: Vec<String>,
    /// `kind`: kinds of the regarding objects, e.g. `Pod`.
    pub kinds: Vec<String>,
    /// `name`: names of the regarding objects.
    pub names: Vec<String>,
    /// `reason`: event reasons, e.g. `BackOff`.
    pub reasons: Vec<String>,
    /// `category`: category names (see `Category::NAMES`), checked by [`FilterText::filter`].
    pub categories: Vec<String>,
    /// `severity`: one severity, a list, or a floor such as `error+`; `None` or blank: any.
    pub severity: Option<String>,
    /// `type`: event types, e.g. `Warning`.
    pub types: Vec<String>,
    /// `correlation`: correlation IDs.
    pub correlations: Vec<String>,
    /// `node`: nodes the objects run on.
    pub nodes: Vec<String>,
    /// `search`: full-text search over messages; `None` or blank: no search.
    pub search: Option<String>,
}

/// Every item of `values`, split at commas, trimmed, empty ones dropped.
pub fn split_list<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.as_ref().split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

impl FilterText {
    /// The model filter, without times (see [`crate::Range`]); errors name the parameter.
    pub fn filter(&self) -> Result<EventFilter> {
        let categories = split_list(&self.categories)
            .iter()
            .map(|c| c.parse::<Category>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::param("category", e))?;
        let severities = match self.severity.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => s
                .parse::<SeveritySet>()
                .map_err(|e| Error::param("severity", e))?,
            _ => SeveritySet::default(),
        };
        Ok(EventFilter {
            since: None,
            until: None,
            clusters: split_list(&self.clusters),
            namespaces: split_list(&self.namespaces),
            kinds: split_list(&self.kinds),
            names: split_list(&self.names),
            reasons: split_list(&self.reasons),
            categories,
            severities,
            types: split_list(&self.types),
            correlations: split_list(&self.correlations),
            nodes: split_list(&self.nodes),
            search: self.search.clone().filter(|s| !s.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_are_split_trimmed_and_empty_ones_dropped() {
        let t = FilterText {
            namespaces: vec![" shop , cart,".into(), "db".into()],
            ..FilterText::default()
        };
        assert_eq!(t.filter().unwrap().namespaces, ["shop", "cart", "db"]);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let t = FilterText {
            severity: Some("loud".into()),
            ..FilterText::default()
        };
        assert!(t.filter().unwrap_err().to_string().starts_with("severity:"));
        let t = FilterText {
            categories: vec!["nope".into()],
            ..FilterText::default()
        };
        assert!(t.filter().unwrap_err().to_string().starts_with("category:"));
    }
}
