//! Progress on the terminal: a spinner on standard error naming the step
//! under way, for steps that take longer than a moment (a large table, a
//! remote back end, a lock wait). Only on a terminal, never with `-q`, and
//! only once the step has run for [`DELAY`]: a quick run prints nothing
//! more than before, and a redirected one nothing at all.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::Duration;

/// How long a step runs before its spinner appears.
pub const DELAY: Duration = Duration::from_millis(1500);

/// One step's spinner; cleared when dropped (before any prompt or output
/// that follows the step).
pub struct Progress {
    bar: Option<ProgressBar>,
    done: Option<mpsc::Sender<()>>,
    waiter: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// A spinner for `message`, or nothing when `enabled` is false or
    /// standard error is not a terminal.
    pub fn start(enabled: bool, message: &str) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                done: None,
                waiter: None,
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_string());
        let (done, wait) = mpsc::channel::<()>();
        let shown = bar.clone();
        let waiter = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(DELAY) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(120));
            }
        });
        Progress {
            bar: Some(bar),
            done: Some(done),
            waiter: Some(waiter),
        }
    }

    /// Changes the step's words (e.g. a count that moved on).
    pub fn set_message(&self, message: &str) {
        if let Some(b) = &self.bar {
            b.set_message(message.to_string());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // Stop the waiter first, so the spinner is never shown after the
        // step ended.
        drop(self.done.take());
        if let Some(w) = self.waiter.take() {
            let _ = w.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
