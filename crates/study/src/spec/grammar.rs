//! The spec text's grammar: `name(arg, key=value, word, name(...))`, read by a small
//! recursive-descent parser into [`Call`]s; what the names mean is decided by the caller.

/// Key/value arguments and bare words of one `name(...)` call.
#[derive(Debug, Default)]
pub(super) struct Args {
    pub(super) values: Vec<(String, String)>,
    pub(super) words: Vec<String>,
    pub(super) calls: Vec<Call>,
}

#[derive(Debug)]
pub(super) struct Call {
    pub(super) name: String,
    pub(super) args: Args,
}

/// How deep calls may nest (`lookahead(sgd(...))` is 2): deeper text is an error, not a stack
/// overflow.
const MAX_DEPTH: usize = 8;

/// A tiny recursive-descent parser over `name(arg, key=value, word, name(...))`.
pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
}

impl Parser<'_> {
    pub(super) fn skip_ws(&mut self) {
        // By characters: Unicode whitespace (U+00A0, U+3000, …) is several bytes long.
        while let Some(c) = self.text[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
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

    pub(super) fn call(&mut self) -> Result<Call, String> {
        self.call_at(1)
    }

    fn call_at(&mut self, depth: usize) -> Result<Call, String> {
        if depth > MAX_DEPTH {
            return Err(format!("calls nested more than {MAX_DEPTH} deep"));
        }
        let name = self.token()?.to_lowercase();
        let mut args = Args::default();
        if self.eat('(') && !self.eat(')') {
            loop {
                self.skip_ws();
                let start = self.pos;
                let word = self.token()?;
                let key = word.to_lowercase();
                if self.eat('=') {
                    if args.values.iter().any(|(k, _)| *k == key) {
                        return Err(format!("`{key}` is given twice"));
                    }
                    args.values.push((key, self.token()?));
                } else if self.text[self.pos..].trim_start().starts_with('(') {
                    // Back to the word (`eat` skipped the whitespace after it).
                    self.pos = start;
                    args.calls.push(self.call_at(depth + 1)?);
                } else if args.words.contains(&key) {
                    return Err(format!("`{key}` is given twice"));
                } else {
                    args.words.push(key);
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
    pub(super) fn parsed<T: std::str::FromStr>(
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

    /// A finite number (NaN and ±∞ parse as floats but mean nothing here).
    pub(super) fn number(&self, key: &str, default: f64) -> Result<f64, String> {
        let v: f64 = self.parsed(key, default, "not a number")?;
        if !v.is_finite() {
            return Err(format!("`{key}` = {v}: not a finite number"));
        }
        Ok(v)
    }

    pub(super) fn only(&self, name: &str, keys: &[&str]) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use crate::spec::OptimizerSpec;

    fn error(text: &str) -> String {
        OptimizerSpec::parse(text).unwrap_err().to_string()
    }

    /// Hostile specs get an error naming what is wrong, never a panic or a silent default.
    #[test]
    fn hostile_specs_are_refused_with_the_reason() {
        // Unicode whitespace (2 and 3 bytes) is whitespace, not a panic.
        let spec = OptimizerSpec::parse("lookahead(\u{a0}sgd,\u{3000}k=5)").unwrap();
        assert_eq!(spec.to_string(), "lookahead(sgd,k=5,alpha=0.5,keep)");
        // Nesting: an error, not a stack overflow (within the length bound too).
        let deep = format!("{}sgd{}", "a(".repeat(100), ")".repeat(100));
        assert!(
            error(&deep).contains("nested more than"),
            "{}",
            error(&deep)
        );
        // Whitespace between a multi-byte word and its `(` (found by fuzzing: a panic on a char
        // boundary), and an inner call with a space before its `(`.
        for text in ["lookahead(sgd,é (k=1))", "rmsprop(m\u{a0}(x=1))"] {
            assert!(OptimizerSpec::parse(text).is_err(), "{text}");
        }
        let spaced = OptimizerSpec::parse("lookahead( sgd (momentum=0.8), k=3)").unwrap();
        assert_eq!(
            spaced.to_string(),
            "lookahead(sgd(momentum=0.8),k=3,alpha=0.5,keep)"
        );
        // Subnormal numbers print in scientific notation, so a printed spec parses back (its
        // plain decimal has 320 digits; found by fuzzing).
        let tiny = OptimizerSpec::parse("lookahead(rmsprop(alpha=1e-320), alpha=1e-320)").unwrap();
        assert_eq!(
            tiny.to_string(),
            "lookahead(rmsprop(alpha=1e-320),k=5,alpha=1e-320,keep)"
        );
        assert_eq!(OptimizerSpec::parse(&tiny.to_string()).unwrap(), tiny);
        // A 5 MB spec: refused, and quoted shortened.
        let huge = format!("sgd({})", "x".repeat(5_000_000));
        let message = error(&huge);
        assert!(
            message.contains("longer than") && message.len() < 300,
            "{message}"
        );
        // Out-of-range and non-finite hyper-parameters name the field and the range.
        for (text, needle) in [
            ("sgd(momentum=-0.1)", "`momentum` = -0.1: must be in [0, 1)"),
            ("sgd(momentum=nan)", "`momentum` = NaN"),
            ("sgd(wd=-1)", "`wd` = -1: must be in [0, 10]"),
            ("sgd(wd=1e308)", "must be in [0, 10]"),
            ("adam(beta1=1.5)", "`beta1` = 1.5"),
            ("adam(eps=-1e-8)", "`eps`"),
            ("sgd(dampening=2)", "`dampening` = 2"),
            (
                "sgd(nesterov=true, momentum=0)",
                "`nesterov=true` needs `momentum` > 0",
            ),
            ("sgd(nesterov=true, dampening=0.1)", "`dampening=0`"),
            ("lookahead(sgd, k=1e30)", "`k`"),
            ("lookahead(sgd, alpha=inf)", "not a finite number"),
            // Ambiguous specs.
            ("lookahead(sgd, adam)", "one inner optimizer"),
            ("ranger(sgd)", "ranger takes no inner optimizer"),
            (
                "sgd(momentum=0.9, momentum=0.1)",
                "`momentum` is given twice",
            ),
            ("lookahead(sgd, theta1, theta1)", "`theta1` is given twice"),
        ] {
            let e = error(text);
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(OptimizerSpec::parse("sgd(momentum=0, dampening=1, wd=0)").is_ok());
    }
}
