//! TLS to PostgreSQL (rustls). TLS is used when the URL says `sslmode=require` (or libpq's
//! `verify-ca`/`verify-full`), or when a CA file is given; then the server's certificate chain
//! and host name are always verified, as libpq's `verify-full` does. Without either, the
//! connection is plain (`sslmode=prefer`, the default, does not try TLS here).
//!
//! libpq's URL parameters that tokio-postgres does not know are translated first:
//! `sslmode=verify-ca|verify-full` → `require`, and `sslrootcert=PATH` → the CA file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{Error, Result};

/// What the URL asks for, after translating libpq's TLS parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsUrl {
    /// The URL tokio-postgres can parse.
    pub url: String,
    /// `sslrootcert=` of the URL.
    pub ca_file: Option<PathBuf>,
}

/// Translates libpq's `sslmode=verify-ca|verify-full` and `sslrootcert=` in a
/// `postgres://…?…` URL or a `key=value` string. Other text is left as it is.
pub(crate) fn translate_libpq(url: &str) -> TlsUrl {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let (head, params, sep) = match is_url {
        true => match url.split_once('?') {
            Some((h, q)) => (format!("{h}?"), q, '&'),
            None => {
                return TlsUrl {
                    url: url.to_string(),
                    ca_file: None,
                };
            }
        },
        false => (String::new(), url, ' '),
    };
    let mut ca_file = None;
    let mut kept = Vec::new();
    let mut translated = false;
    for part in params.split(sep).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("sslrootcert", path)) => ca_file = Some(PathBuf::from(path)),
            Some(("sslmode", "verify-ca" | "verify-full")) => kept.push("sslmode=require"),
            _ => {
                kept.push(part);
                continue;
            }
        }
        translated = true;
    }
    // Nothing to translate: the text stays exactly as given (a quoted value with spaces in a
    // key=value string would not survive the split and join).
    if !translated {
        return TlsUrl {
            url: url.to_string(),
            ca_file: None,
        };
    }
    let joined = kept.join(&sep.to_string());
    let url = match (is_url, joined.is_empty()) {
        (true, true) => head.trim_end_matches('?').to_string(),
        _ => format!("{head}{joined}"),
    };
    TlsUrl { url, ca_file }
}

/// A rustls connector trusting the CAs of `ca_file`, or the system's CAs without one.
pub(crate) fn connector(ca_file: Option<&Path>) -> Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect())
                .map_err(|e| Error::Tls(format!("cannot read CA file {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(Error::Tls(format!(
                    "CA file {} holds no certificate",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    Error::Tls(format!("bad certificate in {}: {e}", path.display()))
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(Error::Tls(
                    "no system CA certificates found: give the server's CA (ca_file)".into(),
                ));
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn libpq_parameters_are_translated() {
        let t = translate_libpq(
            "postgres://u:p@db:5432/k?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=3",
        );
        assert_eq!(
            t.url,
            "postgres://u:p@db:5432/k?sslmode=require&connect_timeout=3"
        );
        assert_eq!(t.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        let t = translate_libpq("host=db sslmode=verify-ca sslrootcert=ca.pem user=k");
        assert_eq!(t.url, "host=db sslmode=require user=k");
        assert_eq!(t.ca_file, Some(PathBuf::from("ca.pem")));
        let t = translate_libpq("postgres://db/k?sslrootcert=ca.pem");
        assert_eq!(t.url, "postgres://db/k");
        for plain in [
            "postgres://db/k",
            "postgres://db/k?sslmode=require",
            "host=db",
        ] {
            assert_eq!(translate_libpq(plain).url, plain);
            assert_eq!(translate_libpq(plain).ca_file, None);
        }
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let err = connector(Some(Path::new("/nonexistent/ca.pem")))
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = connector(Some(&empty)).err().unwrap();
        assert!(err.to_string().contains("no certificate"), "{err}");
    }

    proptest! {
        #[test]
        fn translation_never_keeps_libpq_only_parameters(
            params in proptest::collection::vec(
                prop_oneof![
                    Just("sslmode=verify-full".to_string()),
                    Just("sslmode=verify-ca".to_string()),
                    Just("sslmode=disable".to_string()),
                    "sslrootcert=[a-z/.]{1,12}",
                    "[a-z_]{1,8}=[a-z0-9]{0,6}",
                ],
                0..6,
            )
        ) {
            let url = format!("postgres://db/k?{}", params.join("&"));
            let t = translate_libpq(&url);
            prop_assert!(!t.url.contains("sslrootcert="));
            prop_assert!(!t.url.contains("verify-"));
            let kept = params
                .iter()
                .filter(|p| !p.starts_with("sslrootcert=") && !p.starts_with("sslmode=verify"))
                .count();
            let translated = params.iter().filter(|p| p.starts_with("sslmode=verify")).count();
            let n = t.url.split_once('?').map_or(0, |(_, q)| q.split('&').filter(|p| !p.is_empty()).count());
            prop_assert_eq!(n, kept + translated);
        }
    }
}
