//! The supervisor: each target runs in a worker process (memory-capped, see `worker`), which
//! announces every input's index before running it. A worker that dies (panic, abort, stack
//! overflow, out of memory) or falls silent past the timeout (a hang) leaves the index of the
//! input that did it; the supervisor regenerates that input from `(seed, index)`, saves it with
//! the worker's last words, and starts a new worker after it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A fuzzing campaign's settings.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Inputs per target.
    pub execs: u64,
    /// The seed every input derives from.
    pub seed: u64,
    /// Where work directories, findings and the summary go.
    pub out: PathBuf,
    /// Seconds an input may run before it counts as a hang.
    pub timeout_s: u64,
    /// How much address space a worker may map beyond what it holds once its target is built,
    /// MiB.
    pub mem_mib: u64,
}

/// What one target's campaign found.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Inputs run.
    pub execs: u64,
    /// Accepted by the entry point (and sound by the oracle).
    pub accepted: u64,
    /// Refused with an error.
    pub refused: u64,
    /// Findings: (input index, what happened, saved input file).
    pub findings: Vec<(u64, String, PathBuf)>,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Runs `execs` inputs of `target`, restarting its worker after each finding.
pub fn run_target(target: &str, campaign: &Campaign) -> anyhow::Result<Tally> {
    let work = campaign.out.join(target);
    std::fs::create_dir_all(work.join("findings"))?;
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut next = 0;
    while next < campaign.execs {
        let count = campaign.execs - next;
        let (mut child, lines) = spawn(target, campaign, &work, next, count)?;
        let log = work.join("worker-stderr.log");
        let ended = watch(&log, &mut child, &lines, campaign, &mut tally)?;
        match ended {
            Ended::Done => break,
            Ended::Died { index, why } | Ended::Hung { index, why } => {
                let saved = save_finding(target, campaign, &work, index)?;
                tally.findings.push((index, why, saved));
                next = index + 1;
            }
        }
    }
    tally.seconds = start.elapsed().as_secs_f64();
    Ok(tally)
}

/// How a worker ended.
enum Ended {
    Done,
    Died { index: u64, why: String },
    Hung { index: u64, why: String },
}

fn spawn(
    target: &str,
    campaign: &Campaign,
    work: &Path,
    start: u64,
    count: u64,
) -> anyhow::Result<(Child, Receiver<String>)> {
    let exe = std::env::current_exe()?;
    let stderr = std::fs::File::create(work.join("worker-stderr.log"))?;
    let mut child = Command::new(exe)
        .args(["worker", "--target", target, "--work"])
        .arg(work)
        .args(["--seed", &campaign.seed.to_string()])
        .args(["--start", &start.to_string(), "--count", &count.to_string()])
        .args(["--mem-mib", &campaign.mem_mib.to_string()])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .context("cannot start a fuzz worker")?;
    let stdout = child.stdout.take().context("the worker's stdout")?;
    let (send, receive) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with('@') && send.send(line).is_err() {
                break;
            }
        }
    });
    Ok((child, receive))
}

/// Follows a worker's announcements until it ends.
fn watch(
    log: &Path,
    child: &mut Child,
    lines: &Receiver<String>,
    campaign: &Campaign,
    tally: &mut Tally,
) -> anyhow::Result<Ended> {
    // Building a target may train a small run first: the first announcement may take longer.
    let mut timeout = Duration::from_secs(campaign.timeout_s.max(600));
    let mut current = None;
    loop {
        match lines.recv_timeout(timeout) {
            Ok(line) => match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["@fuzz", index] => {
                    current = index.parse().ok();
                    timeout = Duration::from_secs(campaign.timeout_s);
                }
                ["@verdict", verdict] => {
                    tally.execs += 1;
                    match verdict {
                        "accepted" => tally.accepted += 1,
                        _ => tally.refused += 1,
                    }
                }
                ["@done"] => {
                    child.wait()?;
                    return Ok(Ended::Done);
                }
                _ => {}
            },
            Err(RecvTimeoutError::Timeout) => {
                child.kill().ok();
                child.wait()?;
                let index = current.context("the worker hung while building its target")?;
                let why = format!("hang: no progress in {} s", campaign.timeout_s);
                return Ok(Ended::Hung { index, why });
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait()?;
                let index = current.with_context(|| {
                    format!(
                        "the worker died while building its target ({status}): see {}",
                        log.display()
                    )
                })?;
                return Ok(Ended::Died {
                    index,
                    why: format!("died: {status}"),
                });
            }
        }
    }
}

/// Saves input `index` (regenerated by a worker) and the dead worker's last words.
fn save_finding(
    target: &str,
    campaign: &Campaign,
    work: &Path,
    index: u64,
) -> anyhow::Result<PathBuf> {
    let path = work.join("findings").join(format!("{index}.input"));
    let status = Command::new(std::env::current_exe()?)
        .args(["input", "--target", target, "--work"])
        .arg(work)
        .args([
            "--seed",
            &campaign.seed.to_string(),
            "--index",
            &index.to_string(),
            "--save",
        ])
        .arg(&path)
        .stdout(Stdio::null())
        .status()?;
    anyhow::ensure!(
        status.success(),
        "cannot regenerate input {index} of {target}"
    );
    let log = std::fs::read_to_string(work.join("worker-stderr.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    let words: Vec<&str> = tail.into_iter().rev().collect();
    std::fs::write(path.with_extension("txt"), words.join("\n"))?;
    Ok(path)
}
