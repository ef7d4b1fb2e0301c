//! Errors the user can fix: a bad config or flag, a file or port that cannot be used. They
//! are printed as a plain message with a distinct exit code; source locations and backtraces
//! stay for internal errors (color-eyre's report), where they help a developer.

use std::fmt;
use std::process::ExitCode;

/// What kind of user error, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The configuration or the command line is wrong (exit 2, as clap's own usage errors).
    Config,
    /// A file, directory or port named by the user cannot be used (exit 3).
    Unavailable,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Config => 2,
            Kind::Unavailable => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    pub kind: Kind,
    pub message: String,
}

impl UserError {
    pub fn config(message: impl Into<String>) -> UserError {
        UserError {
            kind: Kind::Config,
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> UserError {
        UserError {
            kind: Kind::Unavailable,
            message: message.into(),
        }
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// Print `e` for the user and choose the exit code: a user error anywhere in the chain gives
/// the chain's messages alone; anything else is an internal error with the full report.
pub fn report(e: &color_eyre::Report) -> ExitCode {
    match e.chain().find_map(|c| c.downcast_ref::<UserError>()) {
        Some(user) => {
            eprintln!("trademon: {}", plain(e));
            ExitCode::from(user.kind.exit_code())
        }
        None => {
            eprintln!("trademon: {e:?}");
            ExitCode::FAILURE
        }
    }
}

/// The messages of the chain, outermost first, without locations or backtrace.
pub fn plain(e: &color_eyre::Report) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::WrapErr;

    #[test]
    fn a_wrapped_user_error_is_found_and_printed_plain() {
        let r: color_eyre::Result<()> = Err(UserError::unavailable("port 7878 is in use").into());
        let e = r.wrap_err("backend").unwrap_err();
        assert_eq!(plain(&e), "backend: port 7878 is in use");
        assert_eq!(
            e.chain()
                .find_map(|c| c.downcast_ref::<UserError>())
                .map(|u| u.kind),
            Some(Kind::Unavailable)
        );
    }
}
