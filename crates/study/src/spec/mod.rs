//! Optimizer specs: `sgd`, `adam`, `adamw`, `rmsprop`, `radam`, `ranger` and
//! `lookahead(<inner>, k=5, alpha=0.5, keep|reset|pullback|zero-moments[, theta1])`, parsed from
//! text and validated: the grammar and every default, in one place. The training side
//! (`experiments`) builds a Burn optimizer from an [`OptimizerSpec`]; a report only reads it.

mod grammar;
mod inner;

use std::fmt;

use thiserror::Error;

use grammar::{Args, Call, Parser};
pub use inner::{
    INNER_OPTIMIZERS, InnerDecl, InnerSpec, MomentBuffer, Value, declaration, grammar_help,
    inner_words,
};

/// The longest spec (the longest meaningful one is under 200 bytes).
pub const MAX_SPEC_LEN: usize = 1024;

/// A spec that cannot be parsed or built.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("optimizer spec `{}`: {message}", crate::input::shown(spec))]
pub struct SpecError {
    /// The spec as written.
    pub spec: String,
    /// What is wrong (naming the field where one is at fault).
    pub message: String,
}

/// What happens to the inner optimizer's state at each sync (spec words `keep`, `reset`,
/// `pullback`, `zero-moments`); `lookahead-optim`'s `InnerStatePolicy` documents each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatePolicy {
    /// The state is left as it is (the paper's default).
    Keep,
    /// The state is discarded: the inner optimizer restarts.
    Reset,
    /// First moments interpolated like the weights.
    Pullback,
    /// Moments zeroed, step counts kept (the seed study's "reset").
    ZeroMoments,
}

/// Where the slow weights start: θ0 (default) or θ1 (spec word `theta1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowStart {
    /// θ0, the weights before the first inner step.
    Initial,
    /// θ1, the weights after the first inner step (the seed study's lazily created copies).
    AfterFirstStep,
}

/// Lookahead's default k (`lookahead-optim`'s `LookaheadConfig`; a test there keeps them equal).
pub const LOOKAHEAD_K: usize = 5;
/// Lookahead's default α (`lookahead-optim`'s `LookaheadConfig`).
pub const LOOKAHEAD_ALPHA: f64 = 0.5;

/// `ranger`: Lookahead over RAdam with fastai's defaults (`lookahead-optim`'s `RangerConfig`;
/// `experiments` tests that they agree).
pub struct RangerDefaults {
    /// k.
    pub k: usize,
    /// α.
    pub alpha: f64,
    /// The inner RAdam.
    pub inner: InnerSpec,
}

/// fastai's `ranger`: k = 6, α = 0.5, β = (0.95, 0.99), ε = 1e-6, decoupled weight decay 0.01.
pub const RANGER: RangerDefaults = RangerDefaults {
    k: 6,
    alpha: 0.5,
    inner: InnerSpec::RAdam {
        beta_1: 0.95,
        beta_2: 0.99,
        epsilon: 1e-6,
        weight_decay: 0.01,
    },
};

/// An optimizer spec: an inner optimizer alone, or Lookahead over one. It reads and writes
/// (`FromStr`, `Display`, serde) as the spec text, e.g. `lookahead(sgd,k=5,alpha=0.5,reset)`.
#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerSpec {
    /// The inner optimizer alone.
    Plain(InnerSpec),
    /// Lookahead over the inner optimizer.
    Lookahead {
        /// The inner optimizer.
        inner: InnerSpec,
        /// Steps between syncs.
        k: usize,
        /// Slow-weight step size.
        alpha: f64,
        /// Inner-state policy at each sync.
        policy: StatePolicy,
        /// Where the slow weights start: θ0 (default) or θ1 (spec word `theta1`: the seed
        /// study's lazily created slow copies, so the first sync spans k − 1 steps).
        slow_start: SlowStart,
    },
}

/// The spec word for slow weights that start after the first inner step
/// ([`SlowStart::AfterFirstStep`]).
const THETA1: &str = "theta1";

