//! Questions to the person at the terminal, asked so that nobody can answer
//! by accident: the answer is a word typed in full and Enter (`yes`), read
//! from the terminal itself (so `--password-stdin` leaves it usable), and
//! anything typed before the question appeared is thrown away.
//!
//! Ctrl-C or SIGTERM while a question waits end the program through
//! [`super::Interrupt`] (exit 4, terminal restored); end of input is "no".

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};

/// The terminal the tool talks to for questions.
pub struct Terminal {
    input: BufReader<File>,
    output: File,
}

impl Terminal {
    /// Opens the controlling terminal, when the tool runs in one: standard
    /// error must be a terminal (the questions go there), and either
    /// standard input is one or the terminal device can be opened. Under a
    /// test harness or a pipeline, None.
    pub fn open() -> Option<Terminal> {
        if !io::stderr().is_terminal() {
            return None;
        }
        let (input, output) = open_device().ok()?;
        Some(Terminal {
            input: BufReader::new(input),
            output,
        })
    }

    /// Asks `question` and returns the line typed (without its end), or None
    /// at end of input.
    pub fn ask(&mut self, question: &str) -> io::Result<Option<String>> {
        discard_typeahead(self.input.get_ref());
        write!(self.output, "{question}")?;
        self.output.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            writeln!(self.output)?;
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    }

    /// Writes a line to the terminal (not to standard output, which may be
    /// a file).
    pub fn say(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.output, "{text}")
    }
}

/// Whether `answer` is the confirmation word: `yes`, typed in full, any
/// case, surrounding blanks ignored. `y`, `yes please` or `yikes` are not.
pub fn is_yes(answer: &str) -> bool {
    answer.trim().eq_ignore_ascii_case("yes")
}

#[cfg(unix)]
fn open_device() -> io::Result<(File, File)> {
    let input = File::open("/dev/tty")?;
    let output = std::fs::OpenOptions::new().write(true).open("/dev/tty")?;
    Ok((input, output))
}

#[cfg(windows)]
fn open_device() -> io::Result<(File, File)> {
    let input = File::open("CONIN$")?;
    let output = std::fs::OpenOptions::new().write(true).open("CONOUT$")?;
    Ok((input, output))
}

#[cfg(not(any(unix, windows)))]
fn open_device() -> io::Result<(File, File)> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "no terminal"))
}

/// Throws away what was typed before the question appeared, so that a `yes`
/// typed ahead (or a stray Enter) cannot answer it.
#[cfg(unix)]
fn discard_typeahead(input: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: tcflush only reads the descriptor number, which `input` owns
    // and keeps open for the duration of the call.
    unsafe {
        libc::tcflush(input.as_raw_fd(), libc::TCIFLUSH);
    }
}

#[cfg(windows)]
fn discard_typeahead(input: &File) {
    use std::os::windows::io::AsRawHandle;
    // SAFETY: the handle belongs to `input`, open for the call's duration.
    unsafe {
        windows_sys::Win32::System::Console::FlushConsoleInputBuffer(input.as_raw_handle() as _);
    }
}

#[cfg(not(any(unix, windows)))]
fn discard_typeahead(_: &File) {}

/// The terminal's settings when the tool started, put back when a signal
/// ends it at a prompt (a hidden password prompt turns echo off).
pub struct SavedTerminal {
    #[cfg(unix)]
    termios: Option<(File, libc::termios)>,
}

impl SavedTerminal {
    /// Remembers the terminal's settings, if there is a terminal.
    pub fn save() -> SavedTerminal {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let termios = File::open("/dev/tty").ok().and_then(|f| {
                // SAFETY: termios is plain data; tcgetattr fills it for a
                // descriptor `f` keeps open.
                let mut t: libc::termios = unsafe { std::mem::zeroed() };
                (unsafe { libc::tcgetattr(f.as_raw_fd(), &mut t) } == 0).then_some((f, t))
            });
            SavedTerminal { termios }
        }
        #[cfg(not(unix))]
        SavedTerminal {}
    }

    /// Puts the settings back and shows the cursor.
    pub fn restore(&self) {
        #[cfg(unix)]
        if let Some((f, t)) = &self.termios {
            use std::os::fd::AsRawFd;
            // SAFETY: `t` came from tcgetattr on the same open descriptor.
            unsafe {
                libc::tcsetattr(f.as_raw_fd(), libc::TCSANOW, t);
            }
        }
        if io::stderr().is_terminal() {
            // A prompt may have hidden it.
            eprint!("\x1b[?25h");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_whole_word_confirms() {
        for yes in ["yes", "YES", " Yes "] {
            assert!(is_yes(yes), "{yes}");
        }
        for no in ["y", "Y", "yikes, wait", "yes please", "", "no", "ye"] {
            assert!(!is_yes(no), "{no}");
        }
    }
}
