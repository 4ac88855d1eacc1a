//! Query parameters, read by name so that every error names its parameter and unknown
//! parameters are refused (a misspelt filter must not silently widen a query). The filters are
//! the CLI's: `since`, `until`, `cluster`, `namespace`, `kind`, `name`, `reason`, `category`,
//! `severity`, `type`, `correlation`, `node` (comma lists, or the parameter repeated) and
//! `search`.

use std::str::FromStr;

use axum::extract::Query;
use axum::http::Uri;
use jiff::SignedDuration;
use kubetrail_model::{EventFilter, Timestamp, parse_duration, parse_time_bound};
use kubetrail_query::{FilterText, Range, split_list};

use crate::ApiError;

/// The parameters of one request; each is taken once by name.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn from_uri(uri: &Uri) -> Result<Params, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| ApiError::bad_request("bad_parameter", e.body_text()))?;
        Ok(Params { pairs })
    }

    /// Every value of `name` (repeated parameters and comma lists), removed from the rest.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.pairs.retain(|(k, v)| {
            if k != name {
                return true;
            }
            out.extend(split_list(&[v]));
            false
        });
        out
    }

    /// The single value of `name`; given twice is an error.
    pub fn text(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut found: Option<String> = None;
        let mut twice = false;
        self.pairs.retain(|(k, v)| {
            if k != name {
                return true;
            }
            twice |= found.is_some();
            found = Some(v.clone());
            false
        });
        if twice {
            return Err(ApiError::bad_parameter(name, "given more than once"));
        }
        Ok(found.filter(|v| !v.trim().is_empty()))
    }

    /// The value of `name` parsed as `T`.
    pub fn value<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        match self.text(name)? {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| ApiError::bad_parameter(name, format!("{v:?}: {e}"))),
        }
    }

    /// A duration parameter (`30m`, `1h`), or `default` when absent.
    pub fn duration(&mut self, name: &str, default: &str) -> Result<SignedDuration, ApiError> {
        let text = self.text(name)?.unwrap_or_else(|| default.to_string());
        parse_duration(&text).map_err(|e| ApiError::bad_parameter(name, e))
    }

    /// The filter parameters except `since` and `until`, read by the query layer's rules.
    pub fn filter_lists(&mut self) -> Result<EventFilter, ApiError> {
        let text = FilterText {
            clusters: self.list("cluster"),
            namespaces: self.list("namespace"),
            kinds: self.list("kind"),
            names: self.list("name"),
            reasons: self.list("reason"),
            categories: self.list("category"),
            severity: self.text("severity")?,
            types: self.list("type"),
            correlations: self.list("correlation"),
            nodes: self.list("node"),
            search: self.text("search")?,
        };
        Ok(text.filter()?)
    }

    /// `since` and `until` (see `kubetrail_query::Range`); `until` durations count back from
    /// `now`.
    pub fn range(&mut self, now: Timestamp) -> Result<Range, ApiError> {
        let since = self.text("since")?;
        let until = self.text("until")?;
        Ok(Range::parse(since.as_deref(), until.as_deref(), now)?)
    }

    /// A time parameter outside the event filters (alerts, gaps): RFC 3339 or a duration
    /// before `now`.
    pub fn time(&mut self, name: &str, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
        self.text(name)?
            .map(|t| parse_time_bound(&t, now).map_err(|e| ApiError::bad_parameter(name, e)))
            .transpose()
    }

    /// Fails on any parameter nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => Err(ApiError::bad_parameter(k, "unknown parameter")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::from_uri(&format!("/x?{q}").parse().unwrap()).unwrap()
    }

    #[test]
    fn lists_accept_commas_and_repeats_and_names_are_exact() {
        let mut p = params("namespace=shop,cart&namespace=db&reason=BackOff");
        let f = p.filter_lists().unwrap();
        assert_eq!(f.namespaces, vec!["shop", "cart", "db"]);
        assert_eq!(f.reasons, vec!["BackOff"]);
        p.finish().unwrap();
    }

    #[test]
    fn unknown_and_bad_parameters_are_named() {
        let mut p = params("namespaces=shop");
        p.filter_lists().unwrap();
        let err = p.finish().unwrap_err();
        assert!(err.message.starts_with("namespaces:"), "{}", err.message);
        let err = params("severity=loud").filter_lists().unwrap_err();
        assert!(err.message.starts_with("severity:"), "{}", err.message);
        let err = params("since=yesterday")
            .range(Timestamp::UNIX_EPOCH)
            .unwrap_err();
        assert!(err.message.starts_with("since:"), "{}", err.message);
    }
}
