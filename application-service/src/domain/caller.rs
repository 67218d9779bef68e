//! Who is calling and what they may see and do. Built by the protocol adapters from the verified
//! token; the use cases decide with it.

/// The caller of a use case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The token subject; recorded as the applicant of what they file.
    pub subject: String,
    pub is_applicant: bool,
    pub is_operator: bool,
    pub is_service: bool,
}

impl Caller {
    /// Operators and internal services see every application; applicants only their own.
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

    pub fn may_create(&self) -> bool {
        self.is_applicant
    }

    pub fn may_cancel(&self, applicant: &str) -> bool {
        self.is_operator || (self.is_applicant && self.subject == applicant)
    }

    pub fn may_drive_lifecycle(&self) -> bool {
        self.is_service
    }

    /// A token without any role reaches nothing.
    pub fn has_any_role(&self) -> bool {
        self.is_applicant || self.is_operator || self.is_service
    }
}

impl Caller {
    /// The caller a verified token describes.
    pub fn from_identity(identity: &zayavki_identity::Identity) -> Self {
        use zayavki_identity::Role;
        Self {
            subject: identity.subject.clone(),
            is_applicant: identity.has_role(Role::Applicant),
            is_operator: identity.has_role(Role::Operator),
            is_service: identity.has_role(Role::Service),
        }
    }
}
