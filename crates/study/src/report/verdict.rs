//! Verdicts on the seed study's claims. A [`Claim`] is split into parts (premises, assertions,
//! the replica's tests of a mechanism), each a list of conditions; a condition compares one
//! optimizer with another (`below`/`above`, with an optional margin) or with every competitor
//! (`lowest`/`highest`: one comparison each). Each comparison is decided by one test
//! ([`Tests`]: paired over shared seeds, rank-based where a diverged run's loss is infinite),
//! adjusted in the report's family of distinct comparisons (see [`super::aggregate`]).
//!
//! A part's outcome ([`Outcome`]): *supported* (every comparison holds, each significant),
//! *contradicted* (some goes significantly the other way, none significantly as claimed),
//! *mixed* (significantly as claimed against some, the other way against others), *inconclusive*
//! (anything else), *not testable here* (it needs what the suite cannot show, or a value the
//! suite lacks). A part on the seed's own tables compares the published numbers, without a test.
//! The claim's outcome follows from its premises and assertions (mechanisms are shown apart): a
//! premise that goes the other way makes it *premise not met*, and only an assertion that goes
//! significantly the other way where the claim applies makes it *contradicted*.

use std::fmt;

use super::power::{n_needed, paired_mde, welch_mde};
use super::runs::{At, DatasetRuns, TestKind, Tests};
use super::stats::{Sample, Stats, paired_differences};
use crate::claim::{Claim, Condition, Evidence, Metric, Part, Relation, Role};
use crate::suite::Suite;

/// What this n could detect, for a comparison that is not significant (t-tests only), at the
/// level Holm tests the comparison at in its family.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Power {
    /// The level the figures are computed at (α/(m − r + 1)).
    pub level: f64,
    /// The smallest difference detected with power 0.8 at that level.
    pub mde: Option<f64>,
    /// Seeds the observed difference would need at that level (paired test).
    pub n_needed: Option<usize>,
}

/// The condition's optimizer against one other.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The other optimizer.
    pub other: String,
    /// Its values (as run, before any margin).
    pub other_sample: Sample,
    /// The margin moved onto the other side's values (−margin for `above`, +margin for
    /// `below`; 0 without a margin).
    pub shift: f64,
    /// Whether the values lie as the condition says (`None` without values on both sides).
    pub holds: Option<bool>,
    /// The deciding test, against the other side moved by `shift`.
    pub tests: Tests,
}

impl Comparison {
    /// Holds, significantly.
    pub fn supports(&self) -> bool {
        self.holds == Some(true) && self.tests.significant()
    }

    /// Goes the other way, significantly.
    pub fn contradicts(&self) -> bool {
        self.holds == Some(false) && self.tests.significant()
    }

    /// What this n could detect, at the level Holm tests this comparison at (`sample`: the
    /// condition's optimizer's values).
    pub fn power(&self, sample: &Sample) -> Power {
        let level = self.tests.p.level.unwrap_or(super::power::ALPHA);
        let other = self.other_sample.shifted(self.shift);
        match self.tests.kind {
            TestKind::Paired => {
                let d = paired_differences(&sample.0, &other.0);
                Power {
                    level,
                    mde: paired_mde(&d, level),
                    n_needed: Stats::of(&d).and_then(|s| n_needed(s.mean, s.std, level)),
                }
            }
            TestKind::Welch => Power {
                level,
                mde: welch_mde(&sample.values(), &other.values(), level),
                n_needed: None,
            },
            TestKind::SignedRank | TestKind::RankSum => Power {
                level,
                ..Power::default()
            },
        }
    }
}

/// One condition on the replica's runs, evaluated.
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

/// One condition on the seed's own published numbers: the value of the condition's optimizer
/// and each competitor's (moved by the margin), and whether each lies as the condition says.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCheck {
    /// The condition.
    pub condition: Condition,
    /// The condition's optimizer's published value.
    pub value: f64,
    /// Each competitor, its published value, and whether the condition holds against it.
    pub others: Vec<(String, f64, bool)>,
}

/// How a part was evaluated.
#[derive(Debug, Clone, PartialEq)]
pub enum PartBody {
    /// On the replica's runs, with a test per comparison.
    Replica(Vec<ConditionResult>),
    /// On the seed's published numbers.
    SeedTables(Vec<TableCheck>),
    /// Not at all, for the reason given.
    NotTestable(String),
}

/// One part of a claim, evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct PartResult {
    /// The part.
    pub part: Part,
    /// What it was evaluated on, and how.
    pub body: PartBody,
}

/// What the replica says of a claim or one of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every comparison holds, each significant at 5 % after Holm–Bonferroni.
    Supported,
    /// Some comparison goes significantly the other way, none significantly as claimed.
    Contradicted,
    /// Significantly as claimed against some competitors, the other way against others.
    Mixed,
    /// Neither: a difference too small for this n, or too few runs to test.
    Inconclusive,
    /// A premise goes the other way (or holds only in part): the claim does not apply here.
    PremiseNotMet,
    /// The suite cannot test it (its runs cannot show what it needs, or a value is missing).
    NotTestable,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Supported => "supported",
            Outcome::Contradicted => "contradicted",
            Outcome::Mixed => "mixed",
            Outcome::Inconclusive => "inconclusive",
            Outcome::PremiseNotMet => "premise not met",
            Outcome::NotTestable => "not testable here",
        })
    }
}

