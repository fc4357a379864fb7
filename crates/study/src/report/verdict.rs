//! Verdicts on the seed study's claims. Each [`Claim`] is a list of conditions; a condition
//! compares one optimizer with another (`below`/`above`) or with every competitor
//! (`lowest`/`highest`: one comparison each, so the weakest decides). Each comparison is tested
//! with the paired test over shared seeds where there are at least two with varying
//! differences (else the unpaired one), as t-tests, or rank-based where a diverged run's loss
//! is infinite. The tests of one set of verdicts (one extraction: final epoch, or the smoothed
//! curve) are one Holm–Bonferroni family: the question "which of the seed's conclusions hold".
//!
//! Three outcomes: *supported* (every comparison holds, each significant), *contradicted* (some
//! comparison goes the other way, significantly), *inconclusive* (anything else; the report then
//! says the smallest difference this n could have detected, and the n the observed one needs).

use std::fmt;

use super::power::{n_needed, paired_mde, welch_mde};
use super::runs::{At, DatasetRuns, PValue, Tests};
use super::stats::{Sample, Stats, paired_differences};
use crate::claim::{Claim, Condition, Published, Relation};
use crate::suite::Suite;

/// The test a comparison used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// Paired t-test over shared seeds.
    Paired,
    /// Welch's t-test.
    Welch,
    /// Wilcoxon signed-rank test over shared seeds (a value was infinite).
    SignedRank,
    /// Wilcoxon rank-sum (Mann–Whitney) test (a value was infinite).
    RankSum,
}

impl fmt::Display for TestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TestKind::Paired => "paired",
            TestKind::Welch => "Welch",
            TestKind::SignedRank => "signed-rank",
            TestKind::RankSum => "rank-sum",
        })
    }
}

/// What this n could detect, for a comparison that is not significant (t-tests only).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Power {
    /// The smallest difference detected with power 0.8 at α = 0.05.
    pub mde: Option<f64>,
    /// Seeds the observed difference would need (paired test).
    pub n_needed: Option<usize>,
}

/// The condition's optimizer against one other.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The other optimizer.
    pub other: String,
    /// Its values.
    pub other_sample: Sample,
    /// Whether the values lie as the condition says (`None` without values on both sides).
    pub holds: Option<bool>,
    /// The test used.
    pub test: TestKind,
    /// Its p-value (adjusted within the verdicts' family).
    pub p: PValue,
    /// What this n could detect.
    pub power: Power,
}

impl Comparison {
    /// Holds, significantly.
    pub fn supports(&self) -> bool {
        self.holds == Some(true) && self.p.significant()
    }

    /// Goes the other way, significantly.
    pub fn contradicts(&self) -> bool {
        self.holds == Some(false) && self.p.significant()
    }
}

/// One condition, evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionResult {
    /// The condition.
    pub condition: Condition,
    /// The condition's optimizer's values.
    pub sample: Sample,
    /// One comparison per optimizer compared with (`other`, or every competitor).
    pub comparisons: Vec<Comparison>,
    /// Diverged runs among the optimizers compared (each counted under the divergence rule).
    pub diverged: usize,
    /// Whether the condition holds on the seed's own published values (`None` where a value
    /// is missing).
    pub on_published: Option<bool>,
}

impl ConditionResult {
    /// Every comparison holds, each significantly.
    pub fn supports(&self) -> bool {
        !self.comparisons.is_empty() && self.comparisons.iter().all(Comparison::supports)
    }

    /// Some comparison goes the other way, significantly.
    pub fn contradicts(&self) -> bool {
        self.comparisons.iter().any(Comparison::contradicts)
    }

    /// The comparison that decides: for a supported or inconclusive condition the one with the
    /// largest adjusted p (the weakest link), for a contradicted one the most significant
    /// contradiction.
    pub fn deciding(&self) -> Option<&Comparison> {
        let p = |c: &&Comparison| c.p.holm.unwrap_or(f64::INFINITY);
        if self.contradicts() {
            self.comparisons
                .iter()
                .filter(|c| c.contradicts())
                .min_by(|a, b| p(a).total_cmp(&p(b)))
        } else {
            self.comparisons.iter().max_by(|a, b| p(a).total_cmp(&p(b)))
        }
    }
}

/// What the replica says of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every condition holds, each comparison significant at 5 % after Holm–Bonferroni.
    Supported,
    /// Some comparison goes significantly the other way.
    Contradicted,
    /// Neither: a difference too small for this n, or too few runs to test.
    Inconclusive,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Supported => "supported",
            Outcome::Contradicted => "contradicted",
            Outcome::Inconclusive => "inconclusive",
        })
    }
}

/// A claim and its conditions' results, at one extraction.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The claim, in the seed's words.
    pub claim: String,
    /// One result per condition.
    pub conditions: Vec<ConditionResult>,
}

