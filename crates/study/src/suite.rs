//! Comparison suites: a grid of runs (datasets × optimizer specs × seeds) sharing one recipe
//! (`experiments compare` runs them in sequence, resumable, robust to runs that diverge or fail).
//!
//! A suite file (TOML):
//!
//! ```toml
//! name = "quick"
//! description = "What the suite reproduces"
//! datasets = ["fashion-mnist-embedded"]
//! seeds = [1, 2]
//! baseline = "sgd"            # label the report tests every other spec against
//!
//! [recipe]                    # a TrainConfig: every field optional
//! model = "tiny-resnet"
//! epochs = 3
//! lr_max = 0.05
//!
//! [[optimizers]]
//! label = "sgd"
//! spec = "sgd(momentum=0.9, wd=5e-4)"
//!
//! [[optimizers]]
//! label = "adamw"
//! spec = "adamw(wd=0.01)"
//! lr_max = 3e-3               # per-optimizer learning rate (optional)
//! ```
//!
//! Runs live in `<out>/<dataset>/<label>/seed-<seed>/`; `<out>/suite.json` records the resolved
//! suite for [`crate::report`].

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::claim::{Claim, Need, Published};
use crate::config::{DatasetKind, TrainConfig};
use crate::run_dir::Fingerprint;
use crate::spec::OptimizerSpec;

/// One optimizer of a suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteOptimizer {
    /// Short name used in paths, tables and plots.
    pub label: String,
    /// The optimizer spec (parsed when the suite is read).
    pub spec: OptimizerSpec,
    /// This optimizer's peak learning rate (default: the recipe's).
    #[serde(default)]
    pub lr_max: Option<f64>,
    /// This optimizer's weight decay (default: the spec's / the recipe's).
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// This optimizer's horizontal flip (default: the recipe's); e.g. the seed's reset table,
    /// whose runs flipped, beside its no-reset table, whose runs did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flip: Option<bool>,
    /// The seed study's published numbers for this row (replica suites), shown beside ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
}

/// A comparison suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Name (default output directory `runs/<name>`).
    pub name: String,
    /// What it reproduces.
    #[serde(default)]
    pub description: String,
    /// Datasets (parsed when the suite is read).
    pub datasets: Vec<DatasetKind>,
    /// Seeds.
    pub seeds: Vec<u64>,
    /// Label of the baseline optimizer (default: the first).
    #[serde(default)]
    pub baseline: Option<String>,
    /// The shared recipe.
    #[serde(
        default = "TrainConfig::new",
        deserialize_with = "TrainConfig::deserialize_with_defaults"
    )]
    pub recipe: TrainConfig,
    /// The optimizers compared.
    pub optimizers: Vec<SuiteOptimizer>,
    /// Where the optimizers' `published` numbers come from (page and table of the seed study).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_source: Option<String>,
    /// How the seed's charts smoothed the published numbers (replica suites): the report then
    /// extracts the same smoothed value from our runs, compares it with the published one, and
    /// reruns the verdicts on it as a sensitivity check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_smoothing: Option<Smoothing>,
    /// What this suite's runs can show ([`Need`]): a claim's part that needs anything else is
    /// reported as not testable here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shows: Vec<Need>,
    /// The seed study's conclusions this suite tests; the report gives each a verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Claim>,
}

/// The smoothing behind the seed study's published numbers. They were read off Weights &
/// Biases charts, which show a debiased exponential moving average over the logged points (one
/// per epoch): a ← w·a + (1 − w)·x, reported as a / (1 − wⁿ) after n epochs. The weight was
/// fitted from the seed's own logged per-epoch tables (`cargo xtask seed-fit`; the tables and
/// the fit are in [`crate::seed`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoothing {
    /// The weight w per epoch, in [0, 1).
    pub weight: f64,
    /// The length of the seed's runs, in epochs, that the weight applies to.
    pub epochs: usize,
    /// Where the weight comes from (the table it was fitted on).
    pub source: String,
}

impl Smoothing {
    /// The weight for a run of `run_epochs` epochs: w^(epochs / run_epochs), so that the average
    /// spans the same fraction of training as the seed's did (the weight itself when the run is
    /// as long as the seed's).
    ///
    /// ```
    /// let s = study::suite::Smoothing { weight: 0.882, epochs: 200, source: String::new() };
    /// assert_eq!(s.weight_for(200), 0.882);
    /// assert!(s.weight_for(4) < 0.01); // four epochs: almost the final epoch alone
    /// ```
    pub fn weight_for(&self, run_epochs: usize) -> f64 {
        if run_epochs == self.epochs {
            self.weight
        } else {
            self.weight
                .powf(self.epochs as f64 / run_epochs.max(1) as f64)
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if !(0.0..1.0).contains(&self.weight) {
            bail!(
                "field `published_smoothing.weight`: must be in [0, 1), not {}",
                self.weight
            );
        }
        if self.epochs == 0 {
            bail!("field `published_smoothing.epochs`: must be at least 1");
        }
        Ok(())
    }
}

/// One run of a suite.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteRun {
    /// Dataset.
    pub dataset: String,
    /// Optimizer label.
    pub label: String,
    /// Seed.
    pub seed: u64,
    /// Its config.
    pub config: TrainConfig,
    /// Its directory.
    pub dir: PathBuf,
}

