//! `cargo xtask bench`: every benchmark, one after the other, and the figures users look for.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cargo::{cargo_output, cargo_with, test_features};
use crate::libtorch::LibTorch;

/// Builds the test build (as `cargo xtask test` does) and returns its bench executables: path,
/// package directory, bench name.
fn test_build_benches(libtorch: Option<&LibTorch>) -> Result<Vec<(PathBuf, PathBuf, String)>> {
    let output = cargo_with(libtorch)
        .args([
            "test",
            "--workspace",
            "--features",
            &test_features(libtorch),
            "--all-targets",
        ])
        .args(["--no-run", "--message-format=json-render-diagnostics"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!("the test build failed ({})", output.status);
    }
    let mut benches = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let target = &message["target"];
        let is_bench = target["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"));
        if let (true, Some(exe), Some(name), Some(manifest)) = (
            is_bench,
            message["executable"].as_str(),
            target["name"].as_str(),
            message["manifest_path"].as_str(),
        ) {
            let dir = Path::new(manifest).parent().unwrap_or(Path::new("."));
            benches.push((PathBuf::from(exe), dir.to_path_buf(), name.to_string()));
        }
    }
    Ok(benches)
}

/// The figures users look for in one bench's output: training images/s per backend, the
/// Lookahead/inner step ratios, the data pipeline's images/s.
fn bench_summary(bench: &str, output: &str) -> Vec<(String, String)> {
    let last = |line: &str| line.split_whitespace().last().unwrap_or("").to_string();
    let second = |line: &str| line.split_whitespace().nth(1).unwrap_or("").to_string();
    // The throughput bench prints one table per model, each under its title; the step bench
    // one per backend.
    let mut model = "CIFAR ResNet-18";
    let mut backend = String::from("Flex");
    output
        .lines()
        .filter_map(|line| match bench {
            "throughput" => {
                if line.starts_with("micro ResNet") {
                    model = "micro ResNet";
                }
                ["tch", "flex", "ndarray", "pytorch"]
                    .into_iter()
                    .find(|b| line.starts_with(&format!("{b} ")))
                    .map(|b| (format!("{model} training, images/s, {b}"), second(line)))
            }
            "profile" => line.starts_with("whole step").then(|| {
                (
                    "CIFAR ResNet-18 step, ms per step (columns as in the profile table)"
                        .to_string(),
                    line.split_whitespace()
                        .skip(2)
                        .step_by(2)
                        .collect::<Vec<_>>()
                        .join(" / "),
                )
            }),
            "step" => {
                if let Some(title) = line.strip_suffix(" backend,") {
                    backend = title.rsplit(", ").next().unwrap_or("").to_string();
                }
                line.starts_with("Lookahead").then(|| {
                    let name = line[..30.min(line.len())].trim();
                    let key = format!("optimizer step ratio on {backend}, {name} / inner");
                    (key, last(line))
                })
            }
            "pipeline" => {
                (line.starts_with("CIFAR") || line.starts_with("Imagenette")).then(|| {
                    (
                        format!("data: {}, images/s", line[..58.min(line.len())].trim()),
                        last(line),
                    )
                })
            }
            _ => None,
        })
        .collect()
}

/// `cargo xtask bench`: the three benches one after the other, then a summary of their figures.
pub fn bench(quick: bool, dev: bool) -> Result<()> {
    let libtorch = LibTorch::find()?;
    let benches = if dev {
        test_build_benches(libtorch.as_ref())?
    } else {
        Vec::new()
    };
    // Release benches: the default backends, and tch (the throughput bench's LibTorch row).
    let features = if libtorch.is_some() {
        "lookahead-optim/bench-wgpu,experiments/tch"
    } else {
        "lookahead-optim/bench-wgpu"
    };
    let mut summary = Vec::new();
    // lookahead-optim's optimizer step, models' training throughput and its profile by op
    // family, data's pipeline.
    for bench in ["step", "throughput", "profile", "pipeline"] {
        let output = if dev {
            run_test_build_bench(&benches, bench, quick, libtorch.as_ref())?
        } else {
            // `--workspace` resolves features as for the whole workspace, so the three
            // benches share one release build of the dependencies.
            let mut args = vec!["bench", "--workspace", "--bench", bench];
            if !features.is_empty() {
                args.extend(["--features", features]);
            }
            if quick {
                args.extend(["--", "--quick"]);
            }
            cargo_output(libtorch.as_ref(), &args)?
        };
        print!("{output}");
        summary.extend(bench_summary(bench, &output));
    }
    println!("\n== summary: this machine, one run (ratios are measured side by side)");
    println!("{:<64} {:>14}", "CPU", machine());
    for (what, figure) in summary {
        println!("{what:<64} {figure:>14}");
    }
    Ok(())
}

