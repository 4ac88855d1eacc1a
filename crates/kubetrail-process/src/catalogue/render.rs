//! The catalogue as a Markdown document (docs/REASONS.md is this text; a test keeps it so).

use std::fmt::Write;

use super::{SHARED, groups, harmless::HARMLESS};

/// The documentation of the catalogue, generated from the rules themselves.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "# Event reasons\n\n\
         Generated from `crates/kubetrail-process/src/catalogue/` by \
         `UPDATE_REASONS=1 cargo test -p kubetrail-process --lib reasons_doc`; do not edit.\n\n\
         Each reason has one category and a severity chosen from what the emitting component \
         means by it, not from the event type. A message form (a case-insensitive regular \
         expression searched in the message) changes the severity; only the reasons an \
         upstream component shares between constants of different meaning may also change \
         the category. A reason written as a pattern with `*` is a family (e.g. library-go's \
         `<Kind>Created`); exact reasons are looked up first. Reasons not listed take their \
         category from the object's kind and their severity from the event type. Rules in a \
         rules file (`--rules`) are tried before these.\n\n",
    );
    out.push_str("## Known harmless messages (any reason)\n\n");
    out.push_str(
        "Rated info unless a form of the reason says otherwise; no incident starts from them \
         alone, and they are still stored and counted.\n\n",
    );
    for h in HARMLESS {
        let _ = writeln!(out, "- **{}** (`{}`): {}", h.name, cell(h.note), h.why);
    }
    out.push_str("\n## Reasons shared between upstream constants\n\n");
    for (reason, why) in SHARED {
        let _ = writeln!(out, "- `{reason}`: {why}");
    }
    for group in groups() {
        let _ = write!(
            out,
            "\n## {}\n\n| reason | category | severity | message forms |\n|---|---|---|---|\n",
            group.component
        );
        for entry in group.entries {
            let forms: Vec<String> = entry
                .forms
                .iter()
                .map(|form| {
                    let category = form.category.map(|c| format!(", {c}")).unwrap_or_default();
                    format!(
                        "`{}` → {}{category}: {}",
                        cell(form.note),
                        form.severity,
                        form.meaning
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                entry.reason,
                entry.category,
                entry.severity,
                forms.join("<br>")
            );
        }
    }
    out
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
