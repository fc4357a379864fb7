//! Every report committed under `docs/` regenerates byte for byte from the per-run files
//! committed beside it (`suite.json`, and each run's `summary.json`, `metrics.csv` and
//! `train_loss.csv` in `<dataset>/<label>/seed-<seed>/`), without training: the report in the
//! repository is what its evidence says, at the commit that trained it.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// The directories under `docs/` that hold a suite's report.
fn committed_reports() -> Vec<PathBuf> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&docs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("suite.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Copies `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The first line where two texts differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    let line = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or_else(|| a.lines().count().min(b.lines().count()));
    format!(
        "line {}:\n  committed:   {}\n  regenerated: {}",
        line + 1,
        a.lines().nth(line).unwrap_or("(end)"),
        b.lines().nth(line).unwrap_or("(end)")
    )
}

#[test]
fn every_committed_report_regenerates_from_its_runs() {
    let dirs = committed_reports();
    assert!(dirs.len() >= 2, "no committed reports found: {dirs:?}");
    for dir in dirs {
        let tmp = tempfile::tempdir().unwrap();
        copy_tree(&dir, tmp.path());
        let files = study::report::report(tmp.path())
            .unwrap_or_else(|e| panic!("{}: {e:#}", dir.display()));
        let written = std::iter::once(&files.markdown)
            .chain(&files.csv)
            .chain(&files.plots);
        for path in written {
            let name = path.file_name().unwrap();
            let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            let regenerated = std::fs::read_to_string(path).unwrap();
            assert!(
                committed == regenerated,
                "{}/{} differs from what its runs give; regenerate with `cargo xtask report {}` \
                 and commit. First difference at {}",
                dir.display(),
                name.to_string_lossy(),
                dir.display(),
                first_difference(&committed, &regenerated)
            );
        }
    }
}

/// Each committed report's runs name the commit that trained them and, on a CPU, the SIMD
/// level their float sums depend on; the report says both.
#[test]
fn every_committed_run_names_its_commit_and_simd_level() {
    for dir in committed_reports() {
        let suite = study::suite::read_suite_json(&dir).unwrap();
        let runs = suite.runs(&dir);
        assert!(!runs.is_empty(), "{}", dir.display());
        for run in runs {
            let summary = study::run_dir::read_summary(&run.dir)
                .unwrap()
                .unwrap_or_else(|| panic!("{}: no summary.json", run.dir.display()));
            let provenance = summary.provenance.as_ref().expect("provenance");
            assert!(
                provenance.git_commit.is_some() && provenance.git_dirty == Some(false),
                "{}: trained at no clean commit",
                run.dir.display()
            );
            assert!(summary.backend.cpu_simd.is_some(), "{}", run.dir.display());
        }
        let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(
            report.contains("(commit ") && report.contains("SIMD level"),
            "{}",
            dir.display()
        );
    }
}
