//! Who is calling: the verified subject of a bearer token.

use std::collections::BTreeSet;

use crate::Role;

/// The caller behind a verified token. Layers put it into request extensions; handlers read it
/// with [`crate::Authenticated`] (REST) or [`crate::identity_from_request`] (gRPC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub` claim: a stable, non-empty user or service id.
    pub subject: String,
    /// The token's `name` claim, for display only.
    pub name: Option<String>,
    /// The known roles from the token's `roles` claim; unknown role strings are dropped.
    pub roles: BTreeSet<Role>,
}

impl Identity {
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            name: None,
            roles: BTreeSet::new(),
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_role(mut self, role: Role) -> Self {
        self.roles.insert(role);
        self
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.has_role(*role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_has_exactly_the_roles_it_was_given() {
        let identity = Identity::new("user-1").with_role(Role::Operator);

        assert!(identity.has_role(Role::Operator));
        assert!(!identity.has_role(Role::Applicant));
        assert!(identity.has_any_role(&[Role::Applicant, Role::Operator]));
        assert!(!identity.has_any_role(&[Role::Service]));
    }
}
