//! Reading old runs under a suite's current claims: a run directory's `suite.json` keeps the
//! suite as it was run; [`refresh_report_fields`] writes the current suite's report-only fields
//! into it, refusing any change of what the runs trained.

use std::path::Path;

use anyhow::{Context, bail};

use crate::suite::{SUITE_JSON, Suite, SuiteOptimizer};

/// The fields of a suite that say how to read its runs, not how to train them: the report
/// reads them, training never does.
const REPORT_ONLY: [&str; 5] = [
    "description",
    "published_source",
    "published_smoothing",
    "shows",
    "claims",
];

/// Writes `suite`'s report-only fields (description, published numbers, smoothing, what the
/// runs can show, claims) into the `suite.json` of `dir`, so that `report` reads the runs under
/// them: for runs made before the suite's claims were last edited. Refuses, touching nothing, a
/// directory of another suite or one whose runs `suite` would train under another recipe. The
/// old file's report-only fields are not read (they may be in an older format).
pub fn refresh_report_fields(dir: &Path, suite: &Suite) -> anyhow::Result<()> {
    let path = dir.join(SUITE_JSON);
    let text = crate::input::read_text(&path)?;
    let mut value: serde_json::Value =
        crate::input::from_json(&text).with_context(|| format!("corrupt {}", path.display()))?;
    if let Some(fields) = value.as_object_mut() {
        REPORT_ONLY.iter().for_each(|f| {
            fields.remove(*f);
        });
    }
    for o in value
        .get_mut("optimizers")
        .and_then(|o| o.as_array_mut())
        .into_iter()
        .flatten()
    {
        if let Some(fields) = o.as_object_mut() {
            fields.remove("published");
        }
    }
    let before: Suite =
        serde_json::from_value(value).with_context(|| format!("corrupt {}", path.display()))?;
    if before.name != suite.name {
        bail!(
            "{} holds suite `{}`, not `{}`",
            path.display(),
            before.name,
            suite.name
        );
    }
    let changed = suite.changed_runs(&before)?;
    if !changed.is_empty() {
        bail!(
            "{}: suite `{}` would train these runs under another recipe; nothing was \
             changed:\n  {}",
            path.display(),
            suite.name,
            changed.join("\n  ")
        );
    }
    let refreshed = Suite {
        description: suite.description.clone(),
        published_source: suite.published_source.clone(),
        published_smoothing: suite.published_smoothing.clone(),
        shows: suite.shows.clone(),
        claims: suite.claims.clone(),
        optimizers: before
            .optimizers
            .iter()
            .map(|o| SuiteOptimizer {
                published: suite
                    .optimizers
                    .iter()
                    .find(|n| n.label == o.label)
                    .and_then(|n| n.published.clone()),
                ..o.clone()
            })
            .collect(),
        ..before
    };
    refreshed
        .check()
        .with_context(|| format!("suite `{}` against {}", suite.name, path.display()))?;
    data::write_atomic(&path, serde_json::to_string_pretty(&refreshed)?.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::read_suite_json;

    /// Runs made under older claims are read under the current ones: the old claims (here in
    /// the format before claims had parts) are dropped, the recipe is checked, and a suite that
    /// would retrain a run under another recipe is refused with the file untouched.
    #[test]
    fn report_fields_are_refreshed_only_over_the_same_recipe() {
        let dir = tempfile::tempdir().unwrap();
        let current = Suite::load("seed-quick").unwrap();
        let mut old = serde_json::to_value(&current).unwrap();
        old["claims"] = serde_json::json!([{ "text": "old words", "conditions": [] }]);
        old["optimizers"][0]["published"] = serde_json::json!({ "accuracy": 1.0 });
        let text = serde_json::to_string(&old).unwrap();
        std::fs::write(dir.path().join(SUITE_JSON), &text).unwrap();
        assert!(read_suite_json(dir.path()).is_err());
        refresh_report_fields(dir.path(), &current).unwrap();
        assert_eq!(read_suite_json(dir.path()).unwrap(), current);
        let mut other = current.clone();
        other.recipe.epochs = 5;
        std::fs::write(dir.path().join(SUITE_JSON), &text).unwrap();
        let err = format!(
            "{:#}",
            refresh_report_fields(dir.path(), &other).unwrap_err()
        );
        assert!(
            err.contains("another recipe") && err.contains("epochs"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(SUITE_JSON)).unwrap(),
            text
        );
    }
}
