//! What a suite can say about its optimizers before it runs: the seed study's published numbers
//! for a row ([`Published`]) and the seed study's conclusions as testable claims ([`Claim`]).
//! Both are parsed once, with the suite, into these types; [`crate::report`] evaluates them.
//!
//! ```toml
//! [[optimizers]]
//! label = "adamw"
//! spec = "adamw"
//! published = { train_loss = 0.0001259, valid_loss = 1.6, accuracy = 80.57 }
//!
//! [[claims]]
//! text = "AdamW overfits"
//! conditions = [
//!     { metric = "train_loss", label = "adamw", is = "lowest" },
//!     { metric = "valid_loss", label = "adamw", is = "above", other = "sgd" },
//! ]
//! ```

use std::fmt;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// A row's numbers as the seed study published them (each optional: the seed's tables differ).
/// They are smoothed curves' last points, not one epoch's values: see [`crate::suite::Smoothing`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Published {
    /// fastai's smoothed training loss (EMA, β = 0.98).
    #[serde(default)]
    pub train_loss: Option<f64>,
    /// Validation loss.
    #[serde(default)]
    pub valid_loss: Option<f64>,
    /// Validation accuracy, percent.
    #[serde(default)]
    pub accuracy: Option<f64>,
    /// Validation top-5 accuracy, percent.
    #[serde(default)]
    pub top5: Option<f64>,
    /// Printed values that the seed's own logs show to be wrong (a copy error, a swap): each
    /// is compared through the logged value instead, and the report says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errata: Vec<Erratum>,
}

/// A published value that the seed's logged per-epoch table contradicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erratum {
    /// The metric whose printed value is wrong.
    pub metric: Metric,
    /// What the seed's log gives, smoothed as the published values were.
    pub logged: f64,
    /// What went wrong, in a few words.
    pub note: String,
}

impl Published {
    /// The value as printed in the seed's table.
    pub fn printed(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TrainLoss => self.train_loss,
            Metric::ValidLoss => self.valid_loss,
            Metric::Accuracy => self.accuracy,
            Metric::Top5 => self.top5,
        }
    }

    /// The erratum on `metric`, if the printed value is known to be wrong.
    pub fn erratum(&self, metric: Metric) -> Option<&Erratum> {
        self.errata.iter().find(|e| e.metric == metric)
    }

    /// The value to compare with: the logged one where an erratum corrects the printed one.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match self.erratum(metric) {
            Some(e) => Some(e.logged),
            None => self.printed(metric),
        }
    }

    /// Checks that every value is finite and each erratum corrects a printed value once;
    /// `label` names the row in errors.
    pub fn check(&self, label: &str) -> anyhow::Result<()> {
        for metric in Metric::ALL {
            if let Some(v) = self.printed(metric)
                && !v.is_finite()
            {
                bail!("optimizer `{label}`: field `published.{metric}` must be a finite number");
            }
        }
        for (i, e) in self.errata.iter().enumerate() {
            if !e.logged.is_finite() {
                bail!("optimizer `{label}`: field `published.errata[{i}].logged` must be finite");
            }
            if self.printed(e.metric).is_none() {
                bail!(
                    "optimizer `{label}`: `published.errata[{i}]` corrects `{}`, which has no \
                     printed value",
                    e.metric
                );
            }
            if self.errata[..i].iter().any(|x| x.metric == e.metric) {
                bail!(
                    "optimizer `{label}`: two errata correct `published.{}`",
                    e.metric
                );
            }
        }
        Ok(())
    }
}

/// A number each run reports, as the seed's tables show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The smoothed training loss (fastai's; the epoch mean for runs that predate it).
    TrainLoss,
    /// Validation loss.
    ValidLoss,
    /// Validation accuracy, percent.
    Accuracy,
    /// Validation top-5 accuracy, percent.
    Top5,
}

impl Metric {
    /// Every metric, in the tables' order.
    pub const ALL: [Metric; 4] = [
        Metric::TrainLoss,
        Metric::ValidLoss,
        Metric::Accuracy,
        Metric::Top5,
    ];

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Accuracy | Metric::Top5)
    }

    /// Decimal places the report prints.
    pub fn digits(self) -> usize {
        match self {
            Metric::TrainLoss | Metric::ValidLoss => 4,
            Metric::Accuracy | Metric::Top5 => 2,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Metric::TrainLoss => "train_loss",
            Metric::ValidLoss => "valid_loss",
            Metric::Accuracy => "accuracy",
            Metric::Top5 => "top5",
        })
    }
}

