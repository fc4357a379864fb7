//! Optimizer specs: `sgd`, `adam`, `adamw`, `rmsprop`, `radam`, `ranger` and
//! `lookahead(<inner>, k=5, alpha=0.5, keep|reset|pullback|zero-moments[, theta1])`, parsed from
//! text, validated, and built into one concrete Burn optimizer type.
//!
//! Every spec builds `Lookahead<AnyInner>`: a plain inner optimizer is Lookahead with k = 1,
//! α = 1 and Keep, which is bit-identical to the inner optimizer (see `lookahead-optim`), so a
//! suite mixing all optimizers trains one optimizer type.

use std::fmt;

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, RmsPropConfig, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use lookahead_optim::{
    InnerStatePolicy, Lookahead, LookaheadConfig, RAdamConfig, RangerConfig, SlowStart,
};
use thiserror::Error;

use crate::any_optim::{AnyInner, InnerOptim};
use crate::hyper::ScheduledMomentum;

/// The Burn optimizer every spec builds: Lookahead over [`AnyInner`], adapted for module `M`.
pub type StudyOptimizer<M, B> =
    OptimizerAdaptor<Lookahead<AnyInner<<B as AutodiffBackend>::InnerBackend>>, M, B>;

/// A spec that cannot be parsed or built.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("optimizer spec `{spec}`: {message}")]
pub struct SpecError {
    /// The spec as written.
    pub spec: String,
    /// What is wrong (naming the field where one is at fault).
    pub message: String,
}

/// An inner (fast) optimizer and its hyper-parameters (the learning rate comes from the schedule).
#[derive(Debug, Clone, PartialEq)]
pub enum InnerSpec {
    /// `sgd(momentum=0.9, dampening=0, nesterov=false, wd=0)`; L2 weight decay.
    Sgd {
        /// Momentum (0 = none).
        momentum: f64,
        /// Dampening.
        dampening: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// L2 weight decay.
        weight_decay: f64,
    },
    /// `adam(beta1=0.9, beta2=0.999, eps=1e-8, wd=0)`; L2 weight decay.
    Adam {
        /// β1.
        beta_1: f64,
        /// β2.
        beta_2: f64,
        /// ε.
        epsilon: f64,
        /// L2 weight decay.
        weight_decay: f64,
    },
    /// `adamw(beta1=0.9, beta2=0.999, eps=1e-8, wd=0.01)`; decoupled weight decay.
    AdamW {
        /// β1.
        beta_1: f64,
        /// β2.
        beta_2: f64,
        /// ε.
        epsilon: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
    },
    /// `rmsprop(alpha=0.99, momentum=0, eps=1e-8, centered=false, wd=0)`.
    RmsProp {
        /// Smoothing constant of the squared-gradient average.
        alpha: f64,
        /// Momentum (0 = none).
        momentum: f64,
        /// ε.
        epsilon: f64,
        /// Centred RMSProp.
        centered: bool,
        /// L2 weight decay.
        weight_decay: f64,
    },
    /// `radam(beta1=0.9, beta2=0.999, eps=1e-8, wd=0)`; decoupled weight decay.
    RAdam {
        /// β1.
        beta_1: f64,
        /// β2.
        beta_2: f64,
        /// ε.
        epsilon: f64,
        /// Decoupled weight decay.
        weight_decay: f64,
    },
}

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
        policy: InnerStatePolicy,
        /// Where the slow weights start: θ0 (default) or θ1 (spec word `theta1`: the seed
        /// study's lazily created slow copies, so the first sync spans k − 1 steps).
        slow_start: SlowStart,
    },
}

/// Key/value arguments and bare words of one `name(...)` call.
#[derive(Debug, Default)]
struct Args {
    values: Vec<(String, String)>,
    words: Vec<String>,
    calls: Vec<Call>,
}

#[derive(Debug)]
struct Call {
    name: String,
    args: Args,
}

