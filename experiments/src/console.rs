//! Messages on standard error that stay whole when several threads write at once.
//!
//! `eprintln!` writes a formatted message piece by piece (standard error is unbuffered), and the
//! default panic hook writes its lines and backtrace without taking standard error's lock, so a
//! background thread's panic can cut an error message into fragments (seen in CI: a peer's
//! burn-collective task panicked while node 0 printed why it stopped). [`line`] writes one
//! message with a single `write` (whole in a pipe up to 4 KiB, POSIX's `PIPE_BUF`),
//! [`shorten_panics_in`] turns the expected panics of background tasks into one such line, and
//! [`log_to_stderr`] puts libraries' log lines on standard error, at a chosen level.

use std::io::Write;
use std::panic::PanicHookInfo;
use std::sync::Once;

/// Writes `text` and a newline to standard error in one `write` call.
pub fn line(text: impl std::fmt::Display) {
    let mut message = text.to_string();
    message.push('\n');
    // Nothing sensible can be done when standard error itself is gone.
    let _ = std::io::stderr().lock().write_all(message.as_bytes());
}

/// The most characters one cause of an error prints ([`error_text`]): a value of 100 MB in a
/// config is quoted by its parser, and must not be echoed whole.
const MAX_CAUSE: usize = 600;

/// An error and its causes as one line (`a: b: c`, as `{:#}` prints them), each cause shortened
/// to [`MAX_CAUSE`] characters, and a cause left out when the one before already says it (an
/// OS error that a message quotes and also carries as its source would print twice).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|before| before.contains(&text)) {
            continue;
        }
        parts.push(shortened(&text));
    }
    parts.join(": ")
}

/// `text` with every word longer than [`MAX_CAUSE`] characters shortened (a command-line
/// parser's usage error quotes the argument it refused, whatever its length).
pub fn long_words_shortened(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(shortened)
        .collect()
}

fn shortened(text: &str) -> String {
    let count = text.chars().count();
    match count > MAX_CAUSE {
        true => {
            let head: String = text.chars().take(MAX_CAUSE).collect();
            format!("{head}… ({count} characters in all)")
        }
        false => text.to_string(),
    }
}

/// The message a panic carried (`panic!` gives a `String` or a `&str`), if it carried one.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
}

/// From now on, a panic raised in the source of one of `crates` (matched against the panic's
/// file path, e.g. `burn-collective`) prints one line, `note: {label}: a background task of
/// {crate} stopped: {message} ({file}:{line})`, without a backtrace; every other panic goes to
/// the hook that was installed before. Installed once per process: later calls do nothing.
///
/// burn-collective's tokio tasks panic when a peer's connection breaks, after which our own
/// code reports the failed collective call; the panic is expected and its backtrace is noise.
pub fn shorten_panics_in(crates: &'static [&'static str], label: String) {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            match short_panic(info, crates, &label) {
                Some(text) => line(text),
                None => previous(info),
            }
        }));
    });
}

/// Sends log lines (`tracing`, and `log` records through it) of `level` (`"warn"`, `"info"`)
/// and above to standard error, coloured only on a terminal; `RUST_LOG` overrides the level
/// (e.g. `RUST_LOG=debug`). Without it, burn-communication's servers install their own
/// subscriber at INFO, in colour, on standard output, and a node's progress lines fill with
/// "Closed connection" and the like. The first subscriber of a process stays: later calls (and
/// theirs) do nothing.
pub fn log_to_stderr(level: &str) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The one-line form of a panic in one of `crates`, or `None` for any other panic.
fn short_panic(info: &PanicHookInfo<'_>, crates: &[&str], label: &str) -> Option<String> {
    let location = info.location()?;
    let name = crates.iter().find(|c| location.file().contains(*c))?;
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    Some(format!(
        "note: {label}: a background task of {name} stopped: {message} ({}:{})",
        location.file(),
        location.line()
    ))
}

/// A duration as a person reads it: `45 s`, `12 min`, `3.5 h`.
pub fn duration_text(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_prints_each_cause_once_and_shortened() {
        let os = std::io::Error::from_raw_os_error(28);
        let e = anyhow::Error::new(os).context(format!(
            "cannot write x.json: {}",
            std::io::Error::from_raw_os_error(28)
        ));
        assert_eq!(
            error_text(&e),
            "cannot write x.json: No space left on device (os error 28)"
        );
        let long = anyhow::anyhow!("bad value {}", "v".repeat(100_000)).context("config");
        let text = error_text(&long);
        assert!(
            text.len() < 1000 && text.contains("characters in all"),
            "{text}"
        );
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(duration_text(42.4), "42 s");
        assert_eq!(duration_text(720.0), "12 min");
        assert_eq!(duration_text(12_600.0), "3.5 h");
    }
    use std::sync::{Arc, Mutex};

    #[test]
    fn panics_in_listed_crates_are_one_line_and_others_are_not() {
        // Each panic of this file: its short form, and whether other crates' filter let it through.
        let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
        let record = seen.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Other tests may panic meanwhile: keep this file's panics only.
            if let Some(short) = short_panic(info, &["console.rs"], "node 1") {
                let other = short_panic(info, &["burn-collective"], "node 1").is_some();
                record.lock().unwrap().push((short, other));
            }
        }));
        let caught = std::panic::catch_unwind(|| panic!("peer {} left", 3));
        std::panic::set_hook(previous);
        assert!(caught.is_err());
        let seen = seen.lock().unwrap();
        let (text, other) = &seen[0];
        assert!(!other);
        assert!(
            text.starts_with(
                "note: node 1: a background task of console.rs stopped: peer 3 left ("
            ) && text.contains("console.rs:")
                && !text.contains('\n'),
            "{text}"
        );
    }
}
