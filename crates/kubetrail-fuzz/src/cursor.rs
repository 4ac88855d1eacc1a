//! The API's page cursors: the input is the cursor's JSON (what the fuzzer mutates well), sent
//! base64-encoded as a client would, through [`Cursor::decode`] and [`Cursor::resume`]; a
//! cursor that decodes encodes back to one that decodes the same.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kubetrail_model::EventFilter;
use kubetrail_server::cursor::Cursor;

/// Decodes `data` as a cursor, both as sent and base64-encoded, and resumes filters from it.
///
/// # Panics
/// When an encoded cursor does not decode back to itself, and where decoding panics.
pub fn run(data: &[u8]) {
    // Raw text too: a client can send anything as `cursor=`.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Cursor::decode(text);
    }
    let Ok(cursor) = Cursor::decode(&URL_SAFE_NO_PAD.encode(data)) else {
        return;
    };
    let again = Cursor::decode(&cursor.encode()).expect("an encoded cursor decodes");
    assert_eq!(again, cursor);
    let _ = cursor.resume(&mut EventFilter::default());
    let mut narrowed = EventFilter {
        namespaces: vec!["shop".into()],
        ..EventFilter::default()
    };
    let _ = cursor.resume(&mut narrowed);
}
