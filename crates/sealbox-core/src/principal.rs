//! Who is asking, and the one place that decides what they may do.

use sealbox_types::Role;

use crate::error::{CoreError, CoreResult};
use crate::tokens::TokenKind;

/// An authenticated caller. Only [`crate::Sealbox::authenticate`] makes one (the fields are
/// private and the constructor is the crate's), so a handler holding one holds a checked token:
///
/// ```compile_fail
/// use sealbox_core::{Actor, Principal, TokenKind};
/// fn forge(actor: Actor) -> Principal {
///     Principal::authenticated("w".into(), "default".into(), actor, "t".into(), TokenKind::Personal)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Principal {
    workspace_id: String,
    workspace_name: String,
    actor: Actor,
    token_id: String,
    token_kind: TokenKind,
}

/// Who acts: a person, or (with machine access) a non-human identity.
#[derive(Debug, Clone)]
pub enum Actor {
    Member(MemberActor),
    Identity(IdentityActor),
}

#[derive(Debug, Clone)]
pub struct IdentityActor {
    pub id: String,
    pub name: String,
    pub tags: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct MemberActor {
    pub id: String,
    pub email: String,
    pub role: Role,
}

impl Principal {
    /// For authentication only (`auth.rs`): the token it checked, the actor and workspace it
    /// belongs to.
    pub(crate) fn authenticated(
        workspace_id: String,
        workspace_name: String,
        actor: Actor,
        token_id: String,
        token_kind: TokenKind,
    ) -> Self {
        Self {
            workspace_id,
            workspace_name,
            actor,
            token_id,
            token_kind,
        }
    }