/// A tiny recursive-descent parser over `name(arg, key=value, word, name(...))`.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Result<String, String> {
        self.skip_ws();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '+')))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(format!("expected a name or value at position {}", self.pos));
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.text[self.pos..].starts_with(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn call(&mut self) -> Result<Call, String> {
        let name = self.token()?.to_lowercase();
        let mut args = Args::default();
        if self.eat('(') && !self.eat(')') {
            loop {
                let word = self.token()?;
                if self.eat('=') {
                    args.values.push((word.to_lowercase(), self.token()?));
                } else if self.text[self.pos..].trim_start().starts_with('(') {
                    self.pos -= word.len();
                    args.calls.push(self.call()?);
                } else {
                    args.words.push(word.to_lowercase());
                }
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    return Err(format!("expected `,` or `)` at position {}", self.pos));
                }
            }
        }
        Ok(Call { name, args })
    }
}

impl Args {
    /// The value of `key` parsed as `T`, or `default` when absent; `expected` describes `T`.
    fn parsed<T: std::str::FromStr>(
        &self,
        key: &str,
        default: T,
        expected: &str,
    ) -> Result<T, String> {
        match self.values.iter().find(|(k, _)| k == key) {
            None => Ok(default),
            Some((_, v)) => v.parse().map_err(|_| format!("`{key}` = {v}: {expected}")),
        }
    }

    fn number(&self, key: &str, default: f64) -> Result<f64, String> {
        self.parsed(key, default, "not a number")
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        self.parsed(key, default, "expected true or false")
    }

    fn only(&self, name: &str, keys: &[&str]) -> Result<(), String> {
        if let Some((k, _)) = self
            .values
            .iter()
            .find(|(k, _)| !keys.contains(&k.as_str()))
        {
            return Err(format!(
                "unknown parameter `{k}` for {name} (known: {})",
                keys.join(", ")
            ));
        }
        Ok(())
    }
}

const INNER: &str = "sgd, adam, adamw, rmsprop, radam";

fn inner_spec(call: &Call) -> Result<InnerSpec, String> {
    let a = &call.args;
    if matches!(call.name.as_str(), "lookahead" | "ranger") {
        return Err(format!("{} cannot be an inner optimizer", call.name));
    }
    if let Some(word) = a.words.first() {
        return Err(format!("unexpected `{word}` in {}(...)", call.name));
    }
    if !a.calls.is_empty() {
        return Err(format!("{} takes no optimizer argument", call.name));
    }
    let adam_keys = ["beta1", "beta2", "eps", "wd"];
    Ok(match call.name.as_str() {
        "sgd" => {
            a.only("sgd", &["momentum", "dampening", "nesterov", "wd"])?;
            InnerSpec::Sgd {
                momentum: a.number("momentum", 0.9)?,
                dampening: a.number("dampening", 0.0)?,
                nesterov: a.flag("nesterov", false)?,
                weight_decay: a.number("wd", 0.0)?,
            }
        }
        "adam" | "adamw" | "radam" => {
            a.only(&call.name, &adam_keys)?;
            let (beta_1, beta_2, epsilon) = (
                a.number("beta1", 0.9)?,
                a.number("beta2", 0.999)?,
                a.number("eps", 1e-8)?,
            );
            match call.name.as_str() {
                "adam" => InnerSpec::Adam {
                    beta_1,
                    beta_2,
                    epsilon,
                    weight_decay: a.number("wd", 0.0)?,
                },
                "adamw" => InnerSpec::AdamW {
                    beta_1,
                    beta_2,
                    epsilon,
                    weight_decay: a.number("wd", 0.01)?,
                },
                _ => InnerSpec::RAdam {
                    beta_1,
                    beta_2,
                    epsilon,
                    weight_decay: a.number("wd", 0.0)?,
                },
            }
        }
        "rmsprop" => {
            a.only("rmsprop", &["alpha", "momentum", "eps", "centered", "wd"])?;
            InnerSpec::RmsProp {
                alpha: a.number("alpha", 0.99)?,
                momentum: a.number("momentum", 0.0)?,
                epsilon: a.number("eps", 1e-8)?,
                centered: a.flag("centered", false)?,
                weight_decay: a.number("wd", 0.0)?,
            }
        }
        other => {
            return Err(format!(
                "unknown optimizer `{other}` (known: {INNER}, ranger, lookahead)"
            ));
        }
    })
}

/// The spec word for slow weights that start after the first inner step
/// ([`SlowStart::AfterFirstStep`]).
const THETA1: &str = "theta1";

