//! Watching a run: [`DivergenceGuard`] stops training at the first non-finite loss, and
//! [`LineRenderer`] prints plain progress lines when stdout is not a terminal (Burn's TUI
//! dashboard is used when it is).

use std::collections::HashMap;
use std::io::Write;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::train::metric::{
    Adaptor, Metric, MetricDefinition, MetricMetadata, MetricName, SerializedEntry,
};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};
use burn::train::{ClassificationOutput, Interrupter};

use crate::console::duration_text;
pub use study::run_dir::Divergence;

/// The loss of a batch, as [`DivergenceGuard`] reads it.
pub struct LossValue<B: Backend>(pub Tensor<B, 1>);

impl<B: Backend> Adaptor<LossValue<B>> for ClassificationOutput<B> {
    fn adapt(&self) -> LossValue<B> {
        LossValue(self.loss.clone())
    }
}

/// A training "metric" that checks every loss and interrupts the run at the first NaN/inf,
/// recording where. burn-train runs metrics on a background thread, so the run stops an
/// iteration or so later; over nodes the interrupter given is a [`crate::nodes::StopVote`]'s
/// request, which stops every node after the same step.
#[derive(Clone)]
pub struct DivergenceGuard<B: Backend> {
    interrupter: Interrupter,
    train: bool,
    seen: Arc<Mutex<Option<Divergence>>>,
    name: MetricName,
    _backend: PhantomData<fn() -> B>,
}

impl<B: Backend> DivergenceGuard<B> {
    /// A guard stopping `interrupter`, and the shared slot where it records the divergence.
    pub fn new(interrupter: Interrupter) -> (Self, Arc<Mutex<Option<Divergence>>>) {
        let seen = Arc::new(Mutex::new(None));
        let guard = Self {
            interrupter,
            train: true,
            seen: seen.clone(),
            name: Arc::new("Divergence".to_string()),
            _backend: PhantomData,
        };
        (guard, seen)
    }

    /// The same guard, for validation losses.
    pub fn for_validation(&self) -> Self {
        Self {
            train: false,
            ..self.clone()
        }
    }
}

impl<B: Backend> Metric for DivergenceGuard<B> {
    type Input = LossValue<B>;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(&mut self, item: &LossValue<B>, metadata: &MetricMetadata) -> SerializedEntry {
        let loss = item
            .0
            .clone()
            .into_data()
            .iter::<f64>()
            .next()
            .unwrap_or(f64::NAN);
        if !loss.is_finite() {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.is_none() {
                let divergence = Divergence {
                    epoch: metadata.global_progress.items_processed,
                    iteration: metadata.iteration.unwrap_or(0),
                    loss: loss.to_string(),
                    train: self.train,
                    across_nodes: None,
                };
                self.interrupter.stop(Some(&divergence.to_string()));
                *seen = Some(divergence);
            }
            return SerializedEntry::new("diverged".into(), "1".into());
        }
        SerializedEntry::new("ok".into(), "0".into())
    }

    fn clear(&mut self) {}
}

/// Plain progress lines: five per training epoch, one per validation epoch.
#[derive(Default)]
pub struct LineRenderer {
    prefix: String,
    names: HashMap<String, String>,
    train: Vec<(String, String)>,
    valid: Vec<(String, String)>,
    last_reported: Option<(usize, usize)>,
    /// When the first progress was seen, and how far training was then (fraction of all
    /// epochs): the time left is extrapolated from the progress since.
    started: Option<(Instant, f64)>,
}

impl LineRenderer {
    /// A renderer prefixing its lines with `prefix` (e.g. the run's name).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    fn store(&mut self, state: MetricState, valid: bool) {
        let entry = match state {
            MetricState::Generic(entry) | MetricState::Numeric(entry, _) => entry,
        };
        let id = format!("{:?}", entry.metric_id);
        let name = self.names.get(&id).cloned().unwrap_or(id);
        if name == "Divergence" {
            return;
        }
        let list = if valid {
            &mut self.valid
        } else {
            &mut self.train
        };
        // Burn formats numeric metrics as "epoch <running mean> - batch <current>".
        let text = entry.serialized_entry.formatted;
        let running = text.split(" - batch").next().unwrap_or(&text);
        let formatted = format!(
            "{} {}",
            name.to_lowercase(),
            running.trim_start_matches("epoch ")
        );
        match list.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = formatted,
            None => list.push((name, formatted)),
        }
    }

    fn line(&self, split: &str, item: &TrainingProgress, values: &[(String, String)]) {
        let epoch = &item.global_progress;
        let within = item
            .progress
            .as_ref()
            .map(|p| format!(" {:>3}%", 100 * p.items_processed / p.items_total.max(1)))
            .unwrap_or_default();
        let metrics: Vec<&str> = values.iter().map(|(_, v)| v.as_str()).collect();
        let eta = match (split, self.time_left(item)) {
            ("train", Some(left)) => format!("  ETA {}", duration_text(left)),
            _ => String::new(),
        };
        println!(
            "{}epoch {}/{} {split}{within}  {}{eta}",
            self.prefix,
            epoch.items_processed,
            epoch.items_total,
            metrics.join("  ")
        );
        std::io::stdout().flush().ok();
    }

    /// The fraction of the whole run done at `item` (epochs count from 1).
    fn done(item: &TrainingProgress) -> f64 {
        let epochs = item.global_progress.items_total.max(1) as f64;
        let within = item.progress.as_ref().map_or(0.0, |p| {
            p.items_processed as f64 / p.items_total.max(1) as f64
        });
        ((item.global_progress.items_processed.max(1) - 1) as f64 + within) / epochs
    }

    /// Seconds left: the time since the first progress line, over the progress since, times
    /// what remains (validation included, as it is in the time measured).
    fn time_left(&self, item: &TrainingProgress) -> Option<f64> {
        let (start, from) = self.started?;
        let now = Self::done(item);
        (now > from).then(|| start.elapsed().as_secs_f64() / (now - from) * (1.0 - now))
    }

    fn due(&mut self, item: &TrainingProgress) -> bool {
        let Some(p) = &item.progress else {
            return false;
        };
        let fifth = (5 * p.items_processed / p.items_total.max(1)).min(5);
        let key = (item.global_progress.items_processed, fifth);
        if fifth == 0 || self.last_reported == Some(key) {
            return false;
        }
        self.last_reported = Some(key);
        true
    }
}

impl MetricsRendererTraining for LineRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.store(state, false);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.store(state, true);
    }

    fn render_train(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        if self.started.is_none() {
            self.started = Some((Instant::now(), Self::done(&item)));
        }
        if self.due(&item) {
            self.line("train", &item, &self.train);
        }
    }

    fn render_valid(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        if let Some(p) = &item.progress
            && p.items_processed >= p.items_total
        {
            self.line("valid", &item, &self.valid);
        }
    }

    fn on_train_end(
        &mut self,
        _summary: Option<burn::train::LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for LineRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn render_test(&mut self, _item: EvaluationProgress, _indicators: Vec<ProgressType>) {}
}

impl MetricsRenderer for LineRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(format!("{:?}", definition.metric_id), definition.name);
    }
}