/// The spec word of an inner-state policy (what [`policy`] reads).
fn policy_name(policy: StatePolicy) -> &'static str {
    match policy {
        StatePolicy::Keep => "keep",
        StatePolicy::Reset => "reset",
        StatePolicy::Pullback => "pullback",
        StatePolicy::ZeroMoments => "zero-moments",
    }
}

fn policy(words: &[String]) -> Result<StatePolicy, String> {
    match words {
        [] => Ok(StatePolicy::Keep),
        [w] => match w.as_str() {
            "keep" => Ok(StatePolicy::Keep),
            "reset" => Ok(StatePolicy::Reset),
            "pullback" => Ok(StatePolicy::Pullback),
            "zero-moments" => Ok(StatePolicy::ZeroMoments),
            other => Err(format!(
                "unknown inner-state policy `{other}` (keep, reset, pullback or zero-moments)"
            )),
        },
        _ => Err(format!(
            "several inner-state policies: {}",
            words.join(", ")
        )),
    }
}

impl std::str::FromStr for OptimizerSpec {
    type Err = SpecError;
    fn from_str(text: &str) -> Result<Self, SpecError> {
        Self::parse(text)
    }
}

crate::serde_as_text!(OptimizerSpec);

/// `lookahead(<inner>, k=…, alpha=…, <policy>, theta1)` or `ranger(k=…, alpha=…)`.
fn lookahead_call(call: &Call) -> Result<OptimizerSpec, String> {
    let a = &call.args;
    a.only(&call.name, &["k", "alpha"])?;
    let ranger = call.name == "ranger";
    let inner = if ranger {
        if !a.calls.is_empty() || a.words.iter().any(|w| declaration(w).is_some()) {
            return Err("ranger takes no inner optimizer (it is lookahead(radam(...)))".into());
        }
        RANGER.inner
    } else {
        inner_of(a)?
    };
    let words: Vec<String> = a
        .words
        .iter()
        .filter(|w| declaration(w).is_none() && *w != THETA1)
        .cloned()
        .collect();
    let slow_start = if a.words.iter().any(|w| w == THETA1) {
        SlowStart::AfterFirstStep
    } else {
        SlowStart::Initial
    };
    let (k_default, alpha_default) = if ranger {
        (RANGER.k, RANGER.alpha)
    } else {
        (LOOKAHEAD_K, LOOKAHEAD_ALPHA)
    };
    let k = a.number("k", k_default as f64)?;
    if k.fract() != 0.0 || k < 0.0 {
        return Err(format!("`k` = {k}: must be a whole number"));
    }
    if k > MAX_K {
        return Err(format!("`k` = {k}: must be at most {MAX_K}"));
    }
    Ok(OptimizerSpec::Lookahead {
        inner,
        k: k as usize,
        alpha: a.number("alpha", alpha_default)?,
        policy: policy(&words)?,
        slow_start,
    })
}

/// Lookahead's one inner optimizer, given as a call (`sgd(momentum=0.9)`) or a bare word.
fn inner_of(a: &Args) -> Result<InnerSpec, String> {
    let words: Vec<&String> = a
        .words
        .iter()
        .filter(|w| declaration(w).is_some())
        .collect();
    match (&a.calls[..], &words[..]) {
        ([inner], []) => InnerSpec::from_call(inner),
        ([], [word]) => InnerSpec::from_call(&Call {
            name: (*word).clone(),
            args: Args::default(),
        }),
        ([], []) => Err("lookahead needs an inner optimizer, e.g. lookahead(sgd)".into()),
        _ => Err("lookahead takes one inner optimizer".into()),
    }
}

/// The largest k a spec accepts: a million inner steps per sync is already no Lookahead.
const MAX_K: f64 = 1e6;

impl OptimizerSpec {
    /// `sgd(momentum=0.9)`, the default of a run.
    pub fn sgd_momentum() -> Self {
        OptimizerSpec::Plain(InnerSpec::Sgd {
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        })
    }

