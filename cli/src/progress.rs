//! Progress bars for the commands that can take more than a second, drawn on stderr only when
//! stderr is a terminal and the output is text, so JSON, pipes, logs and CI see none of them.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::Format;

/// A bar (or a spinner, for work of unknown length) that cleans up after itself.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar of `len` steps labelled `message`; hidden for JSON or when stderr is not a
    /// terminal.
    pub fn bar(len: u64, message: &str, format: Format) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(len), target(format));
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress::start(bar, message)
    }

    /// A bar counting bytes.
    pub fn bytes(len: u64, message: &str, format: Format) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(len), target(format));
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({elapsed})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress::start(bar, message)
    }

    fn start(bar: ProgressBar, message: &str) -> Progress {
        bar.set_message(message.to_owned());
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress { bar }
    }

    /// One more step done.
    pub fn inc(&self, steps: u64) {
        self.bar.inc(steps);
    }

    /// The label, for the step now under way.
    pub fn set_message(&self, message: &str) {
        self.bar.set_message(message.to_owned());
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn target(format: Format) -> ProgressDrawTarget {
    if format == Format::Text && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