    pub fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    pub fn workspace_name(&self) -> &str {
        &self.workspace_name
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The id of the token the caller authenticated with.
    pub fn token_id(&self) -> &str {
        &self.token_id
    }

    /// `Personal` or `Session` for members, `Identity` for identities.
    pub fn token_kind(&self) -> TokenKind {
        self.token_kind
    }

    /// How the caller appears in audit events and `created_by`: `member:ann@example.com`.
    pub fn label(&self) -> String {
        match &self.actor {
            Actor::Member(m) => format!("member:{}", m.email),
            Actor::Identity(i) => format!("identity:{}", i.name),
        }
    }

    /// The member acting; only use-cases that `authorize`d a member-only permission call it.
    pub fn member(&self) -> CoreResult<&MemberActor> {
        match &self.actor {
            Actor::Member(m) => Ok(m),
            Actor::Identity(_) => Err(identities_may_not()),
        }
    }

    /// The identity acting; for the machine-access use-cases.
    pub fn identity(&self) -> Option<&IdentityActor> {
        match &self.actor {
            Actor::Identity(i) => Some(i),
            Actor::Member(_) => None,
        }
    }
}

fn identities_may_not() -> CoreError {
    CoreError::forbidden(
        "identities may only list the secrets their policies cover, read their environment or the values a policy lets them read, render templates and run actions; this needs a member's token",
    )
}

/// A policy as core evaluates it.
#[derive(Debug, Clone)]
pub struct Policy {
    pub identities: Vec<String>,
    pub identity_tags: std::collections::BTreeMap<String, String>,
    pub secret_tags: std::collections::BTreeMap<String, String>,
    pub allow: Vec<sealbox_types::PolicyAccess>,
}

impl Policy {
    /// Named, or carrying every one of the policy's identity tags.
    fn applies_to(&self, identity: &IdentityActor) -> bool {
        self.identities.contains(&identity.name)
            || (!self.identity_tags.is_empty() && tags_match(&self.identity_tags, &identity.tags))
    }
}

fn tags_match(
    wanted: &std::collections::BTreeMap<String, String>,
    have: &std::collections::BTreeMap<String, String>,
) -> bool {
    wanted.iter().all(|(k, v)| have.get(k) == Some(v))
}

/// Deny by default: an identity may `access` a secret when some policy names it (or matches its
/// tags), covers every one of the policy's secret tags, and allows that access (`read` implies
/// `use`).
pub fn identity_may(
    identity: &IdentityActor,
    policies: &[Policy],
    secret_tags: &std::collections::BTreeMap<String, String>,
    access: sealbox_types::PolicyAccess,
) -> bool {
    use sealbox_types::PolicyAccess::{Read, Use};
    policies.iter().any(|policy| {
        policy.applies_to(identity)
            && tags_match(&policy.secret_tags, secret_tags)
            && policy
                .allow
                .iter()
                .any(|granted| *granted == access || (*granted == Read && access == Use))
    })
}

/// The secret tag sets of the policies that let `identity` read: a secret it may read carries
/// every tag of at least one of them (the store selects by them; [`identity_may`] still decides).
/// `None` when one of those policies covers every secret (it names no secret tag).
pub fn readable_tag_sets(identity: &IdentityActor, policies: &[Policy]) -> Option<Vec<Vec<(String, String)>>> {
    let mut sets = Vec::new();
    for policy in policies {
        let reads = policy.allow.contains(&sealbox_types::PolicyAccess::Read);
        if !reads || !policy.applies_to(identity) {
            continue;
        }
        if policy.secret_tags.is_empty() {
            return None;
        }
        sets.push(policy.secret_tags.clone().into_iter().collect());
    }
    Some(sets)
}

/// Which secrets a caller may list and see the details of (never the values): every one for a
/// member; for an identity, those some policy lets it `use` or `read`.
pub enum SecretScope {
    All,
    Covered {
        identity: IdentityActor,
        policies: Vec<Policy>,
    },
}

impl SecretScope {
    pub fn covers(&self, secret_tags: &std::collections::BTreeMap<String, String>) -> bool {
        match self {
            SecretScope::All => true,
            SecretScope::Covered { identity, policies } => {
                identity_may(identity, policies, secret_tags, sealbox_types::PolicyAccess::Use)
            }
        }
    }
}

/// The scope of [`Permission::ViewSecrets`]; `policies` are only loaded for identities.
pub async fn view_scope<F>(p: &Principal, policies: F) -> CoreResult<SecretScope>
where
    F: std::future::Future<Output = CoreResult<Vec<Policy>>>,
{
    match &p.actor {
        Actor::Member(_) => {
            authorize(p, Permission::ViewSecrets)?;
            Ok(SecretScope::All)
        }
        Actor::Identity(identity) => Ok(SecretScope::Covered {
            identity: identity.clone(),
            policies: policies.await?,
        }),
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
    /// Identities, their variables and tokens, and policies.
    ManageMachineAccess,
    /// List and show saved actions (definitions hold references, never values).
    ViewActions,
    /// Define, change and delete actions.
    ManageActions,
    /// Run an action: see [`authorize_action_run`], which also decides for identities.
    RunActions,
    /// Take a backup of the whole database (owners; see `Sealbox::backup` for which workspace).
    BackupServer,
    /// Rotate the keyring or read the rotation's progress (owners; like `BackupServer`).
    RotateKeys,
    /// Seal the running server (owners; like `BackupServer`).
    SealServer,
    /// Read the server's metrics (`GET /v1/sys/metrics`).
    ReadMetrics,
    /// Read the workspace's settings (token lifetimes).
    ViewWorkspaceSettings,
    /// Change the workspace's settings (token lifetimes).
    ManageWorkspaceSettings,
}

pub fn authorize(p: &Principal, permission: Permission) -> CoreResult<()> {
    use Permission::*;
    let role = match &p.actor {
        Actor::Member(member) => member.role,
        Actor::Identity(_) => return Err(identities_may_not()),
    };
    let allowed = match (permission, role) {
        (ViewSecrets | RevealMasked | ViewActions | RunActions | ViewWorkspaceSettings, _) => true,
        (BackupServer | RotateKeys | SealServer, role) => role == Role::Owner,
        (
            ManageSecrets
            | ManageMembers
            | ReadAudit
            | ManageOwnTokens
            | CreateWorkspace
            | ManageMachineAccess
            | ManageActions
            | ReadMetrics
            | ManageWorkspaceSettings,
            Role::Owner | Role::Admin,
        ) => true,
        (
            ManageSecrets
            | ManageMembers
            | ReadAudit
            | ManageOwnTokens
            | CreateWorkspace
            | ManageMachineAccess
            | ManageActions
            | ReadMetrics
            | ManageWorkspaceSettings,
            Role::Editor,
        ) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(CoreError::forbidden(format!(
            "your role ({}) may not {}; ask an owner or admin",
            role.as_str(),
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

/// Whether an import may compare a stored value with the value it was given. The answer
/// (`changed` or `unchanged`) tells whether a guess is right, so comparing needs what revealing
/// needs: masked values may be compared by the members who may reveal them, restricted values by
/// nobody (an import reports them `changed`, uncompared).
pub fn may_compare_value(p: &Principal, visibility: sealbox_types::Visibility, name: &str) -> bool {
    authorize_reveal(p, visibility, name).is_ok()
}

/// A secret an action references, as the run check sees it; `None` when there is no live secret
/// of that name.
pub struct ActionSecret<'a> {
    pub name: &'a str,
    pub found: Option<(
        &'a std::collections::BTreeMap<String, String>,
        sealbox_types::Visibility,
    )>,
}

/// Running an action. Members: owners, admins and editors, with every referenced secret existing.
/// Identities: a policy must allow `use` (or `read`) on every referenced secret; a missing secret
/// and a forbidden one get the same answer, so identities learn nothing of secrets they may not
/// use. Restricted secrets may be used: that is what actions are for.
///
/// An unsaved definition chooses where the values go, so it needs what receiving them needs:
/// `read` for identities, and owner or admin for restricted secrets (editors may reveal masked
/// values anyway).
pub fn authorize_action_run(
    p: &Principal,
    policies: &[Policy],
    secrets: &[ActionSecret<'_>],
    unsaved: bool,
) -> CoreResult<()> {
    use sealbox_types::PolicyAccess::{Read, Use};
    match &p.actor {
        Actor::Member(_) => {
            authorize(p, Permission::RunActions)?;
            let missing: Vec<&str> = secrets.iter().filter(|s| s.found.is_none()).map(|s| s.name).collect();
            if !missing.is_empty() {
                return Err(CoreError::new(
                    crate::ErrorClass::Unprocessable,
                    sealbox_types::codes::ACTION_REFERENCE_INVALID,
                    format!("no such secret: {}; create it or change the action", missing.join(", ")),
                ));
            }
            let restricted = secrets
                .iter()
                .any(|s| matches!(s.found, Some((_, sealbox_types::Visibility::Restricted))));
            if unsaved && restricted && authorize(p, Permission::ManageActions).is_err() {
                return Err(CoreError::forbidden(
                    "an unsaved action may use restricted secrets only when an owner or admin runs it; ask one to save the action, then run it by name",
                ));
            }
            Ok(())
        }
        Actor::Identity(identity) => {
            let access = if unsaved { Read } else { Use };
            let refused: Vec<&str> = secrets
                .iter()
                .filter(|s| match s.found {
                    Some((tags, _)) => !identity_may(identity, policies, tags, access),
                    None => true,
                })
                .map(|s| s.name)
                .collect();
            if refused.is_empty() {
                return Ok(());
            }
            let needed = if unsaved {
                "an unsaved action needs a policy allowing read on each"
            } else {
                "a policy must allow use (or read) on each"
            };
            Err(CoreError::new(
                crate::ErrorClass::Forbidden,
                sealbox_types::codes::ACTION_REFERENCE_INVALID,
                format!(
                    "no such secret, or this token may not use it: {}; {needed}",
                    refused.join(", ")
                ),
            ))
        }
    }
}

/// Admins manage members except owners: they may not add, promote to, change or remove an owner.
pub fn authorize_member_change(p: &Principal, current: Option<Role>, new: Option<Role>) -> CoreResult<()> {
    authorize(p, Permission::ManageMembers)?;
    let touches_owner = current == Some(Role::Owner) || new == Some(Role::Owner);
    if touches_owner && p.member()?.role != Role::Owner {
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
        Permission::ManageMachineAccess => "manage identities and policies",
        Permission::ViewActions => "view actions",
        Permission::ManageActions => "define, change or delete actions",
        Permission::RunActions => "run actions",
        Permission::BackupServer => "take a backup of the server",
        Permission::RotateKeys => "rotate the server's keys",
        Permission::SealServer => "seal the server",
        Permission::ReadMetrics => "read the server's metrics",
        Permission::ViewWorkspaceSettings => "read the workspace's settings",
        Permission::ManageWorkspaceSettings => "change the workspace's settings",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_role(role: Role) -> Principal {
        let member = MemberActor {
            id: "m".into(),
            email: "a@example.com".into(),
            role,
        };
        Principal::authenticated(
            "w".into(),
            "default".into(),
            Actor::Member(member),
            "t".into(),
            TokenKind::Personal,
        )
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
            (ManageMachineAccess, true, true, false),
            (ViewActions, true, true, true),
            (ManageActions, true, true, false),
            (RunActions, true, true, true),
            (ViewWorkspaceSettings, true, true, true),
            (ManageWorkspaceSettings, true, true, false),
        ] {
            assert_eq!(authorize(&as_role(Role::Owner), perm).is_ok(), owner, "{perm:?}");
            assert_eq!(authorize(&as_role(Role::Admin), perm).is_ok(), admin, "{perm:?}");
            assert_eq!(authorize(&as_role(Role::Editor), perm).is_ok(), editor, "{perm:?}");
        }
    }

    #[test]
    fn policies_deny_by_default_and_match_names_or_every_tag() {
        use sealbox_types::PolicyAccess::{Read, Use};
        let tags = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let worker = IdentityActor {
            id: "i".into(),
            name: "worker".into(),
            tags: tags(&[("team", "pay")]),
        };
        let payments = tags(&[("team", "pay"), ("env", "prod")]);
        assert!(!identity_may(&worker, &[], &payments, Use), "no policy, no access");
        let by_tag = Policy {
            identities: vec![],
            identity_tags: tags(&[("team", "pay")]),
            secret_tags: tags(&[("team", "pay")]),
            allow: vec![Read],
        };
        assert!(identity_may(&worker, std::slice::from_ref(&by_tag), &payments, Read));
        assert!(
            identity_may(&worker, std::slice::from_ref(&by_tag), &payments, Use),
            "read implies use"
        );
        assert!(!identity_may(
            &worker,
            std::slice::from_ref(&by_tag),
            &tags(&[("team", "ops")]),
            Read
        ));
        let use_only = Policy {
            identities: vec!["worker".into()],
            identity_tags: tags(&[]),
            secret_tags: tags(&[("env", "prod")]),
            allow: vec![Use],
        };
        assert!(identity_may(&worker, std::slice::from_ref(&use_only), &payments, Use));
        assert!(
            !identity_may(&worker, std::slice::from_ref(&use_only), &payments, Read),
            "use alone never returns the value"
        );
        let other = IdentityActor {
            id: "j".into(),
            name: "other".into(),
            tags: tags(&[("team", "ops")]),
        };
        assert!(!identity_may(&other, &[by_tag, use_only], &payments, Use));
    }

    #[test]
    fn action_runs_need_every_secret_and_unsaved_ones_need_more() {
        use sealbox_types::PolicyAccess::{Read, Use};
        use sealbox_types::Visibility::{Masked, Restricted};
        let tags = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let pay = tags(&[("team", "pay")]);
        let ops = tags(&[("team", "ops")]);
        let masked = [ActionSecret {
            name: "API",
            found: Some((&pay, Masked)),
        }];
        let restricted = [ActionSecret {
            name: "KEY",
            found: Some((&pay, Restricted)),
        }];
        let missing = [ActionSecret {
            name: "GONE",
            found: None,
        }];
        for role in [Role::Owner, Role::Admin, Role::Editor] {
            assert!(authorize_action_run(&as_role(role), &[], &masked, false).is_ok());
            assert!(authorize_action_run(&as_role(role), &[], &restricted, false).is_ok());
            assert!(authorize_action_run(&as_role(role), &[], &masked, true).is_ok());
            let e = authorize_action_run(&as_role(role), &[], &missing, false).unwrap_err();
            assert_eq!(e.code, sealbox_types::codes::ACTION_REFERENCE_INVALID);
        }
        assert!(authorize_action_run(&as_role(Role::Admin), &[], &restricted, true).is_ok());
        assert!(authorize_action_run(&as_role(Role::Editor), &[], &restricted, true).is_err());

        let worker = IdentityActor {
            id: "i".into(),
            name: "worker".into(),
            tags: tags(&[]),
        };
        let as_identity = Principal::authenticated(
            "w".into(),
            "default".into(),
            Actor::Identity(worker),
            "t".into(),
            TokenKind::Identity,
        );
        let policy = |allow| Policy {
            identities: vec!["worker".into()],
            identity_tags: tags(&[]),
            secret_tags: pay.clone(),
            allow: vec![allow],
        };
        let both = [
            ActionSecret {
                name: "API",
                found: Some((&pay, Masked)),
            },
            ActionSecret {
                name: "OPS",
                found: Some((&ops, Masked)),
            },
        ];
        assert!(
            authorize_action_run(&as_identity, &[], &masked, false).is_err(),
            "deny by default"
        );
        assert!(authorize_action_run(&as_identity, &[policy(Use)], &masked, false).is_ok());
        assert!(authorize_action_run(&as_identity, &[policy(Read)], &restricted, false).is_ok());
        assert!(authorize_action_run(&as_identity, &[policy(Use)], &masked, true).is_err());
        assert!(authorize_action_run(&as_identity, &[policy(Read)], &masked, true).is_ok());
        let e = authorize_action_run(&as_identity, &[policy(Use)], &both, false).unwrap_err();
        assert!(e.message.contains("OPS") && !e.message.contains("API"), "{}", e.message);
        let gone = authorize_action_run(&as_identity, &[policy(Use)], &missing, false).unwrap_err();
        assert_eq!(gone.code, e.code, "missing and forbidden look the same to an identity");
        assert_eq!(gone.class, e.class);
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