/// The suites shipped in `crates/study/suites/`, by name.
pub const SHIPPED: &[(&str, &str)] = &[
    ("quick", include_str!("../suites/quick.toml")),
    ("cifar10", include_str!("../suites/cifar10.toml")),
    ("cifar100", include_str!("../suites/cifar100.toml")),
    ("imagenette", include_str!("../suites/imagenette.toml")),
    ("seed-quick", include_str!("../suites/seed-quick.toml")),
    ("seed-overfit", include_str!("../suites/seed-overfit.toml")),
    ("seed-cifar10", include_str!("../suites/seed-cifar10.toml")),
    (
        "seed-cifar10-reset",
        include_str!("../suites/seed-cifar10-reset.toml"),
    ),
    (
        "seed-cifar100",
        include_str!("../suites/seed-cifar100.toml"),
    ),
    (
        "seed-cifar100-reset",
        include_str!("../suites/seed-cifar100-reset.toml"),
    ),
    (
        "seed-imagenette",
        include_str!("../suites/seed-imagenette.toml"),
    ),
];

/// The shipped suites for `--help`, one line each: name, datasets, optimizers × seeds (from
/// the suite files themselves).
///
/// ```
/// let help = study::suite::shipped_help();
/// assert!(help.contains("seed-quick") && help.contains("imagenette"));
/// ```
pub fn shipped_help() -> String {
    let mut text = String::from("Shipped suites (crates/study/suites/):\n");
    for (name, toml) in SHIPPED {
        let line = match Suite::parse(toml, name) {
            Ok(s) => {
                let datasets: Vec<String> = s.datasets.iter().map(|d| d.to_string()).collect();
                format!(
                    "  {name:<20} {} optimizers × {} seeds, {} epochs on {}\n",
                    s.optimizers.len(),
                    s.seeds.len(),
                    s.recipe.epochs,
                    datasets.join(", ")
                )
            }
            Err(e) => format!("  {name:<20} (invalid: {e:#})\n"),
        };
        text.push_str(&line);
    }
    text
}

