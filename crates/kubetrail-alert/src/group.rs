//! Grouping: what one alert covers. Events of a rule are grouped by some of their dimensions
//! (by default the cluster and the correlation ID, i.e. one alert per workload), and each group
//! has at most one open alert: a crash loop of ten replicas is one alert, not ten, and not one
//! per event.

use kubetrail_model::Event;

use crate::template::object;

/// A dimension a rule can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupDim {
    /// The cluster's name.
    Cluster,
    /// The Event's namespace.
    Namespace,
    /// The correlation ID (the top owner, e.g. `shop/Deployment/web`).
    Correlation,
    /// The node the object runs on; empty when not known.
    Node,
    /// The event reason.
    Reason,
    /// The regarding object's kind.
    Kind,
    /// The regarding object's name.
    Name,
    /// The regarding object, `namespace/Kind/name` (`Kind/name` when cluster-scoped).
    Object,
    /// The category name.
    Category,
    /// The message template.
    Template,
}

impl GroupDim {
    /// The names [`GroupDim::parse`] accepts, for error messages.
    pub const NAMES: &'static str =
        "cluster, namespace, correlation, node, reason, kind, name, object, category, template";

    /// The dimension of a `group_by` name (`correlation_id` is an alias of `correlation`);
    /// `None` for an unknown name.
    pub fn parse(name: &str) -> Option<GroupDim> {
        Some(match name.trim() {
            "cluster" => GroupDim::Cluster,
            "namespace" => GroupDim::Namespace,
            "correlation" | "correlation_id" => GroupDim::Correlation,
            "node" => GroupDim::Node,
            "reason" => GroupDim::Reason,
            "kind" => GroupDim::Kind,
            "name" => GroupDim::Name,
            "object" => GroupDim::Object,
            "category" => GroupDim::Category,
            "template" => GroupDim::Template,
            _ => return None,
        })
    }

    /// The alert label carrying this dimension.
    pub fn label(self) -> &'static str {
        match self {
            GroupDim::Cluster => "cluster",
            GroupDim::Namespace => "namespace",
            GroupDim::Correlation => "correlation",
            GroupDim::Node => "node",
            GroupDim::Reason => "reason",
            GroupDim::Kind => "kind",
            GroupDim::Name => "name",
            GroupDim::Object => "object",
            GroupDim::Category => "category",
            GroupDim::Template => "template",
        }
    }

    /// The event's value of this dimension.
    pub fn value(self, e: &Event) -> String {
        match self {
            GroupDim::Cluster => e.cluster.clone(),
            GroupDim::Namespace => e.namespace.clone(),
            GroupDim::Correlation => e.correlation_id.clone(),
            GroupDim::Node => e.node.clone().unwrap_or_default(),
            GroupDim::Reason => e.reason.clone(),
            GroupDim::Kind => e.regarding.kind.clone(),
            GroupDim::Name => e.regarding.name.clone(),
            GroupDim::Object => object(e),
            GroupDim::Category => e.category.as_str().to_string(),
            GroupDim::Template => e.template.clone(),
        }
    }
}

/// The group key of an event: its values of `dims` joined by `/`, e.g.
/// `prod/shop/Deployment/web` for `[cluster, correlation]`.
pub fn group_key(dims: &[GroupDim], e: &Event) -> String {
    dims.iter()
        .map(|d| d.value(e))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::event;

    #[test]
    fn replicas_of_one_workload_share_a_key_and_other_workloads_do_not() {
        let dims = [GroupDim::Cluster, GroupDim::Correlation];
        let a = event("shop", "web-1", "BackOff", 1);
        let b = event("shop", "web-2", "BackOff", 1);
        let mut c = event("shop", "api-1", "BackOff", 1);
        c.correlation_id = "shop/Deployment/api".into();
        assert_eq!(group_key(&dims, &a), "prod/shop/Deployment/web");
        assert_eq!(group_key(&dims, &a), group_key(&dims, &b));
        assert_ne!(group_key(&dims, &a), group_key(&dims, &c));
        assert!(GroupDim::parse("colour").is_none());
    }
}
