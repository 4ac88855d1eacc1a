//! What to check next, per rule, with the names the root event gives (volume, image,
//! container, resource, node) filled in.

use kubetrail_model::AnalysisEvent;

use super::rules::Rule;
use super::signals::container;
use crate::objects::namespace_of;

/// A hint for the root event `e` found by `rule`; `node` is where it happened, when known.
pub fn hint(rule: Rule, e: &AnalysisEvent, node: Option<&str>) -> String {
    let ns = namespace_of(e);
    let pod = &e.regarding.name;
    let kind = &e.regarding.kind;
    let c = container(e).unwrap_or("CONTAINER");
    let on_node = node.map(|n| format!(" on node {n}")).unwrap_or_default();
    match rule {
        Rule::FailedMount => failed_mount(e, ns, pod, &on_node),
        Rule::ImagePull => {
            let image = quoted_after(&e.note, "image ").unwrap_or("the image");
            let mut h = format!(
                "check that image {image} exists (name, tag) and that its registry is reachable{on_node}; for a private registry, the pod's imagePullSecrets (kubectl -n {ns} get pod {pod} -o jsonpath='{{.spec.imagePullSecrets}}')"
            );
            if e.note.contains("x509") {
                h.push_str("; the registry's TLS certificate is not valid for its name");
            }
            h
        }
        Rule::LivenessRestart => format!(
            "check the liveness probe of container {c} (path, port, timeoutSeconds, initialDelaySeconds, failureThreshold) against how long the app takes to answer: kubectl -n {ns} get pod {pod} -o yaml; and its logs before the restart: kubectl -n {ns} logs {pod} -c {c} --previous"
        ),
        Rule::SidecarNotReady => format!(
            "container {c} was not ready when the app needed it: make it a native sidecar (an initContainer with restartPolicy: Always and a startupProbe) so the app starts after it, or make the app retry; kubectl -n {ns} logs {pod} -c {c}"
        ),
        Rule::CrashLoop if e.reason == "OOMKilled" || e.note.contains("OOMKilled") => format!(
            "container {c} was killed for exceeding its memory limit: compare resources.limits.memory with what it uses (kubectl -n {ns} get pod {pod} -o jsonpath='{{.spec.containers[*].resources}}'; kubectl top pod -n {ns} {pod})"
        ),
        Rule::CrashLoop => format!(
            "read why container {c} exits: kubectl -n {ns} logs {pod} -c {c} --previous; kubectl -n {ns} describe pod {pod} (Last State, Exit Code); check its command, args and configuration"
        ),
        Rule::EtcdMemberUnhealthy => {
            let member = super::named::etcd_member_nodes(e)
                .first()
                .copied()
                .unwrap_or("NODE");
            format!(
                "check etcd member {member} and its node: oc -n openshift-etcd get pods -o wide; oc -n openshift-etcd logs etcd-{member} -c etcd; oc describe node {member}; oc get etcd cluster -o yaml (status conditions)"
            )
        }
        Rule::AggregatedApiUnavailable => "several operators' aggregated APIs were unavailable at once,: look at what their checks share, the kube-apiserver's aggregator and the masters the API servers run on: oc get apiservices (which are not Available, and why); oc get clusteroperators; oc -n openshift-kube-apiserver get pods -o wide".to_string(),
        Rule::NodeOom => format!(
            "the node{on_node} ran out of memory: compare the pods' memory requests and limits with the node's allocatable memory (kubectl describe node{}), and set limits on pods without one",
            node.map(|n| format!(" {n}")).unwrap_or_default()
        ),
        Rule::NodeConditionEvictions | Rule::NodeCondition => format!(
            "check the node's conditions and the kubelet: kubectl describe node {} (Conditions, Events); journalctl -u kubelet on the node; evicted pods are recreated elsewhere if they have a controller",
            node.unwrap_or("NODE")
        ),
        Rule::InsufficientResources => {
            let resource = after(&e.note, "Insufficient ")
                .or_else(|| e.reason.strip_prefix("OutOf"))
                .unwrap_or("resources");
            format!(
                "no node has enough free {resource} for the pod's requests: lower the requests of {kind} {pod} (kubectl -n {ns} get pod {pod} -o jsonpath='{{.spec.containers[*].resources.requests}}'), free capacity, or add nodes that offer {resource}"
            )
        }
        Rule::TaintNotTolerated => format!(
            "the node's taints are not tolerated by the pod: kubectl describe node {} | grep -A3 Taints; add a matching toleration to the pod template or remove the taint",
            node.unwrap_or("NODE")
        ),
        Rule::Unschedulable => format!(
            "read which filter rejected each node in the message; check the pod's nodeSelector, affinity, tolerations, host ports and volumes against the nodes: kubectl -n {ns} describe pod {pod}"
        ),
        Rule::FirstFailure => format!("kubectl -n {ns} describe {} {pod}", kind.to_lowercase()),
        Rule::NoReadyNode => "no node can take pods: kubectl get nodes (are any registered and Ready?); for a NotReady node, kubectl describe node NODE (Conditions) and journalctl -u kubelet on it; the waiting pods are scheduled once a node is ready".to_string(),
        Rule::TaintedNodes => "every node has a taint these pods do not tolerate (often: only control-plane nodes): kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints; add worker nodes, or tolerations to the workloads that should run on the tainted ones".to_string(),
        Rule::NetworkNotReady => format!(
            "the container runtime's network (CNI) is not ready{on_node}: check the network plugin's pods (kubectl get pods -A -o wide | grep -i -e cni -e sdn -e calico -e cilium -e flannel) and its config in /etc/cni/net.d on the node"
        ),
        Rule::ControlPlaneDisruption => "many workloads failed together: check the API server and etcd (kubectl get --raw='/readyz?verbose'; their static pods' logs and restarts) around the time of the root event, and each workload's logs before its restart (kubectl logs --previous)".to_string(),
    }
}

