//! A text progress bar for long admin commands (hashing and importing hundreds of users takes
//! seconds to minutes). It writes to standard error only, so standard output stays the
//! command's result and can be piped or compared.

use std::io::{IsTerminal, Write};

/// A text progress bar on standard error, `label [#####     ] 120/300`: redrawn in place on
/// a terminal, printed once when done elsewhere (a log file has no use for the steps).
pub(super) struct Progress {
    label: &'static str,
    total: usize,
    drawn: usize,
    terminal: bool,
}

impl Progress {
    const WIDTH: usize = 30;

    pub(super) fn new(label: &'static str, total: usize) -> Progress {
        Progress {
            label,
            total,
            drawn: 0,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    pub(super) fn update(&mut self, done: usize) {
        let step = (self.total / 200).max(1);
        if self.terminal && (done == self.total || done >= self.drawn + step) {
            self.draw(done);
        }
    }

    fn draw(&mut self, done: usize) {
        self.drawn = done;
        let filled = Self::WIDTH * done.min(self.total) / self.total.max(1);
        eprint!(
            "\r{} [{}{}] {done}/{}",
            self.label,
            "#".repeat(filled),
            " ".repeat(Self::WIDTH - filled),
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    pub(super) fn finish(mut self) {
        if self.total == 0 {
            return;
        }
        if !self.terminal || self.drawn != self.total {
            self.draw(self.total);
        }
        eprintln!();
    }
}
