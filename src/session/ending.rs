//! [`Ending`]: which sessions an identity provider ended through back-channel logout.

use crate::identity::IdentityData;

/// The sessions a logout token ends (OpenID Connect Back-Channel Logout 1.0 section 2.7): those
/// of one session at the provider, or every session of one user at that issuer that began no
/// later than the logout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The sessions signed in with the provider's session `sid` (the ID token's `sid`).
    Sid { issuer: String, sid: String },
    /// The sessions of `subject` at `issuer` signed in no later than `before` (Unix seconds).
    Subject {
        issuer: String,
        subject: String,
        before: u64,
    },
}

impl Ending {
    /// Whether the session `data` is one of those ended.
    pub(crate) fn covers(&self, data: &IdentityData) -> bool {
        match self {
            Self::Sid { issuer, sid } => {
                data.issuer == *issuer && data.sid.as_deref() == Some(sid.as_str())
            }
            Self::Subject {
                issuer,
                subject,
                before,
            } => {
                data.issuer == *issuer
                    && data.subject == *subject
                    && data.authenticated_at <= *before
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ending_covers_its_sessions_only() {
        let mut data = IdentityData::sample(0);
        data.sid = Some("op-1".into());
        let issuer = data.issuer.clone();
        let by_sid = |sid: &str, issuer: &str| Ending::Sid {
            issuer: issuer.into(),
            sid: sid.into(),
        };
        assert!(by_sid("op-1", &issuer).covers(&data));
        assert!(!by_sid("op-2", &issuer).covers(&data));
        assert!(!by_sid("op-1", "https://other.example.com").covers(&data));
        let by_subject = |subject: &str, before: u64| Ending::Subject {
            issuer: issuer.clone(),
            subject: subject.into(),
            before,
        };
        assert!(
            by_subject("248289761001", 1_000).covers(&data),
            "signed in at 1000"
        );
        assert!(
            !by_subject("248289761001", 999).covers(&data),
            "signed in later"
        );
        assert!(!by_subject("someone-else", 5_000).covers(&data));
        data.sid = None;
        assert!(!by_sid("op-1", &issuer).covers(&data));
    }
}
