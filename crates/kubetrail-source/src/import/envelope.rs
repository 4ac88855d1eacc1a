//! Watch envelopes: `{"type": "ADDED", "object": {...}}`, as the API server streams them and
//! `kubectl get events -w --output-watch-events -o json` writes them.

use serde_json::{Map, Value};

use super::item::WatchType;

/// Splits an envelope written the way the API server and kubectl write it (`type` first, then
/// `object`, nothing else) into its type and the object's bytes, without parsing the object.
/// Anything else is `None` and goes the general way; so does an envelope this guessed wrong
/// about, because the object's bytes then fail to parse.
pub(crate) fn split(bytes: &[u8]) -> Option<(WatchType, &[u8])> {
    let mut p = Cursor { bytes, i: 0 };
    p.token(b"{")?;
    p.token(b"\"type\"")?;
    p.token(b":")?;
    p.token(b"\"")?;
    let start = p.i;
    let len = bytes[start..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\')?;
    let watch = WatchType::parse(std::str::from_utf8(&bytes[start..start + len]).ok()?)?;
    p.i = start + len;
    p.token(b"\"")?;
    p.token(b",")?;
    p.token(b"\"object\"")?;
    p.token(b":")?;
    p.ws();
    let object_start = p.i;
    if bytes.get(object_start) != Some(&b'{') {
        return None;
    }
    let end = trim_end(bytes, bytes.len());
    if end <= object_start + 1 || bytes[end - 1] != b'}' {
        return None;
    }
    let object_end = trim_end(bytes, end - 1);
    if object_end <= object_start || bytes[object_end - 1] != b'}' {
        return None;
    }
    Some((watch, &bytes[object_start..object_end]))
}

/// The watch type of an envelope already parsed into a map.
pub(crate) fn watch_type(map: &Map<String, Value>) -> Option<WatchType> {
    if !map.get("object").is_some_and(Value::is_object) || map.contains_key("kind") {
        return None;
    }
    WatchType::parse(map.get("type")?.as_str()?)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while self
            .bytes
            .get(self.i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.i += 1;
        }
    }

    fn token(&mut self, token: &[u8]) -> Option<()> {
        self.ws();
        if self.bytes[self.i..].starts_with(token) {
            self.i += token.len();
            Some(())
        } else {
            None
        }
    }
}

fn trim_end(bytes: &[u8], mut end: usize) -> usize {
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_pretty_envelopes_split() {
        let (t, o) = split(br#"{"type":"ADDED","object":{"kind":"Event"}}"#).unwrap();
        assert_eq!((t, o), (WatchType::Added, &br#"{"kind":"Event"}"#[..]));
        let pretty = b"{\n  \"type\": \"DELETED\",\n  \"object\": {\n    \"a\": 1\n  }\n}\n";
        let (t, o) = split(pretty).unwrap();
        assert_eq!((t, o), (WatchType::Deleted, &b"{\n    \"a\": 1\n  }"[..]));
    }

    #[test]
    fn other_objects_do_not_split() {
        assert!(split(br#"{"type":"Normal","object":{}}"#).is_none());
        assert!(split(br#"{"kind":"Event","type":"ADDED"}"#).is_none());
        assert!(split(br#"{"type":"ADDED","object":1}"#).is_none());
        assert!(split(br#"{"type":"ADDED","object":{}"#).is_none());
        assert!(split(b"{").is_none());
    }
}
