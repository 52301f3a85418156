//! Who is asking, and the one place that decides what they may do.

use sealbox_types::Role;

use crate::error::{CoreError, CoreResult};

/// An authenticated caller. Only [`crate::Sealbox::authenticate`] makes one.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace_id: String,
    pub workspace_name: String,
    pub member_id: String,
    pub email: String,
    pub role: Role,
    pub token_id: String,
    /// `personal` or `session`.
    pub token_kind: String,
}

impl Principal {
    /// How the caller appears in audit events and `created_by`: `member:ann@example.com`.
    pub fn label(&self) -> String {
        format!("member:{}", self.email)
    }
}

/// Facts about the request that audit events record.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub client_addr: String,
}

/// Everything a principal may ask to do. Each use-case names one before it touches anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// List secrets and see their details (never the value).
    ViewSecrets,
    /// Create, update, delete, restore, purge and roll back secrets.
    ManageSecrets,
    /// Reveal a masked value (restricted values are refused separately, for everyone).
    RevealMasked,
    /// Add, change and remove members. Admins may not touch owners: see [`authorize_member_change`].
    ManageMembers,
    ReadAudit,
    /// A member's own personal access tokens (editors use sign-in sessions only).
    ManageOwnTokens,
    CreateWorkspace,
}

pub fn authorize(p: &Principal, permission: Permission) -> CoreResult<()> {
    use Permission::*;
    let allowed = match (permission, p.role) {
        (ViewSecrets | RevealMasked, _) => true,
        (ManageSecrets | ManageMembers | ReadAudit | ManageOwnTokens | CreateWorkspace, Role::Owner | Role::Admin) => {
            true
        }
        (ManageSecrets | ManageMembers | ReadAudit | ManageOwnTokens | CreateWorkspace, Role::Editor) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(CoreError::forbidden(format!(
            "your role ({}) may not {}; ask an owner or admin",
            p.role.as_str(),
            describe(permission)
        )))
    }
}

/// Reveal of a value to a person: masked values for every role, restricted values for nobody.
pub fn authorize_reveal(p: &Principal, visibility: sealbox_types::Visibility, name: &str) -> CoreResult<()> {
    authorize(p, Permission::RevealMasked)?;
    if visibility == sealbox_types::Visibility::Restricted {
        return Err(CoreError::new(
            crate::ErrorClass::Forbidden,
            sealbox_types::codes::SECRET_RESTRICTED,
            format!("secret {name} is restricted: its value can never be displayed, only replaced or used"),
        ));
    }
    Ok(())
}

/// Admins manage members except owners: they may not add, promote to, change or remove an owner.
pub fn authorize_member_change(p: &Principal, current: Option<Role>, new: Option<Role>) -> CoreResult<()> {
    authorize(p, Permission::ManageMembers)?;
    let touches_owner = current == Some(Role::Owner) || new == Some(Role::Owner);
    if touches_owner && p.role != Role::Owner {
        return Err(CoreError::forbidden("only an owner may add, change or remove owners"));
    }
    Ok(())
}

fn describe(permission: Permission) -> &'static str {
    match permission {
        Permission::ViewSecrets => "view secrets",
        Permission::ManageSecrets => "create, change or delete secrets",
        Permission::RevealMasked => "reveal secrets",
        Permission::ManageMembers => "manage members",
        Permission::ReadAudit => "read the audit log",
        Permission::ManageOwnTokens => "manage tokens",
        Permission::CreateWorkspace => "create workspaces",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_role(role: Role) -> Principal {
        Principal {
            workspace_id: "w".into(),
            workspace_name: "default".into(),
            member_id: "m".into(),
            email: "a@example.com".into(),
            role,
            token_id: "t".into(),
            token_kind: "personal".into(),
        }
    }

    #[test]
    fn the_role_table_of_the_product_spec() {
        use Permission::*;
        for (perm, owner, admin, editor) in [
            (ViewSecrets, true, true, true),
            (ManageSecrets, true, true, false),
            (RevealMasked, true, true, true),
            (ManageMembers, true, true, false),
            (ReadAudit, true, true, false),
            (ManageOwnTokens, true, true, false),
            (CreateWorkspace, true, true, false),
        ] {
            assert_eq!(authorize(&as_role(Role::Owner), perm).is_ok(), owner, "{perm:?}");
            assert_eq!(authorize(&as_role(Role::Admin), perm).is_ok(), admin, "{perm:?}");
            assert_eq!(authorize(&as_role(Role::Editor), perm).is_ok(), editor, "{perm:?}");
        }
    }

    #[test]
    fn admins_manage_members_except_owners() {
        let admin = as_role(Role::Admin);
        assert!(authorize_member_change(&admin, None, Some(Role::Editor)).is_ok());
        assert!(authorize_member_change(&admin, Some(Role::Editor), Some(Role::Admin)).is_ok());
        assert!(authorize_member_change(&admin, None, Some(Role::Owner)).is_err());
        assert!(authorize_member_change(&admin, Some(Role::Owner), None).is_err());
        assert!(authorize_member_change(&as_role(Role::Owner), Some(Role::Owner), Some(Role::Admin)).is_ok());
        assert!(authorize_member_change(&as_role(Role::Editor), None, Some(Role::Editor)).is_err());
    }
}
