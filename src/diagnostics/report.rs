//! [`Report`]: the outcome of the configuration doctor, one [`Check`] per line, each problem with
//! the fix it calls for.

use std::fmt;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Status {
    /// As it should be.
    Ok,
    /// Worth knowing; nothing to fix.
    Info,
    /// Works, but something is likely wrong or missing; the check names the fix.
    Warning,
    /// Sign-in will fail (or be unsafe) until this is fixed; the check names the fix.
    Error,
}

impl Status {
    /// `ok`, `info`, `warn` or `error`, as the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Info => "info",
            Status::Warning => "warn",
            Status::Error => "error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check of the configuration: what was checked, how it came out, and for a problem the fix
/// (naming the variable or the setting at the provider to change). Never shows a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    status: Status,
    provider: Option<String>,
    topic: &'static str,
    message: String,
    fix: Option<String>,
}

impl Check {
    pub(crate) fn new(
        status: Status,
        provider: Option<&str>,
        topic: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            provider: provider.map(str::to_owned),
            topic,
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// How it came out.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The slug of the provider checked, or `None` for a check of the whole configuration.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// What was checked, e.g. `discovery`, `issuer`, `token endpoint auth`.
    pub fn topic(&self) -> &str {
        self.topic
    }

    /// What was found.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What to change, for a warning or an error.
    pub fn fix(&self) -> Option<&str> {
        self.fix.as_deref()
    }
}

impl fmt::Display for Check {
    /// One line: `error [staff] issuer: ... -> fix: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<5} ", self.status.as_str())?;
        if let Some(p) = &self.provider {
            write!(f, "[{p}] ")?;
        }
        write!(f, "{}: {}", self.topic, self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " -> fix: {fix}")?;
        }
        Ok(())
    }
}

/// The checks of a configuration, in the order they ran. Display prints one line per check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    checks: Vec<Check>,
}

impl Report {
    /// Every check, in the order it ran.
    pub fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// Whether any check is an [`Status::Error`]: the doctor exits non-zero then.
    pub fn has_errors(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Error)
    }

    /// The checks of `other`, after these.
    pub fn append(&mut self, other: Report) {
        self.checks.extend(other.checks);
    }

    pub(crate) fn push(&mut self, check: Check) {
        self.checks.push(check);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            writeln!(f, "{check}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_check_with_its_fix() {
        let mut report = Report::default();
        report.push(Check::new(
            Status::Ok,
            Some("staff"),
            "discovery",
            "reachable",
        ));
        report.push(
            Check::new(Status::Error, None, "variables", "OIDC_X is unknown").with_fix("remove it"),
        );
        assert_eq!(
            report.to_string(),
            "ok    [staff] discovery: reachable\nerror variables: OIDC_X is unknown -> fix: remove it\n"
        );
        assert!(report.has_errors());
        let mut fine = Report::default();
        fine.push(Check::new(Status::Warning, None, "x", "y"));
        assert!(!fine.has_errors());
        fine.append(report);
        assert_eq!(fine.checks().len(), 3);
    }
}
