//! Supervisor schema versions, and every conversion between them, in one place.
//!
//! The message types in [`crate::messages`] have the shape of the newest version this SDK
//! speaks (2026-10-30). A bundle declares one version in its manifest; Airflow's supervisor then
//! migrates its own messages to that version and validates ours against it. So the runtime must
//! send exactly that version's shapes: [`SchemaVersion::outgoing`] drops what an older version
//! does not have, and [`SchemaVersion::incoming`] clears what it never carries.

use std::fmt;
use std::str::FromStr;

use crate::messages::{StartupDetails, ToSupervisor};

/// A supervisor schema (coordinator protocol) version: what a bundle declares as
/// `sdk.supervisor_schema_version` and its runtime speaks.
///
/// | version | accepted by | adds |
/// |---|---|---|
/// | `2026-06-16` (default) | apache-airflow-task-sdk 1.3.x and 1.4.x (Airflow 3.3, 3.4) | |
/// | `2026-10-30` | apache-airflow-task-sdk 1.4.x (Airflow 3.4) | typed task arguments (airflow-sdk's `Dag::task_with_args`) |
///
/// Airflow accepts a version only by exact match, so a bundle that declares 2026-10-30 does not
/// run on Airflow 3.3; the default keeps one bundle working on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum SchemaVersion {
    /// `2026-06-16`: the only version Airflow 3.3 (task SDK 1.3.x) accepts; 3.4 accepts it too.
    #[default]
    V2026_06_16,
    /// `2026-10-30`: Airflow 3.4 (task SDK 1.4.x) only; carries the stub's argument bindings.
    V2026_10_30,
}

impl SchemaVersion {
    /// Every version this SDK's runtime speaks, oldest first.
    pub const ALL: &'static [SchemaVersion] =
        &[SchemaVersion::V2026_06_16, SchemaVersion::V2026_10_30];

    /// The version string, as the manifest carries it (`"2026-06-16"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SchemaVersion::V2026_06_16 => "2026-06-16",
            SchemaVersion::V2026_10_30 => "2026-10-30",
        }
    }

    /// Whether `StartupDetails` carries the stub's argument bindings (`ti_context.arg_bindings`).
    pub const fn has_arg_bindings(self) -> bool {
        matches!(self, SchemaVersion::V2026_10_30)
    }

    /// A message in this version's shape: fields the version does not have are dropped (the
    /// supervisor refuses unknown keys on strict messages and never replies to them).
    pub fn outgoing<D>(self, message: ToSupervisor<D>) -> ToSupervisor<D> {
        match self {
            SchemaVersion::V2026_10_30 => message,
            SchemaVersion::V2026_06_16 => match message {
                // `TaskState.retry_reason` is new in 2026-10-30.
                ToSupervisor::TaskState(mut m) => {
                    m.retry_reason = None;
                    ToSupervisor::TaskState(m)
                }
                other => other,
            },
        }
    }

    /// A received `StartupDetails` as this version defines it: fields the version does not have
    /// are cleared, so no code path can depend on them by accident.
    pub fn incoming(self, mut details: StartupDetails) -> StartupDetails {
        if !self.has_arg_bindings() {
            details.ti_context.arg_bindings = None;
        }
        details
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string this SDK does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "supervisor schema version {0:?} is not one this SDK speaks (it speaks 2026-06-16 and 2026-10-30)"
)]
pub struct UnknownSchemaVersion(pub String);

impl FromStr for SchemaVersion {
    type Err = UnknownSchemaVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SchemaVersion::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownSchemaVersion(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{TaskStateMsg, Terminal};

    #[test]
    fn versions_round_trip_and_unknown_ones_are_refused() {
        for v in SchemaVersion::ALL {
            assert_eq!(v.as_str().parse::<SchemaVersion>().unwrap(), *v);
        }
        // Airflow 3.3 accepts only 2026-06-16: the default keeps a bundle running on 3.3 and 3.4.
        assert_eq!(SchemaVersion::default(), SchemaVersion::V2026_06_16);
        let e = "2027-01-01".parse::<SchemaVersion>().unwrap_err();
        assert!(e.to_string().contains("2027-01-01"), "{e}");
    }

    #[test]
    fn older_versions_lose_the_newer_fields() {
        let with_reason: ToSupervisor = ToSupervisor::TaskState(TaskStateMsg {
            state: "failed",
            end_date: "2026-01-01T00:00:00Z".into(),
            retry_reason: Some("x".into()),
        });
        let old = SchemaVersion::V2026_06_16.outgoing(with_reason.clone());
        assert!(matches!(old, ToSupervisor::TaskState(ref m) if m.retry_reason.is_none()));
        let new = SchemaVersion::V2026_10_30.outgoing(with_reason);
        assert!(matches!(new, ToSupervisor::TaskState(ref m) if m.retry_reason.is_some()));
        // Terminal messages never depend on the version otherwise.
        let s: ToSupervisor = Terminal::Success.message("2026-01-01T00:00:00Z".into());
        assert_eq!(SchemaVersion::V2026_06_16.outgoing(s.clone()), s);
    }
}
