//! What every command-line target shares: the real `experiments` binary run in a scratch
//! folder with a time limit, a folder's bytes before and after, and the oracles every run of
//! the binary answers to:
//!
//! - no signal (abort, stack overflow, out of memory), no panic in any thread, no hang;
//! - exit 0 (accepted), or 1 or 2 (refused: clap's usage errors are 2) with exactly one
//!   `error:` line, its OS error given once, stderr bounded (a hostile value is shortened);
//! - an accepted config holds no value the tool must refuse ([`check_effective`]);
//! - a refused command, and any `--check`, leaves the folders it was given byte for byte as
//!   they were ([`Snapshot`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use super::Verdict;
use super::binary::{gzip, idx};

/// Where the command-line targets find the binary; default: `experiments` beside the fuzzer's
/// own executable (`cargo xtask fuzz` builds both; `cargo test --workspace` too).
pub const BIN_ENV: &str = "LOOKAHEAD_FUZZ_BIN";

/// The most stderr a refusal may print: a hostile 100 kB value is shortened, not echoed.
const MAX_STDERR: usize = 16 * 1024;

/// Seconds a run of the binary may take before it counts as a hang (below the supervisor's).
const LIMIT: Duration = Duration::from_secs(20);

/// The binary the command-line targets run.
pub fn binary() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os(BIN_ENV) {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()?
            .parent()
            .context("the fuzzer's executable has no folder")?
            .join("experiments"),
    };
    ensure!(
        path.is_file(),
        "the command-line targets run {}, which is not there: build it (`cargo build --release \
         -p experiments`, as `cargo xtask fuzz` does) or name it in {BIN_ENV}",
        path.display()
    );
    Ok(path)
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Exec {
    /// Its exit code (none when a signal ended it).
    pub code: Option<i32>,
    /// The signal that ended it.
    pub signal: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

fn read_all(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `bin args…` in `cwd`, without the fault-injection variable; panics (a finding) when it
/// runs past [`LIMIT`] (the child is killed first).
pub fn exec(bin: &Path, args: &[OsString], cwd: &Path) -> Exec {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env_remove(data::FAULT_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = read_all(child.stdout.take().expect("piped"));
    let stderr = read_all(child.stderr.take().expect("piped"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hang: {args:?} ran past {} s", LIMIT.as_secs());
        }
        std::thread::sleep(Duration::from_micros(300));
    };
    Exec {
        code: status.code(),
        signal: status.signal(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// The last 2,000 characters of `text`.
fn tail(text: &str) -> &str {
    let mut at = text.len().saturating_sub(2000);
    while !text.is_char_boundary(at) {
        at += 1;
    }
    &text[at..]
}

/// The oracles of every run of the binary (module docs); panics on a finding.
pub fn judge(exec: &Exec, args: &[OsString]) -> Verdict {
    let stderr = &exec.stderr;
    if let Some(signal) = exec.signal {
        panic!("{args:?}: ended by signal {signal}: {}", tail(stderr));
    }
    assert!(
        !stderr.contains("panicked at"),
        "{args:?}: a panic: {}",
        tail(stderr)
    );
    assert!(
        stderr.len() <= MAX_STDERR,
        "{args:?}: {} bytes on stderr: {}",
        stderr.len(),
        tail(stderr)
    );
    match exec.code {
        Some(0) => Verdict::Accepted,
        Some(code @ (1 | 2)) => {
            let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
            assert!(
                errors == 1,
                "{args:?}: exit {code} with {errors} `error:` lines: {}",
                tail(stderr)
            );
            assert!(
                stderr.matches("(os error").count() <= 1,
                "{args:?}: an OS error given twice: {}",
                tail(stderr)
            );
            Verdict::Refused
        }
        other => panic!("{args:?}: exit status {other:?}: {}", tail(stderr)),
    }
}

/// What a folder entry is, as [`Snapshot`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File { bytes: Vec<u8>, mode: u32 },
    Folder { mode: u32 },
    Link(PathBuf),
    Other(String),
}

/// A folder's entries, recursively (symbolic links not followed), but its `.lock` files: a
/// refused command may lock a run directory to read it.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, Entry>);

impl Snapshot {
    /// The entries under `root` (an absent root is an empty snapshot).
    pub fn of(root: &Path) -> Self {
        let mut entries = BTreeMap::new();
        walk(root, root, &mut entries);
        Snapshot(entries)
    }

    /// Panics (a finding) when `after` differs from `self`, naming the first difference.
    pub fn assert_same(&self, after: &Snapshot, what: &str) {
        if self == after {
            return;
        }
        let paths: std::collections::BTreeSet<_> = self.0.keys().chain(after.0.keys()).collect();
        for path in paths {
            let (a, b) = (self.0.get(path), after.0.get(path));
            if a != b {
                let show = |e: Option<&Entry>| match e {
                    None => "absent".to_string(),
                    Some(Entry::File { bytes, mode }) => {
                        format!("{} bytes, mode {mode:o}", bytes.len())
                    }
                    Some(other) => format!("{other:?}"),
                };
                panic!(
                    "damage: {what} changed {}: {} before, {} after",
                    path.display(),
                    show(a),
                    show(b)
                );
            }
        }
    }
}

fn walk(root: &Path, dir: &Path, entries: &mut BTreeMap<PathBuf, Entry>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for item in read.flatten() {
        let path = item.path();
        if path.file_name().is_some_and(|n| n == ".lock") {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let key = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let kind = meta.file_type();
        let mode = meta.permissions().mode();
        let entry = if kind.is_symlink() {
            Entry::Link(std::fs::read_link(&path).unwrap_or_default())
        } else if kind.is_dir() {
            walk(root, &path, entries);
            Entry::Folder { mode }
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            Entry::File { bytes, mode }
        } else if kind.is_fifo() {
            Entry::Other("fifo".into())
        } else {
            Entry::Other(format!("{kind:?}"))
        };
        entries.insert(key, entry);
    }
}

/// Creates a FIFO at `path` (`mkfifo`).
pub fn make_fifo(path: &Path) -> anyhow::Result<()> {
    let status = Command::new("mkfifo").arg(path).status()?;
    ensure!(status.success(), "mkfifo {} failed", path.display());
    Ok(())
}

/// Empties `path` (a file, a link or a folder); absent is fine.
pub fn remove(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// What can stand where a file is expected, besides the file itself.
#[derive(Debug, Clone, Copy)]
pub enum Stand {
    /// The (mutated) bytes.
    Bytes,
    /// Nothing.
    Absent,
    /// An empty folder.
    Folder,
    /// A FIFO (a reader that opens it blocks until a writer comes).
    Fifo,
    /// A link to `/dev/zero` (endless bytes).
    DevZero,
    /// A link to itself (a loop).
    SelfLink,
    /// An empty file.
    Empty,
}

impl Stand {
    /// The kinds, the mutated bytes weighted most.
    const ALL: [Stand; 12] = [
        Stand::Bytes,
        Stand::Bytes,
        Stand::Bytes,
        Stand::Bytes,
        Stand::Bytes,
        Stand::Bytes,
        Stand::Absent,
        Stand::Folder,
        Stand::Fifo,
        Stand::DevZero,
        Stand::SelfLink,
        Stand::Empty,
    ];

    /// The kind coded by `byte`.
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL[byte as usize % Self::ALL.len()]
    }

    /// Puts this kind at `path` (`bytes` for [`Stand::Bytes`]), whatever was there.
    pub fn place(self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        remove(path);
        match self {
            Stand::Bytes => std::fs::write(path, bytes)?,
            Stand::Absent => {}
            Stand::Folder => std::fs::create_dir(path)?,
            Stand::Fifo => make_fifo(path)?,
            Stand::DevZero => std::os::unix::fs::symlink("/dev/zero", path)?,
            Stand::SelfLink => std::os::unix::fs::symlink(path, path)?,
            Stand::Empty => std::fs::write(path, b"")?,
        }
        Ok(())
    }
}

/// A tiny Fashion-MNIST in `root/fashion-mnist/` (16 training, 8 validation images of 28×28,
/// gzipped IDX as the download leaves it): the command-line targets' runs read it in
/// milliseconds.
pub fn tiny_fashion_mnist(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("fashion-mnist");
    std::fs::create_dir_all(&dir)?;
    for (split, n) in [("train", 16u32), ("t10k", 8)] {
        let pixels: Vec<u8> = (0..n as usize * 784).map(|i| (i * 7 % 251) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let images = idx(data::IMAGES_MAGIC, &[n, 28, 28], &pixels);
        let labels = idx(data::LABELS_MAGIC, &[n], &labels);
        std::fs::write(
            dir.join(format!("{split}-images-idx3-ubyte.gz")),
            gzip(&images),
        )?;
        std::fs::write(
            dir.join(format!("{split}-labels-idx1-ubyte.gz")),
            gzip(&labels),
        )?;
    }
    Ok(())
}

/// A field's rule: its name, the test its value passes, and what the test says.
type Rule = (&'static str, fn(f64) -> bool, &'static str);

/// Config fields an accepted run must never hold: a rule per field (name, what it must be).
const RULES: [Rule; 10] = [
    (
        "lr_max",
        |v| v > 0.0 && v.is_finite(),
        "positive and finite",
    ),
    ("weight_decay", |v| (0.0..=10.0).contains(&v), "in [0, 10]"),
    (
        "true_weight_decay",
        |v| (0.0..=10.0).contains(&v),
        "in [0, 10]",
    ),
    ("mixup", |v| (0.0..=100.0).contains(&v), "in [0, 100]"),
    ("label_smoothing", |v| (0.0..1.0).contains(&v), "in [0, 1)"),
    (
        "loss_scale",
        |v| v > 0.0 && v.is_finite(),
        "positive and finite",
    ),
    (
        "lr_decay_factor",
        |v| v > 0.0 && v.is_finite(),
        "positive and finite",
    ),
    ("epochs", |v| v >= 1.0, "at least 1"),
    ("batch_size", |v| v >= 1.0, "at least 1"),
    ("image_size", |v| v >= 1.0, "at least 1"),
];

/// The oracle of an accepted `train`: the effective configuration it printed (`  field = value
/// (source)` lines) holds no value of [`RULES`]' fields that the tool must refuse.
pub fn check_effective(stdout: &str) {
    for line in stdout.lines() {
        let Some((field, rest)) = line.trim().split_once(" = ") else {
            continue;
        };
        let field = field.trim();
        let value = rest.rsplit_once("  (").map_or(rest, |(v, _)| v).trim();
        let Some((_, rule, what)) = RULES.iter().find(|(name, ..)| *name == field) else {
            continue;
        };
        if let Ok(v) = value.parse::<f64>() {
            assert!(rule(v), "accepted {field} = {value}: it must be {what}");
        }
    }
}
