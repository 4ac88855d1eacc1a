//! What a caller may see: clusters and namespaces. Every read narrows its filter through
//! [`Scope::narrow`], so a tenant never gets another's events by any filter, aggregation,
//! analysis or timeline.

use std::collections::BTreeSet;

use kubetrail_model::EventFilter;

use crate::ApiError;

/// A set of names a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// Every name, including names not seen yet.
    All,
    /// Only these names (none when empty).
    Only(BTreeSet<String>),
}

impl Allowed {
    /// Only the given names.
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Allowed {
        Allowed::Only(names.into_iter().map(Into::into).collect())
    }

    /// Everything when there is no list; an empty list allows nothing.
    pub fn from_list(names: Option<&[String]>) -> Allowed {
        match names {
            None => Allowed::All,
            Some(names) => Allowed::only(names.iter().cloned()),
        }
    }

    /// Whether `name` may be seen.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Allowed::All => true,
            Allowed::Only(set) => set.contains(name),
        }
    }

    /// The filter list narrowed to what is allowed: `Ok(None)` when nothing is left, an error
    /// naming the first requested name that is not allowed.
    fn narrow(
        &self,
        requested: Vec<String>,
        what: &str,
        who: &str,
    ) -> Result<Option<Vec<String>>, ApiError> {
        match self {
            Allowed::All => Ok(Some(requested)),
            Allowed::Only(set) if requested.is_empty() => {
                Ok((!set.is_empty()).then(|| set.iter().cloned().collect()))
            }
            Allowed::Only(set) => match requested.iter().find(|r| !set.contains(*r)) {
                Some(outside) => Err(ApiError::forbidden(format!(
                    "{what} {outside:?} is not visible to {who}"
                ))),
                None => Ok(Some(requested)),
            },
        }
    }
}

/// The clusters and namespaces (of the Event objects) a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Who, for error messages (`tenant "shop"`).
    pub who: String,
    /// The clusters it sees.
    pub clusters: Allowed,
    /// The namespaces it sees (in every cluster it sees).
    pub namespaces: Allowed,
}

impl Scope {
    /// A scope that sees every cluster and namespace (admins, anonymous reads).
    pub fn everything(who: &str) -> Scope {
        Scope {
            who: who.to_string(),
            clusters: Allowed::All,
            namespaces: Allowed::All,
        }
    }

    /// Whether it sees every cluster and every namespace.
    pub fn is_everything(&self) -> bool {
        self.clusters == Allowed::All && self.namespaces == Allowed::All
    }

    /// Whether an event of `cluster` in `namespace` is visible.
    pub fn sees(&self, cluster: &str, namespace: &str) -> bool {
        self.clusters.contains(cluster) && self.namespaces.contains(namespace)
    }

    /// `filter` limited to the scope. `Ok(None)`: the caller can see nothing at all (the answer
    /// is empty). A filter naming a cluster or namespace outside the scope is refused (403)
    /// rather than silently emptied, so that a mistake is visible.
    pub fn narrow(&self, mut filter: EventFilter) -> Result<Option<EventFilter>, ApiError> {
        let who = self.who.as_str();
        let Some(clusters) = self.clusters.narrow(filter.clusters, "cluster", who)? else {
            return Ok(None);
        };
        let Some(namespaces) = self
            .namespaces
            .narrow(filter.namespaces, "namespace", who)?
        else {
            return Ok(None);
        };
        filter.clusters = clusters;
        filter.namespaces = namespaces;
        Ok(Some(filter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Scope {
        Scope {
            who: "tenant \"shop\"".into(),
            clusters: Allowed::only(["prod"]),
            namespaces: Allowed::only(["shop", "cart"]),
        }
    }

    #[test]
    fn an_open_filter_becomes_the_tenants_lists() {
        let f = shop().narrow(EventFilter::default()).unwrap().unwrap();
        assert_eq!(f.clusters, vec!["prod"]);
        assert_eq!(f.namespaces, vec!["cart", "shop"]);
    }

    #[test]
    fn a_filter_naming_a_namespace_outside_the_scope_is_forbidden() {
        let f = EventFilter {
            namespaces: vec!["shop".into(), "payments".into()],
            ..EventFilter::default()
        };
        let err = shop().narrow(f).unwrap_err();
        assert_eq!(err.code, "forbidden");
        assert!(err.message.contains("payments"), "{}", err.message);
    }

    #[test]
    fn an_empty_scope_sees_nothing_rather_than_everything() {
        let s = Scope {
            who: "x".into(),
            clusters: Allowed::All,
            namespaces: Allowed::Only(BTreeSet::new()),
        };
        assert_eq!(s.narrow(EventFilter::default()).unwrap(), None);
    }

    /// Issue 11, item 6: an empty allow-list read as "all" (fail open).
    #[test]
    fn an_empty_allow_list_allows_nothing_and_a_missing_one_everything() {
        assert_eq!(
            Allowed::from_list(Some(&[])),
            Allowed::Only(BTreeSet::new())
        );
        assert!(!Allowed::from_list(Some(&[])).contains("shop"));
        assert_eq!(Allowed::from_list(None), Allowed::All);
    }
}
