//! What a gateway reports: its `/metrics` scrapes and its log, whose `security` lines are the
//! audit trail.

use std::collections::BTreeMap;

/// A `/metrics` scrape.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The series name with its labels as the text format prints them (labels sorted by name).
    pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
        if labels.is_empty() {
            return name.to_owned();
        }
        let mut labels = labels.to_vec();
        labels.sort_unstable();
        let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        format!("{name}{{{}}}", inner.join(","))
    }

    /// The value of one series, if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let series = Self::series(name, labels);
        self.0.lines().find_map(|l| {
            l.strip_prefix(&series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
    }

    /// Every `iwagw_spnego_handshakes_total` series with a non-zero value, as
    /// `result/reason → count`.
    pub fn handshakes(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for line in self.0.lines() {
            let Some(rest) = line.strip_prefix("iwagw_spnego_handshakes_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let label = |k: &str| {
                labels
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                    .map(|v| v.trim_end_matches('"').to_owned())
                    .unwrap_or_default()
            };
            let value: u64 = value.trim().parse().unwrap_or(0);
            if value > 0 {
                out.insert(format!("{}/{}", label("result"), label("reason")), value);
            }
        }
        out
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi() {
        assert_eq!(
            strip_ansi("\u{1b}[3mreason\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"replay\""),
            "reason=\"replay\""
        );
    }

    #[test]
    fn reads_metric_series() {
        let m = Metrics(
            "# HELP x\niwagw_spnego_handshakes_total{reason=\"replay\",result=\"failure\"} 1\n\
             iwagw_spnego_handshakes_total{reason=\"ok\",result=\"success\"} 0\n"
                .into(),
        );
        assert_eq!(
            m.value(
                "iwagw_spnego_handshakes_total",
                &[("result", "failure"), ("reason", "replay")]
            ),
            Some(1.0)
        );
        assert_eq!(m.value("iwagw_spnego_handshakes_total", &[]), None);
        assert_eq!(
            m.handshakes().into_iter().collect::<Vec<_>>(),
            [("failure/replay".to_owned(), 1)]
        );
    }
}
