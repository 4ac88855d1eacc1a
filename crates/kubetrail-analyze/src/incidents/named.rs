//! Links across owners through what an operator's report names. Some controllers report the
//! health of something another workload runs, and say in their message which one: the node
//! of an etcd member, the API group of an aggregated API server. The report and the failures
//! of the pods it names, in the same minutes, are one failure seen from two sides, so their
//! episodes join (the pods' episode names the incident). Nothing is inferred from names alone:
//! each rule reads a message format its upstream component writes, and maps it to the pods
//! that component's code says serve it.
//!
//! - OpenShift's cluster-etcd-operator reports `UnhealthyEtcdMember` "unhealthy members: a,b"
//!   and `UnstartedEtcdMember` "unstarted members: a,b" (`pkg/etcdcli/etcdcli.go`). It names
//!   each member after its node (the static pod's `--target-name=NODE_NAME`,
//!   `bindata/etcd/pod.yaml`; members not started yet read `NAME-PENDING-<ip>` and name no
//!   node), and runs etcd in `openshift-etcd`, its operand namespace, on that node: the
//!   `etcd-<node>` static pod and the quorum guard, whose readiness probe is the local etcd's
//!   health (`bindata/etcd/quorumguard-deployment.yaml`). So the report and the failures of
//!   the `openshift-etcd` pods on the named node are one unhealthy member.
//! - OpenShift's library-go APIService controller reports `OpenShiftAPICheckFailed`
//!   `"<group>.<version>" failed with …` when discovery of an aggregated API group through
//!   the kube-apiserver fails (`pkg/operator/apiserver/controller/apiservice/apigroup.go`).
//!   The groups are served by fixed workloads: the openshift-apiserver
//!   (`openshift-apiserver`) serves the groups cluster-openshift-apiserver-operator registers
//!   (apps, authorization, build, image, project, quota, route, security, template
//!   `.openshift.io`), and since OpenShift 4.6 the oauth-apiserver (`openshift-oauth-apiserver`)
//!   serves `oauth` and `user`, which cluster-authentication-operator registers. So the report
//!   and the failures of the pods in the serving namespace are one unavailable API server.
//! - That controller runs in every operator that registers aggregated APIs (the
//!   openshift-apiserver operator for its nine groups, the authentication operator for
//!   `oauth` and `user`, …), and each check is a discovery request to the kube-apiserver, whose
//!   aggregator proxies it to the serving pods. Several operators' checks that begin failing
//!   together are one outage of aggregated API availability, whichever servers are behind it
//!   (see [`api_check_links`]).

use super::{Map, Set};
use jiff::{SignedDuration, Timestamp};

use super::context::Ctx;
use super::episodes::{Episode, Scope};
use crate::objects::namespace_of;

/// How far apart a report and the failures of the pods it names may be and still be one
/// failure: operators check every few seconds to a minute and the kubelet probes every few
/// seconds, so both sides of one failure overlap or nearly touch.
pub const NAMED_SLACK: SignedDuration = SignedDuration::from_mins(2);

/// How soon after one operator's first failed API check another operator's must begin to be
/// the same outage. library-go's APIService controller syncs every 10 s (`ResyncEvery` in
/// `apiservice_controller.go`) and checks its groups one after another, each with requests
/// that give up after 25 s (`apigroup.go`): an operator reports an outage that has begun at
/// most 10 s (the next sync) + 25 s (the check in flight) + 25 s (the first failing check)
/// later. Two operators' first reports of one outage are at most that far apart.
pub const CHECK_ONSET: SignedDuration = SignedDuration::from_secs(60);

/// The reason library-go's APIService controller reports a failed discovery check with.
const API_CHECK_FAILED: &str = "OpenShiftAPICheckFailed";

/// The etcd operator's namespace for etcd (cluster-etcd-operator's operand namespace).
const ETCD_NAMESPACE: &str = "openshift-etcd";

/// The OpenShift aggregated API groups and the namespace of the API server serving them.
const API_GROUPS: [(&str, &str); 11] = [
    ("apps.openshift.io", "openshift-apiserver"),
    ("authorization.openshift.io", "openshift-apiserver"),
    ("build.openshift.io", "openshift-apiserver"),
    ("image.openshift.io", "openshift-apiserver"),
    ("project.openshift.io", "openshift-apiserver"),
    ("quota.openshift.io", "openshift-apiserver"),
    ("route.openshift.io", "openshift-apiserver"),
    ("security.openshift.io", "openshift-apiserver"),
    ("template.openshift.io", "openshift-apiserver"),
    ("oauth.openshift.io", "openshift-oauth-apiserver"),
    ("user.openshift.io", "openshift-oauth-apiserver"),
];

