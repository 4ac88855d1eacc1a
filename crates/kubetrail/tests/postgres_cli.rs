//! Every reading and writing command works the same on PostgreSQL as on the embedded store:
//! the real dumps imported into both give the same events, counts, aggregations, patterns and
//! incidents. Runs against the real server (`KUBETRAIL_TEST_POSTGRES_URL`), in a fresh schema;
//! fails when the server cannot be reached.

use std::process::{Command, Output};

use kubetrail_store::conformance::{SchemaGuard, fresh_postgres_store};
use serde_json::Value;

use kubetrail_testkit::real_events;

/// One store: SQLite in a data directory, or PostgreSQL in a schema (through the config's
/// `storage.postgres` with the URL from `--postgres-url`).
struct Kt {
    dir: tempfile::TempDir,
    postgres: Option<SchemaGuard>,
}

impl Kt {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubetrail"));
        cmd.env("KUBETRAIL_DATA_DIR", self.dir.path().join("data"))
            .env_remove("KUBETRAIL_CONFIG")
            .env_remove("KUBETRAIL_POSTGRES_URL");
        if let Some(pg) = &self.postgres {
            let config = self.dir.path().join("kubetrail.yaml");
            std::fs::write(
                &config,
                format!(
                    "storage:\n  postgres:\n    url_env: KT_TEST_PG\n    schema: {}\n",
                    pg.schema()
                ),
            )
            .expect("write the config");
            cmd.arg("--config")
                .arg(&config)
                .env("KT_TEST_PG", "postgres://nobody@127.0.0.1:1/overridden")
                .arg("--postgres-url")
                .arg(pg.url());
        }
        cmd.args(args).output().expect("kubetrail runs")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubetrail {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_answer_the_same_on_postgres_as_on_sqlite() {
    let (_, guard) = fresh_postgres_store().await;
    let sqlite = Kt {
        dir: tempfile::tempdir().expect("tempdir"),
        postgres: None,
    };
    let postgres = Kt {
        dir: tempfile::tempdir().expect("tempdir"),
        postgres: Some(guard),
    };
    let dumps = real_events().display().to_string();
    let import = ["import", "--cluster", "real", "-o", "json", dumps.as_str()];
    let a = sqlite.json(&import);
    let b = postgres.json(&import);
    assert!(a["new"].as_u64().unwrap_or(0) > 1000, "{a}");
    for key in [
        "events_read",
        "new",
        "updated",
        "unchanged",
        "occurrences",
        "files_imported",
        "changes",
        "changes_new",
    ] {
        assert_eq!(a[key], b[key], "import summary {key}");
    }
    // The rollouts the dumps show (issue 15 §2) are stored by both.
    assert!(a["changes_new"].as_u64().unwrap_or(0) >= 3, "{a}");
    // Again: nothing new.
    let again = postgres.json(&import);
    assert_eq!(
        (again["new"].as_u64(), again["changes_new"].as_u64()),
        (Some(0), Some(0))
    );

    let status = |kt: &Kt| {
        let s = kt.json(&["status", "-o", "json"]);
        (
            s["events"].clone(),
            s["occurrences"].clone(),
            s["oldest"].clone(),
            s["newest"].clone(),
        )
    };
    assert_eq!(status(&sqlite), status(&postgres));

    let same: [&[&str]; 10] = [
        &["query", "--limit", "0", "-o", "json"],
        &[
            "query",
            "--severity",
            "warning+",
            "--limit",
            "50",
            "-o",
            "json",
        ],
        &["query", "--search", "failed", "--limit", "0", "-o", "json"],
        &["aggregate", "--group-by", "namespace,reason", "-o", "json"],
        &[
            "aggregate",
            "--group-by",
            "category,severity",
            "--interval",
            "1h",
            "-o",
            "json",
        ],
        &[
            "aggregate",
            "--group-by",
            "correlation",
            "--interval",
            "10m",
            "-o",
            "json",
        ],
        &[
            "aggregate",
            "--group-by",
            "node",
            "--search",
            "probe",
            "-o",
            "json",
        ],
        &["patterns", "-o", "json"],
        &["incidents", "-o", "json"],
        &["changes", "--limit", "0", "-o", "json"],
    ];
    for args in same {
        assert_eq!(sqlite.json(args), postgres.json(args), "kubetrail {args:?}");
    }

    let table = postgres.run(&["status", "-o", "table"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("store:        postgres://kubetrail:***@"),
        "{text}"
    );
    assert!(!text.contains(":kubetrail@"), "no password: {text}");

    let retention = ["retention", "--max-age", "1d", "-o", "json"];
    let (ra, rb) = (sqlite.json(&retention), postgres.json(&retention));
    for key in ["events_deleted", "occurrences_deleted"] {
        assert_eq!(ra[key], rb[key], "retention {key}");
    }
    assert_eq!(status(&sqlite), status(&postgres));
}

#[test]
fn an_unreachable_postgres_is_a_clear_error_naming_it_without_its_password() {
    let kt = Kt {
        dir: tempfile::tempdir().expect("tempdir"),
        postgres: None,
    };
    let out = kt.run(&[
        "--postgres-url",
        "postgres://kubetrail:secret@127.0.0.1:9/kubetrail",
        "status",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "cannot open the PostgreSQL store at postgres://kubetrail:***@127.0.0.1:9/kubetrail"
        ),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

/// Issue 11, item 7: a password given as a URL parameter (`?password=`, `sslpassword`) or in a
/// key=value connection string with quotes was printed in clear when the connection failed.
#[test]
fn a_failing_connection_prints_no_password_in_any_form() {
    let kt = Kt {
        dir: tempfile::tempdir().expect("tempdir"),
        postgres: None,
    };
    for url in [
        "postgres://kubetrail@127.0.0.1:9/kubetrail?password=hunter2",
        "postgresql://kubetrail@127.0.0.1:9/kubetrail?sslmode=disable&password=hunter2",
        "postgres://kubetrail@127.0.0.1:9/kubetrail?sslpassword=hunter2",
        "host=127.0.0.1 port=9 user=kubetrail password='hunter2 x'",
        "host=127.0.0.1 port=9 user=kubetrail password = hunter2",
    ] {
        let out = kt.run(&["--postgres-url", url, "status"]);
        assert!(!out.status.success(), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("127.0.0.1"), "names the server: {err}");
        assert!(!err.contains("hunter2"), "{url}: {err}");
    }
}