/// This machine's CPU model, core count and SIMD level (what the figures depend on).
fn machine() -> String {
    // The reader runs record in their provenance, so both name the CPU the same way.
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| study::run_dir::cpu_model_in(&text))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores, {}", simd_level())
}

/// The x86-64 microarchitecture level Flex's and gemm's kernels dispatch to at run time.
fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            return "x86_64-v4 (AVX-512)";
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "x86_64-v3 (AVX2)";
        }
        "x86_64 (below v3)"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH
    }
}

/// Runs bench `bench` of the test build as `cargo bench` would, returning its stdout.
fn run_test_build_bench(
    benches: &[(PathBuf, PathBuf, String)],
    bench: &str,
    quick: bool,
    libtorch: Option<&LibTorch>,
) -> Result<String> {
    let Some((exe, dir)) = benches
        .iter()
        .find(|(_, _, n)| n == bench)
        .map(|(e, d, _)| (e, d))
    else {
        bail!("the test build has no bench `{bench}`");
    };
    let mut command = Command::new(exe);
    if let Some(libtorch) = libtorch {
        libtorch.apply(&mut command);
    }
    command.arg("--bench").current_dir(dir);
    if quick {
        command.arg("--quick");
    }
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !output.status.success() {
        bail!("bench `{bench}` failed ({})", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throughput_summary_names_each_model() {
        let output = "CIFAR ResNet-18 (11,173,962 params), batch 64\n\
            backend images/s vs flex vs PyTorch\n\
            tch 80.00 3.0 1.1\nflex 26.67 1.0 0.4\npytorch 72.7 2.7 1.0\n\n\
            micro ResNet (quick suite), batch 128\ntch 900.0 1.5 0.9\npytorch 1000.0 1.7 1.0\n";
        let summary = bench_summary("throughput", output);
        let find = |key: &str| {
            summary
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            find("CIFAR ResNet-18 training, images/s, tch"),
            Some("80.00")
        );
        assert_eq!(
            find("CIFAR ResNet-18 training, images/s, flex"),
            Some("26.67")
        );
        assert_eq!(find("micro ResNet training, images/s, tch"), Some("900.0"));
        assert_eq!(
            find("micro ResNet training, images/s, pytorch"),
            Some("1000.0")
        );
        assert_eq!(summary.len(), 5);
    }

    #[test]
    fn the_step_summary_names_each_backend() {
        let output = "optimizer step over 11,173,962 parameters (CIFAR ResNet-18 shapes), Flex backend,\n\
            SGD-momentum                          25.51    1.000\n\
            Lookahead(SGD) pullback               27.65    1.084\n\
            optimizer step over 11,173,962 parameters (CIFAR ResNet-18 shapes), wgpu backend,\n\
            Lookahead(SGD) pullback               30.00    1.020\n";
        let summary = bench_summary("step", output);
        assert_eq!(
            summary,
            [
                (
                    "optimizer step ratio on Flex, Lookahead(SGD) pullback / inner".to_string(),
                    "1.084".to_string()
                ),
                (
                    "optimizer step ratio on wgpu, Lookahead(SGD) pullback / inner".to_string(),
                    "1.020".to_string()
                )
            ]
        );
    }

    #[test]
    fn the_machine_line_names_a_simd_level() {
        assert!(machine().contains("x86_64") || !cfg!(target_arch = "x86_64"));
    }
}
