//! Build-time provenance for `summary.json`: the git commit the binary is built from (and
//! whether tracked files had uncommitted changes), and Burn's version from the lockfile.
//! Outside a git checkout (a packaged crate) the commit is simply unknown.

use std::path::Path;
use std::process::Command;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Rebuilt when the checkout moves or any of the workspace's sources change.
    for path in [
        ".git/HEAD",
        ".git/index",
        "crates",
        "experiments/src",
        "Cargo.lock",
    ] {
        let path = root.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let Some(commit) = git(&["rev-parse", "HEAD"]) {
        println!("cargo:rustc-env=LOOKAHEAD_GIT_COMMIT={commit}");
        if let Some(status) = git(&["status", "--porcelain", "--untracked-files=no"]) {
            println!("cargo:rustc-env=LOOKAHEAD_GIT_DIRTY={}", !status.is_empty());
        }
    }
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let burn = burn_version(&lock).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=LOOKAHEAD_BURN_VERSION={burn}");
}

/// The version of the `burn` package in a Cargo.lock text.
fn burn_version(lock: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"burn\"" {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_string());
        }
    }
    None
}