    /// Parses and validates a spec.
    ///
    /// ```
    /// use study::spec::OptimizerSpec;
    /// let spec = OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=5, alpha=0.5, reset)").unwrap();
    /// assert_eq!(spec.to_string(), "lookahead(sgd,k=5,alpha=0.5,reset)");
    /// assert!(OptimizerSpec::parse("lookahead(sgd, k=0)").unwrap_err().to_string().contains("`k`"));
    /// ```
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let fail = |message: String| SpecError {
            spec: text.to_string(),
            message,
        };
        if text.len() > MAX_SPEC_LEN {
            return Err(fail(format!("longer than {MAX_SPEC_LEN} bytes")));
        }
        let mut parser = Parser { text, pos: 0 };
        let call = parser.call().map_err(fail)?;
        parser.skip_ws();
        if parser.pos != text.len() {
            let rest = crate::input::shown(&text[parser.pos..]);
            return Err(fail(format!("unexpected `{rest}`")));
        }
        let spec = match call.name.as_str() {
            "lookahead" | "ranger" => lookahead_call(&call).map_err(fail)?,
            _ => OptimizerSpec::Plain(InnerSpec::from_call(&call).map_err(fail)?),
        };
        spec.lookahead().check().map_err(fail)?;
        Ok(spec)
    }

    /// Replaces the inner optimizer's weight decay (the `weight_decay` field of a run's config).
    pub fn set_weight_decay(&mut self, wd: f64) {
        let (OptimizerSpec::Plain(inner) | OptimizerSpec::Lookahead { inner, .. }) = self;
        *inner = inner.with_weight_decay(wd);
    }

    /// The inner optimizer.
    pub fn inner(&self) -> &InnerSpec {
        match self {
            OptimizerSpec::Plain(inner) | OptimizerSpec::Lookahead { inner, .. } => inner,
        }
    }

    /// Lookahead's k, α, policy and slow start (k = 1, α = 1, Keep, θ0 for a plain
    /// optimizer: bit-identical to the inner optimizer alone).
    pub fn lookahead(&self) -> LookaheadSpec {
        match self {
            OptimizerSpec::Plain(_) => LookaheadSpec {
                k: 1,
                alpha: 1.0,
                policy: StatePolicy::Keep,
                slow_start: SlowStart::Initial,
            },
            OptimizerSpec::Lookahead {
                k,
                alpha,
                policy,
                slow_start,
                ..
            } => LookaheadSpec {
                k: *k,
                alpha: *alpha,
                policy: *policy,
                slow_start: *slow_start,
            },
        }
    }
}

/// Lookahead's settings of a spec, as [`OptimizerSpec::lookahead`] gives them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookaheadSpec {
    /// Steps between syncs.
    pub k: usize,
    /// Slow-weight step size.
    pub alpha: f64,
    /// Inner-state policy at each sync.
    pub policy: StatePolicy,
    /// Where the slow weights start.
    pub slow_start: SlowStart,
}

impl LookaheadSpec {
    /// Checks `k ≥ 1` and `0 < α ≤ 1` (`lookahead-optim`'s rule), naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.k == 0 {
            return Err("invalid `k` = 0: must be at least 1".into());
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(format!(
                "invalid `alpha` = {}: must satisfy 0 < alpha <= 1",
                self.alpha
            ));
        }
        Ok(())
    }
}

impl fmt::Display for OptimizerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimizerSpec::Plain(inner) => write!(f, "{inner}"),
            OptimizerSpec::Lookahead {
                inner,
                k,
                alpha,
                policy,
                slow_start,
            } => {
                let policy = policy_name(*policy);
                let start = match slow_start {
                    SlowStart::Initial => String::new(),
                    SlowStart::AfterFirstStep => format!(",{THETA1}"),
                };
                let alpha = inner::number(*alpha);
                write!(f, "lookahead({inner},k={k},alpha={alpha},{policy}{start})")
            }
        }
    }
}
