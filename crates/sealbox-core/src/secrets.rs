//! Secrets: create, read details, list, update, versions, reveal, rollback, import; the row
//! decoded once into a [`Secret`]. The trash (delete, restore, purge, retention) is `trash.rs`.

use std::collections::BTreeMap;

use sealbox_crypto::{self as crypto, Aad, ExposeSecret, Sealed};
use sealbox_store::{SealNewVersion, SealedValue, SecretFilter, SecretRow, SecretUpdate, SecretVersionRow, StoreError};
use sealbox_types::{
    CreateSecretRequest, PolicyAccess, RevealResponse, SecretDetails, SecretListQuery, SecretType, SecretVersionInfo,
    SecretVersionList, UpdateSecretRequest, Visibility, codes,
};
use serde_json::{Value, json};

use crate::audit::{AuditAction, Outcome};
use crate::clock::format_ms;
use crate::error::{CoreError, CoreResult};
use crate::kinds::{self, SecretKind, ValidatedValue};
use crate::principal::{
    IdentityActor, Permission, Principal, RequestContext, SecretScope, authorize, authorize_reveal, identity_may,
    may_compare_value, view_scope,
};
use crate::validate::{self, SecretName};
use crate::{Sealbox, new_id};

/// A secret's row decoded once: its type, visibility and tags as types. Every use-case reads
/// these instead of parsing the row's strings again.
pub(crate) struct Secret {
    pub row: SecretRow,
    pub secret_type: SecretType,
    pub visibility: Visibility,
    pub tags: BTreeMap<String, String>,
}

impl Secret {
    pub fn decode(row: SecretRow) -> CoreResult<Self> {
        Ok(Self {
            secret_type: SecretType::parse(&row.secret_type)
                .ok_or_else(|| CoreError::internal("stored secret type is unknown"))?,
            visibility: Visibility::parse(&row.visibility)
                .ok_or_else(|| CoreError::internal("stored visibility is unknown"))?,
            tags: serde_json::from_str(&row.tags).map_err(|_| CoreError::internal("stored tags are invalid"))?,
            row,
        })
    }

    pub fn kind(&self) -> &'static dyn SecretKind {
        kinds::kind_of(self.secret_type)
    }

    /// The value of an opened version.
    pub fn decode_value(&self, plaintext: &crypto::SecretSlice<u8>) -> CoreResult<Value> {
        // EXPOSE: decoded into the API's value for a caller already authorised to receive it.
        self.kind().decode(plaintext.expose_secret())
    }
}

impl Sealbox {
    pub async fn create_secret(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        req: CreateSecretRequest,
    ) -> CoreResult<SecretDetails> {
        authorize(p, Permission::ManageSecrets)?;
        let name = SecretName::parse(&req.name)?;
        let value = kinds::validate(req.secret_type, &req.value)?;
        let description = validate::description(req.description)?;
        let metadata = validate::metadata(req.metadata)?;
        let tags = validate::tags(req.tags)?;
        let visibility = req.visibility.unwrap_or_default();
        let now = self.now();
        let row = SecretRow {
            id: new_id(),
            workspace_id: p.workspace_id().to_owned(),
            name: name.to_string(),
            secret_type: req.secret_type.as_str().to_owned(),
            visibility: visibility.as_str().to_owned(),
            description,
            metadata,
            tags: json_text(&tags)?,
            details: value.details.to_string(),
            current_version: 1,
            created_at: now,
            created_by: p.label(),
            updated_at: now,
            updated_by: p.label(),
            last_used_at: None,
            last_used_by: None,
            deleted_at: None,
            deleted_by: None,
        };
        let version = self.seal_version(&row, 1, &value, p)?;
        let secret = Secret {
            row: row.clone(),
            secret_type: req.secret_type,
            visibility,
            tags,
        };
        let record = self.secret_audit(
            p,
            ctx,
            AuditAction::SecretCreate,
            &name,
            json!({ "version": 1, "type": req.secret_type, "visibility": visibility }),
        );
        match self.store.insert_secret(row, version, record).await {
            Ok(()) => self.details(&secret),
            Err(StoreError::Duplicate(_)) => Err(self.name_taken(p.workspace_id(), &name).await),
            Err(e) => Err(e.into()),
        }
    }

