//! Why a session ended, as stored in `auth_session.revoke_reason`.

/// Why a session was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RevokeReason {
    /// Its user signed out.
    SignOut,
    /// Its user ended it from the list of their sessions.
    Revoked,
    /// Its user, an owner or an admin ended all of the user's sessions.
    RevokedAll,
    /// The account was disabled.
    UserDisabled,
    /// The password changed (every session but the one that changed it).
    PasswordChanged,
    /// Something looked wrong: a revoked token used again, a new client
    /// address, repeated second-factor failures.
    Suspicious,
}

impl RevokeReason {
    const ALL: [Self; 6] = [
        Self::SignOut,
        Self::Revoked,
        Self::RevokedAll,
        Self::UserDisabled,
        Self::PasswordChanged,
        Self::Suspicious,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SignOut => "sign_out",
            Self::Revoked => "revoked",
            Self::RevokedAll => "revoked_all",
            Self::UserDisabled => "user_disabled",
            Self::PasswordChanged => "password_changed",
            Self::Suspicious => "suspicious",
        }
    }

    /// Reads the column back; `None` for a value this version does not
    /// write.
    pub(crate) fn from_stored(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == text)
    }

    /// Whether using the session again means someone else holds its token.
    /// After its own user signed it out or ended it on purpose, yes; the
    /// other reasons leave stale tokens on honest devices.
    pub(crate) fn suspicious_when_reused(self) -> bool {
        matches!(self, Self::SignOut | Self::Revoked)
    }

    /// The audit action of a user ending one session of their own.
    pub(crate) fn single_session_action(self) -> &'static str {
        match self {
            Self::SignOut => "user.sign_out",
            _ => "session.revoked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_as_written() {
        for reason in RevokeReason::ALL {
            assert_eq!(RevokeReason::from_stored(reason.as_str()), Some(reason));
        }
        assert_eq!(RevokeReason::from_stored("Sign_Out"), None);
        assert_eq!(RevokeReason::from_stored(""), None);
    }

    #[test]
    fn only_ending_a_session_on_purpose_makes_reuse_suspicious() {
        let suspicious: Vec<_> = RevokeReason::ALL
            .into_iter()
            .filter(|reason| reason.suspicious_when_reused())
            .collect();
        assert_eq!(suspicious, [RevokeReason::SignOut, RevokeReason::Revoked]);
    }
}
