//! `cargo xtask seed-fit`: fits the smoothing behind the seed study's published numbers on its
//! logged per-epoch tables (`study::seed`) and prints every published value beside the smoothed
//! log, the log's last epoch and the relative error.

use anyhow::Result;
use study::suite::Suite;

/// The replica suites whose tables have complete logs.
const TABLES: &[&str] = &["seed-cifar10", "seed-imagenette"];

/// Prints the fit of each table.
pub fn seed_fit() -> Result<()> {
    for name in TABLES {
        let suite = Suite::load(name)?;
        let fit = study::seed::fit(&suite)?;
        println!(
            "{name}: weight {:.3} per epoch over {} epochs; largest relative error {:.3} % \
             (errata left out of the fit)",
            fit.weight,
            suite.recipe.epochs,
            100.0 * fit.max_error()
        );
        println!(
            "  {:<8} {:<11} {:>12} {:>12} {:>12} {:>9}",
            "label", "metric", "printed", "smoothed", "last epoch", "error %"
        );
        for r in &fit.rows {
            println!(
                "  {:<8} {:<11} {:>12} {:>12.6} {:>12.6} {:>9.3}{}",
                r.label,
                r.metric.to_string(),
                r.printed,
                r.smoothed,
                r.last_epoch,
                100.0 * r.relative_error,
                r.erratum
                    .as_ref()
                    .map_or(String::new(), |note| format!("  erratum: {note}"))
            );
        }
        if let Some(s) = &suite.published_smoothing {
            println!("  the suite uses weight {} ({})\n", s.weight, s.source);
        }
    }
    Ok(())
}