    async fn name_taken(&self, workspace_id: &str, name: &SecretName) -> CoreError {
        match self.store.secret_by_name(workspace_id, name.as_str()).await {
            Ok(Some(existing)) if existing.deleted_at.is_some() => CoreError::conflict(
                codes::SECRET_NAME_IN_TRASH,
                format!(
                    "a secret named {name} is in the trash; restore it (`sealbox secret restore {name}`) or purge it for good (`sealbox secret purge {name}`) to use the name again"
                ),
            ),
            _ => CoreError::conflict(
                codes::SECRET_NAME_TAKEN,
                format!("name {name}: already exists; names are unique in a workspace"),
            ),
        }
    }

    /// Details (never the value); an identity sees only the secrets its policies cover, and any
    /// other is "not found" to it.
    pub async fn get_secret(&self, p: &Principal, name: &str) -> CoreResult<SecretDetails> {
        let scope = view_scope(p, self.policies_of(p.workspace_id())).await?;
        let secret = match scope {
            SecretScope::All => self.live_secret(p, name).await?,
            SecretScope::Covered { .. } => {
                // To an identity, a secret in the trash is as missing as one it may not see.
                let name = SecretName::parse(name)?;
                let found = self.store.secret_by_name(p.workspace_id(), name.as_str()).await?;
                match found
                    .filter(|row| row.deleted_at.is_none())
                    .map(Secret::decode)
                    .transpose()?
                {
                    Some(secret) if scope.covers(&secret.tags) => secret,
                    _ => return Err(not_found(&name)),
                }
            }
        };
        self.details(&secret)
    }

    pub async fn list_secrets(&self, p: &Principal, query: SecretListQuery) -> CoreResult<Vec<SecretDetails>> {
        let scope = view_scope(p, self.policies_of(p.workspace_id())).await?;
        self.list(p, query, false, &scope).await
    }

