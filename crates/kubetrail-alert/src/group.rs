//! Grouping: what one alert covers. Events of a rule are grouped by some of their dimensions
//! (by default the cluster and the correlation ID, i.e. one alert per workload), and each group
//! has at most one open alert: a crash loop of ten replicas is one alert, not ten, and not one
//! per event.

use kubetrail_model::Event;

use crate::template::object;

/// A dimension a rule can group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupDim {
    Cluster,
    Namespace,
    Correlation,
    Node,
    Reason,
    Kind,
    Name,
    Object,
    Category,
    Template,
}

impl GroupDim {
    pub const NAMES: &'static str =
        "cluster, namespace, correlation, node, reason, kind, name, object, category, template";

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
