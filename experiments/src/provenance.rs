//! The code and the machine behind a run ([`provenance`]), for `summary.json`: the version and
//! git commit this binary was built from (see `build.rs`), Burn's version, the OS, the CPU model
//! and, where `nvidia-smi` answers, the GPUs and their driver. Every probe is best-effort: what
//! cannot be read is left out, never an error.

use std::process::Command;

use study::run_dir::{Provenance, cpu_model_in};

/// Burn's version, from the lockfile at build time.
pub const BURN_VERSION: &str = env!("LOOKAHEAD_BURN_VERSION");

/// What this process can say about where its runs come from.
pub fn provenance() -> Provenance {
    Provenance {
        version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: option_env!("LOOKAHEAD_GIT_COMMIT").map(str::to_string),
        git_dirty: option_env!("LOOKAHEAD_GIT_DIRTY").map(|d| d == "true"),
        burn_version: BURN_VERSION.to_string(),
        os: os(),
        cpu_model: std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_model_in(&text)),
        gpus: nvidia_gpus(),
    }
}

/// `linux x86_64, Debian GNU/Linux 12 (bookworm), kernel 6.1.0-…`.
fn os() -> String {
    let mut os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    if let Some(name) = release.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")) {
        os.push_str(&format!(", {}", name.trim_matches('"')));
    }
    if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        os.push_str(&format!(", kernel {}", kernel.trim()));
    }
    os
}

/// `NVIDIA H100 80GB HBM3, driver 550.54.15` per GPU, when `nvidia-smi` is there.
fn nvidia_gpus() -> Vec<String> {
    let Ok(output) = Command::new("nvidia-smi")
        .args(["--query-gpu=name,driver_version", "--format=csv,noheader"])
        .output()
    else {
        return Vec::new();
    };
    if !output.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, driver) = line.rsplit_once(',')?;
            Some(format!("{}, driver {}", name.trim(), driver.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_build_knows_its_version_burn_and_machine() {
        let p = provenance();
        assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(p.burn_version, "0.21.0");
        assert!(p.os.starts_with(std::env::consts::OS), "{}", p.os);
        // Built in this repository's checkout: the commit is a 40-hex-digit id.
        if let Some(commit) = &p.git_commit {
            assert!(commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()));
            assert!(p.git_dirty.is_some());
        }
        if cfg!(target_os = "linux") {
            assert!(p.cpu_model.is_some(), "{p:?}");
        }
    }
}
