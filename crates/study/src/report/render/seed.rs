//! The report's sections about the seed study: its published numbers beside the replica's, and
//! the verdicts on its conclusions.

use std::fmt::Write as _;

use super::super::aggregate::{DatasetTable, p_text};
use super::super::published::{PublishedRow, placement};
use super::super::stats::Sample;
use super::super::verdict::{
    Comparison, ConditionResult, Outcome, PartBody, PartResult, TableCheck, Verdict,
};
use super::markdown::{metric_name, num, pm};
use crate::claim::{Condition, Evidence, Relation, Role};

/// The seed's published numbers beside the replica's (nothing when the suite has none).
pub fn published_section(table: &DatasetTable, source: Option<&str>) -> String {
    let mut md = String::new();
    if table.published.is_empty() {
        return md;
    }
    let smoothing = match table.smoothing_weight {
        Some(w) => format!(
            "**smoothed**: each run's curve over epochs, smoothed as the seed's charts smoothed \
             the numbers it published (debiased exponential moving average, weight {w:.4} per \
             epoch of this suite's runs), last point: like with like"
        ),
        None => "no smoothing given for this suite".into(),
    };
    let _ = writeln!(
        md,
        "\n### The seed's published numbers beside the replica's\n\nPublished: {}. The seed \
         read its numbers off smoothed charts, not off one epoch. Replica, mean ± std over the \
         runs (diverged runs included, see the verdicts): {smoothing}; **final**: the last \
         epoch; **best-valid-loss checkpoint**: the epoch of each run's lowest validation loss, \
         the checkpoint fastai's callback saved — chosen on the test split, and not what the \
         seed published. \"where\": where the published value falls among the replica's runs \
         (z = (published − mean)/std). ✎: the printed value is contradicted by the seed's own \
         log; the logged value is compared.\n",
        source.unwrap_or("the suite's `published` values")
    );
    let _ = writeln!(
        md,
        "| optimizer | metric | published | replica, smoothed | where | replica, final | where | replica, best-valid-loss checkpoint (test split) |\n|---|---|---|---|---|---|---|---|"
    );
    let mut notes = Vec::new();
    for row in &table.published {
        let _ = writeln!(md, "{}", published_line(row, &mut notes));
    }
    for (i, note) in notes.iter().enumerate() {
        let _ = writeln!(md, "\n✎{}: {note}", i + 1);
    }
    md.push('\n');
    md
}

fn published_line(row: &PublishedRow, notes: &mut Vec<String>) -> String {
    let digits = row.metric.digits();
    let published = match &row.erratum {
        Some((printed, note)) => {
            notes.push(format!(
                "`{}` {}: printed {printed}, logged {}. {note}",
                row.label,
                metric_name(row.metric),
                row.published
            ));
            format!("~~{printed}~~ {} ✎{}", row.published, notes.len())
        }
        None => row.published.to_string(),
    };
    let (smoothed, where_smoothed) = match &row.smoothed {
        Some(s) => (pm(s, digits), placement(row.published, s).to_string()),
        None => ("–".into(), "–".into()),
    };
    format!(
        "| {} | {} | {published} | {smoothed} | {where_smoothed} | {} | {} | {} |",
        row.label,
        metric_name(row.metric),
        pm(&row.final_epoch, digits),
        placement(row.published, &row.final_epoch),
        pm(&row.best_loss_epoch, digits),
    )
}

/// The verdicts: a summary table (final epoch, smoothed, the seed's own table), then each
/// claim, quoted, with its parts (nothing when the suite has no claims).
pub fn verdict_section(table: &DatasetTable) -> String {
    let mut md = String::new();
    if table.verdicts.is_empty() {
        return md;
    }
    md.push_str(VERDICT_INTRO);
    let _ = writeln!(
        md,
        "| claim (the seed's words) | final epoch | smoothed, as published | holds on the seed's own table | diverged runs |\n|---|---|---|---|---|"
    );
    for (i, v) in table.verdicts.iter().enumerate() {
        let s = table.smoothed_verdicts.get(i);
        let disagree = s.is_some_and(|s| s.outcome() != v.outcome());
        let _ = writeln!(
            md,
            "| {} | {} | {}{} | {} | {} |",
            claim_title(v),
            claim_outcome(v),
            s.map_or("–".into(), claim_outcome),
            if disagree { " ⚠ differs" } else { "" },
            match v.on_published() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            },
            v.diverged(),
        );
    }
    let _ = writeln!(md, "\nOn the final epoch, claim by claim:\n");
    for v in &table.verdicts {
        claim_block(&mut md, v);
    }
    if !table.smoothed_verdicts.is_empty() {
        smoothed_differences(&mut md, table);
    }
    md.push('\n');
    md
}

