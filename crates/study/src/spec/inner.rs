//! The inner optimizers of the grammar. Each is declared once, in [`INNER_OPTIMIZERS`]: its
//! spec word, its parameters in order with their defaults, the parameter fastai's `moms` sets,
//! and whether it keeps a first-moment buffer. Parsing, printing, the weight-decay and momentum
//! overrides and the Pullback check all read that table; [`InnerSpec`] is its typed form, which
//! the training side builds Burn optimizers from.

use std::fmt;

use super::grammar::Call;

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

/// A parameter's value: a number or a flag (`true`/`false`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// A flag.
    Flag(bool),
}

impl Value {
    /// The number (a flag reads as 0 or 1).
    pub fn num(self) -> f64 {
        match self {
            Value::Num(v) => v,
            Value::Flag(b) => f64::from(u8::from(b)),
        }
    }

    /// The flag (a number reads as "non-zero").
    pub fn flag(self) -> bool {
        match self {
            Value::Num(v) => v != 0.0,
            Value::Flag(b) => b,
        }
    }

    /// `text` read as a value of the same kind as `self`, or why not.
    fn parse_like(self, key: &str, text: &str) -> Result<Value, String> {
        match self {
            Value::Num(_) => {
                let v: f64 = text
                    .parse()
                    .map_err(|_| format!("`{key}` = {text}: not a number"))?;
                check_range(key, v)?;
                Ok(Value::Num(v))
            }
            Value::Flag(_) => text
                .parse()
                .map(Value::Flag)
                .map_err(|_| format!("`{key}` = {text}: expected true or false")),
        }
    }
}

/// The range of each numeric parameter of the grammar, by name: momenta, betas and RMSProp's
/// α in [0, 1), dampening in [0, 1], ε in (0, 1], weight decay in [0, 10] (beyond, every step
/// mostly decays: `1e308` diverged at once instead of being refused); every value finite.
fn check_range(key: &str, v: f64) -> Result<(), String> {
    let ok = v.is_finite()
        && match key {
            "momentum" | "beta1" | "beta2" | "alpha" => (0.0..1.0).contains(&v),
            "dampening" => (0.0..=1.0).contains(&v),
            "eps" => v > 0.0 && v <= 1.0,
            "wd" => (0.0..=10.0).contains(&v),
            _ => true,
        };
    if ok {
        return Ok(());
    }
    let range = match key {
        "momentum" | "beta1" | "beta2" | "alpha" => "in [0, 1)",
        "dampening" => "in [0, 1]",
        "eps" => "in (0, 1]",
        "wd" => "in [0, 10]",
        _ => "a finite number",
    };
    Err(format!("`{key}` = {text}: must be {range}", text = v))
}

/// A spec's number as written back: plain decimals (`0.9`, `5e-4` as `0.0005`), but in
/// scientific notation where the decimal would be long (`1e-320` has 320 digits), so that a
/// printed spec always parses back within the length limit.
pub fn number(v: f64) -> String {
    let plain = format!("{v}");
    match plain.len() > 24 {
        true => format!("{v:e}"),
        false => plain,
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Num(v) => write!(f, "{}", number(*v)),
            Value::Flag(b) => write!(f, "{b}"),
        }
    }
}

/// When an inner optimizer keeps a first-moment buffer (what Pullback and zero-moments act on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MomentBuffer {
    /// Always (Adam's, AdamW's and RAdam's `moment_1`).
    Always,
    /// Only with momentum > 0 (SGD's velocity, RMSProp's momentum buffer): Burn builds none
    /// otherwise. The text names the optimizer without one (`sgd without momentum`).
    WithMomentum(&'static str),
}

/// One inner optimizer of the grammar.
#[derive(Debug)]
pub struct InnerDecl {
    /// Its spec word.
    pub word: &'static str,
    /// Its parameters, in the order they print, with their defaults.
    pub params: &'static [(&'static str, Value)],
    /// The parameter fastai's `moms` sets at every step (`momentum`, else `betas[0]`).
    pub momentum: &'static str,
    /// When it has a first-moment buffer.
    pub buffer: MomentBuffer,
}

use Value::{Flag, Num};

