//! What a suite can say about its optimizers before it runs: the seed study's published numbers
//! for a row ([`Published`]) and the seed study's conclusions as testable claims ([`Claim`]),
//! each quoting the seed's words verbatim ([`seed_quotes`]) and split into [`Part`]s: premises,
//! assertions and the replica's tests of a mechanism, each traced to its words and saying what
//! it needs of the evidence ([`Need`]) and where it is tested ([`Evidence`]: the replica's runs
//! or the seed's own tables). All are parsed once, with the suite, into these types;
//! [`crate::report`] evaluates them.
//!
//! ```toml
//! [[optimizers]]
//! label = "adamw"
//! spec = "adamw"
//! published = { train_loss = 0.0001259, valid_loss = 1.6, accuracy = 80.57 }
//!
//! [[claims]]
//! quote = "adamw-overfits"            # the seed's words (crates/study/seed/conclusions.toml)
//! note = "Where our reading differs from the words, and why."
//!
//! [[claims.parts]]
//! words = "high validation loss"      # verbatim, from the quote
//! role = "assertion"                  # or "premise", or "mechanism"
//! conditions = [{ metric = "valid_loss", label = "adamw", is = "above", other = "sgd" }]
//!
//! [[claims.parts]]
//! words = "a very low training loss"
//! role = "assertion"
//! needs = ["convergence"]             # not testable by a suite whose `shows` lacks it
//! conditions = [{ metric = "train_loss", label = "adamw", is = "lowest" }]
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
            if let Some(v) = self.printed(metric) {
                let (ok, range) = match metric {
                    Metric::Accuracy | Metric::Top5 => ((0.0..=100.0).contains(&v), "in [0, 100]"),
                    Metric::TrainLoss | Metric::ValidLoss => (v >= 0.0, "0 or above"),
                };
                if !ok {
                    bail!("optimizer `{label}`: field `published.{metric}` = {v}: must be {range}");
                }
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
    /// Below `other`'s mean (plus `margin`).
    Below,
    /// Above `other`'s mean (minus `margin`).
    Above,
}

/// One testable comparison of a claim's part: `label`'s `metric` `is` (lowest | highest |
/// below/above `other`).
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
    /// For `above` and `below`: how far on the wrong side still counts ("loses only by a very
    /// small margin"): `above` holds when the mean is above `other`'s minus the margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
}

/// What a part of a claim is to the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// What must hold for the claim to apply: where it goes significantly the other way, the
    /// claim's premise is not met and nothing the claim asserts is contradicted.
    Premise,
    /// What the claim asserts.
    Assertion,
    /// The replica's test of the mechanism behind a description of the seed's tables: shown
    /// with its own outcome, and not part of the claim's.
    Mechanism,
}

/// What a part's comparisons are made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The replica's runs, with a test per comparison.
    #[default]
    Replica,
    /// The seed's own published numbers (a claim that describes its tables): the numbers as
    /// printed, corrected where its logs contradict them; no test.
    SeedTables,
}

/// What a part needs of the runs before they can test it; a suite lists what its runs can show
/// (`shows`), and a part needing anything else is "not testable here".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// Training run long enough to converge and overfit (validation loss rising for several
    /// epochs while the training loss keeps falling): what a claim about a very low training
    /// loss or overfitting is about.
    Convergence,
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Need::Convergence => "training to convergence (long enough to overfit)",
        })
    }
}

/// One part of a claim: the words of the claim it tests and what they need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    /// The words of the quote (or hypothesis) this part tests, verbatim.
    pub words: String,
    /// Premise, assertion, or the replica's test of a mechanism.
    pub role: Role,
    /// The replica's runs (default) or the seed's own tables.
    #[serde(default)]
    pub on: Evidence,
    /// What the runs must be able to show for this part to be tested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Need>,
    /// The comparisons, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// One of the seed study's conclusions (or one of our hypotheses about them), split into parts
/// each traced to its words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// The id of the seed's words it tests ([`seed_quotes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// A hypothesis of ours, in our words, where the claim is not the seed's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypothesis: Option<String>,
    /// An editor's note: where our reading of the words differs from them, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The parts, each tested on its own.
    pub parts: Vec<Part>,
}