impl Suite {
    /// Parses a suite from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let suite: Suite =
            toml::from_str(text).with_context(|| format!("invalid suite {origin}"))?;
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("invalid suite {origin}"))?;
        if let Some(recipe) = table.get("recipe").and_then(toml::Value::as_table) {
            for (key, instead) in [
                ("optimizer", "each [[optimizers]] entry's `spec`"),
                ("seed", "`seeds`"),
                ("dataset", "`datasets`"),
            ] {
                if recipe.contains_key(key) {
                    bail!(
                        "invalid suite {origin}: field `recipe.{key}`: a suite sets it by \
                         {instead}, for every run"
                    );
                }
            }
            // The recipe goes through JSON, where a NaN or an infinity would become an unset
            // field: refused here, by name.
            if let Some((key, v)) = recipe
                .iter()
                .find(|(_, v)| v.as_float().is_some_and(|f| !f.is_finite()))
            {
                bail!(
                    "invalid suite {origin}: field `recipe.{key}`: must be a finite number, not {v}"
                );
            }
        }
        suite
            .check()
            .with_context(|| format!("invalid suite {origin}"))?;
        Ok(suite)
    }

    /// A shipped suite by name, or a suite file by path.
    pub fn load(name_or_path: &str) -> anyhow::Result<Self> {
        if let Some((name, text)) = SHIPPED.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(text, &format!("`{name}` (crates/study/suites/{name}.toml)"));
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            let names: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
            bail!(
                "no suite `{name_or_path}`: not a shipped suite ({}) nor a file",
                names.join(", ")
            );
        }
        let text = crate::input::read_text(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The baseline's label.
    pub fn baseline_label(&self) -> &str {
        self.baseline
            .as_deref()
            .or_else(|| self.optimizers.first().map(|o| o.label.as_str()))
            .unwrap_or("")
    }

    /// Checks the grid and every run's config (specs, fields), without touching data.
    pub fn check(&self) -> anyhow::Result<()> {
        check_name("field `name`", &self.name)?;
        for (field, empty) in [
            ("datasets", self.datasets.is_empty()),
            ("seeds", self.seeds.is_empty()),
            ("optimizers", self.optimizers.is_empty()),
        ] {
            if empty {
                bail!("field `{field}`: must not be empty");
            }
        }
        let mut labels = std::collections::HashSet::new();
        for o in &self.optimizers {
            check_name("optimizer label", &o.label)?;
            if !labels.insert(o.label.as_str()) {
                bail!("optimizer label `{}` appears twice", o.label);
            }
            if let Some(published) = &o.published {
                published.check(&o.label)?;
            }
        }
        if let Some(smoothing) = &self.published_smoothing {
            smoothing.check()?;
        }
        let names: Vec<&str> = self.optimizers.iter().map(|o| o.label.as_str()).collect();
        for claim in &self.claims {
            claim.check(&names)?;
        }
        if !labels.contains(self.baseline_label()) {
            bail!(
                "field `baseline`: `{}` is not one of the optimizers' labels",
                self.baseline_label()
            );
        }
        let d = &self.datasets;
        if let Some(twice) = (1..d.len()).find(|&i| d[..i].contains(&d[i])) {
            bail!("field `datasets`: `{}` appears twice", d[twice]);
        }
        let mut seeds = self.seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        if seeds.len() != self.seeds.len() {
            bail!("field `seeds`: a seed appears twice");
        }
        self.recipe.check().context("field `recipe`")?;
        for run in self.runs(Path::new(".")) {
            run.config
                .check()
                .with_context(|| format!("optimizer `{}`", run.label))?;
        }
        Ok(())
    }

    /// Every run of the grid, seed-major: every dataset and optimizer of the first seed, then
    /// of the second, … so that a suite stopped part-way leaves complete seeds to report.
    pub fn runs(&self, out: &Path) -> Vec<SuiteRun> {
        let mut runs = Vec::new();
        for &seed in &self.seeds {
            for dataset in &self.datasets {
                for o in &self.optimizers {
                    runs.push(self.run(out, dataset, o, seed));
                }
            }
        }
        runs
    }

    /// One run of the grid: the recipe with the optimizer's own settings.
    fn run(&self, out: &Path, dataset: &DatasetKind, o: &SuiteOptimizer, seed: u64) -> SuiteRun {
        let mut config = self.recipe.clone();
        config.dataset = dataset.clone();
        config.optimizer = o.spec.clone();
        config.seed = seed;
        if let Some(lr) = o.lr_max {
            config.lr_max = lr;
        }
        if o.weight_decay.is_some() {
            config.weight_decay = o.weight_decay;
        }
        if let Some(flip) = o.flip {
            config.flip = flip;
        }
        SuiteRun {
            dataset: dataset.to_string(),
            label: o.label.clone(),
            seed,
            dir: out
                .join(dataset.to_string())
                .join(&o.label)
                .join(format!("seed-{seed}")),
            config,
        }
    }

    /// The runs of `before` (the suite an output directory was started with) whose recipe
    /// this suite changes: for each, the run and the fields, with both values. Runs added or
    /// left out, and report-only fields (published numbers, claims), are not changes.
    pub fn changed_runs(&self, before: &Suite) -> anyhow::Result<Vec<String>> {
        let out = Path::new(".");
        let old: Vec<SuiteRun> = before.runs(out);
        let mut changed = Vec::new();
        for run in self.runs(out) {
            let Some(was) = old.iter().find(|r| r.dir == run.dir) else {
                continue;
            };
            let changes =
                Fingerprint::of(&was.config)?.config_changes(&Fingerprint::of(&run.config)?);
            if !changes.is_empty() {
                changed.push(format!(
                    "{} {} seed {}: {}",
                    run.dataset,
                    run.label,
                    run.seed,
                    changes.join("; ")
                ));
            }
        }
        Ok(changed)
    }

    /// The spec of each optimizer label.
    pub fn specs(&self) -> Vec<(String, OptimizerSpec)> {
        self.optimizers
            .iter()
            .map(|o| (o.label.clone(), o.spec.clone()))
            .collect()
    }
}

/// The longest suite name or optimizer label (each names a directory).
pub const MAX_NAME: usize = 64;

/// Refuses a suite name or label that cannot name a directory of its own: empty, longer than
/// [`MAX_NAME`], not starting with a letter or digit (`.`, `..`, hidden names), or holding
/// anything but letters, digits, `-`, `_`, `.`.
fn check_name(what: &str, name: &str) -> anyhow::Result<()> {
    let shown: String = name.chars().take(MAX_NAME).collect();
    let ellipsis = if name.chars().count() > MAX_NAME {
        "…"
    } else {
        ""
    };
    let fine = name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !fine {
        bail!(
            "{what} `{shown}{ellipsis}`: it names a directory: start with a letter or digit, then \
             letters, digits, `-`, `_`, `.`, at most {MAX_NAME} characters"
        );
    }
    Ok(())
}