impl PartResult {
    /// The part's outcome (read after the family's Holm–Bonferroni adjustment).
    pub fn outcome(&self) -> Outcome {
        match &self.body {
            PartBody::NotTestable(_) => Outcome::NotTestable,
            PartBody::SeedTables(checks) => {
                let holds = checks.iter().flat_map(|c| &c.others).all(|(_, _, h)| *h);
                if holds {
                    Outcome::Supported
                } else {
                    Outcome::Contradicted
                }
            }
            PartBody::Replica(conditions) => {
                let all: Vec<&Comparison> =
                    conditions.iter().flat_map(|c| &c.comparisons).collect();
                let supports = all.iter().filter(|c| c.supports()).count();
                let contradicts = all.iter().filter(|c| c.contradicts()).count();
                match (supports, contradicts) {
                    (s, c) if s > 0 && c > 0 => Outcome::Mixed,
                    (_, c) if c > 0 => Outcome::Contradicted,
                    (s, _) if s > 0 && s == all.len() => Outcome::Supported,
                    _ => Outcome::Inconclusive,
                }
            }
        }
    }

    /// The replica's condition results (empty for the seed's tables or an untested part).
    pub fn conditions(&self) -> &[ConditionResult] {
        match &self.body {
            PartBody::Replica(c) => c,
            _ => &[],
        }
    }

    /// The comparison that decides an inconclusive part: the one going the other way with the
    /// smallest p where there is one (what would have to become significant to contradict),
    /// else the weakest of those going as claimed (the largest adjusted p), with its condition's
    /// sample.
    pub fn deciding(&self) -> Option<(&Sample, &Comparison)> {
        let all = || {
            self.conditions()
                .iter()
                .flat_map(|c| c.comparisons.iter().map(move |x| (&c.sample, x)))
        };
        let p = |x: &Comparison| x.tests.p.holm.unwrap_or(f64::INFINITY);
        let opposing = all()
            .filter(|(_, x)| x.holds == Some(false))
            .min_by(|a, b| p(a.1).total_cmp(&p(b.1)));
        opposing.or_else(|| all().max_by(|a, b| p(a.1).total_cmp(&p(b.1))))
    }
}

/// A claim and its parts' results, at one extraction.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The claim.
    pub claim: Claim,
    /// One result per part.
    pub parts: Vec<PartResult>,
}

impl Verdict {
    /// The claim's outcome, from its premises and assertions (mechanisms are not part of it).
    pub fn outcome(&self) -> Outcome {
        let of = |role: Role| -> Vec<Outcome> {
            self.parts
                .iter()
                .filter(|p| p.part.role == role)
                .map(PartResult::outcome)
                .collect()
        };
        let (premises, assertions) = (of(Role::Premise), of(Role::Assertion));
        let tested: Vec<Outcome> = assertions
            .iter()
            .copied()
            .filter(|o| *o != Outcome::NotTestable)
            .collect();
        let any = |set: &[Outcome], o: Outcome| set.contains(&o);
        if any(&premises, Outcome::Contradicted) || any(&premises, Outcome::Mixed) {
            Outcome::PremiseNotMet
        } else if tested.is_empty() || any(&premises, Outcome::NotTestable) {
            Outcome::NotTestable
        } else if any(&premises, Outcome::Inconclusive) {
            Outcome::Inconclusive
        } else if any(&tested, Outcome::Mixed)
            || (any(&tested, Outcome::Supported) && any(&tested, Outcome::Contradicted))
        {
            Outcome::Mixed
        } else if any(&tested, Outcome::Contradicted) {
            Outcome::Contradicted
        } else if tested.iter().all(|o| *o == Outcome::Supported) {
            Outcome::Supported
        } else {
            Outcome::Inconclusive
        }
    }

    /// Assertions the suite could not test (a supported claim is then supported in part).
    pub fn untested_assertions(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| p.part.role == Role::Assertion && p.outcome() == Outcome::NotTestable)
            .count()
    }

    /// Whether the claim's premises and assertions hold on the seed's own published table (its
    /// replica parts' conditions checked there, and its parts on the seed's tables):
    /// `Some(false)` as soon as one fails there, `None` where a needed value is missing.
    pub fn on_published(&self) -> Option<bool> {
        let all: Vec<Option<bool>> = self
            .parts
            .iter()
            .filter(|p| p.part.role != Role::Mechanism)
            .flat_map(|p| match &p.body {
                PartBody::SeedTables(checks) => checks
                    .iter()
                    .map(|c| Some(c.others.iter().all(|(_, _, h)| *h)))
                    .collect(),
                _ => p
                    .conditions()
                    .iter()
                    .map(|c| c.on_published)
                    .collect::<Vec<_>>(),
            })
            .collect();
        if all.contains(&Some(false)) {
            Some(false)
        } else if !all.is_empty() && all.iter().all(Option::is_some) {
            Some(true)
        } else {
            None
        }
    }

    /// Diverged runs the claim's comparisons touch.
    pub fn diverged(&self) -> usize {
        self.parts
            .iter()
            .flat_map(|p| p.conditions().iter().map(|c| c.diverged))
            .max()
            .unwrap_or(0)
    }
}