/// The seed's words, as `crates/study/seed/conclusions.toml` quotes them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quote {
    /// What a claim names it by.
    pub id: String,
    /// Where in the seed's README it stands.
    pub source: String,
    /// The words, verbatim.
    pub text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Quotes {
    quotes: Vec<Quote>,
}

/// Every quote of the seed's conclusions (`crates/study/seed/conclusions.toml`).
///
/// ```
/// let quotes = study::claim::seed_quotes();
/// assert!(quotes.iter().any(|q| q.text.starts_with("AdamW almost always overfits")));
/// ```
pub fn seed_quotes() -> &'static [Quote] {
    static QUOTES: std::sync::OnceLock<Vec<Quote>> = std::sync::OnceLock::new();
    QUOTES.get_or_init(|| {
        toml::from_str::<Quotes>(include_str!("../seed/conclusions.toml"))
            .map(|q| q.quotes)
            // The file is compiled in and parsed by a test: an empty list can only follow an
            // edit that the test refuses.
            .unwrap_or_default()
    })
}

impl Claim {
    /// The seed's quote this claim tests, if it is the seed's.
    pub fn seed_quote(&self) -> Option<&'static Quote> {
        let id = self.quote.as_deref()?;
        seed_quotes().iter().find(|q| q.id == id)
    }

    /// The claim's words: the seed's quote, or our hypothesis.
    pub fn text(&self) -> &str {
        match self.seed_quote() {
            Some(q) => &q.text,
            None => self.hypothesis.as_deref().unwrap_or(""),
        }
    }

    /// Checks the claim: one source of words, each part's words found in them, and the
    /// conditions against the suite's labels.
    pub fn check(&self, labels: &[&str]) -> anyhow::Result<()> {
        let name = self.quote.as_deref().unwrap_or("hypothesis");
        match (&self.quote, &self.hypothesis) {
            (Some(id), None) if self.seed_quote().is_none() => bail!(
                "claim `{id}`: field `quote` names no quote of the seed's conclusions \
                 (crates/study/seed/conclusions.toml)"
            ),
            (Some(_), None) | (None, Some(_)) => {}
            _ => bail!("claim `{name}`: give exactly one of the fields `quote` and `hypothesis`"),
        }
        if self.parts.is_empty() {
            bail!("claim `{name}`: field `parts` must not be empty");
        }
        if self.parts.iter().all(|p| p.role == Role::Mechanism) {
            bail!("claim `{name}`: needs a premise or an assertion besides its mechanisms");
        }
        for (i, part) in self.parts.iter().enumerate() {
            part.check(self.text(), labels)
                .map_err(|e| anyhow::anyhow!("claim `{name}`, `parts[{i}]`: {e}"))?;
        }
        Ok(())
    }
}

impl Part {
    fn check(&self, text: &str, labels: &[&str]) -> anyhow::Result<()> {
        if self.words.trim().is_empty() || !text.contains(&self.words) {
            bail!(
                "field `words`: `{}` is not found verbatim in the claim's words",
                crate::input::shown(&self.words)
            );
        }
        if self.conditions.is_empty() {
            bail!("field `conditions` must not be empty");
        }
        if self.on == Evidence::SeedTables && self.role == Role::Mechanism {
            bail!("a mechanism is tested on the replica: drop `on = \"seed_tables\"`");
        }
        if self.on == Evidence::SeedTables && !self.needs.is_empty() {
            bail!("the seed's tables need nothing of the runs: drop `needs`");
        }
        self.conditions.iter().try_for_each(|c| c.check(labels))
    }
}

