//! The benches' shared command-line options: `--only a,b` runs some of the columns (backend
//! names, `pytorch`); `--model <name>` one of the throughput bench's tables.

/// The columns asked for: every one without `--only`.
pub struct Only(Option<Vec<String>>);

impl Only {
    /// From this process's arguments.
    pub fn from_args() -> Self {
        Self(value_of("--only").map(|list| list.split(',').map(|b| b.trim().to_string()).collect()))
    }

    /// Whether the column `name` runs.
    pub fn wants(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|w| w.iter().any(|b| b == name))
    }
}

/// The argument after `flag` (empty when `flag` is last), or `None` without `flag`.
pub fn value_of(flag: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != flag);
    args.next()?;
    Some(args.next().unwrap_or_default())
}
