//! The benches' shared command-line option: `--only a,b` runs some of the columns (backend
//! names, `pytorch`).

/// The columns asked for: every one without `--only`.
pub struct Only(Option<Vec<String>>);

impl Only {
    /// From this process's arguments.
    pub fn from_args() -> Self {
        let args: Vec<String> = std::env::args().collect();
        Self(args.iter().position(|a| a == "--only").map(|at| {
            let list = args.get(at + 1).map_or("", String::as_str);
            list.split(',').map(|b| b.trim().to_string()).collect()
        }))
    }

    /// Whether the column `name` runs.
    pub fn wants(&self, name: &str) -> bool {
        self.0.as_ref().is_none_or(|w| w.iter().any(|b| b == name))
    }
}
