//! Stopping every node of a multi-node run after the same optimizer step.
//!
//! burn-train updates metrics on a background thread (`AsyncProcessorTraining`), so a
//! [`DivergenceGuard`](crate::monitor::DivergenceGuard) that stops the training loop itself does
//! so an iteration or two after the non-finite loss, at a moment that differs between
//! processes. One process, that is harmless; over nodes, a node that stops while the others wait
//! in the next step's all-reduce leaves them waiting until their `--node-timeout`, and node 0
//! then ends with an error instead of the diverged run's summary (seen: node 1's loss became
//! `inf` at iteration 5; node 0 failed on the broken connection and wrote no summary).
//!
//! So over nodes the guard stops a *request* ([`StopVote::request`]) that travels in the next
//! step's all-reduce as one more value, and the same exchange tells every node whether the
//! averaged gradients (and BatchNorm statistics) are finite: a non-finite loss on any node makes
//! its gradients, hence their average, non-finite in that very step. (Running statistics that
//! overflow stop the run too, often some steps before the training loss does: one process would
//! go on until its validation loss is NaN at the epoch's end, as `inf` statistics never
//! recover.) [`StopVote::decide`] runs inside the optimizer step, on every node with the same
//! [`Exchanged`], and stops burn-train's loop there, so every node breaks after the same
//! iteration and records the divergence.

use std::sync::Mutex;

use burn::train::Interrupter;

use study::run_dir::Divergence;

/// What one step's all-reduce told every node (the same on all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchanged {
    /// Every averaged value (gradients, running statistics) is finite.
    pub finite: bool,
    /// At least one node asked to stop (its divergence guard saw a non-finite loss).
    pub requested: bool,
}

/// The collective stop of one run on one node: created per run, given to the run's
/// [`RunOptimizer`](crate::optim::RunOptimizer), which calls [`Self::decide`] after each
/// step's exchange.
pub struct StopVote {
    request: Interrupter,
    learner: Interrupter,
    first_epoch: usize,
    per_epoch: usize,
    state: Mutex<VoteState>,
}

#[derive(Default)]
struct VoteState {
    steps: usize,
    seen: Option<Divergence>,
}

impl StopVote {
    /// A vote that stops `learner` (burn-train's interrupter) for a run whose first step here is
    /// the first of epoch `first_epoch` (1-based; later after `--resume`), with `per_epoch` steps
    /// an epoch.
    pub fn new(learner: Interrupter, first_epoch: usize, per_epoch: usize) -> Self {
        Self {
            request: Interrupter::new(),
            learner,
            first_epoch,
            per_epoch: per_epoch.max(1),
            state: Mutex::default(),
        }
    }

    /// The interrupter this node's divergence guard stops: a request, sent with the next step.
    pub fn request(&self) -> Interrupter {
        self.request.clone()
    }

    /// Whether this node asks to stop (sent with this step's exchange).
    pub fn requested(&self) -> bool {
        self.request.should_stop()
    }

    /// After a step's exchange: stops training on this node, as on every other, when the
    /// exchange carries a request or a non-finite value.
    pub fn decide(&self, exchanged: Exchanged) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let step = state.steps;
        state.steps += 1;
        if state.seen.is_some() {
            return;
        }
        if let Some(divergence) = verdict(exchanged, step, self.first_epoch, self.per_epoch) {
            self.learner.stop(Some(&divergence.to_string()));
            state.seen = Some(divergence);
        }
    }

    /// The divergence the nodes agreed on, if any.
    pub fn divergence(&self) -> Option<Divergence> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.seen.clone()
    }
}

/// The divergence that step `step` (0-based, counted from `first_epoch`'s first step) of an
/// exchange shows, if any.
fn verdict(
    exchanged: Exchanged,
    step: usize,
    first_epoch: usize,
    per_epoch: usize,
) -> Option<Divergence> {
    let what = match exchanged {
        Exchanged { finite: false, .. } => {
            "the gradients or BatchNorm statistics averaged over the nodes are not finite"
        }
        Exchanged {
            requested: true, ..
        } => "a node saw a non-finite loss",
        _ => return None,
    };
    Some(Divergence {
        epoch: first_epoch + step / per_epoch,
        iteration: step % per_epoch + 1,
        loss: "-".into(),
        train: true,
        across_nodes: Some(what.into()),
    })
}

/// The divergence a node records: its own training loss's if it saw one (the most precise),
/// else the one the nodes agreed on, else its own validation loss's.
pub fn recorded(own: Option<Divergence>, agreed: Option<Divergence>) -> Option<Divergence> {
    match own {
        Some(own) if own.train => Some(own),
        own => agreed.or(own),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchanged(finite: bool, requested: bool) -> Exchanged {
        Exchanged { finite, requested }
    }

    #[test]
    fn a_non_finite_average_or_a_request_stops_at_that_step() {
        let learner = Interrupter::new();
        // Resumed at epoch 3, four steps an epoch: the sixth step is epoch 4, iteration 2.
        let vote = StopVote::new(learner.clone(), 3, 4);
        for _ in 0..5 {
            vote.decide(exchanged(true, false));
        }
        assert!(!learner.should_stop() && vote.divergence().is_none());
        vote.decide(exchanged(false, false));
        assert!(learner.should_stop());
        let seen = vote.divergence().unwrap();
        assert_eq!((seen.epoch, seen.iteration), (4, 2));
        assert_eq!(
            seen.to_string(),
            "diverged: the gradients or BatchNorm statistics averaged over the nodes are not \
             finite at epoch 4, iteration 2 (every node stopped after this step)"
        );
        // Later steps keep the first record.
        vote.decide(exchanged(true, true));
        assert_eq!(vote.divergence().unwrap(), seen);

        let vote = StopVote::new(Interrupter::new(), 1, 10);
        assert!(!vote.requested());
        vote.request().stop(None);
        assert!(vote.requested());
        vote.decide(exchanged(true, true));
        let seen = vote.divergence().unwrap();
        assert_eq!((seen.epoch, seen.iteration), (1, 1));
        assert!(seen.to_string().contains("a node saw a non-finite loss"));
    }

    #[test]
    fn a_node_records_its_own_training_loss_first() {
        let at = |iteration, train, across: Option<&str>| Divergence {
            epoch: 1,
            iteration,
            loss: "NaN".into(),
            train,
            across_nodes: across.map(String::from),
        };
        let own_train = at(5, true, None);
        let own_valid = at(2, false, None);
        let agreed = at(5, true, Some("a node saw a non-finite loss"));
        assert_eq!(
            recorded(Some(own_train.clone()), Some(agreed.clone())),
            Some(own_train)
        );
        assert_eq!(
            recorded(Some(own_valid.clone()), Some(agreed.clone())),
            Some(agreed.clone())
        );
        assert_eq!(recorded(Some(own_valid.clone()), None), Some(own_valid));
        assert_eq!(recorded(None, Some(agreed.clone())), Some(agreed));
        assert_eq!(recorded(None, None), None);
    }
}
