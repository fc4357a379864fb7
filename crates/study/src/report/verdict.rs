//! Verdicts on the seed study's claims: each [`Claim`] of the suite is a list of conditions on
//! the final-epoch means; a condition is tested with the paired t-test over shared seeds where
//! there are at least two with varying differences (else Welch's), the claim's tests being one
//! Holm–Bonferroni family across the report. A claim is *supported* when every condition holds
//! and is significant, *not supported* when a tested condition fails or is not significant, and
//! *not testable at this n* when no condition that fails could be tested.

use std::fmt;

use super::runs::{At, DatasetRuns, PValue, Tests};
use super::stats::Sample;
use crate::claim::{Claim, Condition, Relation};
use crate::suite::Suite;

/// The test a condition used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// Paired t-test over shared seeds.
    Paired,
    /// Welch's t-test.
    Welch,
}

/// One condition, evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionResult {
    /// The condition.
    pub condition: Condition,
    /// The condition's optimizer's values.
    pub sample: Sample,
    /// The optimizer compared with: `other`, or the runner-up for lowest/highest.
    pub other: Option<String>,
    /// Its values.
    pub other_sample: Sample,
    /// Whether the means lie as the condition says (`None` without values on both sides).
    pub holds: Option<bool>,
    /// The test used.
    pub test: TestKind,
    /// Its p-value (adjusted with the report's other verdict tests).
    pub p: PValue,
}

/// A claim and its conditions' results.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The claim, in the seed's words.
    pub claim: String,
    /// One result per condition.
    pub conditions: Vec<ConditionResult>,
}

/// What the replica says of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every condition holds, each significant at 5 % after Holm–Bonferroni.
    Supported,
    /// A tested condition fails or is not significant.
    NotSupported,
    /// Too few runs to test the conditions that do not hold.
    NotTestable,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Supported => "supported",
            Outcome::NotSupported => "not supported",
            Outcome::NotTestable => "not testable at this n",
        })
    }
}

impl ConditionResult {
    fn passes(&self) -> bool {
        self.holds == Some(true) && self.p.significant()
    }

    fn tested(&self) -> bool {
        self.holds.is_some() && self.p.raw.is_some()
    }
}

impl Verdict {
    /// The outcome (read after the report's Holm–Bonferroni adjustment).
    pub fn outcome(&self) -> Outcome {
        if self.conditions.iter().all(ConditionResult::passes) {
            Outcome::Supported
        } else if self.conditions.iter().any(|c| c.tested() && !c.passes()) {
            Outcome::NotSupported
        } else {
            Outcome::NotTestable
        }
    }
}

/// The verdicts on the suite's claims for one dataset.
pub(super) fn verdicts(suite: &Suite, runs: &DatasetRuns<'_>) -> Vec<Verdict> {
    suite
        .claims
        .iter()
        .map(|claim: &Claim| Verdict {
            claim: claim.text.clone(),
            conditions: claim
                .conditions
                .iter()
                .map(|c| evaluate(suite, runs, c))
                .collect(),
        })
        .collect()
}

/// One condition: find what it compares with, whether the means lie as it says, and the test.
fn evaluate(suite: &Suite, runs: &DatasetRuns<'_>, condition: &Condition) -> ConditionResult {
    let sample_of = |label: &str| runs.metric(label, condition.metric, At::Final);
    let sample = sample_of(&condition.label);
    let other = match condition.is {
        Relation::Below | Relation::Above => condition.other.clone(),
        Relation::Lowest | Relation::Highest => runner_up(suite, condition, &sample_of),
    };
    let other_sample = other.as_deref().map(sample_of).unwrap_or_default();
    let holds = match (sample.mean(), other_sample.mean()) {
        (Some(a), Some(b)) => Some(match condition.is {
            Relation::Lowest | Relation::Below => a < b,
            Relation::Highest | Relation::Above => a > b,
        }),
        _ => None,
    };
    let tests = Tests::of(&sample, &other_sample);
    let (test, p) = match tests.paired.raw {
        Some(_) => (TestKind::Paired, tests.paired),
        None => (TestKind::Welch, tests.welch),
    };
    ConditionResult {
        condition: condition.clone(),
        sample,
        other,
        other_sample,
        holds,
        test,
        p,
    }
}

/// For lowest/highest: the other optimizer (of `among`, if given) with the best mean in that
/// direction.
fn runner_up(
    suite: &Suite,
    condition: &Condition,
    sample_of: &impl Fn(&str) -> Sample,
) -> Option<String> {
    let lowest = condition.is == Relation::Lowest;
    let counts = |label: &str| {
        condition
            .among
            .as_ref()
            .is_none_or(|among| among.iter().any(|a| a == label))
    };
    suite
        .optimizers
        .iter()
        .filter(|o| o.label != condition.label && counts(&o.label))
        .filter_map(|o| Some((o.label.clone(), sample_of(&o.label).mean()?)))
        .min_by(|(_, a), (_, b)| {
            if lowest {
                a.total_cmp(b)
            } else {
                b.total_cmp(a)
            }
        })
        .map(|(label, _)| label)
}