/// The spec word of an inner-state policy (what [`policy`] reads).
fn policy_name(policy: InnerStatePolicy) -> &'static str {
    match policy {
        InnerStatePolicy::Keep => "keep",
        InnerStatePolicy::Reset => "reset",
        InnerStatePolicy::Pullback => "pullback",
        InnerStatePolicy::ZeroMoments => "zero-moments",
    }
}

fn policy(words: &[String]) -> Result<InnerStatePolicy, String> {
    match words {
        [] => Ok(InnerStatePolicy::Keep),
        [w] => match w.as_str() {
            "keep" => Ok(InnerStatePolicy::Keep),
            "reset" => Ok(InnerStatePolicy::Reset),
            "pullback" => Ok(InnerStatePolicy::Pullback),
            "zero-moments" => Ok(InnerStatePolicy::ZeroMoments),
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
    /// use experiments::spec::OptimizerSpec;
    /// let spec = OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=5, alpha=0.5, reset)").unwrap();
    /// assert_eq!(spec.to_string(), "lookahead(sgd,k=5,alpha=0.5,reset)");
    /// assert!(OptimizerSpec::parse("lookahead(sgd, k=0)").unwrap_err().to_string().contains("`k`"));
    /// ```
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let fail = |message: String| SpecError {
            spec: text.to_string(),
            message,
        };
        let mut parser = Parser { text, pos: 0 };
        let call = parser.call().map_err(fail)?;
        parser.skip_ws();
        if parser.pos != text.len() {
            return Err(fail(format!("unexpected `{}`", &text[parser.pos..])));
        }
        let spec = match call.name.as_str() {
            "lookahead" | "ranger" => {
                let a = &call.args;
                a.only(&call.name, &["k", "alpha"]).map_err(fail)?;
                let ranger = call.name == "ranger";
                let inner = if ranger {
                    if !a.calls.is_empty() {
                        return Err(fail(
                            "ranger takes no inner optimizer (it is lookahead(radam(...)))".into(),
                        ));
                    }
                    let ranger = RangerConfig::new();
                    InnerSpec::RAdam {
                        beta_1: ranger.beta_1,
                        beta_2: ranger.beta_2,
                        epsilon: ranger.epsilon,
                        weight_decay: ranger.weight_decay,
                    }
                } else {
                    match (&a.calls[..], a.words.first()) {
                        ([inner], _) => inner_spec(inner).map_err(fail)?,
                        ([], Some(word)) if INNER.split(", ").any(|n| n == word) => {
                            inner_spec(&Call {
                                name: word.clone(),
                                args: Args::default(),
                            })
                            .map_err(fail)?
                        }
                        ([], _) => {
                            return Err(fail(
                                "lookahead needs an inner optimizer, e.g. lookahead(sgd)".into(),
                            ));
                        }
                        _ => return Err(fail("lookahead takes one inner optimizer".into())),
                    }
                };
                let words: Vec<String> = a
                    .words
                    .iter()
                    .filter(|w| !INNER.split(", ").any(|n| n == *w) && *w != THETA1)
                    .cloned()
                    .collect();
                let slow_start = if a.words.iter().any(|w| w == THETA1) {
                    SlowStart::AfterFirstStep
                } else {
                    SlowStart::Initial
                };
                // Ranger's k and α default to `RangerConfig`'s, Lookahead's to `LookaheadConfig`'s.
                let (k_default, alpha_default) = if ranger {
                    let r = RangerConfig::new();
                    (r.k, r.alpha)
                } else {
                    let l = LookaheadConfig::new();
                    (l.k, l.alpha)
                };
                let k = a.number("k", k_default as f64).map_err(fail)?;
                if k.fract() != 0.0 || k < 0.0 {
                    return Err(fail(format!("`k` = {k}: must be a whole number")));
                }
                OptimizerSpec::Lookahead {
                    inner,
                    k: k as usize,
                    alpha: a.number("alpha", alpha_default).map_err(fail)?,
                    policy: policy(&words).map_err(fail)?,
                    slow_start,
                }
            }
            _ => OptimizerSpec::Plain(inner_spec(&call).map_err(fail)?),
        };
        spec.lookahead_config()
            .validate()
            .map_err(|e| fail(e.to_string()))?;
        Ok(spec)
    }

    /// Replaces the inner optimizer's weight decay (the `weight_decay` field of a run's config).
    pub fn set_weight_decay(&mut self, wd: f64) {
        let (OptimizerSpec::Plain(inner) | OptimizerSpec::Lookahead { inner, .. }) = self;
        match inner {
            InnerSpec::Sgd { weight_decay, .. }
            | InnerSpec::Adam { weight_decay, .. }
            | InnerSpec::AdamW { weight_decay, .. }
            | InnerSpec::RmsProp { weight_decay, .. }
            | InnerSpec::RAdam { weight_decay, .. } => *weight_decay = wd,
        }
    }

    /// The inner optimizer.
    pub fn inner(&self) -> &InnerSpec {
        match self {
            OptimizerSpec::Plain(inner) | OptimizerSpec::Lookahead { inner, .. } => inner,
        }
    }

    /// The Lookahead configuration (k = 1, α = 1, Keep for a plain optimizer).
    pub fn lookahead_config(&self) -> LookaheadConfig {
        match self {
            OptimizerSpec::Plain(_) => LookaheadConfig::new().with_k(1).with_alpha(1.0),
            OptimizerSpec::Lookahead {
                k,
                alpha,
                policy,
                slow_start,
                ..
            } => LookaheadConfig::new()
                .with_k(*k)
                .with_alpha(*alpha)
                .with_inner_state(*policy)
                .with_slow_start(Some(*slow_start)),
        }
    }

    /// Builds the Burn optimizer for module `M` (refusing, e.g., Pullback without momentum).
    pub fn build<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<StudyOptimizer<M, B>, SpecError> {
        self.build_with(&StepExtras::default())
    }

    /// [`build`](Self::build) with a schedule-driven momentum and/or fastai's true weight
    /// decay (see [`AnyInner`]).
    pub fn build_with<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        extras: &StepExtras,
    ) -> Result<StudyOptimizer<M, B>, SpecError> {
        let fail = |message: String| SpecError {
            spec: self.to_string(),
            message,
        };
        let inner = AnyInner::new(
            self.inner(),
            extras.momentum.clone(),
            extras.true_weight_decay,
        )
        .map_err(fail)?;
        self.lookahead_config()
            .init(inner)
            .map_err(|e| fail(e.to_string()))
    }

    /// The inner optimizer alone, adapted directly by Burn's [`OptimizerAdaptor`] (no Lookahead
    /// wrapper): the bare baseline of `experiments throughput`.
    pub fn build_bare<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
    ) -> Result<OptimizerAdaptor<AnyInner<B::InnerBackend>, M, B>, SpecError> {
        let inner = AnyInner::new(self.inner(), None, None).map_err(|message| SpecError {
            spec: self.to_string(),
            message,
        })?;
        Ok(OptimizerAdaptor::from(inner))
    }
}

