//! Message templates: the variable parts of an Event's note masked, so that the same failure on
//! different pods, images, ports, sizes, durations and IPs reads the same.
//!
//! What is masked (as `<*>`):
//! - anything in double or single quotes (`pull image "nginx:1.2"` → `pull image "<*>"`);
//! - any word containing a digit (numbers, sizes, durations, IPs, ports, hashes, generated names
//!   such as `web-7d9f8b6c4-x2x9z`, `node-3`);
//! - any word with a `/` in it (`namespace/pod`, paths, URLs);
//! - words given as context: the regarding object's name and namespace, the node, the
//!   container named in the field path;
//! - generated names without digits: a last `-` part of 5 to 10 characters from Kubernetes'
//!   vowel-less alphabet (`controller-manager-bpcrc`, `kube-api-access-xddvj`);
//! - lower-case dotted names: host names, files, API groups (`noimage.com`, `kube-root-ca.crt`);
//! - Go-printed lists after `=` (`unmounted volumes=[host data]` → `volumes=[<*>]`), whose order
//!   and members vary from one report of the same failure to the next.
//!
//! An apostrophe inside a word (`didn't`, `Pod's`) is part of the word, not a quote; a double
//! quote escaped with a backslash inside a quoted part does not end it.
//!
//! Punctuation around a word is kept, and runs of masks collapse into one, so `0/3 nodes are
//! available: 3 Insufficient cpu.` → `<*> nodes are available: <*> Insufficient cpu.`.

const MASK: &str = "<*>";

#[cfg(test)]
#[path = "template_reference.rs"]
mod reference;

