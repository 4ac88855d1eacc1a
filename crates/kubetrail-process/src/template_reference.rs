//! The templating code as it was before it scanned each word once (issue 14 §5): the
//! reference the property tests in `template.rs` compare [`super::template`] with, so that the
//! faster code gives byte for byte the templates stored until then.

const MASK: &str = "<*>";

/// The template of `note`; `context` holds words known to vary (object names, node names).
pub(super) fn template(note: &str, context: &[&str]) -> String {
    let mut out = String::with_capacity(note.len());
    let mut rest = note;
    let mut last_was_mask = false;
    while !rest.is_empty() {
        // Whitespace is normalized to single spaces.
        let trimmed = rest.trim_start();
        if trimmed.len() != rest.len() {
            if !out.is_empty() {
                out.push(' ');
            }
            rest = trimmed;
            continue;
        }
        let first = rest.as_bytes()[0];
        if first == b'"'
            || first == b'\''
            || (first == b'\\' && rest.as_bytes().get(1) == Some(&b'"'))
        {
            let (quote, open_len) = if first == b'\\' {
                ("\\\"", 2)
            } else if first == b'"' {
                ("\"", 1)
            } else {
                ("'", 1)
            };
            if let Some(end) = closing(&rest[open_len..], quote) {
                // A quoted part: mask its content, keep the quotes.
                out.push_str(quote);
                out.push_str(MASK);
                out.push_str(quote);
                rest = &rest[open_len + end + quote.len()..];
                last_was_mask = false;
                continue;
            }
            // An unmatched quote is just a character.
            out.push(first as char);
            rest = &rest[1..];
            last_was_mask = false;
            continue;
        }
        let end = word_end(rest);
        let word = &rest[..end];
        if let Some(open) = list_open(word)
            && let Some(close) = rest[open + 2..].find(']')
        {
            // `key=[a b c]`: a printed list, masked whole (it may hold spaces).
            out.push_str(&rest[..open + 2]);
            out.push_str(MASK);
            out.push(']');
            rest = &rest[open + 2 + close + 1..];
            last_was_mask = false;
            continue;
        }
        rest = &rest[end..];
        push_word(&mut out, word, context, &mut last_was_mask);
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Where `=[` first is in `word`: a byte scan (`str::find` builds a substring searcher for
/// each word).
fn list_open(word: &str) -> Option<usize> {
    let bytes = word.as_bytes();
    (1..bytes.len())
        .find(|&i| bytes[i] == b'[' && bytes[i - 1] == b'=')
        .map(|i| i - 1)
}

/// Where the closing `quote` is in `text` (the part after the opening one). Inside a double-quoted
/// part, `\"` is an escaped quote, not the end.
fn closing(text: &str, quote: &str) -> Option<usize> {
    if quote != "\"" {
        return text.find(quote);
    }
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find('"') {
        let at = from + i;
        if at == 0 || bytes[at - 1] != b'\\' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The end of the word at the start of `text`: whitespace, a double quote (escaped or not), or
/// a single quote that opens a quoted part (one not preceded by a letter or digit, unlike
/// `didn't`).
fn word_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut prev_alnum = false;
    let mut i = 0;
    // Byte by byte over ASCII (almost every note), a whole character otherwise: the same rules
    // as `char::is_whitespace` and `char::is_alphanumeric`, without decoding each character.
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() {
            let escaped_quote = b == b'\\' && bytes.get(i + 1) == Some(&b'"');
            let space = matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
            if space || b == b'"' || (i > 0 && (escaped_quote || (b == b'\'' && !prev_alnum))) {
                return i;
            }
            prev_alnum = b.is_ascii_alphanumeric();
            i += 1;
        } else {
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            if c.is_whitespace() {
                return i;
            }
            prev_alnum = c.is_alphanumeric();
            i += c.len_utf8();
        }
    }
    text.len()
}

fn push_word(out: &mut String, word: &str, context: &[&str], last_was_mask: &mut bool) {
    let (lead, core, trail) = split_punctuation(word);
    if !core.is_empty() && is_variable(core, context) {
        if *last_was_mask && lead.is_empty() && out.ends_with(' ') {
            // Collapse "<*> <*>" into "<*>": a run of variable words is one variable part.
            out.pop();
            out.push_str(trail);
            *last_was_mask = trail.is_empty();
            return;
        }
        out.push_str(lead);
        out.push_str(MASK);
        out.push_str(trail);
        *last_was_mask = trail.is_empty();
    } else {
        out.push_str(word);
        *last_was_mask = false;
    }
}

/// Splits `(word),` into `(`, `word`, `),`: opening brackets before, sentence punctuation and
/// unmatched closing brackets after.
fn split_punctuation(word: &str) -> (&str, &str, &str) {
    let core_start = word.len() - word.trim_start_matches(['(', '[', '{']).len();
    let lead = &word[..core_start];
    let mut core = &word[core_start..];
    let mut trail_len = 0;
    loop {
        let trimmed = core.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let trimmed = match trimmed.chars().last() {
            Some(c @ (')' | ']' | '}')) if !trimmed.contains(opener(c)) => {
                &trimmed[..trimmed.len() - 1]
            }
            _ => trimmed,
        };
        if trimmed.len() == core.len() {
            break;
        }
        trail_len += core.len() - trimmed.len();
        core = trimmed;
    }
    let trail = &word[word.len() - trail_len..];
    (lead, core, trail)
}

fn opener(close: char) -> char {
    match close {
        ')' => '(',
        ']' => '[',
        _ => '{',
    }
}

fn is_variable(core: &str, context: &[&str]) -> bool {
    core == MASK
        || core.bytes().any(|b| b.is_ascii_digit())
        || core.contains('/')
        || context.iter().any(|c| !c.is_empty() && *c == core)
        || has_generated_suffix(core)
        || is_dotted_name(core)
}

/// `controller-manager-bpcrc`: a name ending in a suffix Kubernetes generated (pods, volumes
/// such as `kube-api-access-xddvj`), from `rand.SafeEncodeString`'s alphabet, which has no
/// vowels so that ordinary words are not taken for one.
fn has_generated_suffix(core: &str) -> bool {
    let Some((base, suffix)) = core.rsplit_once('-') else {
        return false;
    };
    !base.is_empty()
        && (5..=10).contains(&suffix.len())
        && suffix
            .bytes()
            .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

/// `noimage.com`, `kube-root-ca.crt`: lower-case words with inner dots are host names, files
/// or API groups. Mixed-case ones (`MountVolume.SetUp`) name code paths and stay.
fn is_dotted_name(core: &str) -> bool {
    let mut parts = core.split('.');
    let valid = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    core.contains('.') && parts.all(valid)
}
