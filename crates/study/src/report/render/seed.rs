//! The report's sections about the seed study: its published numbers beside the replica's, and
//! the verdicts on its conclusions.

use std::fmt::Write as _;

use super::super::aggregate::{DatasetTable, p_text};
use super::super::published::{PublishedRow, placement};
use super::super::stats::Sample;
use super::super::verdict::{Comparison, ConditionResult, Outcome, Verdict};
use super::markdown::{metric_name, num, pm};
use crate::claim::Relation;

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
/// claim's comparisons (nothing when the suite has no claims).
pub fn verdict_section(table: &DatasetTable) -> String {
    let mut md = String::new();
    if table.verdicts.is_empty() {
        return md;
    }
    md.push_str(VERDICT_INTRO);
    let smoothed = !table.smoothed_verdicts.is_empty();
    let _ = writeln!(
        md,
        "| claim | final epoch | smoothed, as published | holds on the seed's own table | diverged runs |\n|---|---|---|---|---|"
    );
    for (i, v) in table.verdicts.iter().enumerate() {
        let s = table.smoothed_verdicts.get(i).map(Verdict::outcome);
        let disagree = s.is_some_and(|s| s != v.outcome());
        let _ = writeln!(
            md,
            "| {} | {} | {}{} | {} | {} |",
            v.claim,
            outcome_text(v.outcome()),
            s.map_or("–".into(), outcome_text),
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
        verdict_line(&mut md, v);
    }
    if smoothed {
        let _ = writeln!(md, "\nOn the smoothed curve, where the outcome differs:\n");
        let changed = table
            .verdicts
            .iter()
            .zip(&table.smoothed_verdicts)
            .filter(|(f, s)| f.outcome() != s.outcome());
        let mut any = false;
        for (_, v) in changed {
            any = true;
            verdict_line(&mut md, v);
        }
        if !any {
            let _ = writeln!(md, "- none: every verdict is the same on both.");
        }
    }
    md.push('\n');
    md
}

const VERDICT_INTRO: &str = "\n### The seed's conclusions, tested\n\nEach claim is a set of \
conditions on the runs' values (the mean; the median where a diverged run's infinite loss is \
among them). Every run counts: a diverged run stays in the sample as fastai, which trained on, \
would have reported it — infinite losses and chance accuracy from the epoch it diverged in — and \
comparisons that meet an infinite value use rank-based tests (Wilcoxon signed-rank, rank-sum). \
`lowest`/`highest` is tested against every competitor, and the weakest comparison decides. \
Each comparison uses the paired test over shared seeds (the unpaired one where fewer than two \
are shared). The verdicts' tests on the final epoch are one Holm–Bonferroni family (the \
question: which of the seed's conclusions hold), the same tests on the smoothed curve another; \
the table against the baseline above answers another question in its own family, so a \
comparison that appears there too has the same raw p and another adjusted one.\n\n\
**supported**: every comparison holds, each significant at 5 % after Holm; **contradicted**: \
some comparison goes significantly the other way; **inconclusive**: neither — for these the \
deciding comparison gives the smallest difference this n detects (power 0.8, α 0.05) and the \
seeds the observed difference needs. \"holds on the seed's own table\": whether the claim \
holds on the numbers the seed published (corrected where its logs contradict them); where it \
does not, even a perfect replica could not support it.\n\n";

/// `- ✅ **supported** — “claim”: condition; condition.`
fn verdict_line(md: &mut String, v: &Verdict) {
    let parts: Vec<String> = v.conditions.iter().map(condition_text).collect();
    let _ = writeln!(
        md,
        "- {} — “{}”: {}.",
        outcome_text(v.outcome()),
        v.claim,
        parts.join("; ")
    );
}

fn outcome_text(outcome: Outcome) -> String {
    match outcome {
        Outcome::Supported => "✅ **supported**",
        Outcome::Contradicted => "❌ **contradicted**",
        Outcome::Inconclusive => "❔ **inconclusive**",
    }
    .into()
}

/// `` `adamw` valid loss 0.7459 (n 12) above: vs `sgd` 0.6161 (n 12) ✓ paired p 0.003 (Holm 0.031) ``.
fn condition_text(c: &ConditionResult) -> String {
    let digits = c.condition.metric.digits();
    let center = |s: &Sample| {
        s.center().map_or("–".into(), |m| {
            format!("{} (n {})", num(m, digits), s.len())
        })
    };
    let relation = match c.condition.is {
        Relation::Lowest => "lowest",
        Relation::Highest => "highest",
        Relation::Below => "below",
        Relation::Above => "above",
    };
    let of = c
        .condition
        .among
        .as_ref()
        .map_or(String::new(), |among| format!(" of {}", among.join(", ")));
    let comparisons: Vec<String> = c
        .comparisons
        .iter()
        .map(|x| comparison_text(x, &center))
        .collect();
    let mut text = format!(
        "`{}` {} {} {relation}{of}: {}",
        c.condition.label,
        metric_name(c.condition.metric),
        center(&c.sample),
        comparisons.join(", ")
    );
    if !c.supports()
        && !c.contradicts()
        && let Some(d) = c.deciding()
    {
        text.push_str(&power_text(d, digits));
    }
    text
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
    match c.p.raw {
        Some(_) => format!(
            "vs `{}` {} {mark} {} p {} (Holm {})",
            c.other,
            center(&c.other_sample),
            c.test,
            p_text(c.p.raw),
            p_text(c.p.holm)
        ),
        None => format!(
            "vs `{}` {} {mark} (no test: too few runs or no spread)",
            c.other,
            center(&c.other_sample)
        ),
    }
}

/// ` — at this n a difference of 1.23 is detectable; the observed one needs 40 seeds`.
fn power_text(c: &Comparison, digits: usize) -> String {
    let mut text = String::new();
    if let Some(mde) = c.power.mde {
        let _ = write!(
            text,
            " — against `{}`, this n detects a difference of {} (power 0.8 at 5 %, before Holm)",
            c.other,
            num(mde, digits)
        );
        let direction = if c.holds == Some(false) {
            " (the other way)"
        } else {
            ""
        };
        match c.power.n_needed {
            Some(n) => {
                let _ = write!(
                    text,
                    "; the observed one{direction} needs ≈ {n} seeds to be significant"
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
