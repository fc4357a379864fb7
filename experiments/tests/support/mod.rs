//! Helpers shared by the integration tests (each test file is its own crate: `mod support;`).

use std::process::Command;

/// `$PYTHON` (else `python3`) when it imports `module`; `None` (the caller skips) otherwise.
/// In CI (`$CI` set) a missing module fails the test: `cargo xtask setup libtorch` installs
/// torch and tensorboard in the venv `cargo xtask test` puts in `$PYTHON`.
pub fn python_with(module: &str) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI: no {module} in {python} (run `cargo xtask setup libtorch`, which installs it)"
    );
    eprintln!("skipped: no {module} package in {python}");
    None
}
