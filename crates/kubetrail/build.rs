//! Stamps the binary with the commit it was built from and the build date (`kubetrail
//! version`); "unknown" outside a git checkout. In release builds for x86_64 Linux (linked by
//! lld, Rust's default there), places the functions `kubetrail run` executes first in the text,
//! in the order of `code-order.txt` (written by `scripts/code-order.sh`; issue 14 §2), so that
//! the code it keeps resident is a few blocks rather than most of the binary.

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
    order_code();
}

/// The linker's `--symbol-ordering-file` for the `kubetrail` binary, where it applies: a
/// release build for x86_64 Linux with the GNU toolchain, whose default linker is lld (the
/// flag is lld's). `KUBETRAIL_CODE_ORDER=off` leaves the linker's own order.
fn order_code() {
    println!("cargo:rerun-if-changed=code-order.txt");
    println!("cargo:rerun-if-env-changed=KUBETRAIL_CODE_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let applies = var("PROFILE") == "release"
        && var("TARGET") == "x86_64-unknown-linux-gnu"
        && var("KUBETRAIL_CODE_ORDER") != "off";
    let order = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("code-order.txt");
    if applies && order.exists() {
        // Symbols the file names that this build does not have (renamed or inlined since the
        // file was written) are skipped, without a warning for each.
        println!(
            "cargo:rustc-link-arg-bin=kubetrail=-Wl,--symbol-ordering-file={},--no-warn-symbol-ordering",
            order.display()
        );
    }
}
