//! The JWT claims zayavki reads and writes.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{AuthError, Identity, Role};

/// The claims of a zayavki token as they are signed. Times are seconds since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Required and non-empty: the caller's stable id.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role names; the verifier ignores the ones it does not know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Required: when the token stops being valid.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

/// The `aud` claim: one audience or several.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// A single string for one audience, an array for several, nothing for none.
    pub fn from_list(audiences: &[String]) -> Option<Self> {
        match audiences {
            [] => None,
            [single] => Some(Self::One(single.clone())),
            several => Some(Self::Many(several.to_vec())),
        }
    }
}

/// The part of the claims the verifier turns into an [`Identity`]. `exp`, `nbf`, `iss` and `aud`
/// are checked by jsonwebtoken's validation; `sub` is optional here so that a missing subject is
/// reported as such rather than as a parse error.
#[derive(Debug, Deserialize)]
pub(crate) struct VerifiedClaims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "known_roles")]
    roles: BTreeSet<Role>,
    /// Seconds; a float is accepted because jsonwebtoken accepts one.
    #[serde(default)]
    pub(crate) exp: Option<f64>,
}

impl VerifiedClaims {
    pub(crate) fn into_identity(self) -> Result<Identity, AuthError> {
        let subject = self
            .sub
            .filter(|subject| !subject.trim().is_empty())
            .ok_or(AuthError::MissingSubject)?;
        Ok(Identity {
            subject,
            name: self.name.filter(|name| !name.trim().is_empty()),
            roles: self.roles,
        })
    }
}

/// Reads `roles` as an array of strings (a lone string is accepted too), keeping the known roles
/// and dropping anything else, so that a token issuer can add roles before every service knows
/// them.
fn known_roles<'de, D>(deserializer: D) -> Result<BTreeSet<Role>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum RolesClaim {
        Many(Vec<serde_json::Value>),
        One(String),
    }

    let names = match Option::<RolesClaim>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(RolesClaim::One(name)) => vec![serde_json::Value::String(name)],
        Some(RolesClaim::Many(names)) => names,
    };
    Ok(names
        .iter()
        .filter_map(serde_json::Value::as_str)
        .filter_map(|name| name.parse::<Role>().ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity_from(json: serde_json::Value) -> Result<Identity, AuthError> {
        serde_json::from_value::<VerifiedClaims>(json)
            .expect("claims deserialize")
            .into_identity()
    }

    #[test]
    fn unknown_and_non_string_roles_are_ignored() {
        let identity = identity_from(serde_json::json!({
            "sub": "user-1",
            "roles": ["operator", "auditor", 7, "applicant"],
        }))
        .expect("identity");

        assert_eq!(
            identity.roles,
            BTreeSet::from([Role::Applicant, Role::Operator])
        );
    }

    #[test]
    fn a_single_role_string_is_accepted() {
        let identity = identity_from(serde_json::json!({ "sub": "svc", "roles": "service" }))
            .expect("identity");

        assert!(identity.has_role(Role::Service));
    }

    #[test]
    fn a_blank_subject_is_a_missing_subject() {
        assert_eq!(
            identity_from(serde_json::json!({ "sub": "  " })),
            Err(AuthError::MissingSubject)
        );
        assert_eq!(
            identity_from(serde_json::json!({ "name": "Nobody" })),
            Err(AuthError::MissingSubject)
        );
    }

    #[test]
    fn one_audience_serializes_as_a_string_and_several_as_an_array() {
        let one = Audience::from_list(&["zayavki".to_owned()]);
        let many = Audience::from_list(&["a".to_owned(), "b".to_owned()]);

        assert_eq!(
            serde_json::to_value(one).ok(),
            Some(serde_json::json!("zayavki"))
        );
        assert_eq!(
            serde_json::to_value(many).ok(),
            Some(serde_json::json!(["a", "b"]))
        );
        assert_eq!(Audience::from_list(&[]), None);
    }
}
