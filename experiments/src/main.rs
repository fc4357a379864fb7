//! `experiments`: trains with burn-train's `Learner`, runs comparison suites of optimizers and
//! writes reports.
//!
//! Not implemented yet: this binary is created by the workspace issue and filled by the
//! experiments issue. Until then it says so and exits with an error instead of pretending to run.

fn main() -> std::process::ExitCode {
    eprintln!(
        "experiments: training, comparison suites and reports are not implemented yet.\n\
         For now, run the Lookahead example: cargo run --release --example spirals -p lookahead-optim"
    );
    std::process::ExitCode::from(2)
}