impl Condition {
    fn check(&self, labels: &[&str]) -> anyhow::Result<()> {
        let known = |label: &str| -> anyhow::Result<()> {
            if labels.contains(&label) {
                Ok(())
            } else {
                bail!("`{label}` is not one of the optimizers' labels")
            }
        };
        known(&self.label)?;
        for label in self.among.iter().flatten() {
            known(label)?;
        }
        let pairwise = matches!(self.is, Relation::Below | Relation::Above);
        if self.among.is_some() && pairwise {
            bail!("`among` is for `lowest` and `highest` only");
        }
        if let Some(m) = self.margin {
            if !pairwise {
                bail!("`margin` is for `above` and `below` only");
            }
            if !(m.is_finite() && m >= 0.0) {
                bail!("field `margin` must be a finite number ≥ 0");
            }
        }
        match (pairwise, &self.other) {
            (true, Some(other)) => known(other),
            (true, None) => bail!("`{:?}` needs the field `other`", self.is),
            (false, Some(_)) => bail!(
                "`{:?}` compares with every optimizer; drop the field `other`",
                self.is
            ),
            (false, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Claim {
        toml::from_str::<Claim>(text).unwrap()
    }

    const RMSPROP: &str = "quote = \"rmsprop\"\n[[parts]]\nwords = \"RMSProp does not seem like a good choice\"\nrole = \"assertion\"\n";

    #[test]
    fn claims_name_unknown_labels_and_missing_fields() {
        let ok = parse(&format!(
            "{RMSPROP}conditions = [{{ metric = \"accuracy\", label = \"a\", is = \"above\", other = \"b\" }}]"
        ));
        assert!(ok.check(&["a", "b"]).is_ok());
        let err = ok.check(&["a"]).unwrap_err().to_string();
        assert!(err.contains("`b`") && err.contains("parts[0]"), "{err}");
        let no_other = parse(&format!(
            "{RMSPROP}conditions = [{{ metric = \"accuracy\", label = \"a\", is = \"below\" }}]"
        ));
        let err = no_other.check(&["a"]).unwrap_err().to_string();
        assert!(err.contains("`other`"), "{err}");
        let among = parse(&format!(
            "{RMSPROP}conditions = [{{ metric = \"top5\", label = \"a\", is = \"lowest\", among = [\"a\", \"c\"] }}]"
        ));
        assert!(among.check(&["a", "c"]).is_ok());
        let err = among.check(&["a", "b"]).unwrap_err().to_string();
        assert!(err.contains("`c`"), "{err}");
        let margin = parse(&format!(
            "{RMSPROP}conditions = [{{ metric = \"accuracy\", label = \"a\", is = \"lowest\", margin = 0.5 }}]"
        ));
        let err = margin.check(&["a"]).unwrap_err().to_string();
        assert!(err.contains("`margin`"), "{err}");
        assert!(
            toml::from_str::<Claim>(&format!(
                "{RMSPROP}conditions = [{{ metric = \"f1\", label = \"a\", is = \"lowest\" }}]"
            ))
            .is_err()
        );
        let published = Published {
            accuracy: Some(f64::NAN),
            ..Default::default()
        };
        let err = published.check("sgd").unwrap_err().to_string();
        assert!(err.contains("published.accuracy"), "{err}");
    }

    /// A part's words must be the seed's, verbatim; a claim quotes a known quote or states a
    /// hypothesis, not both.
    #[test]
    fn parts_are_traced_to_the_seeds_words() {
        let cond = "conditions = [{ metric = \"accuracy\", label = \"a\", is = \"above\", other = \"b\" }]";
        let bent = parse(&format!(
            "quote = \"rmsprop\"\n[[parts]]\nwords = \"RMSProp is a bad choice\"\nrole = \"assertion\"\n{cond}"
        ));
        let err = bent.check(&["a", "b"]).unwrap_err().to_string();
        assert!(err.contains("not found verbatim"), "{err}");
        let unknown = parse(&format!(
            "quote = \"nope\"\n[[parts]]\nwords = \"x\"\nrole = \"assertion\"\n{cond}"
        ));
        let err = unknown.check(&["a", "b"]).unwrap_err().to_string();
        assert!(err.contains("names no quote"), "{err}");
        let both = parse(&format!(
            "quote = \"rmsprop\"\nhypothesis = \"RMSProp\"\n[[parts]]\nwords = \"RMSProp\"\nrole = \"assertion\"\n{cond}"
        ));
        assert!(both.check(&["a", "b"]).is_err());
        let only_mechanism = parse(&format!(
            "hypothesis = \"the flip helps\"\n[[parts]]\nwords = \"the flip helps\"\nrole = \"mechanism\"\n{cond}"
        ));
        let err = only_mechanism.check(&["a", "b"]).unwrap_err().to_string();
        assert!(err.contains("premise or an assertion"), "{err}");
    }

    /// Every quote parses, has a unique id, and is one of the README's sentences.
    #[test]
    fn the_seeds_words_parse() {
        let quotes = seed_quotes();
        assert_eq!(quotes.len(), 8);
        let mut ids: Vec<&str> = quotes.iter().map(|q| q.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), quotes.len());
        assert!(quotes.iter().all(|q| q.text.ends_with('.')));
    }
}
