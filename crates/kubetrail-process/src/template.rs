//! Message templates: the variable parts of an Event's note masked, so that the same failure on
//! different pods, images, ports, sizes, durations and IPs reads the same.
//!
//! What is masked (as `<*>`):
//! - anything in double or single quotes (`pull image "nginx:1.2"` → `pull image "<*>"`);
//! - any word containing a digit (numbers, sizes, durations, IPs, ports, hashes, generated names
//!   such as `web-7d9f8b6c4-x2x9z`, `node-3`);
//! - any word with a `/` in it (`namespace/pod`, paths, URLs);
//! - words given as context: the regarding object's name and namespace, the node, the
//!   container named in the field path.
//!
//! Punctuation around a word is kept, and runs of masks collapse into one, so `0/3 nodes are
//! available: 3 Insufficient cpu.` → `<*> nodes are available: <*> Insufficient cpu.`.

const MASK: &str = "<*>";

/// The template of `note`; `context` holds words known to vary (object names, node names).
pub fn template(note: &str, context: &[&str]) -> String {
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
            if let Some(end) = rest[open_len..].find(quote) {
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
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        push_word(&mut out, word, context, &mut last_was_mask);
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(note: &str) -> String {
        template(note, &[])
    }

    #[test]
    fn the_same_backoff_on_different_pods_gives_one_template() {
        let a = template(
            "Back-off restarting failed container app in pod web-7d9f8b6c4-x2x9z_shop(6a1d2c3e-1111-2222-3333-444455556666)",
            &["web-7d9f8b6c4-x2x9z"],
        );
        let b = template(
            "Back-off restarting failed container app in pod web-7d9f8b6c4-qqz7p_shop(0a1d2c3e-1111-2222-3333-444455556666)",
            &["web-7d9f8b6c4-qqz7p"],
        );
        assert_eq!(a, b);
        assert_eq!(a, "Back-off restarting failed container app in pod <*>");
    }

    #[test]
    fn quoted_names_images_and_numbers_are_masked() {
        assert_eq!(
            t(r#"Failed to pull image "nginx:1.25.3": rpc error: code = NotFound"#),
            r#"Failed to pull image "<*>": rpc error: code = NotFound"#
        );
        assert_eq!(
            t("0/3 nodes are available: 3 Insufficient cpu."),
            "<*> nodes are available: <*> Insufficient cpu."
        );
        assert_eq!(
            t(r#"MountVolume.SetUp failed for volume "data" : configmap "app-config" not found"#),
            r#"MountVolume.SetUp failed for volume "<*>" : configmap "<*>" not found"#
        );
        assert_eq!(
            t(
                "Liveness probe failed: Get http://10.1.2.3:8080/healthz: dial tcp 10.1.2.3:8080: connect: connection refused"
            ),
            "Liveness probe failed: Get <*>: dial tcp <*>: connect: connection refused"
        );
    }

    #[test]
    fn context_words_are_masked_and_others_kept() {
        assert_eq!(
            template("Successfully assigned shop/web to worker", &["worker"]),
            "Successfully assigned <*> to <*>"
        );
        assert_eq!(t("Created container app"), "Created container app");
        assert_eq!(
            template("Created container app", &["app"]),
            "Created container <*>"
        );
    }

    #[test]
    fn different_failures_keep_different_templates() {
        assert_ne!(t("Error: ImagePullBackOff"), t("Error: ErrImagePull"));
        assert_ne!(
            t("Readiness probe failed: HTTP probe failed with statuscode: 503"),
            t("Liveness probe failed: HTTP probe failed with statuscode: 503")
        );
    }

    #[test]
    fn whitespace_and_unmatched_quotes_are_tolerated() {
        assert_eq!(t("  a   b\n c "), "a b c");
        assert_eq!(t("it's 5"), "it's <*>");
        assert_eq!(t(""), "");
    }

    proptest::proptest! {
        #[test]
        fn templates_never_panic_and_are_idempotent(note in ".{0,200}") {
            let once = template(&note, &[]);
            let twice = template(&once, &[]);
            proptest::prop_assert_eq!(once, twice);
        }
    }
}
