//! The roles a token can grant. Authorisation decisions are made by each service; this crate only
//! carries the roles from the token to the handler.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A role named in the `roles` claim of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submits purchase requests and follows their progress.
    Applicant,
    /// Reviews, approves and rejects purchase requests.
    Operator,
    /// Another zayavki service calling on its own behalf.
    Service,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Applicant, Role::Operator, Role::Service];

    /// The spelling used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applicant => "applicant",
            Self::Operator => "operator",
            Self::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A role string that names none of the known roles.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; expected one of applicant, operator, service")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == raw)
            .ok_or_else(|| UnknownRole(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_token_spelling() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).ok(),
                Some(serde_json::Value::String(role.as_str().to_owned()))
            );
        }
    }

    #[test]
    fn role_names_are_case_sensitive() {
        assert!("Operator".parse::<Role>().is_err());
        assert!("admin".parse::<Role>().is_err());
    }
}
