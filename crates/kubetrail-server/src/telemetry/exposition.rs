//! The two exposition formats of `/metrics` and the choice between them. Every metric is
//! rendered once, in OpenMetrics (what `prometheus-client` writes); a scraper that does not ask
//! for OpenMetrics gets the classic text format (`text/plain; version=0.0.4`), converted from it
//! line by line, as Prometheus client libraries do by default.

/// A `/metrics` answer's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    OpenMetrics,
    /// The Prometheus text format 0.0.4.
    Text,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// The format an `Accept` header asks for: OpenMetrics when it accepts
/// `application/openmetrics-text` at least as much as `text/plain` (and before it on a tie), the
/// text format otherwise, also without a header or with only `*/*`.
pub(crate) fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut best: Option<(f32, Format)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let format = match media.as_str() {
            "application/openmetrics-text" => Format::OpenMetrics,
            "text/plain" => Format::Text,
            _ => continue,
        };
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, v)| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Text, |(_, f)| f)
}

/// OpenMetrics text as the classic text format: counter families are named with their `_total`
/// samples, info families become gauges named `<name>_info`, and `# UNIT` and `# EOF` go. Sample
/// lines are the same in both.
pub(crate) fn to_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (family, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "gauge" | "histogram" | "summary" => (name.to_string(), kind),
                _ => (name.to_string(), "untyped"),
            };
            if let Some((_, text)) = help.take().filter(|(h, _)| *h == name) {
                // The text format escapes only `\` and line feeds in help: OpenMetrics' `\"`
                // is a plain quote there.
                out.push_str(&format!("# HELP {family} {}\n", text.replace("\\\"", "\"")));
            }
            out.push_str(&format!("# TYPE {family} {kind}\n"));
            continue;
        }
        if is_created_sample(line) {
            // Creation times are an OpenMetrics-only sample kind (the text format has none).
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Whether a sample line is a `<family>_created` sample.
fn is_created_sample(line: &str) -> bool {
    let name = line.split(['{', ' ']).next().unwrap_or_default();
    name.ends_with("_created")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn openmetrics_only_for_scrapers_that_ask_for_it_first() {
        assert_eq!(negotiate(Some(PROMETHEUS)), Format::OpenMetrics);
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(Some("text/plain; version=0.0.4")), Format::Text);
        assert_eq!(
            negotiate(Some(
                "text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5"
            )),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text; version=1.0.0")),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0, text/plain")),
            Format::Text
        );
    }

    #[test]
    fn counters_take_their_total_name_and_info_becomes_a_gauge() {
        let om = "# HELP kubetrail_events Occurrences \\\"stored\\\".\n\
                  # TYPE kubetrail_events counter\n\
                  kubetrail_events_total{cluster=\"a\"} 3\n\
                  kubetrail_events_created{cluster=\"a\"} 1.7e9\n\
                  # HELP kubetrail_write_duration_seconds Time.\n\
                  # TYPE kubetrail_write_duration_seconds histogram\n\
                  # UNIT kubetrail_write_duration_seconds seconds\n\
                  kubetrail_write_duration_seconds_sum 0.5\n\
                  # HELP kubetrail_build Build.\n\
                  # TYPE kubetrail_build info\n\
                  kubetrail_build_info{version=\"0.1.0\"} 1\n\
                  # EOF\n";
        assert_eq!(
            to_text(om),
            "# HELP kubetrail_events_total Occurrences \"stored\".\n\
             # TYPE kubetrail_events_total counter\n\
             kubetrail_events_total{cluster=\"a\"} 3\n\
             # HELP kubetrail_write_duration_seconds Time.\n\
             # TYPE kubetrail_write_duration_seconds histogram\n\
             kubetrail_write_duration_seconds_sum 0.5\n\
             # HELP kubetrail_build_info Build.\n\
             # TYPE kubetrail_build_info gauge\n\
             kubetrail_build_info{version=\"0.1.0\"} 1\n"
        );
    }
}