/// Pods a report names: in `namespace`, on `node` when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named<'a> {
    namespace: &'static str,
    node: Option<&'a str>,
}

/// The nodes of the members an etcd operator's `UnhealthyEtcdMember` or `UnstartedEtcdMember`
/// names ("unhealthy members: a,b"; a member not started yet, `NAME-PENDING-<ip>`, names none).
pub fn etcd_member_nodes(e: &kubetrail_model::AnalysisEvent) -> Vec<&str> {
    if !matches!(
        e.reason.as_str(),
        "UnhealthyEtcdMember" | "UnstartedEtcdMember"
    ) {
        return Vec::new();
    }
    let Some((_, members)) = e.note.split_once("members: ") else {
        return Vec::new();
    };
    members
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && !m.starts_with("NAME-PENDING-"))
        .collect()
}

#[cfg(test)]
thread_local! {
    /// How many times [`is_etcd_pod`] ran on this thread (tests count a rule's work).
    pub static ETCD_POD_CHECKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether `e` is about a pod of the etcd operator's operand namespace.
pub fn is_etcd_pod(e: &kubetrail_model::AnalysisEvent) -> bool {
    #[cfg(test)]
    ETCD_POD_CHECKS.set(ETCD_POD_CHECKS.get() + 1);
    e.regarding.kind == "Pod" && namespace_of(e) == ETCD_NAMESPACE
}

/// The `<group>.<version>` of a failed API check (`"<group>.<version>" failed with …`).
fn checked_group_version(e: &kubetrail_model::AnalysisEvent) -> Option<&str> {
    if e.reason != API_CHECK_FAILED {
        return None;
    }
    let (group_version, rest) = e.note.strip_prefix('"')?.split_once('"')?;
    rest.starts_with(" failed with").then_some(group_version)
}

/// What failure `e`'s message names, per the formats above.
fn named(e: &kubetrail_model::AnalysisEvent) -> Vec<Named<'_>> {
    match e.reason.as_str() {
        "UnhealthyEtcdMember" | "UnstartedEtcdMember" => etcd_member_nodes(e)
            .into_iter()
            .map(|node| Named {
                namespace: ETCD_NAMESPACE,
                node: Some(node),
            })
            .collect(),
        API_CHECK_FAILED => {
            let Some(group_version) = checked_group_version(e) else {
                return Vec::new();
            };
            // `<group>.<version>`: the version is the last dot-separated part.
            let group = group_version
                .rsplit_once('.')
                .map_or(group_version, |(g, _)| g);
            API_GROUPS
                .iter()
                .filter(|(g, _)| *g == group)
                .map(|&(_, namespace)| Named {
                    namespace,
                    node: None,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// `(effect, cause)` episode pairs: a report's episode joins the episode of the pods it names
/// that failed within [`NAMED_SLACK`] of it.
pub fn links(ctx: &Ctx<'_>, episodes: &[Episode<'_>]) -> Vec<(usize, usize)> {
    // Pod failures of the episodes, by (cluster, namespace), oldest first: only the
    // namespaces a report can name are kept.
    let mut pods: Map<(&str, &str), Vec<(usize, usize)>> = Map::default();
    for (n, ep) in episodes.iter().enumerate() {
        for &i in &ep.events {
            let e = ctx.event(i);
            let ns = namespace_of(e);
            if e.regarding.kind == "Pod"
                && (ns == ETCD_NAMESPACE || API_GROUPS.iter().any(|(_, s)| *s == ns))
            {
                pods.entry((ep.cluster, ns)).or_default().push((n, i));
            }
        }
    }
    for list in pods.values_mut() {
        list.sort_by_key(|&(_, i)| (ctx.start(i), i));
    }
    let mut out = Vec::new();
    for (r, ep) in episodes.iter().enumerate() {
        if !matches!(ep.scope, Scope::Owner(_)) {
            continue;
        }
        let mut joined: Set<usize> = Set::default();
        for &i in &ep.events {
            for target in named(ctx.event(i)) {
                let candidates = pods
                    .get(&(ep.cluster, target.namespace))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                // Oldest first: none after this one starts near enough.
                let last =
                    candidates.partition_point(|&(_, j)| ctx.start(j) <= ctx.end(i) + NAMED_SLACK);
                for &(p, j) in &candidates[..last] {
                    if p != r
                        && ctx.start(i) <= ctx.end(j) + NAMED_SLACK
                        && target.node.is_none_or(|n| ctx.node(j) == Some(n))
                        && joined.insert(p)
                    {
                        out.push((r, p));
                    }
                }
            }
        }
    }
    out
}

/// `(effect, cause)` episode pairs: the episodes of other operators whose failed API checks
/// begin within [`CHECK_ONSET`] of the first check of an outage join that first one's episode.
/// Only the checks are compared, never the operators' other reports; an operator's checks
/// resuming more than [`NAMED_SLACK`] after its last one are a new spell (the controller
/// re-checks every 10 s while an outage lasts), and a spell beginning later than
/// [`CHECK_ONSET`] after the outage's first is a new outage.
pub fn api_check_links(ctx: &Ctx<'_>, episodes: &[Episode<'_>]) -> Vec<(usize, usize)> {
    // (cluster, start, episode) of each spell of failed checks.
    let mut spells: Vec<(&str, Timestamp, usize)> = Vec::new();
    for (n, ep) in episodes.iter().enumerate() {
        if !matches!(ep.scope, Scope::Owner(_)) {
            continue;
        }
        let mut checks: Vec<usize> = ep
            .events
            .iter()
            .copied()
            .filter(|&i| checked_group_version(ctx.event(i)).is_some())
            .collect();
        checks.sort_by_key(|&i| (ctx.start(i), i));
        let mut last_end: Option<Timestamp> = None;
        for i in checks {
            if last_end.is_none_or(|end| ctx.start(i) > end + NAMED_SLACK) {
                spells.push((ep.cluster, ctx.start(i), n));
            }
            last_end = Some(last_end.map_or(ctx.end(i), |end| end.max(ctx.end(i))));
        }
    }
    spells.sort();
    let mut out = Vec::new();
    // The first spell of the current outage.
    let mut onset: Option<(&str, Timestamp, usize)> = None;
    for spell in spells {
        let (cluster, start, n) = spell;
        match onset {
            Some((c, first, cause)) if c == cluster && start <= first + CHECK_ONSET => {
                if episodes[n].scope != episodes[cause].scope {
                    out.push((n, cause));
                }
            }
            _ => onset = Some(spell),
        }
    }
    out
}

/// The first failed API check among `members` (oldest first) that another operator's checks
/// began within [`CHECK_ONSET`] of, and the first check of each of those operators.
pub fn api_check_onset(ctx: &Ctx<'_>, members: &[usize]) -> Option<(usize, Vec<usize>)> {
    let checks: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| checked_group_version(ctx.event(i)).is_some())
        .collect();
    checks.iter().enumerate().find_map(|(k, &first)| {
        let operator = ctx.event(first).correlation_id.as_str();
        let mut seen: Set<&str> = Set::from_iter([operator]);
        let others: Vec<usize> = checks[k + 1..]
            .iter()
            .copied()
            .take_while(|&j| ctx.start(j) <= ctx.start(first) + CHECK_ONSET)
            .filter(|&j| seen.insert(ctx.event(j).correlation_id.as_str()))
            .collect();
        (!others.is_empty()).then_some((first, others))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::about;

    fn report(reason: &str, note: &str) -> kubetrail_model::AnalysisEvent {
        about(
            "Deployment",
            "openshift-etcd-operator",
            "etcd-operator",
            "Warning",
            reason,
            note,
        )
        .build()
        .event
    }

    #[test]
    fn an_etcd_member_report_names_the_etcd_pods_on_each_member_node() {
        let e = report(
            "UnhealthyEtcdMember",
            "unhealthy members: master-1,NAME-PENDING-10.0.0.7, master-2",
        );
        let nodes: Vec<Option<&str>> = named(&e).iter().map(|n| n.node).collect();
        assert_eq!(nodes, [Some("master-1"), Some("master-2")]);
        assert!(named(&e).iter().all(|n| n.namespace == "openshift-etcd"));
    }

    #[test]
    fn an_api_check_names_the_namespace_of_the_server_of_its_group() {
        let check = |gv: &str| -> Vec<&str> {
            let e = report(
                "OpenShiftAPICheckFailed",
                &format!(
                    r#""{gv}" failed with an attempt failed with statusCode = 503, err = the server is currently unable to handle the request"#
                ),
            );
            named(&e).iter().map(|n| n.namespace).collect()
        };
        assert_eq!(check("apps.openshift.io.v1"), ["openshift-apiserver"]);
        assert_eq!(check("user.openshift.io.v1"), ["openshift-oauth-apiserver"]);
        assert!(check("metrics.k8s.io.v1beta1").is_empty());
    }
}
