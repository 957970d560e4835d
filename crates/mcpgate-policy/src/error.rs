//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a policy file, at a position (1-based line and column, columns
/// counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as it was found (a configured path, or a directory joined with a file name).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, in Cedar's words where Cedar reported it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Why a policy set could not be loaded or reloaded. When a reload fails the policies in
/// force stay in force.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A policy file or directory could not be read.
    #[error("cannot read policy path {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The policies do not parse, do not validate against the schema, or have clashing ids.
    /// Each problem is reported on its own line as `file:line:column: message`.
    #[error("{}", join_lines(problems))]
    Invalid {
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
    /// The schema built into this crate does not load (a defect of the build, not of the
    /// policies).
    #[error("the built-in policy schema does not load: {0}")]
    Schema(String),
    /// The validated policy set could not be indexed by action (a defect, not a policy
    /// problem).
    #[error("cannot index the policy set: {0}")]
    Index(String),
}

fn join_lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
