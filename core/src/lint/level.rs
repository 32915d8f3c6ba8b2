//! How loud a rule is: `[migrations.lints]` sets it per rule, [`Rule`](super::Rule) holds its
//! default.

use crate::word::words;

words! {
    /// A lint level: a rule's default, or what `[migrations.lints]` sets it to.
    #[derive(PartialOrd, Ord)]
    pub enum LintLevel {
        /// a finding is a compile error
        Deny = "deny",
        /// a finding is a compiler warning
        Warn = "warn",
        /// the rule is off
        Allow = "allow",
    }
}