/// The template of `note`; `context` holds words known to vary (object names, node names).
pub fn template(note: &str, context: &[&str]) -> String {
    let mut out = String::with_capacity(note.len());
    let mut rest = note;
    let mut last_was_mask = false;
    while let Some(&first) = rest.as_bytes().first() {
        // Whitespace is normalized to single spaces.
        if !first.is_ascii() || is_ascii_space(first) {
            let trimmed = rest.trim_start();
            if trimmed.len() != rest.len() {
                if !out.is_empty() {
                    out.push(' ');
                }
                rest = trimmed;
                continue;
            }
        }
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
        let word = scan_word(rest);
        if let Some(open) = word.list_open
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
        let text = &rest[..word.end];
        rest = &rest[word.end..];
        push_word(&mut out, text, &word, context, &mut last_was_mask);
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// ASCII whitespace as `char::is_whitespace` has it.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
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

/// The word at the start of a text, and what its bytes say about it, found in one pass so that
/// the rules below need not each scan it again.
struct Word {
    /// Where it ends: see [`scan_word`].
    end: usize,
    /// It holds a digit or a `/`: variable whatever else it is (neither is ever punctuation
    /// around a word, so the word's core holds it too).
    digit_or_slash: bool,
    /// It holds a `-`: it may end in a generated suffix.
    dash: bool,
    /// It holds a `.`: it may be a dotted name.
    dot: bool,
    /// Where `=[` first is in it: a printed list may start there.
    list_open: Option<usize>,
}

/// The word at the start of `text`. It ends at whitespace, a double quote (escaped or not), or
/// a single quote that opens a quoted part (one not preceded by a letter or digit, unlike
/// `didn't`).
fn scan_word(text: &str) -> Word {
    let bytes = text.as_bytes();
    let mut word = Word {
        end: text.len(),
        digit_or_slash: false,
        dash: false,
        dot: false,
        list_open: None,
    };
    let mut prev_alnum = false;
    let mut i = 0;
    // Byte by byte over ASCII (almost every note), a whole character otherwise: the same rules
    // as `char::is_whitespace` and `char::is_alphanumeric`, without decoding each character.
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() {
            let escaped_quote = b == b'\\' && bytes.get(i + 1) == Some(&b'"');
            if is_ascii_space(b)
                || b == b'"'
                || (i > 0 && (escaped_quote || (b == b'\'' && !prev_alnum)))
            {
                word.end = i;
                return word;
            }
            match b {
                b'0'..=b'9' | b'/' => word.digit_or_slash = true,
                b'-' => word.dash = true,
                b'.' => word.dot = true,
                b'[' if i > 0 && bytes[i - 1] == b'=' && word.list_open.is_none() => {
                    word.list_open = Some(i - 1);
                }
                _ => {}
            }
            prev_alnum = b.is_ascii_alphanumeric();
            i += 1;
        } else {
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            if c.is_whitespace() {
                word.end = i;
                return word;
            }
            prev_alnum = c.is_alphanumeric();
            i += c.len_utf8();
        }
    }
    word
}

fn push_word(
    out: &mut String,
    text: &str,
    word: &Word,
    context: &[&str],
    last_was_mask: &mut bool,
) {
    let (lead, core, trail) = split_punctuation(text);
    if !core.is_empty() && is_variable(core, word, context) {
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
        out.push_str(text);
        *last_was_mask = false;
    }
}

/// Splits `(word),` into `(`, `word`, `),`: opening brackets before, sentence punctuation and
/// unmatched closing brackets after.
fn split_punctuation(word: &str) -> (&str, &str, &str) {
    let bytes = word.as_bytes();
    let opens = |b: &u8| matches!(b, b'(' | b'[' | b'{');
    let closes = |b: &u8| {
        matches!(
            b,
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b')' | b']' | b'}'
        )
    };
    if !bytes.first().is_some_and(opens) && !bytes.last().is_some_and(closes) {
        // Most words: nothing to split off.
        return ("", word, "");
    }
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

/// Whether the core of a word (its punctuation split off) is a variable part; `word` is what
/// the scan found in the whole word.
fn is_variable(core: &str, word: &Word, context: &[&str]) -> bool {
    word.digit_or_slash
        || core == MASK
        || context.iter().any(|c| !c.is_empty() && *c == core)
        || (word.dash && has_generated_suffix(core))
        || (word.dot && is_dotted_name(core))
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

    #[test]
    fn apostrophes_inside_words_are_not_quotes() {
        assert_eq!(
            t(
                "0/6 nodes are available: 3 node(s) didn't match Pod's node affinity/selector, 3 node(s) didn't match pod anti-affinity rules."
            ),
            "<*> nodes are available: <*> node(s) didn't match Pod's node <*>, <*> node(s) didn't match pod anti-affinity rules."
        );
        assert_eq!(t("grep 'etcd' failed"), "grep '<*>' failed");
        assert_eq!(t("name='web' missing"), "name='<*>' missing");
    }

    #[test]
    fn escaped_quotes_stay_inside_their_quoted_part() {
        let a = t(
            r#"Status for clusteroperator/auth changed: Degraded message changed from "OAuthServerRouteEndpointAccessibleControllerDegraded: route \"oauth-openshift\" not found" to "All is well""#,
        );
        let b = t(
            r#"Status for clusteroperator/etcd changed: Degraded message changed from "ClusterMemberControllerDegraded: member \"etcd-1\" unhealthy" to "NodeControllerDegraded: \"master-0\" not ready""#,
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            r#"Status for <*> changed: Degraded message changed from "<*>" to "<*>""#
        );
    }

    #[test]
    fn generated_suffixes_without_digits_are_masked() {
        assert_eq!(
            t("Created pod: controller-manager-bpcrc"),
            t("Created pod: dns-default-xkzqm")
        );
        assert_eq!(
            t("Created pod: controller-manager-bpcrc"),
            "Created pod: <*>"
        );
        assert_eq!(
            t("controller-manager-fxcgb became leader"),
            "<*> became leader"
        );
        // Ordinary hyphenated words have vowels and stay.
        assert_eq!(
            t("didn't match pod anti-affinity rules"),
            "didn't match pod anti-affinity rules"
        );
        assert_eq!(
            t("node(s) had volume node-affinity conflict"),
            "node(s) had volume node-affinity conflict"
        );
    }

    #[test]
    fn printed_lists_after_an_equals_sign_are_masked_whole() {
        let a = t(
            "Unable to attach or mount volumes: unmounted volumes=[rrd], unattached volumes=[default-token-ldhts rrd]: timed out waiting for the condition",
        );
        let b = t(
            "Unable to attach or mount volumes: unmounted volumes=[rrd], unattached volumes=[rrd default-token-ldhts]: timed out waiting for the condition",
        );
        let c = t(
            "Unable to attach or mount volumes: unmounted volumes=[host], unattached volumes=[host kube-api-access-xddvj]: timed out waiting for the condition",
        );
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(
            a,
            "Unable to attach or mount volumes: unmounted volumes=[<*>], unattached volumes=[<*>]: timed out waiting for the condition"
        );
        assert_eq!(t("a=[b"), "a=[b");
    }

    #[test]
    fn lower_case_dotted_names_are_masked_and_code_paths_kept() {
        assert_eq!(
            t("x509: certificate is not valid for any names, but wanted to match noimage.com"),
            t(
                "x509: certificate is not valid for any names, but wanted to match registry.example.org"
            )
        );
        assert_eq!(
            t("MountVolume.SetUp failed for volume"),
            "MountVolume.SetUp failed for volume"
        );
        assert_ne!(
            t("MountVolume.SetUp failed for volume \"a\""),
            t("MountVolume.MountDevice failed for volume \"a\"")
        );
        assert_eq!(t("Done."), "Done.");
    }

    /// Notes built from the pieces real messages are made of, so that the generator reaches the
    /// quoting, list and suffix rules that random text almost never hits.
    fn note_like() -> impl proptest::strategy::Strategy<Value = String> {
        let piece = proptest::prop_oneof![
            proptest::strategy::Just("\"".to_string()),
            proptest::strategy::Just("\\\"".to_string()),
            proptest::strategy::Just("'".to_string()),
            proptest::strategy::Just("didn't".to_string()),
            proptest::strategy::Just("=[".to_string()),
            proptest::strategy::Just("]".to_string()),
            proptest::strategy::Just(" ".to_string()),
            proptest::strategy::Just("web-bcdfg".to_string()),
            proptest::strategy::Just("noimage.com".to_string()),
            proptest::strategy::Just("<*>".to_string()),
            "[a-zA-Z0-9:,.()/{}-]{1,8}",
        ];
        proptest::collection::vec(piece, 0..30).prop_map(|p| p.concat())
    }

    use proptest::strategy::Strategy as _;

    /// A context word for `note`: one of its words, bare or with its punctuation, or empty (as
    /// an event without a node or container gives), so that context masking is reached.
    fn context_word(note: &str) -> impl proptest::strategy::Strategy<Value = String> + use<> {
        let mut words: Vec<String> = vec![String::new(), "web".to_string()];
        for w in note.split_whitespace() {
            words.push(w.to_string());
            words.push(w.trim_matches(|c: char| !c.is_alphanumeric()).to_string());
        }
        proptest::sample::select(words)
    }

    /// `word_end` as it was written before it went byte by byte (issue 14 §5): the reference.
    fn word_end_by_chars(text: &str) -> usize {
        let mut prev_alnum = false;
        for (i, c) in text.char_indices() {
            let escaped_quote = c == '\\' && text[i + 1..].starts_with('"');
            if c.is_whitespace()
                || c == '"'
                || (i > 0 && (escaped_quote || (c == '\'' && !prev_alnum)))
            {
                return i;
            }
            prev_alnum = c.is_alphanumeric();
        }
        text.len()
    }

    proptest::proptest! {
        #[test]
        fn words_end_where_they_ended_when_read_by_characters(
            text in "[a-z0-9'\"\\\\ \t\u{b}\u{c}\r\n\u{85}\u{a0}\u{2003}\u{3000}éß漢-]{0,40}"
        ) {
            proptest::prop_assert_eq!(scan_word(&text).end, word_end_by_chars(&text));
        }

        #[test]
        fn a_printed_list_opens_where_str_find_finds_it(text in "[a-z=\\[\\]é漢]{0,30}") {
            proptest::prop_assert_eq!(scan_word(&text).list_open, text.find("=["));
        }

        #[test]
        fn words_of_any_text_end_where_they_ended_when_read_by_characters(text in ".{0,60}") {
            proptest::prop_assert_eq!(scan_word(&text).end, word_end_by_chars(&text));
        }

        #[test]
        fn templates_of_note_like_text_are_those_of_the_reference(
            (note, context) in note_like().prop_flat_map(|note| {
                let context = proptest::collection::vec(context_word(&note), 0..7);
                (proptest::strategy::Just(note), context)
            })
        ) {
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(
                template(&note, &context),
                reference::template(&note, &context)
            );
        }

        #[test]
        fn templates_of_any_text_are_those_of_the_reference(
            (note, context) in ".{0,120}".prop_flat_map(|note| {
                let context = proptest::collection::vec(context_word(&note), 0..7);
                (proptest::strategy::Just(note), context)
            })
        ) {
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(
                template(&note, &context),
                reference::template(&note, &context)
            );
        }

        #[test]
        fn templates_never_panic_and_are_idempotent(note in ".{0,200}") {
            let once = template(&note, &[]);
            let twice = template(&once, &[]);
            proptest::prop_assert_eq!(once, twice);
        }

        #[test]
        fn templates_of_note_like_text_are_idempotent(note in note_like()) {
            let once = template(&note, &[]);
            let twice = template(&once, &[]);
            proptest::prop_assert_eq!(once, twice);
        }
    }
}