/// The verdicts on the suite's claims for one dataset, on the values at `at`.
pub(super) fn verdicts(suite: &Suite, runs: &DatasetRuns<'_>, at: At) -> Vec<Verdict> {
    suite
        .claims
        .iter()
        .map(|claim| Verdict {
            claim: claim.clone(),
            parts: claim
                .parts
                .iter()
                .map(|part| PartResult {
                    part: part.clone(),
                    body: evaluate_part(suite, runs, part, at),
                })
                .collect(),
        })
        .collect()
}

fn evaluate_part(suite: &Suite, runs: &DatasetRuns<'_>, part: &Part, at: At) -> PartBody {
    if let Some(need) = part.needs.iter().find(|n| !suite.shows.contains(n)) {
        return PartBody::NotTestable(format!("needs {need}, which this suite cannot show"));
    }
    match part.on {
        Evidence::Replica => PartBody::Replica(
            part.conditions
                .iter()
                .map(|c| evaluate(suite, runs, c, at))
                .collect(),
        ),
        Evidence::SeedTables => part
            .conditions
            .iter()
            .map(|c| check_table(suite, c))
            .collect::<Result<Vec<_>, String>>()
            .map_or_else(PartBody::NotTestable, PartBody::SeedTables),
    }
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

/// What the margin moves the other side's values by: "above `b` − m" is above `b` moved by −m.
fn shift(condition: &Condition) -> f64 {
    let m = condition.margin.unwrap_or(0.0);
    match condition.is {
        Relation::Above => -m,
        Relation::Below => m,
        Relation::Lowest | Relation::Highest => 0.0,
    }
}

/// Whether `a` lies on the condition's side of `b` (already moved by the margin).
fn lies(relation: Relation, a: f64, b: f64) -> bool {
    match relation {
        Relation::Lowest | Relation::Below => a < b,
        Relation::Highest | Relation::Above => a > b,
    }
}

/// A published value of `label`, corrected where the seed's logs contradict it.
fn published(suite: &Suite, label: &str, metric: Metric) -> Option<f64> {
    let row = suite.optimizers.iter().find(|o| o.label == label)?;
    row.published.as_ref()?.get(metric)
}

/// One condition on the seed's published numbers; `Err` names the missing value.
fn check_table(suite: &Suite, condition: &Condition) -> Result<TableCheck, String> {
    let value_of = |label: &str| {
        published(suite, label, condition.metric).ok_or_else(|| {
            format!(
                "the suite holds no published {} for `{label}`",
                condition.metric
            )
        })
    };
    let value = value_of(&condition.label)?;
    let others = competitors(suite, condition)
        .into_iter()
        .map(|other| {
            let theirs = value_of(&other)?;
            let holds = lies(condition.is, value, theirs + shift(condition));
            Ok((other, theirs, holds))
        })
        .collect::<Result<_, String>>()?;
    Ok(TableCheck {
        condition: condition.clone(),
        value,
        others,
    })
}

/// One condition on the replica: a comparison with each optimizer it names, and the seed's own
/// table.
fn evaluate(
    suite: &Suite,
    runs: &DatasetRuns<'_>,
    condition: &Condition,
    at: At,
) -> ConditionResult {
    let sample_of = |label: &str| runs.metric(label, condition.metric, at);
    let sample = sample_of(&condition.label);
    let others = competitors(suite, condition);
    let by = shift(condition);
    let comparisons = others
        .iter()
        .map(|other| compare(condition.is, by, &sample, other, sample_of(other)))
        .collect();
    let diverged = std::iter::once(&condition.label)
        .chain(&others)
        .map(|label| runs.diverged(label))
        .sum();
    let on_published = check_table(suite, condition)
        .ok()
        .map(|t| t.others.iter().all(|(_, _, h)| *h));
    ConditionResult {
        condition: condition.clone(),
        sample,
        comparisons,
        diverged,
        on_published,
    }
}

/// One comparison: where the values lie (the other side moved by the margin) and its test.
fn compare(
    relation: Relation,
    shift: f64,
    sample: &Sample,
    other: &str,
    other_sample: Sample,
) -> Comparison {
    let moved = other_sample.shifted(shift);
    let holds = match (sample.center(), moved.center()) {
        (Some(a), Some(b)) => Some(lies(relation, a, b)),
        _ => None,
    };
    Comparison {
        other: other.to_string(),
        tests: Tests::of(sample, &moved),
        other_sample,
        shift,
        holds,
    }
}