/// How a condition places one optimizer's values (their mean; the median where a diverged
/// run's infinite loss is among them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Below every other optimizer's (of `among`, or all the suite's): tested against each.
    Lowest,
    /// Above every other optimizer's: tested against each.
    Highest,
    /// Below `other`'s mean.
    Below,
    /// Above `other`'s mean.
    Above,
}

/// One testable part of a claim: `label`'s `metric` `is` (lowest | highest | below/above `other`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The number compared.
    pub metric: Metric,
    /// The optimizer the condition is about.
    pub label: String,
    /// Where its mean must lie.
    pub is: Relation,
    /// The optimizer compared with (for `below` and `above` only).
    #[serde(default)]
    pub other: Option<String>,
    /// For `lowest` and `highest`: the optimizers that count (default: all the suite's), e.g.
    /// the five of one seed table in a suite that mixes two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub among: Option<Vec<String>>,
}

/// One of the seed study's conclusions, as conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The conclusion, in the seed's words.
    pub text: String,
    /// What must hold for the replica to support it.
    pub conditions: Vec<Condition>,
}

impl Claim {
    /// Checks the conditions against the suite's labels.
    pub fn check(&self, labels: &[&str]) -> anyhow::Result<()> {
        if self.conditions.is_empty() {
            bail!(
                "claim `{}`: field `conditions` must not be empty",
                self.text
            );
        }
        let known = |label: &str| -> anyhow::Result<()> {
            if labels.contains(&label) {
                Ok(())
            } else {
                bail!(
                    "claim `{}`: `{label}` is not one of the optimizers' labels",
                    self.text
                )
            }
        };
        for c in &self.conditions {
            known(&c.label)?;
            for label in c.among.iter().flatten() {
                known(label)?;
            }
            if c.among.is_some() && matches!(c.is, Relation::Below | Relation::Above) {
                bail!(
                    "claim `{}`: `among` is for `lowest` and `highest` only",
                    self.text
                );
            }
            match (c.is, &c.other) {
                (Relation::Below | Relation::Above, Some(other)) => known(other)?,
                (Relation::Below | Relation::Above, None) => bail!(
                    "claim `{}`: `{:?}` needs the field `other`",
                    self.text,
                    c.is
                ),
                (Relation::Lowest | Relation::Highest, Some(_)) => bail!(
                    "claim `{}`: `{:?}` compares with every optimizer; drop the field `other`",
                    self.text,
                    c.is
                ),
                (Relation::Lowest | Relation::Highest, None) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_name_unknown_labels_and_missing_fields() {
        let parse = |text: &str| toml::from_str::<Claim>(text).unwrap();
        let ok = parse(
            "text = \"t\"\nconditions = [{ metric = \"accuracy\", label = \"a\", is = \"above\", other = \"b\" }]",
        );
        assert!(ok.check(&["a", "b"]).is_ok());
        let err = ok.check(&["a"]).unwrap_err().to_string();
        assert!(err.contains("`b`"), "{err}");
        let no_other = parse(
            "text = \"t\"\nconditions = [{ metric = \"accuracy\", label = \"a\", is = \"below\" }]",
        );
        assert!(
            no_other
                .check(&["a"])
                .unwrap_err()
                .to_string()
                .contains("`other`")
        );
        let among = parse(
            "text = \"t\"\nconditions = [{ metric = \"top5\", label = \"a\", is = \"lowest\", among = [\"a\", \"c\"] }]",
        );
        assert!(among.check(&["a", "c"]).is_ok());
        let err = among.check(&["a", "b"]).unwrap_err().to_string();
        assert!(err.contains("`c`"), "{err}");
        assert!(
            toml::from_str::<Claim>(
                "text = \"t\"\nconditions = [{ metric = \"f1\", label = \"a\", is = \"lowest\" }]"
            )
            .is_err()
        );
        let published = Published {
            accuracy: Some(f64::NAN),
            ..Default::default()
        };
        let err = published.check("sgd").unwrap_err().to_string();
        assert!(err.contains("published.accuracy"), "{err}");
    }
}
