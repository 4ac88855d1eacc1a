//! The container image (issue 16: the Dockerfile had never been built). `scripts/build-image.sh`
//! builds it with buildah from scratch around this test's binary, and the binary runs in it;
//! the manifests name the image the script builds by default. `scripts/test.sh` installs
//! buildah (Debian) when it is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::kustomize::deploy_dir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn buildah(args: &[&str]) -> Output {
    Command::new("buildah")
        .args(args)
        .output()
        .expect("buildah is needed (apt-get install buildah; scripts/test.sh installs it)")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        text(out),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Removes the test's container and image, passed or not.
struct Cleanup {
    image: String,
    container: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(c) = &self.container {
            buildah(&["rm", c]);
        }
        buildah(&["rmi", &self.image]);
    }
}

#[test]
fn the_image_builds_and_kubetrail_runs_in_it() {
    let tag = format!("localhost/kubetrail-test:{}", std::process::id());
    let mut cleanup = Cleanup {
        image: tag.clone(),
        container: None,
    };
    let out = Command::new(root().join("scripts/build-image.sh"))
        .args(["--binary", env!("CARGO_BIN_EXE_kubetrail"), "--tag", &tag])
        .output()
        .expect("the build script runs");
    succeeded("scripts/build-image.sh", &out);
    assert_eq!(text(&out), tag, "the script prints the tag it built");

    let out = buildah(&[
        "inspect",
        "--type",
        "image",
        "--format",
        "{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}",
        &tag,
    ]);
    succeeded("buildah inspect", &out);
    assert_eq!(
        text(&out),
        "65532:65532 [/kubetrail]",
        "non-root, as the manifests' runAsUser"
    );

    let out = buildah(&["from", &tag]);
    succeeded("buildah from", &out);
    let container = text(&out);
    cleanup.container = Some(container.clone());
    // chroot isolation: no OCI runtime, whose cgroup set-up these machines refuse.
    let out = buildah(&[
        "run",
        "--isolation",
        "chroot",
        &container,
        "--",
        "/kubetrail",
        "--version",
    ]);
    succeeded("kubetrail --version in the image", &out);
    // `kubetrail 0.1.0 (commit …, built …)`: the version, then what the build stamped.
    let said = text(&out);
    assert!(
        said.starts_with(&format!("kubetrail {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{said}"
    );
}

/// The manifests name the image `scripts/build-image.sh` builds by default:
/// localhost/kubetrail:<workspace version>.
#[test]
fn the_manifests_name_the_image_the_script_builds() {
    let base = std::fs::read_to_string(deploy_dir().join("base/kustomization.yaml"))
        .expect("the base kustomization");
    let base: yaml_serde::Value = yaml_serde::from_str(&base).expect("yaml");
    let image = &base["images"][0];
    assert_eq!(image["name"].as_str(), Some("kubetrail"));
    assert_eq!(image["newName"].as_str(), Some("localhost/kubetrail"));
    assert_eq!(image["newTag"].as_str(), Some(env!("CARGO_PKG_VERSION")));
    let script = std::fs::read_to_string(root().join("scripts/build-image.sh")).expect("script");
    assert!(
        script.contains(r#"tag="localhost/kubetrail:$version""#),
        "the script's default tag"
    );
}