impl Verdict {
    /// The outcome (read after the family's Holm–Bonferroni adjustment).
    pub fn outcome(&self) -> Outcome {
        if self.conditions.iter().all(ConditionResult::supports) {
            Outcome::Supported
        } else if self.conditions.iter().any(ConditionResult::contradicts) {
            Outcome::Contradicted
        } else {
            Outcome::Inconclusive
        }
    }

    /// Whether the claim holds on the seed's own published table: `Some(false)` as soon as a
    /// condition fails there, `None` where a needed value is missing.
    pub fn on_published(&self) -> Option<bool> {
        let all: Vec<Option<bool>> = self.conditions.iter().map(|c| c.on_published).collect();
        if all.contains(&Some(false)) {
            Some(false)
        } else if all.iter().all(Option::is_some) {
            Some(true)
        } else {
            None
        }
    }

    /// Diverged runs the claim's comparisons touch.
    pub fn diverged(&self) -> usize {
        self.conditions
            .iter()
            .map(|c| c.diverged)
            .max()
            .unwrap_or(0)
    }
}

/// The verdicts on the suite's claims for one dataset, on the values at `at`.
pub(super) fn verdicts(suite: &Suite, runs: &DatasetRuns<'_>, at: At) -> Vec<Verdict> {
    suite
        .claims
        .iter()
        .map(|claim: &Claim| Verdict {
            claim: claim.text.clone(),
            conditions: claim
                .conditions
                .iter()
                .map(|c| evaluate(suite, runs, c, at))
                .collect(),
        })
        .collect()
}

/// The labels a condition compares with: `other`, or every competitor (of `among`).
fn competitors(suite: &Suite, condition: &Condition) -> Vec<String> {
    match condition.is {
        Relation::Below | Relation::Above => condition.other.iter().cloned().collect(),
        Relation::Lowest | Relation::Highest => suite
            .optimizers
            .iter()
            .map(|o| o.label.clone())
            .filter(|label| *label != condition.label)
            .filter(|label| {
                condition
                    .among
                    .as_ref()
                    .is_none_or(|among| among.contains(label))
            })
            .collect(),
    }
}

/// Whether `a` lies on the condition's side of `b`.
fn lies(relation: Relation, a: f64, b: f64) -> bool {
    match relation {
        Relation::Lowest | Relation::Below => a < b,
        Relation::Highest | Relation::Above => a > b,
    }
}

/// One condition: a comparison with each optimizer it names, and the seed's own table.
fn evaluate(
    suite: &Suite,
    runs: &DatasetRuns<'_>,
    condition: &Condition,
    at: At,
) -> ConditionResult {
    let sample_of = |label: &str| runs.metric(label, condition.metric, at);
    let sample = sample_of(&condition.label);
    let others = competitors(suite, condition);
    let comparisons = others
        .iter()
        .map(|other| compare(condition.is, &sample, other, sample_of(other)))
        .collect();
    let diverged = std::iter::once(&condition.label)
        .chain(&others)
        .map(|label| runs.diverged(label))
        .sum();
    let published = |label: &str| {
        let row = suite.optimizers.iter().find(|o| o.label == label)?;
        row.published
            .as_ref()
            .and_then(|p: &Published| p.get(condition.metric))
    };
    let on_published = published(&condition.label).and_then(|mine| {
        others
            .iter()
            .map(|o| published(o).map(|theirs| lies(condition.is, mine, theirs)))
            .collect::<Option<Vec<bool>>>()
            .map(|all| all.iter().all(|h| *h))
    });
    ConditionResult {
        condition: condition.clone(),
        sample,
        comparisons,
        diverged,
        on_published,
    }
}

/// One comparison: where the values lie, the test, and what this n could detect.
fn compare(relation: Relation, sample: &Sample, other: &str, other_sample: Sample) -> Comparison {
    let holds = match (sample.center(), other_sample.center()) {
        (Some(a), Some(b)) => Some(lies(relation, a, b)),
        _ => None,
    };
    let tests = Tests::of(sample, &other_sample);
    let (test, p) = match (tests.paired.raw, tests.rank_based) {
        (Some(_), false) => (TestKind::Paired, tests.paired),
        (Some(_), true) => (TestKind::SignedRank, tests.paired),
        (None, false) => (TestKind::Welch, tests.welch),
        (None, true) => (TestKind::RankSum, tests.welch),
    };
    let power = if tests.rank_based {
        Power::default()
    } else {
        power(sample, &other_sample, test)
    };
    Comparison {
        other: other.to_string(),
        other_sample,
        holds,
        test,
        p,
        power,
    }
}

/// The minimum detectable difference of the test used, and the seeds the observed paired
/// difference needs.
fn power(a: &Sample, b: &Sample, test: TestKind) -> Power {
    if test == TestKind::Welch {
        return Power {
            mde: welch_mde(&a.values(), &b.values()),
            n_needed: None,
        };
    }
    let d = paired_differences(&a.0, &b.0);
    Power {
        mde: paired_mde(&d),
        n_needed: Stats::of(&d).and_then(|s| n_needed(s.mean, s.std)),
    }
}
