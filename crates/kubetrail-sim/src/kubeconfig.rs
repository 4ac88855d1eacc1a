//! A kubeconfig pointing at the simulator, so kubectl and kube-rs can use it unchanged.

use std::path::Path;

use serde_json::json;

use crate::error::{Error, Result};

/// The name used for the cluster, context and user entries.
pub const CONTEXT_NAME: &str = "kubetrail-sim";

/// A kubeconfig with one cluster, context and user for `server` (plain HTTP, no auth).
pub fn kubeconfig_yaml(server: &str) -> Result<String> {
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": server}}],
        "contexts": [{
            "name": CONTEXT_NAME,
            "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": "default"}
        }],
        "current-context": CONTEXT_NAME,
        "users": [{"name": CONTEXT_NAME, "user": {}}],
        "preferences": {},
    });
    yaml_serde::to_string(&config).map_err(Error::EncodeKubeconfig)
}

/// Writes [`kubeconfig_yaml`] to `path`.
pub(crate) fn write_kubeconfig(server: &str, path: &Path) -> Result<()> {
    let yaml = kubeconfig_yaml(server)?;
    std::fs::write(path, yaml).map_err(|source| Error::WriteKubeconfig {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_names_the_server_and_one_context() {
        let yaml = kubeconfig_yaml("http://127.0.0.1:4242").expect("encodes");
        let parsed: yaml_serde::Value = yaml_serde::from_str(&yaml).expect("parses");
        assert_eq!(parsed["current-context"], CONTEXT_NAME);
        assert_eq!(
            parsed["clusters"][0]["cluster"]["server"],
            "http://127.0.0.1:4242"
        );
    }
}