/// Reads `suite.json` of a suite's output directory (written by `compare`).
pub fn read_suite_json(dir: &Path) -> anyhow::Result<Suite> {
    let path = dir.join(SUITE_JSON);
    if !path.exists() {
        bail!(
            "no {}: is {} a suite's output directory (from `compare`)?",
            path.display(),
            dir.display()
        );
    }
    let text = crate::input::read_text(&path)?;
    let suite: Suite =
        crate::input::from_json(&text).with_context(|| format!("corrupt {}", path.display()))?;
    suite
        .check()
        .with_context(|| format!("corrupt {}", path.display()))?;
    Ok(suite)
}

/// `suite.json`: the resolved suite in its output directory.
pub const SUITE_JSON: &str = "suite.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_suites_parse_and_expand() {
        for (name, text) in SHIPPED {
            let suite = Suite::parse(text, name).unwrap();
            assert_eq!(&suite.name, name);
            let runs = suite.runs(Path::new("runs"));
            assert_eq!(
                runs.len(),
                suite.datasets.len() * suite.optimizers.len() * suite.seeds.len()
            );
        }
    }

    /// The replica suites carry the seed's published numbers and claims about their own labels.
    #[test]
    fn replica_suites_carry_the_published_numbers() {
        for name in [
            "seed-cifar10",
            "seed-cifar10-reset",
            "seed-cifar100",
            "seed-cifar100-reset",
            "seed-imagenette",
            "seed-quick",
        ] {
            let suite = Suite::load(name).unwrap();
            assert!(suite.published_source.is_some(), "{name}");
            assert!(!suite.claims.is_empty(), "{name}");
            let published = suite.optimizers.iter().filter(|o| o.published.is_some());
            assert!(published.count() >= 3, "{name}");
            assert_eq!(suite.recipe.true_weight_decay, Some(0.01), "{name}");
        }
        let la = Suite::load("seed-cifar10").unwrap();
        let row = la.optimizers.iter().find(|o| o.label == "la-sgd").unwrap();
        assert_eq!(row.published.as_ref().unwrap().accuracy, Some(82.33));
    }

    #[test]
    fn bad_suites_name_the_problem() {
        let base = "name = \"t\"\ndatasets = [\"fashion-mnist-embedded\"]\nseeds = [1]\n";
        let err = |extra: &str| {
            format!(
                "{:#}",
                Suite::parse(&format!("{base}{extra}"), "t.toml").unwrap_err()
            )
        };
        let bad_k = err("[[optimizers]]\nlabel = \"la\"\nspec = \"lookahead(sgd, k=0)\"\n");
        assert!(bad_k.contains("t.toml") && bad_k.contains("k"), "{bad_k}");
        let alpha = err("[[optimizers]]\nlabel = \"la\"\nspec = \"lookahead(sgd, alpha=2)\"\n");
        assert!(alpha.contains("alpha"), "{alpha}");
        let unknown = err("[[optimizers]]\nlabel = \"x\"\nspec = \"adagrad\"\n");
        assert!(unknown.contains("adagrad"), "{unknown}");
        let baseline = err("baseline = \"nope\"\n[[optimizers]]\nlabel = \"x\"\nspec = \"sgd\"\n");
        assert!(baseline.contains("`baseline`"), "{baseline}");
        let sgd = "[[optimizers]]\nlabel = \"x\"\nspec = \"sgd\"\n";
        for (recipe, says) in [
            ("optimizer = \"adam\"", "field `recipe.optimizer`"),
            ("seed = 3", "field `recipe.seed`"),
            ("dataset = \"cifar10\"", "field `recipe.dataset`"),
            // Every arm setting its own weight decay must not hide the recipe's.
            (
                "weight_decay = nan",
                "field `recipe.weight_decay`: must be a finite number",
            ),
        ] {
            let e = err(&format!("[recipe]\n{recipe}\n{sgd}weight_decay = 0.1\n"));
            assert!(e.contains(says), "{recipe}: {e}");
        }
        let twice = Suite::parse(
            &format!(
                "{}{sgd}",
                base.replace("\"]", "\", \"fashion-mnist-embedded\"]")
            ),
            "t.toml",
        );
        let twice = format!("{:#}", twice.unwrap_err());
        assert!(
            twice.contains("`datasets`") && twice.contains("twice"),
            "{twice}"
        );
        let published = err(&format!("{sgd}published = {{ accuracy = -5.0 }}\n"));
        assert!(
            published.contains("`published.accuracy` = -5"),
            "{published}"
        );
    }
}
