//! Members of a workspace: list, add (with a given or generated password), change role, remove.

use sealbox_crypto::{self as crypto, ExposeSecret, SecretString};
use sealbox_store::{MemberRow, StoreError};
use sealbox_types::{AddMemberRequest, AddMemberResponse, MemberInfo, Role, codes};
use serde_json::json;

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::principal::{Permission, Principal, RequestContext, authorize, authorize_member_change};
use crate::validate;
use crate::{Sealbox, new_id};

impl Sealbox {
    pub async fn list_members(&self, p: &Principal) -> CoreResult<Vec<MemberInfo>> {
        authorize(p, Permission::ManageMembers)?;
        let members = self.store.list_members(p.workspace_id()).await?;
        members.iter().map(member_info).collect()
    }

    pub async fn add_member(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        req: AddMemberRequest,
    ) -> CoreResult<AddMemberResponse> {
        authorize_member_change(p, None, Some(req.role))?;
        let email = validate::email(&req.email)?;
        let (password, generated) = match req.password {
            Some(pw) => {
                validate::password(&pw)?;
                (SecretString::from(pw), false)
            }
            None => (crypto::generate_password(), true),
        };
        let password_hash = self.hashing.hash(&password).await?;
        let row = MemberRow {
            id: new_id(),
            workspace_id: p.workspace_id().to_owned(),
            email: email.clone(),
            password_hash,
            role: req.role.as_str().to_owned(),
            created_at: self.now(),
        };
        let info = member_info(&row)?;
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::MemberAdd,
            format!("member:{email}"),
            Outcome::Success,
            json!({ "role": req.role }),
        );
        match self.store.insert_member(row, record).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => {
                return Err(CoreError::conflict(
                    codes::MEMBER_EXISTS,
                    format!("{email} is already a member of this workspace"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(AddMemberResponse {
            member: info,
            // EXPOSE: a generated password is shown once to the admin who created the member.
            password: generated.then(|| password.expose_secret().to_owned()),
        })
    }

    async fn member_for_change(&self, p: &Principal, email: &str) -> CoreResult<MemberRow> {
        let email = validate::email(email)?;
        self.store
            .member_by_email(p.workspace_id(), &email)
            .await?
            .ok_or_else(|| {
                CoreError::not_found(codes::MEMBER_NOT_FOUND, format!("no member {email} in this workspace"))
            })
    }

    pub async fn set_member_role(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        email: &str,
        role: Role,
    ) -> CoreResult<MemberInfo> {
        authorize(p, Permission::ManageMembers)?;
        let mut member = self.member_for_change(p, email).await?;
        authorize_member_change(p, Role::parse(&member.role), Some(role))?;
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::MemberRoleChange,
            format!("member:{}", member.email),
            Outcome::Success,
            json!({ "from": member.role, "to": role }),
        );
        self.store
            .set_member_role(p.workspace_id(), &member.id, role.as_str(), record)
            .await
            .map_err(member_store_error)?;
        member.role = role.as_str().to_owned();
        member_info(&member)
    }

    pub async fn remove_member(&self, p: &Principal, ctx: &RequestContext, email: &str) -> CoreResult<()> {
        authorize(p, Permission::ManageMembers)?;
        let member = self.member_for_change(p, email).await?;
        authorize_member_change(p, Role::parse(&member.role), None)?;
        let record = self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::MemberRemove,
            format!("member:{}", member.email),
            Outcome::Success,
            json!({ "role": member.role }),
        );
        self.store
            .delete_member(p.workspace_id(), &member.id, record)
            .await
            .map_err(member_store_error)
    }
}

fn member_store_error(e: StoreError) -> CoreError {
    match e {
        StoreError::LastOwner => CoreError::conflict(
            codes::MEMBER_LAST_OWNER,
            "the workspace must keep at least one owner; make someone else owner first",
        ),
        StoreError::NotFound => CoreError::not_found(codes::MEMBER_NOT_FOUND, "no such member in this workspace"),
        other => other.into(),
    }
}

fn member_info(row: &MemberRow) -> CoreResult<MemberInfo> {
    Ok(MemberInfo {
        email: row.email.clone(),
        role: Role::parse(&row.role).ok_or_else(|| CoreError::internal("stored role is unknown"))?,
        created_at: format_ms(row.created_at),
    })
}
