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

/// A tiny recursive-descent parser over `name(arg, key=value, word, name(...))`.
pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
}

impl Parser<'_> {
    pub(super) fn skip_ws(&mut self) {
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

    pub(super) fn call(&mut self) -> Result<Call, String> {
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

    pub(super) fn number(&self, key: &str, default: f64) -> Result<f64, String> {
        self.parsed(key, default, "not a number")
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
