//! Services the end-to-end tests start and break: a real `nats-server` with JetStream on a port
//! of its own, and a TCP proxy in front of PostgreSQL that can be cut and restored.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use kubetrail_testkit::{free_port, wait_for_or_show};
// Re-exported for the tests that wait on these services; not every test binary does.
#[allow(unused_imports)]
pub use kubetrail_testkit::wait_for;

/// A real `nats-server` with JetStream, on a port of its own, its store in a temp directory.
pub struct Nats {
    pub port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
    /// Serve TLS only, with (CA, certificate, key), verifying clients against the CA.
    pub tls: Option<(PathBuf, PathBuf, PathBuf)>,
}

impl Nats {
    pub fn start() -> Nats {
        let mut n = Nats::reserve();
        n.spawn();
        n
    }

    /// A port and a store directory, the server not started yet.
    pub fn reserve() -> Nats {
        Nats {
            port: free_port(),
            store: tempfile::tempdir().expect("tempdir"),
            child: None,
            tls: None,
        }
    }

    /// A server that speaks TLS only (certificate `cert`, key `key`) and wants a client
    /// certificate signed by `ca`.
    pub fn start_tls(ca: &Path, cert: &Path, key: &Path) -> Nats {
        let mut n = Nats::reserve();
        n.tls = Some((ca.to_path_buf(), cert.to_path_buf(), key.to_path_buf()));
        n.spawn();
        n
    }

    pub fn binary() -> PathBuf {
        for candidate in [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ] {
            if Path::new(candidate).is_file() {
                return candidate.into();
            }
        }
        PathBuf::from("nats-server")
    }

    pub fn spawn(&mut self) {
        let mut command = Command::new(Self::binary());
        if let Some((ca, cert, key)) = &self.tls {
            command
                .args(["--tls", "--tlsverify", "--tlscert"])
                .arg(cert)
                .arg("--tlskey")
                .arg(key)
                .arg("--tlscacert")
                .arg(ca);
        }
        let child = command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(self.log_file())
            .spawn()
            .expect("nats-server is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let port = self.port;
        wait_for_or_show(
            "nats-server to listen",
            Duration::from_secs(20),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            || self.log(),
        );
        // Something listening there is not enough: it must be this server. It exits when it
        // cannot bind the port, which it has tried by the time the port answers unless
        // another listener answered first (then this check may pass: `free_port` keeps other
        // listeners off the port).
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().expect("nats-server's status"));
        assert!(
            exited.is_none(),
            "nats-server exited ({exited:?}) and something else listens on port {port}:\n{}",
            self.log()
        );
    }

    /// Where the server writes its log (appended to across restarts).
    fn log_file(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.store.path().join("nats-server.log"))
            .expect("nats-server's log file")
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        let text =
            std::fs::read_to_string(self.store.path().join("nats-server.log")).unwrap_or_default();
        format!("nats-server's log:\n{text}")
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (its JetStream store stays) and starts it again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and
/// restored: the server unreachable for a while, as a consumer sees it.
pub struct Proxy {
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let flag = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let upstream = upstream.clone();
                let mut cuts = cuts.clone();
                // Only cuts after this connection was made close it.
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Proxy { port, up, cut }
    }

    pub fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

impl Proxy {
    /// A proxy in front of the PostgreSQL server of `url`, and `url` rewritten to go through it.
    pub async fn for_postgres(url: &str) -> (Proxy, String) {
        // host:port of the server, between the URL's '@' and the next '/'.
        let after_at = url.rsplit_once('@').map_or(url, |(_, h)| h);
        let upstream = after_at.split(['/', '?']).next().expect("host").to_string();
        let proxy = Proxy::start(upstream.clone()).await;
        let proxied = url.replacen(&upstream, &format!("127.0.0.1:{}", proxy.port), 1);
        (proxy, proxied)
    }
}

/// Kills the child when the test ends, passed or not.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET over plain HTTP/1.1 to 127.0.0.1: the status and the body.
pub fn http_get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}