const VERDICT_INTRO: &str = "\n### The seed's conclusions, tested\n\nEach claim quotes the \
seed's words verbatim and is split into parts, each traced to its words: **premises** (what must \
hold for the claim to apply), **assertions** (what it says), and, where the claim describes the \
seed's own tables, the replica's test of the **mechanism** behind them, shown with its own \
outcome and not part of the claim's. A part is tested on this suite's runs or, where it describes \
the seed's tables, on the numbers the seed published (corrected where its logs contradict them); \
a part that needs what this suite cannot show is not tested. Each comparison on the runs is \
decided by its one test in its family (see \"How this report tests\"); values are means (the \
median where a diverged run's infinite loss is among them), and a diverged run counts as fastai, \
which trained on, would have reported it: infinite losses and chance accuracy.\n\n\
Outcomes of a part: ✅ **supported** (every comparison holds, each significant after Holm); ❌ \
**contradicted** (some comparison goes significantly the other way, none significantly as \
claimed); ◐ **mixed** (significantly as claimed against some competitors, the other way against \
others, each named); ❔ **inconclusive** (neither: the deciding comparison — the one going the \
other way where there is one — gives the smallest difference this n detects and the seeds it \
would need, at its Holm level); ∅ **not testable here** (the reason named). A claim is \
**premise not met** (⊘) when a premise goes the other way: nothing it asserts is then \
contradicted; it is contradicted only by an assertion that goes significantly the other way \
where it applies; *in part* marks a claim some of whose assertions this suite cannot test. \
\"holds on the seed's own table\": whether the tested parts hold on the numbers the seed \
published; where they do not, even a perfect replica could not support them.\n\n";

/// The claim's first words, for the summary table.
fn claim_title(v: &Verdict) -> String {
    let text = v.claim.text();
    let title = match v.claim.quote {
        Some(_) => format!("“{text}”"),
        None => format!("{text} *(our hypothesis, not the seed's claim)*"),
    };
    title.replace('|', "\\|")
}

/// A claim's outcome, with *in part* where some assertion could not be tested.
fn claim_outcome(v: &Verdict) -> String {
    let outcome = v.outcome();
    let untested = v.untested_assertions();
    let in_part = untested > 0 && outcome != Outcome::NotTestable;
    format!(
        "{}{}",
        outcome_text(outcome),
        if in_part {
            format!(", in part ({untested} assertion(s) not testable here)")
        } else {
            String::new()
        }
    )
}

/// The claim quoted, its source and note, then one line per part.
fn claim_block(md: &mut String, v: &Verdict) {
    let _ = writeln!(md, "- {} — {}", claim_outcome(v), claim_title(v));
    if let Some(q) = v.claim.seed_quote() {
        let _ = writeln!(md, "  - source: {}", q.source);
    }
    if let Some(note) = &v.claim.note {
        let _ = writeln!(md, "  - editor's note: {note}");
    }
    for part in &v.parts {
        let _ = writeln!(md, "  - {}", part_line(part));
    }
}

/// `assertion “high validation loss”: ✅ **supported** — `adamw` valid loss … `.
fn part_line(part: &PartResult) -> String {
    let role = match (part.part.role, part.part.on) {
        (Role::Premise, _) => "premise",
        (Role::Assertion, Evidence::SeedTables) => "assertion, on the seed's tables",
        (Role::Assertion, Evidence::Replica) => "assertion",
        (Role::Mechanism, _) => "mechanism, on the replica (not part of the claim's outcome)",
    };
    let detail = match &part.body {
        PartBody::NotTestable(why) => why.clone(),
        PartBody::SeedTables(checks) => checks
            .iter()
            .map(table_check_text)
            .collect::<Vec<_>>()
            .join("; "),
        PartBody::Replica(conditions) => {
            let mut text = conditions
                .iter()
                .map(condition_text)
                .collect::<Vec<_>>()
                .join("; ");
            if part.outcome() == Outcome::Inconclusive
                && let Some((sample, d)) = part.deciding()
            {
                text.push_str(&power_text(
                    sample,
                    d,
                    conditions[0].condition.metric.digits(),
                ));
            }
            text
        }
    };
    format!(
        "{role} “{}”: {} — {detail}.",
        part.part.words,
        outcome_text(part.outcome())
    )
}

/// The parts whose outcome differs on the smoothed curve.
fn smoothed_differences(md: &mut String, table: &DatasetTable) {
    let _ = writeln!(
        md,
        "\nOn the smoothed curve, where a part's outcome differs:\n"
    );
    let mut any = false;
    for (f, s) in table.verdicts.iter().zip(&table.smoothed_verdicts) {
        for (pf, ps) in f.parts.iter().zip(&s.parts) {
            if pf.outcome() != ps.outcome() {
                any = true;
                let _ = writeln!(md, "- {}: {}", claim_title(s), part_line(ps));
            }
        }
    }
    if !any {
        let _ = writeln!(md, "- none: every part's outcome is the same on both.");
    }
}

