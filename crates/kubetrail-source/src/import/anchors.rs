//! YAML anchors across the pieces a List is split into. YAML resolves an alias (`*e`,
//! `<<: *base`) against every anchor defined earlier in its document, but the reader parses a
//! List's items one at a time (to hold one Event in memory, not the file). So the pieces that
//! define anchors (the List's header, earlier items) are kept as text, and an item that fails
//! to parse on its own while it uses an alias is parsed again behind the pieces that define
//! what it uses: the same value YAML gives, at the cost of parsing those pieces again.
//!
//! Bounded: at most [`MAX_KEPT`] bytes of defining text are kept per List (the oldest pieces
//! are forgotten first); an alias to a forgotten anchor stays an error, as before.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Most bytes of anchor-defining text kept for one List.
const MAX_KEPT: usize = 256 << 10;

/// The pieces of the current List that define anchors.
#[derive(Debug, Default)]
pub(crate) struct Anchors {
    /// The List's header (the text before `items:`), when it defines an anchor.
    header: Option<String>,
    /// Earlier items that define anchors, in document order, with the names they define.
    items: Vec<Piece>,
    kept: usize,
}

#[derive(Debug)]
struct Piece {
    text: String,
    defines: Vec<String>,
}

impl Anchors {
    /// A new List starts (a new document: earlier anchors no longer apply).
    pub(crate) fn start(&mut self, header: Option<&str>) {
        *self = Anchors::default();
        self.header = header
            .filter(|h| h.len() <= MAX_KEPT && !names(h, b'&').is_empty())
            .map(str::to_string);
        self.kept = self.header.as_ref().map_or(0, String::len);
    }

    /// Keeps `item` for the items after it, if it defines anchors.
    pub(crate) fn remember(&mut self, item: &str) {
        let defines = names(item, b'&');
        if defines.is_empty() || item.len() > MAX_KEPT {
            return;
        }
        while self.kept + item.len() > MAX_KEPT && !self.items.is_empty() {
            let oldest = self.items.remove(0);
            self.kept -= oldest.text.len();
        }
        if self.kept + item.len() > MAX_KEPT {
            return;
        }
        self.kept += item.len();
        self.items.push(Piece {
            text: item.to_string(),
            defines,
        });
    }

    /// The value of `item` (a `- ` entry) parsed behind the kept pieces that define the
    /// aliases it uses; `None` when it uses none of them or still does not parse.
    pub(crate) fn resolve(&self, item: &str) -> Option<Value> {
        let mut needed: HashSet<String> = names(item, b'*').into_iter().collect();
        if needed.is_empty() || (self.header.is_none() && self.items.is_empty()) {
            return None;
        }
        // The latest definition before the use wins; the pieces it needs come with it.
        let mut chosen = Vec::new();
        for (i, piece) in self.items.iter().enumerate().rev() {
            if piece.defines.iter().any(|d| needed.remove(d)) {
                chosen.push(i);
                needed.extend(names(&piece.text, b'*'));
                for d in &piece.defines {
                    needed.remove(d);
                }
            }
        }
        chosen.reverse();
        let mut text = String::new();
        if let Some(header) = &self.header {
            text.push_str(header);
            text.push_str("items:\n");
        }
        for i in chosen {
            text.push_str(&self.items[i].text);
        }
        text.push_str(item);
        let last = if self.header.is_some() {
            let mut doc: Value = from_yaml(&text).ok()?;
            match doc.get_mut("items")? {
                Value::Array(items) => items.pop()?,
                _ => return None,
            }
        } else {
            from_yaml::<Vec<Value>>(&text).ok()?.pop()?
        };
        Some(last)
    }
}

/// Parses YAML as yaml_serde does, with merge keys (`<<: *base`) applied as YAML defines them
/// (yaml_serde leaves them as a `<<` key otherwise).
pub(crate) fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, yaml_serde::Error> {
    if !text.contains("<<") {
        return yaml_serde::from_str(text);
    }
    let mut value: yaml_serde::Value = yaml_serde::from_str(text)?;
    value.apply_merge()?;
    yaml_serde::from_value(value)
}

/// The anchor (`&name`, with `sigil` `&`) or alias (`*name`, `*`) names in `text`, found by
/// their shape: after a blank, a line start or a flow indicator, up to a blank or a flow
/// indicator. A `&` or `*` inside a scalar may be taken for one; that only keeps a piece or
/// retries a parse for nothing.
fn names(text: &str, sigil: u8) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if b != sigil || !(i == 0 || b" \t\n[{,".contains(&bytes[i - 1])) {
            continue;
        }
        let name: String = text[i + 1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
            .collect();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anchors_and_aliases_are_found_by_shape() {
        assert_eq!(names("- &e {a: 1}\n  b: *x\n", b'&'), ["e"]);
        assert_eq!(names("- *e\n- [*a, *b]\n  c: 2*3\n", b'*'), ["e", "a", "b"]);
        assert!(names("message: a&b\n", b'&').is_empty());
    }

    #[test]
    fn an_item_uses_an_anchor_of_an_earlier_item() {
        let mut a = Anchors::default();
        a.start(None);
        a.remember("- &e {reason: BackOff}\n");
        a.remember("- {reason: Other}\n");
        assert_eq!(a.resolve("- *e\n"), Some(json!({"reason": "BackOff"})));
        assert_eq!(a.resolve("- *unknown\n"), None);
        assert_eq!(a.resolve("- {a: 1}\n"), None);
    }

    #[test]
    fn an_item_merges_a_mapping_anchored_in_the_list_header() {
        let mut a = Anchors::default();
        a.start(Some(
            "apiVersion: v1\nbase: &base\n  type: Warning\n  reason: X\n",
        ));
        let item = "- <<: *base\n  reason: Y\n";
        assert_eq!(
            a.resolve(item),
            Some(json!({"type": "Warning", "reason": "Y"}))
        );
        // A new List forgets the anchors of the last.
        a.start(None);
        assert_eq!(a.resolve(item), None);
    }

    #[test]
    fn the_latest_definition_wins_and_chains_are_followed() {
        let mut a = Anchors::default();
        a.start(None);
        a.remember("- &e {n: 1}\n");
        a.remember("- &e {n: 2}\n");
        a.remember("- &f {m: *e}\n");
        assert_eq!(a.resolve("- *f\n"), Some(json!({"m": {"n": 2}})));
    }

    #[test]
    fn kept_text_is_bounded_and_the_oldest_goes_first() {
        let mut a = Anchors::default();
        a.start(None);
        let big = format!("- &old {{x: \"{}\"}}\n", "a".repeat(MAX_KEPT / 2));
        a.remember(&big);
        a.remember(&big.replace("&old", "&new"));
        assert!(a.kept <= MAX_KEPT);
        assert_eq!(a.resolve("- *old\n"), None);
        assert!(a.resolve("- *new\n").is_some());
    }
}
