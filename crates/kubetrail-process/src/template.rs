//! Message templates.
pub fn template(note: &str) -> String {
    note.to_string()
}
