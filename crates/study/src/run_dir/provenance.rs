//! Where a run came from ([`Provenance`]: the code, its build, the machine) and how long it
//! took over every process that trained it ([`Sessions`], `sessions.json`, updated at each
//! epoch's end so that a killed process's time still counts).

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The code and the machine behind a run, recorded in `summary.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// The project's version (the `experiments` crate's).
    pub version: String,
    /// The git commit the binary was built from, where it was built in a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Whether that checkout had uncommitted changes to tracked files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    /// Burn's version.
    pub burn_version: String,
    /// Operating system, distribution and kernel where known (`linux x86_64, Debian GNU/Linux
    /// 12 (bookworm), kernel 6.1.0`).
    pub os: String,
    /// The CPU's model name (`AMD EPYC 7B13`), where the OS says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// The GPUs with their driver (`NVIDIA H100 80GB HBM3, driver 550.54.15`), where
    /// `nvidia-smi` answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
}

impl std::fmt::Display for Provenance {
    /// `lookahead-burn 0.1.0 (commit 1a2b3c4d, dirty), Burn 0.21.0; linux …; CPU …; GPU …`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lookahead-burn {}", self.version)?;
        if let Some(commit) = &self.git_commit {
            let short: String = commit.chars().take(10).collect();
            let dirty = if self.git_dirty == Some(true) {
                ", uncommitted changes"
            } else {
                ""
            };
            write!(f, " (commit {short}{dirty})")?;
        }
        write!(f, ", Burn {}; {}", self.burn_version, self.os)?;
        if let Some(cpu) = &self.cpu_model {
            write!(f, "; CPU {cpu}")?;
        }
        for gpu in &self.gpus {
            write!(f, "; GPU {gpu}")?;
        }
        Ok(())
    }
}

/// The CPU model named in a Linux `/proc/cpuinfo` text: the first `model name` (x86), else
/// `Model`/`Hardware` (ARM boards).
///
/// ```
/// let text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n";
/// assert_eq!(study::run_dir::cpu_model_in(text).as_deref(), Some("AMD EPYC 7B13"));
/// ```
pub fn cpu_model_in(cpuinfo: &str) -> Option<String> {
    ["model name", "Model", "Hardware"].iter().find_map(|key| {
        cpuinfo.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_string())
        })
    })
}

/// The wall time of each process (session) that trained a run: `sessions.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sessions {
    /// One entry per session, in order.
    pub sessions: Vec<SessionTime>,
}

/// One session's time, as of its last completed epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SessionTime {
    /// The epoch it started from (0 = a fresh start).
    pub resumed_from: usize,
    /// Epochs it completed so far.
    pub epochs: usize,
    /// Its wall time up to its last completed epoch (or its end), seconds.
    pub wall_time_s: f64,
}

/// `sessions.json`.
pub const SESSIONS: &str = "sessions.json";

impl Sessions {
    /// The sessions recorded in `dir` (none when the file is missing).
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(SESSIONS);
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = crate::input::read_text(&path)?;
        crate::input::from_json(&text).with_context(|| format!("corrupt {}", path.display()))
    }

    /// Writes the file (atomically).
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        data::write_atomic(&dir.join(SESSIONS), text.as_bytes())?;
        Ok(())
    }

    /// Starts a session from epoch `resumed_from`: a new entry after the earlier sessions', whose
    /// time was spent and stays counted.
    pub fn start(&mut self, resumed_from: usize) {
        self.sessions.push(SessionTime {
            resumed_from,
            epochs: 0,
            wall_time_s: 0.0,
        });
    }

    /// Records the current (last) session's progress.
    pub fn update(&mut self, epochs: usize, wall_time_s: f64) {
        if let Some(last) = self.sessions.last_mut() {
            last.epochs = epochs;
            last.wall_time_s = wall_time_s;
        }
    }

    /// The wall time over every session, seconds.
    pub fn total_s(&self) -> f64 {
        self.sessions.iter().map(|s| s.wall_time_s).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_add_up_over_resumes_and_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Sessions::read(dir.path()).unwrap();
        assert_eq!(s.total_s(), 0.0);
        s.start(0);
        s.update(2, 30.0);
        s.write(dir.path()).unwrap();
        // Killed after epoch 2; resumed from its checkpoint.
        let mut s = Sessions::read(dir.path()).unwrap();
        s.start(2);
        s.update(1, 12.5);
        assert_eq!(s.total_s(), 42.5);
        s.write(dir.path()).unwrap();
        assert_eq!(Sessions::read(dir.path()).unwrap(), s);
        std::fs::write(dir.path().join(SESSIONS), "{").unwrap();
        let err = format!("{:#}", Sessions::read(dir.path()).unwrap_err());
        assert!(err.contains("sessions.json"), "{err}");
    }

    #[test]
    fn provenance_reads_cpuinfo_and_prints_one_line() {
        assert_eq!(
            cpu_model_in("Hardware\t: BCM2835\nModel\t: Raspberry Pi 4\n").as_deref(),
            Some("Raspberry Pi 4")
        );
        assert_eq!(cpu_model_in("flags: fpu\n"), None);
        let p = Provenance {
            version: "0.1.0".into(),
            git_commit: Some("0123456789abcdef".into()),
            git_dirty: Some(true),
            burn_version: "0.21.0".into(),
            os: "linux x86_64".into(),
            cpu_model: Some("AMD EPYC".into()),
            gpus: vec!["NVIDIA H100, driver 550".into()],
        };
        assert_eq!(
            p.to_string(),
            "lookahead-burn 0.1.0 (commit 0123456789, uncommitted changes), Burn 0.21.0; linux \
             x86_64; CPU AMD EPYC; GPU NVIDIA H100, driver 550"
        );
    }
}
