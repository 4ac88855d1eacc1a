//! Secrets (signing keys, webhook URLs with tokens in them): read from a file or an
//! environment variable, and never shown — `Debug` and `Display` print `<redacted>`.

use std::fmt;
use std::path::Path;

/// A value that must not appear in logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (kept as given).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret file (surrounding whitespace, e.g. a trailing newline, is dropped).
    pub fn from_file(path: &Path) -> Result<Secret, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?;
        Self::non_empty(text.trim(), || {
            format!("the secret file {} is empty", path.display())
        })
    }

    /// Reads a secret from an environment variable.
    pub fn from_env(name: &str) -> Result<Secret, String> {
        let v = std::env::var(name)
            .map_err(|_| format!("the environment variable {name} is not set"))?;
        Self::non_empty(v.trim(), || {
            format!("the environment variable {name} is empty")
        })
    }

    fn non_empty(v: &str, why: impl FnOnce() -> String) -> Result<Secret, String> {
        if v.is_empty() {
            Err(why())
        } else {
            Ok(Secret(v.to_string()))
        }
    }

    /// The value, for the one place that needs it (signing, sending).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secret_files_are_trimmed_and_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), "s3cret");
        std::fs::write(&path, "\n").unwrap();
        assert!(Secret::from_file(&path).unwrap_err().contains("empty"));
        assert!(Secret::from_file(&dir.path().join("none")).is_err());
        assert!(Secret::from_env("KUBETRAIL_TEST_SURELY_UNSET_VARIABLE").is_err());
    }
}
