//! Compact JSON text re-indented as serde_json's pretty printer writes it, or copied as it is,
//! without decoding it: a kept incident's stored JSON is written into `kubetrail incidents -o
//! json` (and `-o ndjson`, and `GET /api/v1/incidents`) by copying its bytes (decoding
//! thousands of incidents and encoding them again was most of the read).

use std::io::{self, Write};

/// A newline and the deepest indentation written at once (more is written in pieces).
const INDENT: &[u8] = b"\n                                                                ";

/// Writes `json`, compact JSON as serde_json writes it (no whitespace outside strings), as
/// `serde_json::to_writer_pretty` writes the same value nested `depth` levels deep (two spaces
/// a level; the first line is not indented: the caller has placed it). When `replace` is
/// `(key, value)`, the value of the object's top-level `key` is written as the JSON text
/// `value` instead.
///
/// The input is trusted to be valid compact JSON (the store's own text): a malformed one gives
/// malformed output, never a panic or an endless loop.
pub fn write_pretty(
    out: &mut impl Write,
    json: &[u8],
    depth: usize,
    replace: Option<(&str, &str)>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(json.len() + json.len() / 2);
    pretty_into(&mut buf, json, depth, replace);
    out.write_all(&buf)
}

/// [`write_pretty`] appended to `out`. The text between two places where whitespace goes (after `{`,
/// `[`, `,` and `:`, before `}` and `]`) is copied in one piece, and strings are skipped by
/// looking for their quote (most of an incident's bytes are in strings): the re-indent of a
/// 30-day list (30 MB) was a byte-by-byte loop with a write per token.
pub fn pretty_into(out: &mut Vec<u8>, json: &[u8], depth: usize, replace: Option<(&str, &str)>) {
    let mut level = depth;
    // `json[copied..i]` is still to be copied.
    let mut copied = 0;
    let mut i = 0;
    while let Some(&b) = json.get(i) {
        match b {
            b'"' => {
                let (start, end) = (i, string_end(json, i));
                i = end;
                if json.get(i) == Some(&b':') {
                    i += 1;
                    out.extend_from_slice(&json[copied..i]);
                    out.push(b' ');
                    copied = i;
                    if let Some((k, v)) = replace
                        && level == depth + 1
                        && is_key(json, start, end, k)
                    {
                        out.extend_from_slice(v.as_bytes());
                        i = value_end(json, i);
                        copied = i;
                    }
                }
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                if json.get(i + 1) == Some(&close) {
                    i += 2;
                } else {
                    level += 1;
                    i += 1;
                    out.extend_from_slice(&json[copied..i]);
                    newline(out, level);
                    copied = i;
                }
            }
            b'}' | b']' => {
                level = level.saturating_sub(1);
                out.extend_from_slice(&json[copied..i]);
                newline(out, level);
                copied = i;
                i += 1;
            }
            b',' => {
                i += 1;
                out.extend_from_slice(&json[copied..i]);
                newline(out, level);
                copied = i;
            }
            _ => i = scalar_end(json, i),
        }
    }
    out.extend_from_slice(&json[copied.min(json.len())..]);
}

