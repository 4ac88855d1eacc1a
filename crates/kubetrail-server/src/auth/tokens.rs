//! Bearer tokens of tenants, kept only as SHA-256 hashes.

use sha2::{Digest, Sha256};

/// One tenant of the configuration: who holds the token, and what it may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantToken {
    /// The tenant's name from the configuration, as error messages and the fleet view show it.
    pub name: String,
    /// SHA-256 of the bearer token.
    pub sha256: [u8; 32],
    /// Sees every cluster and namespace, and may manage silences of any alert.
    pub admin: bool,
    /// Clusters it sees (`None`: all; an empty list: none).
    pub clusters: Option<Vec<String>>,
    /// Namespaces it sees and may write custom events into (`None`: all; an empty list:
    /// none).
    pub namespaces: Option<Vec<String>>,
}

/// The SHA-256 of a token, as the configuration stores it.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Lower-case hex of a hash.
#[cfg(test)]
pub fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits.
pub fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    if t.len() != 64 || !t.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_round_trip_through_hex() {
        let h = hash_token("s3cret");
        assert_eq!(parse_hex(&hex(&h)), Some(h));
        assert_eq!(
            hex(&hash_token("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(parse_hex("zz"), None);
    }

    #[test]
    fn bearer_headers_are_parsed_case_insensitively() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