    pub(crate) async fn list(
        &self,
        p: &Principal,
        query: SecretListQuery,
        in_trash: bool,
        scope: &SecretScope,
    ) -> CoreResult<Vec<SecretDetails>> {
        let wanted = query
            .tags
            .iter()
            .map(|tag| {
                tag.split_once('=')
                    .ok_or_else(|| CoreError::invalid(codes::SECRET_TAGS_INVALID, "tag: must be KEY=VALUE"))
            })
            .collect::<CoreResult<Vec<_>>>()?;
        if let Some(t) = &query.secret_type
            && SecretType::parse(t).is_none()
        {
            return Err(CoreError::invalid(
                codes::REQUEST_INVALID,
                format!("type: must be one of {}", kinds::type_names()),
            ));
        }
        for (k, v) in &wanted {
            validate::check_tag(k, v).map_err(|m| CoreError::invalid(codes::SECRET_TAGS_INVALID, m))?;
        }
        let filter = SecretFilter {
            prefix: validate::name_prefix(query.prefix)?,
            secret_type: query.secret_type,
            in_trash,
        };
        let rows = self.store.list_secrets(p.workspace_id(), &filter).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let secret = Secret::decode(row)?;
            if wanted
                .iter()
                .all(|(k, v)| secret.tags.get(*k).map(String::as_str) == Some(*v))
                && scope.covers(&secret.tags)
            {
                out.push(self.details(&secret)?);
            }
        }
        Ok(out)
    }

    pub async fn update_secret(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        req: UpdateSecretRequest,
    ) -> CoreResult<SecretDetails> {
        authorize(p, Permission::ManageSecrets)?;
        let name = SecretName::parse(name)?;
        let secret = self.live_secret(p, name.as_str()).await?;
        check_immutable(&secret, &req)?;
        let row = &secret.row;
        if req.value.is_none() && req.description.is_none() && req.metadata.is_none() && req.tags.is_none() {
            return Err(CoreError::invalid(
                codes::SECRET_NOTHING_TO_UPDATE,
                "nothing to update: give a value, description, metadata or tags",
            ));
        }
        check_expected(row, req.expected_version)?;
        let value = req
            .value
            .as_ref()
            .map(|v| kinds::validate(secret.secret_type, v))
            .transpose()?;
        let changed: Vec<&str> = [
            ("value", req.value.is_some()),
            ("description", req.description.is_some()),
            ("metadata", req.metadata.is_some()),
            ("tags", req.tags.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        let update = SecretUpdate {
            secret_id: row.id.clone(),
            workspace_id: row.workspace_id.clone(),
            expected_current_version: req.expected_version.map(|v| v.min(i64::MAX as u64) as i64),
            details: value.as_ref().map(|v| v.details.to_string()),
            new_value: value.map(|v| self.sealer(row, v)),
            description: req.description.map(|d| validate::description(Some(d))).transpose()?,
            metadata: req.metadata.map(|m| validate::metadata(Some(m))).transpose()?,
            tags: req
                .tags
                .map(|t| validate::tags(Some(t)).and_then(|t| json_text(&t)))
                .transpose()?,
            updated_at: self.now(),
            updated_by: p.label(),
        };
        let detail = json!({ "version": row.current_version, "changed": changed });
        let record = self.secret_audit(p, ctx, AuditAction::SecretUpdate, &name, detail);
        self.apply_update(&name, update, record).await
    }

    async fn apply_update(
        &self,
        name: &SecretName,
        update: SecretUpdate,
        record: sealbox_store::AuditRecord,
    ) -> CoreResult<SecretDetails> {
        let expected = update.expected_current_version;
        match self.store.update_secret(update, record).await {
            Ok(row) => self.details(&Secret::decode(row)?),
            Err(StoreError::VersionConflict { current }) => Err(version_conflict(name, current, expected)),
            Err(StoreError::NotFound) => Err(not_found(name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_versions(&self, p: &Principal, name: &str) -> CoreResult<SecretVersionList> {
        authorize(p, Permission::ViewSecrets)?;
        let row = self.live_secret(p, name).await?.row;
        let versions = self.store.list_versions(&row.id).await?;
        Ok(SecretVersionList {
            name: row.name,
            current_version: row.current_version.max(0) as u64,
            versions: versions
                .into_iter()
                .map(|v| SecretVersionInfo {
                    version: v.version.max(0) as u64,
                    created_at: format_ms(v.created_at),
                    created_by: v.created_by,
                })
                .collect(),
        })
    }

    /// Shows a masked value to a member (restricted values are refused to members), or any value
    /// a policy lets an identity `read` (as in its environment; any other secret is "not found"
    /// to it). Each reveal is audited before the value is returned, and refused if the event
    /// cannot be recorded: `secret.reveal` for members, `secret.read` for identities, which also
    /// marks the secret as used.
    pub async fn reveal(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        version: Option<u64>,
    ) -> CoreResult<RevealResponse> {
        if let Some(identity) = p.identity() {
            return self.read_as_identity(p, identity, ctx, name, version).await;
        }
        authorize(p, Permission::RevealMasked)?;
        let name = SecretName::parse(name)?;
        let requested = version.map(|v| v.min(i64::MAX as u64) as i64);
        // One query for the secret and the version: this is the hottest read path.
        let (row, stored) = match self
            .store
            .secret_with_version(p.workspace_id(), name.as_str(), requested)
            .await?
        {
            Some((row, stored)) if row.deleted_at.is_none() => (Secret::decode(row)?, stored),
            Some(_) => return Err(in_trash(&name)),
            None => return Err(not_found(&name)),
        };
        if let Err(refused) = authorize_reveal(p, row.visibility, name.as_str()) {
            self.audit_denied(p, ctx, AuditAction::SecretReveal, format!("secret:{name}"))
                .await;
            return Err(refused);
        }
        let version = requested.unwrap_or(row.row.current_version);
        let stored = stored.ok_or_else(|| no_such_version(&row.row, version))?;
        let value = row.decode_value(&self.open_sealed(&row.row, stored).await?)?;
        let record = self.secret_audit(p, ctx, AuditAction::SecretReveal, &name, json!({ "version": version }));
        self.store.append_audit(record).await?;
        Ok(RevealResponse {
            name: row.row.name,
            secret_type: row.secret_type,
            version: version as u64,
            value,
        })
    }

    /// An identity reading one value: a policy must allow `read` on the secret (restricted ones
    /// included, as in the environment); a secret it may not read, in the trash or missing is
    /// "not found" alike.
    async fn read_as_identity(
        &self,
        p: &Principal,
        identity: &IdentityActor,
        ctx: &RequestContext,
        name: &str,
        version: Option<u64>,
    ) -> CoreResult<RevealResponse> {
        let name = SecretName::parse(name)?;
        let requested = version.map(|v| v.min(i64::MAX as u64) as i64);
        let (row, stored) = match self
            .store
            .secret_with_version(p.workspace_id(), name.as_str(), requested)
            .await?
        {
            Some((row, stored)) if row.deleted_at.is_none() => (Secret::decode(row)?, stored),
            _ => return Err(not_found(&name)),
        };
        let policies = self.policies_of(p.workspace_id()).await?;
        if !identity_may(identity, &policies, &row.tags, PolicyAccess::Read) {
            return Err(not_found(&name));
        }
        let version = requested.unwrap_or(row.row.current_version);
        let stored = stored.ok_or_else(|| no_such_version(&row.row, version))?;
        let value = row.decode_value(&self.open_sealed(&row.row, stored.clone()).await?)?;
        let target = format!("secret:{name}");
        self.record_reads(p, ctx, &[(row.row.clone(), stored)], &target).await?;
        Ok(RevealResponse {
            name: row.row.name,
            secret_type: row.secret_type,
            version: version as u64,
            value,
        })
    }

    /// Writes a new version holding version `to`'s value, server-side: nobody reads it.
    pub async fn rollback(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        name: &str,
        to: u64,
        expected_version: Option<u64>,
    ) -> CoreResult<SecretDetails> {
        authorize(p, Permission::ManageSecrets)?;
        let name = SecretName::parse(name)?;
        let secret = self.live_secret(p, name.as_str()).await?;
        let row = &secret.row;
        check_expected(row, expected_version)?;
        let to = to.min(i64::MAX as u64) as i64;
        let old = self.open_version(row, to).await?;
        // The details of a structured value follow the value back.
        let old_value = kinds::validate(secret.secret_type, &secret.decode_value(&old)?)?;
        let update = SecretUpdate {
            secret_id: row.id.clone(),
            workspace_id: row.workspace_id.clone(),
            expected_current_version: expected_version.map(|v| v.min(i64::MAX as u64) as i64),
            details: Some(old_value.details.to_string()),
            new_value: Some(self.sealer(row, old_value)),
            description: None,
            metadata: None,
            tags: None,
            updated_at: self.now(),
            updated_by: p.label(),
        };
        let detail = json!({ "from": row.current_version, "to": to });
        let record = self.secret_audit(p, ctx, AuditAction::SecretRollback, &name, detail);
        self.apply_update(&name, update, record).await
    }

    // ---- helpers ----

    pub(crate) async fn live_secret(&self, p: &Principal, name: &str) -> CoreResult<Secret> {
        let name = SecretName::parse(name)?;
        match self.store.secret_by_name(p.workspace_id(), name.as_str()).await? {
            Some(row) if row.deleted_at.is_none() => Secret::decode(row),
            Some(_) => Err(in_trash(&name)),
            None => Err(not_found(&name)),
        }
    }

    fn seal_version(
        &self,
        row: &SecretRow,
        version: i64,
        value: &ValidatedValue,
        p: &Principal,
    ) -> CoreResult<SecretVersionRow> {
        // EXPOSE: the plaintext goes straight into AES-GCM and is never copied elsewhere.
        let sealed = seal(
            &self.keyring.active(),
            &row.workspace_id,
            &row.id,
            version,
            value.plaintext.expose_secret(),
        )
        .map_err(CoreError::internal)?;
        Ok(SecretVersionRow {
            secret_id: row.id.clone(),
            version,
            ciphertext: sealed.ciphertext,
            wrapped_dek: sealed.wrapped_dek,
            key_version: sealed.key_version,
            created_at: self.now(),
            created_by: p.label(),
        })
    }

    /// Seals `value` for the version number the store assigns inside its write transaction.
    fn sealer(&self, row: &SecretRow, value: ValidatedValue) -> SealNewVersion {
        let (kek, workspace_id, secret_id) = (self.keyring.active(), row.workspace_id.clone(), row.id.clone());
        Box::new(move |version| {
            // EXPOSE: the plaintext goes straight into AES-GCM and is never copied elsewhere.
            seal(
                &kek,
                &workspace_id,
                &secret_id,
                version,
                value.plaintext.expose_secret(),
            )
            .map_err(|e| format!("sealing a new version failed: {e}"))
        })
    }

    async fn open_version(&self, row: &SecretRow, version: i64) -> CoreResult<crypto::SecretSlice<u8>> {
        let stored = self
            .store
            .secret_version(&row.id, version)
            .await?
            .ok_or_else(|| no_such_version(row, version))?;
        self.open_sealed(row, stored).await
    }

    /// Opens a stored version with the key its data key is wrapped by: the root key (rows from
    /// before the keyring) or a keyring version (reloaded from the database when unknown here).
    pub(crate) async fn open_sealed(
        &self,
        row: &SecretRow,
        stored: SecretVersionRow,
    ) -> CoreResult<crypto::SecretSlice<u8>> {
        let sealed = Sealed {
            ciphertext: stored.ciphertext,
            wrapped_dek: stored.wrapped_dek,
            key_version: u32::try_from(stored.key_version).unwrap_or(u32::MAX),
        };
        let aad = Aad {
            workspace_id: &row.workspace_id,
            secret_id: &row.id,
            version: stored.version.max(0) as u64,
        };
        let opened = match crypto::wrapped_by(&sealed) {
            Some(crypto::WrappedBy::RootKey) => crypto::open(&self.root_key, &aad, &sealed),
            Some(crypto::WrappedBy::Kek(version)) => {
                crypto::open_with_kek(&*self.keyring.kek(version).await?, &aad, &sealed)
            }
            None => Err(crypto::CryptoError::Decrypt),
        };
        opened.map_err(|_| CoreError::internal(format!("cannot open secret id {} version {}", row.id, stored.version)))
    }

    pub(crate) fn secret_audit(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        action: AuditAction,
        name: &SecretName,
        detail: Value,
    ) -> sealbox_store::AuditRecord {
        self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            action,
            format!("secret:{name}"),
            Outcome::Success,
            detail,
        )
    }

    pub(crate) fn details(&self, secret: &Secret) -> CoreResult<SecretDetails> {
        let parse = |text: &str| {
            serde_json::from_str::<Value>(text).map_err(|_| CoreError::internal("stored JSON column is invalid"))
        };
        let row = &secret.row;
        Ok(SecretDetails {
            name: row.name.clone(),
            secret_type: secret.secret_type,
            visibility: secret.visibility,
            description: row.description.clone(),
            metadata: parse(&row.metadata)?,
            tags: secret.tags.clone(),
            details: parse(&row.details)?,
            version: row.current_version.max(0) as u64,
            created_at: format_ms(row.created_at),
            created_by: row.created_by.clone(),
            updated_at: format_ms(row.updated_at),
            updated_by: row.updated_by.clone(),
            last_used_at: row.last_used_at.map(format_ms),
            last_used_by: row.last_used_by.clone(),
            deleted_at: row.deleted_at.map(format_ms),
            purge_after: row.deleted_at.map(|at| format_ms(at + self.config.trash_retention_ms)),
        })
    }
}

fn seal(
    kek: &crypto::Kek,
    workspace_id: &str,
    secret_id: &str,
    version: i64,
    plaintext: &[u8],
) -> Result<SealedValue, crypto::CryptoError> {
    let aad = Aad {
        workspace_id,
        secret_id,
        version: version.max(0) as u64,
    };
    let sealed = crypto::seal_with_kek(kek, &aad, plaintext)?;
    Ok(SealedValue {
        ciphertext: sealed.ciphertext,
        wrapped_dek: sealed.wrapped_dek,
        key_version: i64::from(sealed.key_version),
    })
}

fn json_text<T: serde::Serialize>(v: &T) -> CoreResult<String> {
    serde_json::to_string(v).map_err(CoreError::internal)
}

fn check_immutable(secret: &Secret, req: &UpdateSecretRequest) -> CoreResult<()> {
    if req.name.as_deref().is_some_and(|n| n != secret.row.name) {
        return Err(CoreError::invalid(
            codes::SECRET_NAME_IMMUTABLE,
            "name: secret names cannot be changed; create a new secret and delete this one",
        ));
    }
    if req.secret_type.is_some_and(|t| t != secret.secret_type) {
        return Err(CoreError::invalid(
            codes::SECRET_TYPE_IMMUTABLE,
            "type: a secret's type is fixed at creation",
        ));
    }
    if req.visibility.is_some_and(|v| v != secret.visibility) {
        return Err(CoreError::invalid(
            codes::SECRET_VISIBILITY_IMMUTABLE,
            "visibility: a secret's visibility is fixed at creation",
        ));
    }
    Ok(())
}

fn check_expected(row: &SecretRow, expected: Option<u64>) -> CoreResult<()> {
    match expected {
        Some(e) if e != row.current_version.max(0) as u64 => Err(CoreError::conflict(
            codes::SECRET_VERSION_CONFLICT,
            format!(
                "secret {} is at version {}, not {e}: someone changed it; read it again and retry",
                row.name, row.current_version
            ),
        )),
        _ => Ok(()),
    }
}

fn version_conflict(name: &SecretName, current: i64, expected: Option<i64>) -> CoreError {
    let expected = expected.map_or(String::new(), |e| format!(", not {e}"));
    CoreError::conflict(
        codes::SECRET_VERSION_CONFLICT,
        format!(
            "secret {name} is at version {current}{expected}: someone changed it; nothing was written; read it again and retry"
        ),
    )
}

pub(crate) fn not_found(name: &SecretName) -> CoreError {
    CoreError::not_found(
        codes::SECRET_NOT_FOUND,
        format!("no secret named {name} in this workspace"),
    )
}

fn in_trash(name: &SecretName) -> CoreError {
    CoreError::not_found(
        codes::SECRET_NOT_FOUND,
        format!("secret {name} is in the trash; restore it with `sealbox secret restore {name}`"),
    )
}

fn no_such_version(row: &SecretRow, version: i64) -> CoreError {
    CoreError::not_found(
        codes::SECRET_VERSION_NOT_FOUND,
        format!(
            "secret {} has no version {version}; it has versions 1 to {}",
            row.name, row.current_version
        ),
    )
}

impl Sealbox {
    /// Creates or updates `text` secrets from `NAME -> value` pairs. Every name, value and tag is
    /// checked first; if any is refused, nothing is written. Stored values are compared
    /// server-side, and only where the caller may reveal them ([`may_compare_value`]): a
    /// restricted secret is always `changed` (and `not_compared`) and an import replaces its
    /// value, so a dry run cannot test guesses. The tags go on the secrets the import creates.
    /// Every import, dry run included, is one `secret.import` event naming each secret and what
    /// happened to it; the writes also record their own `secret.create` / `secret.update`.
    pub async fn import(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        req: sealbox_types::ImportRequest,
    ) -> CoreResult<sealbox_types::ImportResponse> {
        authorize(p, Permission::ManageSecrets)?;
        let tags = validate::tags(req.tags)?;
        let mut problems = Vec::new();
        let mut plan = Vec::new();
        for (name, value) in &req.secrets {
            let checked = SecretName::parse(name)
                .and_then(|n| kinds::validate(SecretType::Text, &Value::String(value.clone())).map(|v| (n, v)));
            match checked {
                Ok((name, validated)) => {
                    let existing = self
                        .store
                        .secret_with_version(p.workspace_id(), name.as_str(), None)
                        .await?;
                    let existing = existing
                        .map(|(row, version)| Secret::decode(row).map(|secret| (secret, version)))
                        .transpose()?;
                    plan.push((name, validated, existing));
                }
                Err(e) => problems.push(format!("{}: {}", validate::quote_for_message(name), e.message)),
            }
        }
        let mut outcome = sealbox_types::ImportResponse {
            created: vec![],
            changed: vec![],
            unchanged: vec![],
            not_compared: vec![],
            dry_run: req.dry_run,
        };
        let mut writes = Vec::new();
        for (name, validated, existing) in plan {
            match existing {
                None => {
                    outcome.created.push(name.to_string());
                    writes.push((name, validated, None));
                }
                Some((secret, _)) if secret.row.deleted_at.is_some() => {
                    problems.push(format!("{name}: in the trash; restore or purge it first"))
                }
                Some((secret, _)) if secret.secret_type != SecretType::Text => problems.push(format!(
                    "{name}: is a {} secret; import writes text secrets only",
                    secret.secret_type.as_str()
                )),
                Some((secret, Some(version))) => {
                    let row = secret.row;
                    let unchanged = if may_compare_value(p, secret.visibility, name.as_str()) {
                        let current = self.open_sealed(&row, version).await?;
                        // EXPOSE: compared in memory with the imported value, never returned.
                        current.expose_secret() == validated.plaintext.expose_secret()
                    } else {
                        outcome.not_compared.push(name.to_string());
                        false
                    };
                    if unchanged {
                        outcome.unchanged.push(name.to_string());
                    } else {
                        outcome.changed.push(name.to_string());
                        writes.push((name, validated, Some(row)));
                    }
                }
                Some((_, None)) => return Err(CoreError::internal("a secret without its current version")),
            }
        }
        if !problems.is_empty() {
            return Err(CoreError::invalid(codes::IMPORT_INVALID, problems.join("; ")));
        }
        if !req.dry_run {
            for (name, validated, existing) in writes {
                // EXPOSE: handed to create_secret/update_secret, which validate and seal it again.
                let value = Value::String(
                    String::from_utf8(validated.plaintext.expose_secret().to_vec()).map_err(CoreError::internal)?,
                );
                match existing {
                    None => {
                        let req = CreateSecretRequest {
                            name: name.to_string(),
                            secret_type: SecretType::Text,
                            value,
                            visibility: None,
                            description: None,
                            metadata: None,
                            tags: (!tags.is_empty()).then(|| tags.clone()),
                        };
                        self.create_secret(p, ctx, req).await?;
                    }
                    Some(_) => {
                        let req = UpdateSecretRequest {
                            value: Some(value),
                            ..Default::default()
                        };
                        self.update_secret(p, ctx, name.as_str(), req).await?;
                    }
                }
            }
        }
        // The answer says something about stored values (masked ones), so it leaves only once
        // the event is written.
        self.store
            .append_audit(self.import_audit(p, ctx, &outcome, &tags))
            .await?;
        Ok(outcome)
    }

    /// `secret.import`, target `import`: `{"dry_run", "secrets": {NAME: created | changed |
    /// unchanged}, "not_compared": [NAME], "tags"}`, never a value. `AuditFilter::secret` finds it
    /// by any of the names.
    fn import_audit(
        &self,
        p: &Principal,
        ctx: &RequestContext,
        outcome: &sealbox_types::ImportResponse,
        tags: &BTreeMap<String, String>,
    ) -> sealbox_store::AuditRecord {
        let mut secrets = serde_json::Map::new();
        for (names, what) in [
            (&outcome.created, "created"),
            (&outcome.changed, "changed"),
            (&outcome.unchanged, "unchanged"),
        ] {
            for name in names {
                secrets.insert(name.clone(), what.into());
            }
        }
        let mut detail = json!({
            "dry_run": outcome.dry_run,
            "secrets": secrets,
            "not_compared": outcome.not_compared,
        });
        if !tags.is_empty() {
            detail["tags"] = json!(tags);
        }
        self.audit_record(
            p.workspace_id(),
            p.label(),
            ctx,
            AuditAction::SecretImport,
            "import".to_owned(),
            Outcome::Success,
            detail,
        )
    }
}