fn outcome_text(outcome: Outcome) -> String {
    match outcome {
        Outcome::Supported => "✅ **supported**",
        Outcome::Contradicted => "❌ **contradicted**",
        Outcome::Mixed => "◐ **mixed**",
        Outcome::Inconclusive => "❔ **inconclusive**",
        Outcome::PremiseNotMet => "⊘ **premise not met**",
        Outcome::NotTestable => "∅ **not testable here**",
    }
    .into()
}

fn relation_text(c: &Condition) -> String {
    let relation = match c.is {
        Relation::Lowest => "lowest",
        Relation::Highest => "highest",
        Relation::Below => "below",
        Relation::Above => "above",
    };
    let of = c
        .among
        .as_ref()
        .map_or(String::new(), |among| format!(" of {}", among.join(", ")));
    let margin = match (c.margin, c.is) {
        (Some(m), Relation::Above) => format!(" (or below by less than {m})"),
        (Some(m), _) => format!(" (or above by less than {m})"),
        (None, _) => String::new(),
    };
    format!("{relation}{of}{margin}")
}

/// `` `la-sgd-reset` accuracy (%) 85.53 above: vs `la-sgd` 82.33 ✓ (+3.20) ``.
fn table_check_text(c: &TableCheck) -> String {
    let digits = c.condition.metric.digits();
    let others: Vec<String> = c
        .others
        .iter()
        .map(|(other, theirs, holds)| {
            format!(
                "vs `{other}` {} {} ({:+.digits$})",
                num(*theirs, digits),
                if *holds { "✓" } else { "✗" },
                c.value - theirs
            )
        })
        .collect();
    format!(
        "`{}` {} {} {}: {}",
        c.condition.label,
        metric_name(c.condition.metric),
        num(c.value, digits),
        relation_text(&c.condition),
        others.join(", ")
    )
}

/// `` `adamw` valid loss 0.7459 (n 12) above: vs `sgd` 0.6161 (n 12) ✓ paired p 0.003 (Holm 0.031) ``.
fn condition_text(c: &ConditionResult) -> String {
    let digits = c.condition.metric.digits();
    let center = |s: &Sample| {
        s.center().map_or("–".into(), |m| {
            format!("{} (n {})", num(m, digits), s.len())
        })
    };
    let comparisons: Vec<String> = c
        .comparisons
        .iter()
        .map(|x| comparison_text(x, &center))
        .collect();
    format!(
        "`{}` {} {} {}: {}",
        c.condition.label,
        metric_name(c.condition.metric),
        center(&c.sample),
        relation_text(&c.condition),
        comparisons.join(", ")
    )
}

fn comparison_text(c: &Comparison, center: &impl Fn(&Sample) -> String) -> String {
    let mark = match c.holds {
        Some(true) => "✓",
        Some(false) => "✗",
        None => {
            return format!(
                "vs `{}` {}: no runs to compare",
                c.other,
                center(&c.other_sample)
            );
        }
    };
    match c.tests.p.raw {
        Some(_) => format!(
            "vs `{}` {} {mark} {} p {} (Holm {})",
            c.other,
            center(&c.other_sample),
            c.tests.kind,
            p_text(c.tests.p.raw),
            p_text(c.tests.p.holm)
        ),
        None => format!(
            "vs `{}` {} {mark} (no test: too few runs or no spread)",
            c.other,
            center(&c.other_sample)
        ),
    }
}

/// ` — against `sgd` (the other way), this n detects 1.23 at its Holm level 0.0042 …`.
fn power_text(sample: &Sample, c: &Comparison, digits: usize) -> String {
    let power = c.power(sample);
    let mut text = String::new();
    if let Some(mde) = power.mde {
        let direction = if c.holds == Some(false) {
            " (going the other way)"
        } else {
            ""
        };
        let _ = write!(
            text,
            " — deciding: against `{}`{direction}, this n detects a difference of {} (power \
             0.8 at its Holm level {:.4})",
            c.other,
            num(mde, digits),
            power.level
        );
        match power.n_needed {
            Some(n) => {
                let _ = write!(
                    text,
                    "; the observed one needs ≈ {n} seeds to be significant at that level"
                );
            }
            None if c.holds.is_some() => {
                let _ = write!(text, "; the observed one is out of reach (> 10,000 seeds)");
            }
            None => {}
        }
    }
    text
}
