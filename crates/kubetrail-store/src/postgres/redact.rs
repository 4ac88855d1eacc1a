//! The PostgreSQL connection string as it may be shown: every message, log line and `Debug`
//! that names the database goes through [`redact`]. Both forms libpq accepts are covered: URLs
//! (the userinfo password, `?password=`, `?sslpassword=`) and key=value strings (quoted values,
//! spaces around `=`).

use kubetrail_model::redact::{MASK, UserInfo, is_secret_key, url};

/// The connection string with its passwords replaced by `***`.
pub fn redact(conn: &str) -> String {
    let lower = conn.trim_start().to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        url(conn, UserInfo::UserAndPassword)
    } else {
        key_values(conn)
    }
}

/// `key=value …` as libpq reads it: spaces may surround `=`, a value may be single-quoted
/// (`\'` and `\\` escaped). Anything that does not parse is masked to its end.
fn key_values(conn: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut rest = conn.trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        let Some(after) = rest[key_end..].trim_start().strip_prefix('=') else {
            out.push(MASK.to_string());
            break;
        };
        let (value, after) = value(after.trim_start());
        if is_secret_key(key) {
            out.push(format!("{key}={MASK}"));
        } else {
            out.push(format!("{key}={value}"));
        }
        rest = after.trim_start();
    }
    out.join(" ")
}

/// The value at the start of `text` (with its quotes, if any) and what follows it.
fn value(text: &str) -> (&str, &str) {
    let quoted = text.starts_with('\'');
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(usize::from(quoted)) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' if quoted => return (&text[..=i], &text[i + 1..]),
            c if c.is_whitespace() && !quoted => return (&text[..i], &text[i..]),
            _ => {}
        }
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact("postgres://kt:secret@db:5432/x"),
            "postgres://kt:***@db:5432/x"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert_eq!(
            redact("host=db password=secret user=kt"),
            "host=db password=*** user=kt"
        );
    }

    /// Issue 11, item 7: a password given as `?password=` (or `sslpassword`, or a quoted
    /// key=value) was printed in clear in errors and logs; only userinfo passwords were masked.
    #[test]
    fn every_form_of_password_is_masked() {
        for (given, shown) in [
            (
                "postgres://kt@db/x?password=hunter2&sslmode=require",
                "postgres://kt@db/x?password=***&sslmode=require",
            ),
            (
                "postgresql://db/x?sslpassword=hunter2",
                "postgresql://db/x?sslpassword=***",
            ),
            (
                "postgres://kt:hunter2@db/x?password=hunter2",
                "postgres://kt:***@db/x?password=***",
            ),
            (
                "host=db password='hunter2 with spaces' user=kt",
                "host=db password=*** user=kt",
            ),
            (
                "host=db password = hunter2 user=kt",
                "host=db password=*** user=kt",
            ),
            (
                r"host=db password='it\'s hunter2' user=kt",
                "host=db password=*** user=kt",
            ),
            ("host=db sslpassword=hunter2", "host=db sslpassword=***"),
        ] {
            let redacted = redact(given);
            assert_eq!(redacted, shown, "{given}");
            assert!(!redacted.contains("hunter2"), "{redacted}");
        }
    }
}
