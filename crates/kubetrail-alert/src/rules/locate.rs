//! Lines for error messages. yaml_serde keeps no positions once a value is parsed, so errors
//! found while validating (a bad regex, an unknown notifier) are placed by finding the item's
//! `name:` line and then the field's key inside the item's block.

/// Finds the lines of named items (rules, notifiers) and their fields in YAML text.
pub struct Locator<'a> {
    lines: Vec<&'a str>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

/// The key of a `key: value` line (after an optional `- `), and where the key starts.
fn key_of(line: &str) -> Option<(&str, usize)> {
    let mut start = indent(line);
    let mut rest = &line[start..];
    if let Some(r) = rest.strip_prefix("- ") {
        start += 2 + (r.len() - r.trim_start().len());
        rest = r.trim_start();
    }
    let colon = rest.find(':')?;
    let key = rest[..colon].trim().trim_matches(|c| c == '"' || c == '\'');
    Some((key, start))
}

fn value_of(line: &str) -> &str {
    match line.find(':') {
        Some(i) => line[i + 1..].trim().trim_matches(|c| c == '"' || c == '\''),
        None => "",
    }
}

impl<'a> Locator<'a> {
    /// A locator over the YAML text the rules were parsed from.
    pub fn new(text: &'a str) -> Self {
        Locator {
            lines: text.lines().collect(),
        }
    }

    /// The block of the item whose `name:` is `name`: (first line index, end, key indent).
    fn block(&self, name: &str) -> Option<(usize, usize, usize)> {
        let at = self
            .lines
            .iter()
            .position(|l| key_of(l).is_some_and(|(k, _)| k == "name") && value_of(l) == name)?;
        let (_, key_indent) = key_of(self.lines[at])?;
        let dash = key_indent.checked_sub(2)?;
        let is_item_start = |l: &str| indent(l) == dash && l.trim_start().starts_with("- ");
        let start = (0..=at)
            .rev()
            .find(|&i| is_item_start(self.lines[i]))
            .unwrap_or(at);
        let end = (at + 1..self.lines.len())
            .find(|&i| {
                let l = self.lines[i];
                !is_blank(l) && (indent(l) < key_indent || is_item_start(l))
            })
            .unwrap_or(self.lines.len());
        Some((start, end, key_indent))
    }

    /// The 1-based line of the item's `name:`.
    pub fn item(&self, name: &str) -> Option<usize> {
        let (start, end, _) = self.block(name)?;
        (start..end)
            .find(|&i| key_of(self.lines[i]).is_some_and(|(k, _)| k == "name"))
            .map(|i| i + 1)
    }

    /// The 1-based line of a field (`["match", "reason"]`) of the item named `name`; the line
    /// of the deepest key found, else of the item itself.
    pub fn field(&self, name: &str, path: &[&str]) -> Option<usize> {
        let (start, end, key_indent) = self.block(name)?;
        let mut found = self.item(name)?;
        let mut from = start;
        let mut depth_indent = key_indent;
        for (level, key) in path.iter().enumerate() {
            let hit = (from..end).find(|&i| {
                let l = self.lines[i];
                match key_of(l) {
                    Some((k, at)) => {
                        k == *key
                            && (if level == 0 {
                                at == key_indent
                            } else {
                                at > depth_indent
                            })
                    }
                    None => false,
                }
            });
            match hit {
                Some(i) => {
                    found = i + 1;
                    depth_indent = key_of(self.lines[i]).map_or(depth_indent, |(_, at)| at);
                    from = i + 1;
                }
                None => {
                    // A flow map on the parent's line: `match: {reason: x}`.
                    let parent = self.lines[found - 1];
                    if parent.contains('{') && parent.contains(&format!("{key}:")) {
                        return Some(found);
                    }
                    break;
                }
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
alerting:
  rules:
    - name: first
      condition: count >= 3 within 5m
    - name: second
      match:
        namespace: shop
        reason: [BackOff]
      condition: bad
      notifiers: [x]
    - match: {reason: Failed}
      name: \"third\"
      cooldown: 5x
  notifiers:
    - name: slack
      type: slack
";

    #[test]
    fn fields_are_found_inside_their_item() {
        let l = Locator::new(TEXT);
        assert_eq!(l.item("second"), Some(5));
        assert_eq!(l.field("second", &["condition"]), Some(9));
        assert_eq!(l.field("second", &["match", "reason"]), Some(8));
        assert_eq!(l.field("first", &["condition"]), Some(4));
        assert_eq!(l.field("third", &["cooldown"]), Some(13));
        assert_eq!(l.field("third", &["match", "reason"]), Some(11));
        assert_eq!(l.field("slack", &["type"]), Some(16));
        // A field not written: the item's line.
        assert_eq!(l.field("first", &["labels"]), Some(3));
        assert_eq!(l.item("missing"), None);
    }
}
