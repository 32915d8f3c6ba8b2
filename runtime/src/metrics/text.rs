//! Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then the samples of each
//! family together.

use std::fmt::Write as _;

/// The exposition being written.
#[derive(Default)]
pub(crate) struct Text {
    out: String,
}

impl Text {
    /// Starts a family: its `# HELP` and `# TYPE` lines.
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape_label(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Go's `strconv.ParseFloat` reads Rust's shortest round-trip form; infinities and NaN have
/// their own spellings.
pub(crate) fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        value.to_string()
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_and_escapes_labels() {
        let mut t = Text::default();
        t.family("x_total", "counter", "Things.\nCounted.");
        t.sample("x_total", &[("check", "a\"b\\c\nd"), ("k", "v")], 3.0);
        t.sample("x_total", &[], 0.25);
        assert_eq!(
            t.finish(),
            "# HELP x_total Things.\\nCounted.\n# TYPE x_total counter\n\
             x_total{check=\"a\\\"b\\\\c\\nd\",k=\"v\"} 3\nx_total 0.25\n"
        );
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(0.0001), "0.0001");
    }
}