/// The inner optimizers, each declared once.
pub const INNER_OPTIMIZERS: &[InnerDecl] = &[
    InnerDecl {
        word: "sgd",
        params: &[
            ("momentum", Num(0.9)),
            ("dampening", Num(0.0)),
            ("nesterov", Flag(false)),
            ("wd", Num(0.0)),
        ],
        momentum: "momentum",
        buffer: MomentBuffer::WithMomentum("sgd without momentum"),
    },
    InnerDecl {
        word: "adam",
        params: &[
            ("beta1", Num(0.9)),
            ("beta2", Num(0.999)),
            ("eps", Num(1e-8)),
            ("wd", Num(0.0)),
        ],
        momentum: "beta1",
        buffer: MomentBuffer::Always,
    },
    InnerDecl {
        word: "adamw",
        params: &[
            ("beta1", Num(0.9)),
            ("beta2", Num(0.999)),
            ("eps", Num(1e-8)),
            ("wd", Num(0.01)),
        ],
        momentum: "beta1",
        buffer: MomentBuffer::Always,
    },
    InnerDecl {
        word: "rmsprop",
        params: &[
            ("alpha", Num(0.99)),
            ("momentum", Num(0.0)),
            ("eps", Num(1e-8)),
            ("centered", Flag(false)),
            ("wd", Num(0.0)),
        ],
        momentum: "momentum",
        buffer: MomentBuffer::WithMomentum("rmsprop without momentum"),
    },
    InnerDecl {
        word: "radam",
        params: &[
            ("beta1", Num(0.9)),
            ("beta2", Num(0.999)),
            ("eps", Num(1e-8)),
            ("wd", Num(0.0)),
        ],
        momentum: "beta1",
        buffer: MomentBuffer::Always,
    },
];

/// The declaration of spec word `word`.
pub fn declaration(word: &str) -> Option<&'static InnerDecl> {
    INNER_OPTIMIZERS.iter().find(|d| d.word == word)
}

/// The optimizer grammar for `--help`, from [`INNER_OPTIMIZERS`] (each inner optimizer with its
/// parameters and defaults) and Lookahead's words.
///
/// ```
/// let help = study::spec::grammar_help();
/// assert!(help.contains("sgd(momentum=0.9, dampening=0, nesterov=false, wd=0)"));
/// assert!(help.contains("zero-moments"));
/// ```
pub fn grammar_help() -> String {
    let mut text = String::from(
        "Optimizer specs (--optimizer):\n  <inner>  or  lookahead(<inner>, k=5, alpha=0.5, \
         <policy>, theta1)  or  ranger\n  <inner>, every parameter optional (defaults shown):\n",
    );
    for d in INNER_OPTIMIZERS {
        let params: Vec<String> = d.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        text.push_str(&format!("    {}({})\n", d.word, params.join(", ")));
    }
    text.push_str(
        "  <policy>: keep (default), reset (the whole inner state), pullback (first moments \
         interpolated like the weights), zero-moments (moments zeroed, step counts kept);\n  \
         theta1: slow weights taken after the first inner step (default: before it).\n",
    );
    text
}

/// The inner optimizers' spec words, `sgd, adam, …`.
pub fn inner_words() -> String {
    let words: Vec<&str> = INNER_OPTIMIZERS.iter().map(|d| d.word).collect();
    words.join(", ")
}

