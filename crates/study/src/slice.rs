//! A slice of a suite: the runs `compare --only <labels> --seeds <list> --datasets <list>` trains.
//! Every shard of a suite writes into the same output directory (one writer per run directory),
//! and the report reads whatever has finished, so a suite can be split over processes, GPUs or
//! machines by giving each its own slice.

use anyhow::bail;

use crate::suite::{Suite, SuiteRun};

/// Which runs of a suite to train; an empty list keeps every value of its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slice {
    /// Optimizer labels (`--only`).
    pub labels: Vec<String>,
    /// Seeds (`--seeds`).
    pub seeds: Vec<u64>,
    /// Dataset names (`--datasets`).
    pub datasets: Vec<String>,
}

impl Slice {
    /// The runs of `suite` in this slice, in the suite's (seed-major) order; an error names a
    /// label, seed or dataset the suite does not have, and the ones it has.
    ///
    /// ```
    /// use study::{slice::Slice, suite::Suite};
    /// let suite = Suite::load("quick").unwrap();
    /// let slice = Slice { labels: vec!["sgd".into()], seeds: vec![2], ..Slice::default() };
    /// let runs = slice.runs(&suite, std::path::Path::new("runs/quick")).unwrap();
    /// assert_eq!((runs.len(), runs[0].label.as_str(), runs[0].seed), (1, "sgd", 2));
    /// ```
    pub fn runs(&self, suite: &Suite, out: &std::path::Path) -> anyhow::Result<Vec<SuiteRun>> {
        self.check(suite)?;
        Ok(suite
            .runs(out)
            .into_iter()
            .filter(|run| self.keeps(run))
            .collect())
    }

    /// Whether `run` is in the slice.
    pub fn keeps(&self, run: &SuiteRun) -> bool {
        (self.labels.is_empty() || self.labels.contains(&run.label))
            && (self.seeds.is_empty() || self.seeds.contains(&run.seed))
            && (self.datasets.is_empty() || self.datasets.contains(&run.dataset))
    }

    /// Whether the slice is the whole suite.
    pub fn is_whole(&self) -> bool {
        self.labels.is_empty() && self.seeds.is_empty() && self.datasets.is_empty()
    }

    fn check(&self, suite: &Suite) -> anyhow::Result<()> {
        let labels: Vec<String> = suite.optimizers.iter().map(|o| o.label.clone()).collect();
        let datasets: Vec<String> = suite.datasets.iter().map(|d| d.to_string()).collect();
        let seeds: Vec<String> = suite.seeds.iter().map(u64::to_string).collect();
        let given_seeds: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
        for (flag, given, known) in [
            ("--only", &self.labels, &labels),
            ("--seeds", &given_seeds, &seeds),
            ("--datasets", &self.datasets, &datasets),
        ] {
            if let Some(missing) = given.iter().find(|g| !known.contains(g)) {
                bail!(
                    "{flag}: suite `{}` has no `{missing}` (it has {})",
                    suite.name,
                    known.join(", ")
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn slices_pick_runs_in_seed_major_order_and_name_what_is_unknown() {
        let suite = Suite::load("seed-quick").unwrap();
        let all = Slice::default().runs(&suite, Path::new("o")).unwrap();
        assert_eq!(all.len(), 12 * 12);
        // Seed-major: every arm of seed 1 before any run of seed 2.
        assert!(all[..12].iter().all(|r| r.seed == 1));
        assert_eq!(all[12].seed, 2);
        let slice = Slice {
            labels: vec!["sgd".into(), "la-sgd".into()],
            seeds: vec![3, 1],
            datasets: vec![],
        };
        let runs = slice.runs(&suite, Path::new("o")).unwrap();
        let picked: Vec<(u64, &str)> = runs.iter().map(|r| (r.seed, r.label.as_str())).collect();
        assert_eq!(
            picked,
            [(1, "la-sgd"), (1, "sgd"), (3, "la-sgd"), (3, "sgd")]
        );
        let err = |slice: Slice| slice.runs(&suite, Path::new("o")).unwrap_err().to_string();
        let e = err(Slice {
            labels: vec!["nope".into()],
            ..Slice::default()
        });
        assert!(
            e.contains("--only") && e.contains("`nope`") && e.contains("la-sgd"),
            "{e}"
        );
        let e = err(Slice {
            seeds: vec![99],
            ..Slice::default()
        });
        assert!(e.contains("--seeds") && e.contains("`99`"), "{e}");
        let e = err(Slice {
            datasets: vec!["cifar10".into()],
            ..Slice::default()
        });
        assert!(
            e.contains("--datasets") && e.contains("fashion-mnist-embedded"),
            "{e}"
        );
    }
}
