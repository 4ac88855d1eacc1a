//! Secrets out of connection URLs before anyone sees them. Each kind of URL has one redaction
//! function built on these rules (`kubetrail_store::redact_url` for PostgreSQL,
//! `kubetrail_source::nats::redact_url` for NATS), and every message, log line and `Debug`
//! that shows such a URL goes through it.
//!
//! ```
//! use kubetrail_model::redact::{UserInfo, url};
//! assert_eq!(
//!     url("postgres://kt:pw@db/x?sslpassword=k", UserInfo::UserAndPassword),
//!     "postgres://kt:***@db/x?sslpassword=***"
//! );
//! assert_eq!(url("nats://s3cr3t@nats:4222", UserInfo::TokenOrUserAndPassword), "nats://***@nats:4222");
//! ```

/// Shown instead of a secret.
pub const MASK: &str = "***";

/// What a kind of URL carries in its userinfo (`…@host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserInfo {
    /// `user:password@`: the user is shown, the password masked; a lone `user@` is shown
    /// (PostgreSQL).
    UserAndPassword,
    /// As above, and a lone `token@` is a secret too (NATS).
    TokenOrUserAndPassword,
}

/// Whether a parameter (of a URL's query, or of a `key=value` connection string) holds a
/// secret, by its name: passwords, tokens, keys and credentials of every spelling
/// (`password`, `sslpassword`, `pass`, `token`, `auth_token`, `nkey`, `seed`, `jwt`,
/// `creds`…). Percent-encoded names are decoded first. A file name caught by this (`passfile`)
/// is masked too, which does no harm.
pub fn is_secret_key(name: &str) -> bool {
    let name = percent_decoded(name).to_ascii_lowercase();
    [
        "pass", "pwd", "token", "secret", "seed", "jwt", "cred", "nkey", "auth",
    ]
    .iter()
    .any(|s| name.contains(s))
}

/// One URL with its secrets masked: the userinfo's password (or token, per `userinfo`) and
/// every query parameter [`is_secret_key`] names. The userinfo ends at the URL's last `@`: a
/// password may hold `@`, `/` or `?` unencoded, and masking too much (when an `@` is in the
/// query) is better than showing a secret.
pub fn url(url: &str, userinfo: UserInfo) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    let after = match rest.rfind('@') {
        Some(at) => {
            let info = &rest[..at];
            match info.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASK);
                }
                None if userinfo == UserInfo::TokenOrUserAndPassword => out.push_str(MASK),
                None => out.push_str(info),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    out.push_str(&query_redacted(after));
    out
}

/// `host/path?query#fragment` with the secret query parameters masked.
fn query_redacted(rest: &str) -> String {
    let Some((head, query)) = rest.split_once('?') else {
        return rest.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if is_secret_key(key) => format!("{key}={MASK}"),
            _ => param.to_string(),
        })
        .collect();
    let mut out = format!("{head}?{}", params.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `%XX` sequences decoded (others kept as they are).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: UserInfo = UserInfo::UserAndPassword;
    const NATS: UserInfo = UserInfo::TokenOrUserAndPassword;

    #[test]
    fn userinfo_passwords_are_masked_and_users_kept() {
        assert_eq!(
            url("postgres://kt:pw@db:5432/x", PG),
            "postgres://kt:***@db:5432/x"
        );
        assert_eq!(url("postgres://kt@db/x", PG), "postgres://kt@db/x");
        assert_eq!(url("postgres://db/x", PG), "postgres://db/x");
        assert_eq!(url("nats://kt:pw@n:4222", NATS), "nats://kt:***@n:4222");
        assert_eq!(url("nats://tok3n@n:4222", NATS), "nats://***@n:4222");
        assert_eq!(url("kt:pw@n:4222", NATS), "kt:***@n:4222", "no scheme");
    }

    #[test]
    fn passwords_holding_url_delimiters_are_masked_whole() {
        for (given, shown) in [
            ("postgres://kt:p@ss@db/x", "postgres://kt:***@db/x"),
            ("postgres://kt:p/a?s#s@db/x", "postgres://kt:***@db/x"),
            ("nats://kt:a:b@n", "nats://kt:***@n"),
        ] {
            assert_eq!(url(given, PG), shown);
        }
    }

    #[test]
    fn secret_query_parameters_are_masked_whatever_their_spelling() {
        assert_eq!(
            url(
                "postgres://db/x?user=kt&password=pw&sslmode=require&sslpassword=k",
                PG
            ),
            "postgres://db/x?user=kt&password=***&sslmode=require&sslpassword=***"
        );
        assert_eq!(
            url("postgres://db/x?PassWord=pw#frag", PG),
            "postgres://db/x?PassWord=***#frag"
        );
        assert_eq!(
            url("postgres://db/x?pass%77ord=pw", PG),
            "postgres://db/x?pass%77ord=***"
        );
        assert_eq!(
            url(
                "nats://n:4222?token=t&auth_token=a&nkey=s&jwt=j&creds=c",
                NATS
            ),
            "nats://n:4222?token=***&auth_token=***&nkey=***&jwt=***&creds=***"
        );
        assert_eq!(url("nats://n:4222?name=x", NATS), "nats://n:4222?name=x");
    }
}
