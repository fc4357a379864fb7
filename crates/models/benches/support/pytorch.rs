//! The benches' PyTorch reference: runs one of the `torch_*.py` scripts beside them with
//! `$PYTHON` (else `python3`) and reads the `<key>=<value>` line it prints.

use std::process::Command;

/// The value of `key` printed by `benches/<script>` run with `args`, or why there is none.
pub fn reference(script: &str, args: &[String], key: &str) -> Result<String, String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let path = format!("{}/benches/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&python)
        .arg(&path)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {python}: {e}"))?;
    let prefix = format!("{key}=");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
        .ok_or_else(|| {
            let err = String::from_utf8_lossy(&output.stderr);
            format!(
                "no PyTorch figure from {python} ({})",
                err.lines().last().unwrap_or("no output")
            )
        })
}
