//! Stamps the binary with the commit it was built from and the build date (`kubetrail
//! version`); "unknown" outside a git checkout.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let commit = output("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or("unknown".into());
    let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some();
    let commit = if dirty && commit != "unknown" {
        format!("{commit}-dirty")
    } else {
        commit
    };
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| {
            output(
                "date",
                &["-u", "-d", &format!("@{s}"), "+%Y-%m-%dT%H:%M:%SZ"],
            )
        })
        .or_else(|| output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]))
        .unwrap_or("unknown".into());
    println!("cargo:rustc-env=KUBETRAIL_COMMIT={commit}");
    println!("cargo:rustc-env=KUBETRAIL_BUILD_DATE={date}");
    for path in ["HEAD", "logs/HEAD", "index"] {
        if let Some(p) = output("git", &["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}