fn failed_mount(e: &AnalysisEvent, ns: &str, pod: &str, on_node: &str) -> String {
    let note = &e.note;
    let volume = quoted_after(note, "volume ").unwrap_or("the volume");
    if let Some(cm) = quoted_after(note, "configmap ").filter(|_| note.contains("not found")) {
        return format!(
            "ConfigMap {cm} does not exist in namespace {ns}: create it (kubectl -n {ns} get configmap {cm}) or fix the name in volume {volume} of the pod"
        );
    }
    if let Some(secret) = quoted_after(note, "secret ").filter(|_| note.contains("not found")) {
        return format!(
            "Secret {secret} does not exist in namespace {ns}: create it (kubectl -n {ns} get secret {secret}) or fix the name in volume {volume} of the pod"
        );
    }
    // The projected service-account token volume (`kube-api-access-*`, added by the
    // ServiceAccount admission plugin) holds the token and the `kube-root-ca.crt` ConfigMap: no
    // PersistentVolumeClaim behind it.
    if volume.starts_with("kube-api-access-") || note.contains("\"kube-root-ca.crt\"") {
        return format!(
            "volume {volume} is the projected service-account token volume (token, kube-root-ca.crt, namespace): the kubelet could not fetch its sources{on_node}; check that ConfigMap kube-root-ca.crt exists in namespace {ns} (kubectl -n {ns} get configmap kube-root-ca.crt) and that the kubelet reaches the API server"
        );
    }
    if note.contains("hostPath type check failed") {
        let path = after(note, "type check failed: ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("the path");
        return format!(
            "hostPath volume {volume} expects {path} to exist with the declared type{on_node}: create it on the node or fix the volume's path and type"
        );
    }
    format!(
        "check the PersistentVolumeClaim behind volume {volume} and its StorageClass: kubectl -n {ns} get pod {pod} -o jsonpath='{{.spec.volumes}}'; kubectl -n {ns} describe pvc; kubectl get storageclass; and the attach/mount errors{on_node}"
    )
}

/// The quoted word after `prefix`: `volume "data"` → `data`.
fn quoted_after<'a>(note: &'a str, prefix: &str) -> Option<&'a str> {
    let (_, rest) = note.split_once(prefix)?;
    let rest = rest.trim_start().strip_prefix('"')?;
    rest.split_once('"').map(|(q, _)| q)
}

/// The word after `prefix`, without trailing punctuation.
fn after<'a>(note: &'a str, prefix: &str) -> Option<&'a str> {
    let (_, rest) = note.split_once(prefix)?;
    let word = rest
        .split_whitespace()
        .next()?
        .trim_end_matches(['.', ',', ';', ':']);
    (!word.is_empty()).then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod_warning;

    fn h(rule: Rule, note: &str) -> String {
        let e = pod_warning("shop", "web-1", "X", note)
            .container("app")
            .at(0)
            .build();
        hint(rule, &e.event, Some("node-a"))
    }

    #[test]
    fn a_projected_token_volume_is_not_sent_to_a_pvc() {
        for note in [
            r#"MountVolume.SetUp failed for volume "kube-api-access-6fpqb" : object "default"/"kube-root-ca.crt" not registered"#,
            r#"MountVolume.SetUp failed for volume "kube-api-access-8w4sn" : failed to sync configmap cache: timed out waiting for the condition"#,
        ] {
            let hint = h(Rule::FailedMount, note);
            assert!(!hint.contains("PersistentVolumeClaim"), "{hint}");
            assert!(
                hint.contains("projected service-account token volume"),
                "{hint}"
            );
        }
    }

    #[test]
    fn hints_name_what_the_message_names() {
        assert!(
            h(
                Rule::FailedMount,
                r#"MountVolume.SetUp failed for volume "cfg" : configmap "app-config" not found"#
            )
            .starts_with("ConfigMap app-config does not exist in namespace shop")
        );
        assert!(h(
            Rule::FailedMount,
            r#"MountVolume.SetUp failed for volume "host" : hostPath type check failed: /var/lib/collectd is not a directory"#
        )
        .contains("expects /var/lib/collectd to exist"));
        assert!(
            h(
                Rule::FailedMount,
                r#"AttachVolume.Attach failed for volume "pvc-1" : timed out"#
            )
            .contains("PersistentVolumeClaim behind volume pvc-1 and its StorageClass")
        );
        let image = h(
            Rule::ImagePull,
            r#"Failed to pull image "noimage.com/no-such-image": x509: certificate is not valid"#,
        );
        assert!(
            image.contains("image noimage.com/no-such-image exists"),
            "{image}"
        );
        assert!(image.contains("TLS certificate"));
        assert!(
            h(
                Rule::InsufficientResources,
                "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: …"
            )
            .contains("enough free nvidia.com/gpu")
        );
        assert!(h(Rule::CrashLoop, "Container app OOMKilled").contains("memory limit"));
        assert!(
            h(Rule::LivenessRestart, "Liveness probe failed")
                .contains("logs web-1 -c app --previous")
        );
    }
}