/// The parameters of one inner optimizer, by name, in its declaration's order.
type Values = Vec<(&'static str, Value)>;

impl InnerSpec {
    /// The spec of `decl` with `values` (every parameter of the declaration, in order): the
    /// one place the table's words become typed variants.
    fn from_values(decl: &InnerDecl, values: &[(&str, Value)]) -> InnerSpec {
        let get = |key: &str| {
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(Value::Num(0.0), |(_, v)| *v)
        };
        let (beta_1, beta_2, epsilon, weight_decay) = (
            get("beta1").num(),
            get("beta2").num(),
            get("eps").num(),
            get("wd").num(),
        );
        match decl.word {
            "sgd" => InnerSpec::Sgd {
                momentum: get("momentum").num(),
                dampening: get("dampening").num(),
                nesterov: get("nesterov").flag(),
                weight_decay,
            },
            "adam" => InnerSpec::Adam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            },
            "adamw" => InnerSpec::AdamW {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            },
            "rmsprop" => InnerSpec::RmsProp {
                alpha: get("alpha").num(),
                momentum: get("momentum").num(),
                epsilon,
                centered: get("centered").flag(),
                weight_decay,
            },
            _ => InnerSpec::RAdam {
                beta_1,
                beta_2,
                epsilon,
                weight_decay,
            },
        }
    }

    /// This spec's declaration and values: the one place typed variants become the table's
    /// words.
    fn values(&self) -> (&'static InnerDecl, Values) {
        let (word, values): (&str, Values) = match *self {
            InnerSpec::Sgd {
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => (
                "sgd",
                vec![
                    ("momentum", Num(momentum)),
                    ("dampening", Num(dampening)),
                    ("nesterov", Flag(nesterov)),
                    ("wd", Num(weight_decay)),
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
            } => (
                match self {
                    InnerSpec::Adam { .. } => "adam",
                    InnerSpec::AdamW { .. } => "adamw",
                    _ => "radam",
                },
                vec![
                    ("beta1", Num(beta_1)),
                    ("beta2", Num(beta_2)),
                    ("eps", Num(epsilon)),
                    ("wd", Num(weight_decay)),
                ],
            ),
            InnerSpec::RmsProp {
                alpha,
                momentum,
                epsilon,
                centered,
                weight_decay,
            } => (
                "rmsprop",
                vec![
                    ("alpha", Num(alpha)),
                    ("momentum", Num(momentum)),
                    ("eps", Num(epsilon)),
                    ("centered", Flag(centered)),
                    ("wd", Num(weight_decay)),
                ],
            ),
        };
        let decl = declaration(word).unwrap_or(&INNER_OPTIMIZERS[0]);
        (decl, values)
    }

    /// The spec's declaration (spec word, parameters, momentum, buffer).
    pub fn declaration(&self) -> &'static InnerDecl {
        self.values().0
    }

    /// This spec with parameter `key` set to `value` (a key the optimizer lacks changes
    /// nothing).
    fn with(&self, key: &str, value: Value) -> InnerSpec {
        let (decl, mut values) = self.values();
        for (k, v) in &mut values {
            if *k == key {
                *v = value;
            }
        }
        Self::from_values(decl, &values)
    }

    /// This spec with its momentum replaced: SGD's and RMSProp's `momentum`, Adam's, AdamW's
    /// and RAdam's β1 (what fastai's `moms` set: `momentum`, else `betas[0]`).
    pub fn with_momentum(&self, value: f64) -> InnerSpec {
        self.with(self.declaration().momentum, Num(value))
    }

    /// This spec with its weight decay replaced.
    pub fn with_weight_decay(&self, value: f64) -> InnerSpec {
        self.with("wd", Num(value))
    }

    /// `Ok` if the optimizer keeps a first-moment buffer (what Pullback interpolates and
    /// zero-moments zeroes), else the name of what it is (`sgd without momentum`).
    pub fn first_moment(&self) -> Result<(), &'static str> {
        let (decl, values) = self.values();
        match decl.buffer {
            MomentBuffer::Always => Ok(()),
            MomentBuffer::WithMomentum(missing) => {
                // Burn's RMSProp holds its momentum as f32 (a buffer only for > 0 there).
                let has = values
                    .iter()
                    .any(|&(k, v)| k == decl.momentum && v.num() as f32 > 0.0);
                if has { Ok(()) } else { Err(missing) }
            }
        }
    }

    /// Parses one `name(key=value, …)` call of an inner optimizer against its declaration.
    pub(super) fn from_call(call: &Call) -> Result<InnerSpec, String> {
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
        let Some(decl) = declaration(&call.name) else {
            return Err(format!(
                "unknown optimizer `{}` (known: {}, ranger, lookahead)",
                call.name,
                inner_words()
            ));
        };
        let keys: Vec<&str> = decl.params.iter().map(|(k, _)| *k).collect();
        a.only(decl.word, &keys)?;
        let values = decl
            .params
            .iter()
            .map(
                |&(key, default)| match a.values.iter().find(|(k, _)| k == key) {
                    None => Ok((key, default)),
                    Some((_, text)) => Ok((key, default.parse_like(key, text)?)),
                },
            )
            .collect::<Result<Values, String>>()?;
        let spec = Self::from_values(decl, &values);
        if let InnerSpec::Sgd {
            momentum,
            dampening,
            nesterov: true,
            ..
        } = spec
            && (momentum <= 0.0 || dampening != 0.0)
        {
            // PyTorch's SGD refuses it: Nesterov momentum needs a momentum and no dampening.
            return Err("sgd: `nesterov=true` needs `momentum` > 0 and `dampening=0`".into());
        }
        Ok(spec)
    }
}

/// `name(k=v,...)` listing only the values that differ from the declaration's defaults, so
/// that printing and parsing share one set of defaults.
impl fmt::Display for InnerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (decl, values) = self.values();
        let changed: Vec<String> = values
            .iter()
            .zip(decl.params)
            .filter(|((_, v), (_, default))| v.to_string() != default.to_string())
            .map(|((k, v), _)| format!("{k}={v}"))
            .collect();
        if changed.is_empty() {
            write!(f, "{}", decl.word)
        } else {
            write!(f, "{}({})", decl.word, changed.join(","))
        }
    }
}