/// What a run adds to every inner step besides its spec (both off by default).
#[derive(Debug, Clone, Default)]
pub struct StepExtras {
    /// The momentum the schedule sets before each step (fastai's `moms`).
    pub momentum: Option<ScheduledMomentum>,
    /// fastai v1's true weight decay: every parameter × (1 − wd·lr) before each step.
    pub true_weight_decay: Option<f64>,
}

/// The Burn (or this project's) optimizer of an inner spec.
pub(crate) fn build_inner<B: Backend>(spec: &InnerSpec) -> Result<InnerOptim<B>, String> {
    let l2 = |wd: f64| (wd > 0.0).then(|| WeightDecayConfig::new(wd as f32));
    Ok(match *spec {
        InnerSpec::Sgd {
            momentum,
            dampening,
            nesterov,
            weight_decay,
        } => {
            let momentum = (momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(dampening)
                    .with_nesterov(nesterov)
            });
            InnerOptim::Sgd {
                momentum: momentum.is_some(),
                optim: SgdConfig::new()
                    .with_momentum(momentum)
                    .with_weight_decay(l2(weight_decay))
                    .build(),
            }
        }
        InnerSpec::Adam {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => InnerOptim::Adam(
            AdamConfig::new()
                .with_beta_1(beta_1 as f32)
                .with_beta_2(beta_2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(l2(weight_decay))
                .build(),
        ),
        InnerSpec::AdamW {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => InnerOptim::AdamW(
            AdamWConfig::new()
                .with_beta_1(beta_1 as f32)
                .with_beta_2(beta_2 as f32)
                .with_epsilon(epsilon as f32)
                .with_weight_decay(weight_decay as f32)
                .build(),
        ),
        InnerSpec::RmsProp {
            alpha,
            momentum,
            epsilon,
            centered,
            weight_decay,
        } => InnerOptim::RmsProp {
            // Burn's RMSProp keeps a momentum buffer only for momentum > 0.
            momentum: momentum as f32 > 0.0,
            optim: RmsPropConfig::new()
                .with_alpha(alpha as f32)
                .with_momentum(momentum as f32)
                .with_epsilon(epsilon as f32)
                .with_centered(centered)
                .with_weight_decay(l2(weight_decay))
                .build(),
        },
        InnerSpec::RAdam {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } => InnerOptim::RAdam(
            RAdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .with_weight_decay(weight_decay)
                .build()
                .map_err(|e| e.to_string())?,
        ),
    })
}

impl InnerSpec {
    /// This spec with its momentum replaced: SGD's and RMSProp's `momentum`, Adam's, AdamW's
    /// and RAdam's β1 (what fastai's `moms` set: `momentum`, else `betas[0]`).
    pub fn with_momentum(&self, value: f64) -> InnerSpec {
        let mut spec = self.clone();
        match &mut spec {
            InnerSpec::Sgd { momentum, .. } | InnerSpec::RmsProp { momentum, .. } => {
                *momentum = value
            }
            InnerSpec::Adam { beta_1, .. }
            | InnerSpec::AdamW { beta_1, .. }
            | InnerSpec::RAdam { beta_1, .. } => *beta_1 = value,
        }
        spec
    }

    /// The optimizer's name and every parameter, as written in a spec.
    fn params(&self) -> (&'static str, Vec<(&'static str, String)>) {
        let s = |v: f64| v.to_string();
        match *self {
            InnerSpec::Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => (
                "sgd",
                vec![
                    ("momentum", s(momentum)),
                    ("dampening", s(dampening)),
                    ("nesterov", nesterov.to_string()),
                    ("wd", s(weight_decay)),
                ],
            ),
            InnerSpec::Adam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            }
            | InnerSpec::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            }
            | InnerSpec::RAdam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            } => {
                let name = match self {
                    InnerSpec::Adam { .. } => "adam",
                    InnerSpec::AdamW { .. } => "adamw",
                    _ => "radam",
                };
                let values = [
                    ("beta1", beta_1),
                    ("beta2", beta_2),
                    ("eps", epsilon),
                    ("wd", weight_decay),
                ];
                (name, values.iter().map(|&(k, v)| (k, s(v))).collect())
            }
            InnerSpec::RmsProp {
                alpha,
                momentum,
                epsilon,
                centered,
                weight_decay,
            } => (
                "rmsprop",
                vec![
                    ("alpha", s(alpha)),
                    ("momentum", s(momentum)),
                    ("eps", s(epsilon)),
                    ("centered", centered.to_string()),
                    ("wd", s(weight_decay)),
                ],
            ),
        }
    }
}

/// `name(k=v,...)` listing only the values that differ from the defaults (those the parser
/// gives the bare name), so that printing and parsing share one set of defaults.
impl fmt::Display for InnerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, params) = self.params();
        let bare = Call {
            name: name.to_string(),
            args: Args::default(),
        };
        let defaults = inner_spec(&bare).map(|d| d.params().1).unwrap_or_default();
        let changed: Vec<String> = params
            .iter()
            .filter(|(k, v)| !defaults.iter().any(|(dk, dv)| dk == k && dv == v))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if changed.is_empty() {
            write!(f, "{name}")
        } else {
            write!(f, "{name}({})", changed.join(","))
        }
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
                write!(f, "lookahead({inner},k={k},alpha={alpha},{policy}{start})")
            }
        }
    }
}
