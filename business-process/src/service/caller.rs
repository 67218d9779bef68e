//! Who is calling and what they may see and do. Built by the protocol adapter from the verified
//! token; the use cases decide with it.

use zayavki_identity::{Identity, Role};

use crate::domain::ProcessError;

/// The caller of a use case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token subject: the applicant of their own processes, or the operator who decides.
    pub subject: String,
    pub is_applicant: bool,
    pub is_operator: bool,
    pub is_service: bool,
}

impl Caller {
    /// The caller a verified token describes.
    pub fn from_identity(identity: &Identity) -> Self {
        Self {
            subject: identity.subject.clone(),
            is_applicant: identity.has_role(Role::Applicant),
            is_operator: identity.has_role(Role::Operator),
            is_service: identity.has_role(Role::Service),
        }
    }

    /// Operators and internal services see every process and budget; applicants their own.
    pub fn sees_all(&self) -> bool {
        self.is_operator || self.is_service
    }

    /// The applicant filter a query must apply for this caller, if any.
    pub fn visible_applicant(&self) -> Option<&str> {
        (!self.sees_all()).then_some(self.subject.as_str())
    }

    pub fn may_see(&self, applicant: &str) -> bool {
        self.sees_all() || (self.is_applicant && self.subject == applicant)
    }

    /// The role a report is owned under, as `report.job` names it.
    pub fn owner_role(&self) -> &'static str {
        if self.is_operator {
            "operator"
        } else if self.is_service {
            "service"
        } else {
            "applicant"
        }
    }

    /// A token without any role reaches nothing.
    pub fn require_any_role(&self) -> Result<(), ProcessError> {
        if self.is_applicant || self.is_operator || self.is_service {
            Ok(())
        } else {
            Err(ProcessError::PermissionDenied(
                "the token carries no role (applicant, operator or service)".to_owned(),
            ))
        }
    }

    pub fn require_operator(&self, what: &str) -> Result<(), ProcessError> {
        if self.is_operator {
            Ok(())
        } else {
            Err(ProcessError::PermissionDenied(format!(
                "only operators may {what}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(roles: &[Role]) -> Caller {
        let identity = roles.iter().fold(Identity::new("alice"), |identity, role| {
            identity.with_role(*role)
        });
        Caller::from_identity(&identity)
    }

    #[test]
    fn applicants_see_their_own_and_the_others_see_all() {
        let applicant = caller(&[Role::Applicant]);
        assert!(applicant.may_see("alice"));
        assert!(!applicant.may_see("bob"));
        assert_eq!(applicant.visible_applicant(), Some("alice"));
        for role in [Role::Operator, Role::Service] {
            let caller = caller(&[role]);
            assert!(caller.may_see("bob"));
            assert_eq!(caller.visible_applicant(), None);
        }
        let nobody = caller(&[]);
        assert!(!nobody.may_see("alice"));
        assert!(nobody.require_any_role().is_err());
    }

    #[test]
    fn reports_are_owned_under_the_strongest_role() {
        assert_eq!(
            caller(&[Role::Applicant, Role::Operator]).owner_role(),
            "operator"
        );
        assert_eq!(caller(&[Role::Service]).owner_role(), "service");
        assert_eq!(caller(&[Role::Applicant]).owner_role(), "applicant");
    }
}