/// Writes `json`, compact JSON as serde_json writes it, as it is; when `replace` is `(key,
/// value)`, the value of the object's top-level `key` is written as the JSON text `value`
/// instead (the same bytes as serde_json's compact writer gives the value with it replaced).
///
/// The input is trusted as in [`write_pretty`]: a malformed one gives malformed output, never a
/// panic or an endless loop.
pub fn write_compact(
    out: &mut impl Write,
    json: &[u8],
    replace: Option<(&str, &str)>,
) -> io::Result<()> {
    let Some((key, value)) = replace else {
        return out.write_all(json);
    };
    let mut level = 0usize;
    let mut i = 0;
    while let Some(&b) = json.get(i) {
        match b {
            b'"' => {
                let end = string_end(json, i);
                if level == 1 && json.get(end) == Some(&b':') && is_key(json, i, end, key) {
                    out.write_all(&json[..=end])?;
                    out.write_all(value.as_bytes())?;
                    return out.write_all(&json[value_end(json, end + 1)..]);
                }
                i = end;
            }
            b'{' | b'[' => {
                level += 1;
                i += 1;
            }
            b'}' | b']' => {
                level = level.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.write_all(json)
}

/// Whether the string `json[start..end]` (quotes included) is `key`.
fn is_key(json: &[u8], start: usize, end: usize, key: &str) -> bool {
    end == start + key.len() + 2 && json[start + 1..end - 1] == *key.as_bytes()
}

/// Writes a newline and the indentation of `level`.
fn newline(out: &mut Vec<u8>, level: usize) {
    let mut spaces = level * 2;
    let first = spaces.min(INDENT.len() - 1);
    out.extend_from_slice(&INDENT[..1 + first]);
    spaces -= first;
    while spaces > 0 {
        let n = spaces.min(INDENT.len() - 1);
        out.extend_from_slice(&INDENT[1..1 + n]);
        spaces -= n;
    }
}

/// The index after the closing quote of the string opening at `start`.
fn string_end(json: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    // Most strings are short (keys, ids, times): their first 32 bytes are looked at 8 at a
    // time in a word (a byte loop was most of the re-indent's time), before a vector search
    // would have paid for itself; longer ones (messages) are searched for their quote.
    let short = (i + 32).min(json.len());
    while let Some(word) = json.get(i..i + 8).filter(|_| i + 8 <= short) {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        match quote_or_escape(word) {
            Some(n) if json[i + n] == b'"' => return i + n + 1,
            Some(n) => i += n + 2,
            None => i += 8,
        }
    }
    while let Some(n) = json
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
    {
        i += n;
        if json[i] == b'"' {
            return i + 1;
        }
        i += 2;
    }
    json.len()
}

/// Where the first `"` or `\\` is among the 8 bytes of `word` (little-endian: the first byte
/// lowest), if any. A byte equal to one of them is zero once xored with it; the lowest byte
/// whose subtraction of 1 borrows into its top bit is the first zero (bytes above a zero may
/// be flagged too, never one below).
fn quote_or_escape(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & TOPS;
    let found = zero(word ^ (ONES * u64::from(b'"'))) | zero(word ^ (ONES * u64::from(b'\\')));
    (found != 0).then(|| found.trailing_zeros() as usize / 8)
}

/// The index after the number, `true`, `false` or `null` starting at `start`.
fn scalar_end(json: &[u8], start: usize) -> usize {
    json[start..]
        .iter()
        .position(|b| matches!(b, b',' | b'}' | b']' | b':' | b'"' | b'{' | b'['))
        .map_or(json.len(), |n| (start + n).max(start + 1))
}

/// The index after the value starting at `start`.
fn value_end(json: &[u8], start: usize) -> usize {
    match json.get(start) {
        Some(b'"') => string_end(json, start),
        Some(b'{' | b'[') => {
            let mut open = 0usize;
            let mut i = start;
            while let Some(&b) = json.get(i) {
                match b {
                    b'"' => {
                        i = string_end(json, i);
                        continue;
                    }
                    b'{' | b'[' => open += 1,
                    b'}' | b']' => {
                        open -= 1;
                        if open == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            json.len()
        }
        Some(_) => scalar_end(json, start),
        None => start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn pretty(v: &Value, depth: usize, replace: Option<(&str, &str)>) -> String {
        let mut out = Vec::new();
        write_pretty(
            &mut out,
            serde_json::to_string(v).unwrap().as_bytes(),
            depth,
            replace,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn compact_json_is_written_as_serde_json_writes_it_pretty() {
        let v = json!({
            "id": "a\"b\\",
            "empty": {},
            "none": [],
            "n": -1.5e3,
            "list": [1, true, null, {"k": ["x", {}]}, "]},{"],
            "nested": {"status": "ongoing"},
            "status": "ongoing",
        });
        assert_eq!(
            pretty(&v, 0, None),
            serde_json::to_string_pretty(&v).unwrap()
        );
    }

    #[test]
    fn a_value_nested_in_an_array_is_indented_as_the_array_writes_it() {
        let v = json!({"a": [1, {"b": 2}], "c": "d"});
        let whole = serde_json::to_string_pretty(&json!([v.clone(), v.clone()])).unwrap();
        let item = pretty(&v, 1, None);
        assert_eq!(whole, format!("[\n  {item},\n  {item}\n]"));
    }

    #[test]
    fn the_top_level_key_is_replaced_and_nested_ones_are_not() {
        let v = json!({"nested": {"status": "ongoing"}, "status": "ongoing", "x": 1});
        let mut want = v.clone();
        want["status"] = json!("resolved");
        assert_eq!(
            pretty(&v, 0, Some(("status", "\"resolved\""))),
            serde_json::to_string_pretty(&want).unwrap()
        );
        // A value of any kind is skipped whole; a key that only ends like it is another key.
        let v = json!({"a\"status": 0, "status": {"a": ["}", 1]}, "x": [2]});
        assert_eq!(
            pretty(&v, 0, Some(("status", "3"))),
            serde_json::to_string_pretty(&json!({"a\"status": 0, "status": 3, "x": [2]})).unwrap()
        );
    }

    fn compact(v: &Value, replace: Option<(&str, &str)>) -> String {
        let mut out = Vec::new();
        write_compact(
            &mut out,
            serde_json::to_string(v).unwrap().as_bytes(),
            replace,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn compact_json_is_copied_with_its_top_level_key_replaced_and_nested_ones_not() {
        let v = json!({"nested": {"status": "ongoing"}, "list": [{"status": 1}], "status": "ongoing", "x": 1});
        assert_eq!(compact(&v, None), serde_json::to_string(&v).unwrap());
        let mut want = v.clone();
        want["status"] = json!("resolved");
        assert_eq!(
            compact(&v, Some(("status", "\"resolved\""))),
            serde_json::to_string(&want).unwrap()
        );
        let v = json!({"a\"status": 0, "status": {"a": ["}", 1]}, "x": [2]});
        assert_eq!(
            compact(&v, Some(("status", "3"))),
            serde_json::to_string(&json!({"a\"status": 0, "status": 3, "x": [2]})).unwrap()
        );
    }

    #[test]
    fn malformed_input_ends() {
        for bad in [
            "{\"a",
            "{\"a\":",
            "[[[",
            "]]}",
            "\"\\",
            "{\"status\":",
            "tru",
        ] {
            let mut out = Vec::new();
            write_pretty(&mut out, bad.as_bytes(), 0, Some(("status", "1"))).unwrap();
            write_compact(&mut out, bad.as_bytes(), Some(("status", "1"))).unwrap();
        }
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".*".prop_map(Value::String),
            "[\"\\\\{}\\[\\],: a-z]*".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"\\\\:,{}]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Where a byte loop ends the string opening at `start`.
    fn string_end_byte_by_byte(json: &[u8], start: usize) -> usize {
        let mut i = start + 1;
        while i < json.len() {
            match json[i] {
                b'"' => return i + 1,
                b'\\' => i += 2,
                _ => i += 1,
            }
        }
        json.len()
    }

    proptest! {
        #[test]
        fn any_string_ends_where_a_byte_loop_ends_it(
            before in "[a\"]{0,9}",
            text in "[a-z\"\\\\é]{0,80}",
        ) {
            let json = format!("{before}\"{text}");
            let start = before.len();
            prop_assert_eq!(
                string_end(json.as_bytes(), start),
                string_end_byte_by_byte(json.as_bytes(), start)
            );
        }

        #[test]
        fn any_value_is_written_as_serde_json_writes_it_pretty(v in value(), depth in 0usize..40) {
            let item = pretty(&v, depth, None);
            let mut want = Vec::new();
            let indent = " ".repeat(2 * depth);
            for (n, line) in serde_json::to_string_pretty(&v).unwrap().lines().enumerate() {
                if n > 0 {
                    want.push(format!("{indent}{line}"));
                } else {
                    want.push(line.to_string());
                }
            }
            prop_assert_eq!(item, want.join("\n"));
        }

        #[test]
        fn any_object_is_written_pretty_as_serde_json_writes_it_with_its_key_replaced(
            fields in prop::collection::btree_map("[a-c]{0,2}", value(), 0..6),
            key in "[a-c]{0,2}",
            by in value(),
        ) {
            let v = Value::Object(fields.into_iter().collect());
            let mut want = v.clone();
            if let Some(slot) = want.get_mut(&key) {
                *slot = by.clone();
            }
            // The replacing text as it stands in the pretty output: written pretty itself.
            let by_pretty = serde_json::to_string_pretty(&by).unwrap().replace('\n', "\n  ");
            prop_assert_eq!(
                pretty(&v, 0, Some((&key, &by_pretty))),
                serde_json::to_string_pretty(&want).unwrap()
            );
        }

        #[test]
        fn any_object_is_copied_as_serde_json_writes_it_with_its_key_replaced(
            fields in prop::collection::btree_map("[a-c]{0,2}", value(), 0..6),
            key in "[a-c]{0,2}",
            by in value(),
        ) {
            let v = Value::Object(fields.into_iter().collect());
            prop_assert_eq!(compact(&v, None), serde_json::to_string(&v).unwrap());
            let mut want = v.clone();
            if let Some(slot) = want.get_mut(&key) {
                *slot = by.clone();
            }
            let by = serde_json::to_string(&by).unwrap();
            prop_assert_eq!(
                compact(&v, Some((&key, &by))),
                serde_json::to_string(&want).unwrap()
            );
        }
    }
}
