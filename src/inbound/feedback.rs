//! The `Feedback-Type` of an ARF report (RFC 5965, RFC 6591): which types
//! say a reader complained, and which are reports about the sender.
//!
//! Owns the names and that split only; it reads no message (see
//! [`super::classify`]) and decides nothing (see [`super::policy`]).

use std::fmt;

/// An ARF report's `Feedback-Type` (RFC 5965, RFC 6591).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackType {
    /// Unsolicited mail or some other kind of abuse: a complaint.
    Abuse,
    /// Fraud or phishing: a complaint.
    Fraud,
    /// A virus: a complaint.
    Virus,
    /// Any other kind of complaint.
    Other,
    /// An authentication failure report (RFC 6591): about the sender.
    AuthFailure,
    /// The pre-RFC 6591 name of DKIM failure reports: about the sender.
    Dkim,
    /// "This is not spam": never a complaint.
    NotSpam,
    /// A type this reader does not know (lowercased): not taken as a complaint.
    Unrecognised(String),
}

impl FeedbackType {
    /// The type named by a `Feedback-Type` value.
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "abuse" => Self::Abuse,
            "fraud" => Self::Fraud,
            "virus" => Self::Virus,
            "other" => Self::Other,
            "auth-failure" => Self::AuthFailure,
            "dkim" => Self::Dkim,
            "not-spam" => Self::NotSpam,
            other => Self::Unrecognised(other.to_string()),
        }
    }

    /// The value as written in reports (`auth-failure`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Abuse => "abuse",
            Self::Fraud => "fraud",
            Self::Virus => "virus",
            Self::Other => "other",
            Self::AuthFailure => "auth-failure",
            Self::Dkim => "dkim",
            Self::NotSpam => "not-spam",
            Self::Unrecognised(s) => s,
        }
    }

    /// True for the types that say a reader complained.
    pub fn is_complaint(&self) -> bool {
        matches!(self, Self::Abuse | Self::Fraud | Self::Virus | Self::Other)
    }
}

impl fmt::Display for FeedbackType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
