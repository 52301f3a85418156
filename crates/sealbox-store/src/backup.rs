//! Backups: every table's rows as the store holds them (ciphertext, wrapped data keys and key
//! versions as bytes, never a plaintext value), read in one consistent snapshot, written as one
//! file, checked, and restored into an empty database of either kind.
//!
//! # The file (format version 1)
//!
//! JSON lines, UTF-8, one JSON value per line:
//! 1. the header: `{"sealbox_backup": 1, "source": "sqlite"|"postgres", "schema": "<newest
//!    migration>", "created_at": <ms>, "root_key": {"version": N, "check": "<base64>"} | null}`.
//!    `root_key` is the check value the database holds for its newest root key version: restore
//!    and verify use it to tell whether a root key is the one the backup needs.
//! 2. per table, in dependency order ([`TABLES`]): `{"table": "<name>", "columns": [...]}`, one
//!    JSON array per row (integers as numbers, text as strings, bytes as `{"b64": "..."}`,
//!    `null`), then `{"end": "<name>", "rows": N, "sha256": "<hex>"}`, the SHA-256 of that
//!    section's row lines, each with its newline;
//! 3. the trailer `{"sha256": "<hex>"}`: the SHA-256 of every byte before that line.
//!
//! The `keyring`, `audit_pending`, `workspace_token_settings`, `identity_federations` and
//! `sso_settings` sections come last, in that order; a file written before a table existed has no
//! section for it (nor for those after it) and restores with the table empty (an empty keyring:
//! its data keys are all wrapped by the root key; every workspace on the default sign-in
//! settings).
//!
//! Not backed up: `schema_migrations` (a restore applies this build's migrations first),
//! `login_attempts` (sign-in rate-limit bookkeeping), `sso_logins` (single sign-ons in progress,
//! minutes long) and the `bootstrap_pending` mark.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::db::{Arg, Columns, Exec, Row};
use crate::migrate::{BOOTSTRAP_PENDING, applied, schema_version};
use crate::{AuditChainKey, AuditRecord, GENESIS_HASH, Result, StoreError, chain_hash, pending_mac};

/// The version of the file format this build writes and reads.
pub const BACKUP_FORMAT_VERSION: u64 = 1;

/// The meta rows that hold a root key's check value: `root_key_check:v<N>`.
const ROOT_KEY_CHECK_PREFIX: &str = "root_key_check:v";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
    Bytes,
    OptBytes,
}

#[derive(Debug, PartialEq, Eq)]
struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
    /// A total order, so the same data gives the same file.
    order_by: &'static str,
}

use Kind::{Bytes, Int, OptBytes, OptInt, OptText, Text};

/// Every table a backup holds, parents before children.
const TABLES: &[Table] = &[
    Table {
        name: "meta",
        columns: &[("key", Text), ("value", Bytes)],
        order_by: "key",
    },
    Table {
        name: "workspaces",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("created_at", Int),
            ("audit_seq", Int),
            ("audit_hash", OptBytes),
        ],
        order_by: "id",
    },
    Table {
        name: "members",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("email", Text),
            ("password_hash", Text),
            ("role", Text),
            ("created_at", Int),
        ],
        order_by: "id",
    },
    Table {
        name: "identities",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("name", Text),
            ("tags", Text),
            ("created_at", Int),
            ("created_by", Text),
        ],
        order_by: "id",
    },
    Table {
        name: "identity_env",
        columns: &[("identity_id", Text), ("key", Text), ("value", Text)],
        order_by: "identity_id, key",
    },
    Table {
        name: "tokens",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("kind", Text),
            ("member_id", OptText),
            ("identity_id", OptText),
            ("name", Text),
            ("hash", Bytes),
            ("prefix", OptText),
            ("created_at", Int),
            ("expires_at", OptInt),
            ("revoked_at", OptInt),
            ("last_used_at", OptInt),
        ],
        order_by: "id",
    },
    Table {
        name: "policies",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("name", Text),
            ("identity_names", Text),
            ("identity_tags", Text),
            ("secret_tags", Text),
            ("allow", Text),
            ("created_at", Int),
            ("created_by", Text),
        ],
        order_by: "id",
    },
    Table {
        name: "actions",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("name", Text),
            ("kind", Text),
            ("spec", Text),
            ("created_at", Int),
            ("created_by", Text),
            ("updated_at", Int),
            ("updated_by", Text),
        ],
        order_by: "id",
    },
    Table {
        name: "secrets",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("name", Text),
            ("secret_type", Text),
            ("visibility", Text),
            ("description", Text),
            ("metadata", Text),
            ("tags", Text),
            ("details", Text),
            ("current_version", Int),
            ("created_at", Int),
            ("created_by", Text),
            ("updated_at", Int),
            ("updated_by", Text),
            ("last_used_at", OptInt),
            ("last_used_by", OptText),
            ("deleted_at", OptInt),
            ("deleted_by", OptText),
        ],
        order_by: "id",
    },
    Table {
        name: "secret_versions",
        columns: &[
            ("secret_id", Text),
            ("version", Int),
            ("ciphertext", Bytes),
            ("wrapped_dek", Bytes),
            ("key_version", Int),
            ("created_at", Int),
            ("created_by", Text),
        ],
        order_by: "secret_id, version",
    },
    Table {
        name: "audit_events",
        columns: &[
            ("workspace_id", Text),
            ("seq", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("outcome", Text),
            ("request_id", Text),
            ("client_addr", Text),
            ("detail", Text),
            ("prev_hash", Bytes),
            ("hash", Bytes),
        ],
        order_by: "workspace_id, seq",
    },
    Table {
        name: "keyring",
        columns: &[
            ("version", Int),
            ("wrapped_kek", Bytes),
            ("created_at", Int),
            ("state", Text),
        ],
        order_by: "version",
    },
    // Events committed but not sealed into their chain yet when the snapshot was taken (written
    // by PostgreSQL's changes; see `audit.rs`): restored as they are, and sealed by the restored
    // database's first server.
    Table {
        name: "audit_pending",
        columns: &[
            ("id", Int),
            ("workspace_id", Text),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("outcome", Text),
            ("request_id", Text),
            ("client_addr", Text),
            ("detail", Text),
            ("mac", Bytes),
        ],
        order_by: "id",
    },
    Table {
        name: "workspace_token_settings",
        columns: &[
            ("workspace_id", Text),
            ("default_token_ttl_seconds", OptInt),
            ("max_token_ttl_seconds", OptInt),
            ("updated_at", Int),
            ("updated_by", Text),
        ],
        order_by: "workspace_id",
    },
    Table {
        name: "identity_federations",
        columns: &[
            ("id", Text),
            ("workspace_id", Text),
            ("identity_id", Text),
            ("issuer", Text),
            ("audience", Text),
            ("claims", Text),
            ("ttl_seconds", OptInt),
            ("static_keys", OptText),
            ("created_at", Int),
            ("created_by", Text),
        ],
        order_by: "id",
    },
    Table {
        name: "sso_settings",
        columns: &[
            ("workspace_id", Text),
            ("password_sign_in", Int),
            ("create_members", OptText),
            ("group_roles", Text),
            ("updated_at", Int),
        ],
        order_by: "workspace_id",
    },
];

/// Tables added to the end of [`TABLES`] after files of format version 1 were first written: a
/// file taken before holds no section for them and reads as holding none of their rows.
const ADDED_LATER: &[&str] = &[
    "keyring",
    "audit_pending",
    "workspace_token_settings",
    "identity_federations",
    "sso_settings",
];

/// One stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHeader {
    /// `sqlite` or `postgres`.
    pub source: String,
    /// The newest schema migration of the database backed up.
    pub schema: String,
    pub created_at: i64,
    /// The check value of the root key the backup needs, and that key's version.
    pub root_key: Option<(u32, Vec<u8>)>,
}

/// A backup in memory: the header and every table's rows, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub header: BackupHeader,
    tables: Vec<(&'static Table, Vec<Vec<Value>>)>,
}

/// Why a backup file was refused. The message names what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Not a backup this build reads, or cut short.
    #[error("not a valid Sealbox backup: {0}")]
    Format(String),
    /// A section's or the whole file's checksum does not match its bytes.
    #[error("checksum mismatch: {0}; the file was changed or damaged")]
    Checksum(String),
    /// The audit log is not one unbroken chain per workspace.
    #[error("the audit chain is broken: {0}")]
    Chain(String),
}

/// What checking a backup's audit chains found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    pub events: u64,
    /// Whether each event's keyed hash was recomputed (only with the root key); without it the
    /// sequence numbers, the links between events and the chain heads are checked.
    pub hashes_recomputed: bool,
}

impl Backup {
    /// The rows of each table, by table name, in dependency order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        self.tables.iter().map(|(t, rows)| (t.name, rows.len())).collect()
    }

    /// The names of the workspaces the backup holds.
    pub fn workspaces(&self) -> Vec<String> {
        self.rows("workspaces")
            .filter_map(|row| match row.get(1) {
                Some(Value::Text(name)) => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// The value of the backup's `meta` row `key`.
    pub fn meta(&self, key: &str) -> Option<Vec<u8>> {
        self.rows("meta").find_map(|row| match &row[..] {
            [Value::Text(k), Value::Bytes(value)] if k == key => Some(value.clone()),
            _ => None,
        })
    }

    /// The keyring rows the backup holds (each KEK wrapped by the backup's root key).
    pub fn keyring(&self) -> Vec<crate::KeyringRow> {
        self.rows("keyring")
            .filter_map(|row| match &row[..] {
                [
                    Value::Int(version),
                    Value::Bytes(wrapped_kek),
                    Value::Int(created_at),
                    Value::Text(state),
                ] => Some(crate::KeyringRow {
                    version: *version,
                    wrapped_kek: wrapped_kek.clone(),
                    created_at: *created_at,
                    state: state.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    fn rows(&self, table: &str) -> impl Iterator<Item = &Vec<Value>> {
        self.tables
            .iter()
            .filter(move |(t, _)| t.name == table)
            .flat_map(|(_, rows)| rows)
    }

    /// The file's bytes (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let h = &self.header;
        let root_key = h
            .root_key
            .as_ref()
            .map(|(version, check)| json!({"version": version, "check": STANDARD.encode(check)}));
        let header = json!({
            "sealbox_backup": BACKUP_FORMAT_VERSION,
            "source": h.source,
            "schema": h.schema,
            "created_at": h.created_at,
            "root_key": root_key,
        });
        let mut out = Vec::new();
        push_line(&mut out, &header);
        for (table, rows) in &self.tables {
            let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            push_line(&mut out, &json!({"table": table.name, "columns": columns}));
            let mut section = Vec::new();
            for row in rows {
                push_line(&mut section, &Json::Array(row.iter().map(to_json).collect()));
            }
            let sum = hex::encode(Sha256::digest(&section));
            out.extend_from_slice(&section);
            push_line(&mut out, &json!({"end": table.name, "rows": rows.len(), "sha256": sum}));
        }
        let sum = hex::encode(Sha256::digest(&out));
        push_line(&mut out, &json!({ "sha256": sum }));
        out
    }

    /// Reads and checks a backup file: its structure, every value against its column, each
    /// section's checksum and the whole file's.
    pub fn parse(bytes: &[u8]) -> Result<Backup, BackupError> {
        let text = std::str::from_utf8(bytes).map_err(|_| format_error("the file is not UTF-8 text"))?;
        let mut lines = text.split_inclusive('\n').enumerate().map(|(i, l)| (i + 1, l));
        let mut offset = 0_usize;
        let mut next = |what: &str| {
            let (n, line) = lines
                .next()
                .ok_or_else(|| format_error(&format!("the file ends before {what} (truncated?)")))?;
            let start = offset;
            offset += line.len();
            Ok::<_, BackupError>((n, line, start))
        };
        let (n, line, _) = next("the header")?;
        let header = parse_json(n, line)?;
        let version = header["sealbox_backup"].as_u64().ok_or_else(|| {
            format_error("line 1 is not a Sealbox backup header (no \"sealbox_backup\" format version)")
        })?;
        if version != BACKUP_FORMAT_VERSION {
            return Err(format_error(&format!(
                "format version {version}; this Sealbox reads version {BACKUP_FORMAT_VERSION}"
            )));
        }
        let header = parse_header(&header)?;
        let mut tables = Vec::new();
        let mut trailer_line = None;
        for table in TABLES {
            if trailer_line.is_some() {
                tables.push((table, Vec::new()));
                continue;
            }
            let (n, line, line_start) = next(&format!("the {} section", table.name))?;
            let start = parse_json(n, line)?;
            if ADDED_LATER.contains(&table.name) && start.get("table").is_none() {
                // A file from before this table existed: this line is the trailer.
                trailer_line = Some((n, line, line_start));
                tables.push((table, Vec::new()));
                continue;
            }
            if start["table"].as_str() != Some(table.name) {
                return Err(format_error(&format!(
                    "line {n}: expected the start of the {} section",
                    table.name
                )));
            }
            let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            if start["columns"] != json!(columns) {
                return Err(format_error(&format!(
                    "line {n}: the {} section's columns are not {columns:?}",
                    table.name
                )));
            }
            let mut rows = Vec::new();
            let mut hasher = Sha256::new();
            loop {
                let (n, line, _) = next(&format!("the end of the {} section", table.name))?;
                let value = parse_json(n, line)?;
                if let Json::Array(values) = value {
                    hasher.update(line.as_bytes());
                    rows.push(parse_row(table, n, values)?);
                    continue;
                }
                if value["end"].as_str() != Some(table.name) {
                    return Err(format_error(&format!(
                        "line {n}: expected a row or the end of the {} section",
                        table.name
                    )));
                }
                if value["rows"].as_u64() != Some(rows.len() as u64) {
                    return Err(format_error(&format!(
                        "line {n}: the {} section says {} rows but holds {}",
                        table.name,
                        value["rows"],
                        rows.len()
                    )));
                }
                if value["sha256"].as_str() != Some(hex::encode(hasher.finalize()).as_str()) {
                    return Err(BackupError::Checksum(format!("the {} section", table.name)));
                }
                break;
            }
            tables.push((table, rows));
        }
        let (n, line, start) = match trailer_line {
            Some(found) => found,
            None => next("the trailer")?,
        };
        let trailer = parse_json(n, line)?;
        let sum = hex::encode(Sha256::digest(&bytes[..start]));
        if trailer["sha256"].as_str() != Some(sum.as_str()) {
            return Err(BackupError::Checksum("the whole file".into()));
        }
        if next("nothing").is_ok() {
            return Err(format_error(&format!("line {}: data after the trailer", n + 1)));
        }
        Ok(Backup { header, tables })
    }

    /// Checks every workspace's audit chain: sequence numbers 1, 2, ... without a gap, each
    /// event linked to the one before, the workspace's head on its last event, and, with `key`
    /// (derived from the root key), each event's keyed hash.
    pub fn check_chains(&self, key: Option<&AuditChainKey>) -> Result<ChainCheck, BackupError> {
        let mut heads: BTreeMap<String, (i64, Option<Vec<u8>>, String)> = BTreeMap::new();
        for row in self.rows("workspaces") {
            if let [Value::Text(id), Value::Text(name), _, Value::Int(seq), hash] = &row[..] {
                let hash = match hash {
                    Value::Bytes(b) => Some(b.clone()),
                    _ => None,
                };
                heads.insert(id.clone(), (*seq, hash, name.clone()));
            }
        }
        let mut tails: BTreeMap<String, (i64, Vec<u8>)> = BTreeMap::new();
        let mut events = 0_u64;
        for row in self.rows("audit_events") {
            let event = audit_row(row).ok_or_else(|| BackupError::Chain("an audit event is malformed".into()))?;
            let (seq, record, prev_hash, hash) = event;
            let name = heads
                .get(&record.workspace_id)
                .map(|(_, _, name)| name.clone())
                .ok_or_else(|| BackupError::Chain(format!("event {seq} belongs to no workspace in the backup")))?;
            let (last_seq, last_hash) = tails
                .get(&record.workspace_id)
                .cloned()
                .unwrap_or((0, GENESIS_HASH.to_vec()));
            if seq != last_seq + 1 {
                return Err(BackupError::Chain(format!(
                    "workspace {name:?}: event {} is missing (the next event is {seq})",
                    last_seq + 1
                )));
            }
            if prev_hash != last_hash {
                return Err(BackupError::Chain(format!(
                    "workspace {name:?}: event {seq} does not link to event {last_seq}"
                )));
            }
            if let Some(key) = key
                && chain_hash(key, &prev_hash, seq, &record) != hash
            {
                return Err(BackupError::Chain(format!(
                    "workspace {name:?}: event {seq} was changed (its hash does not match its content)"
                )));
            }
            tails.insert(record.workspace_id.clone(), (seq, hash));
            events += 1;
        }
        for row in self.rows("audit_pending") {
            let (id, record, mac) =
                pending_row(row).ok_or_else(|| BackupError::Chain("an unsealed audit event is malformed".into()))?;
            let name = heads
                .get(&record.workspace_id)
                .map(|(_, _, name)| name.clone())
                .ok_or_else(|| {
                    BackupError::Chain(format!("unsealed event {id} belongs to no workspace in the backup"))
                })?;
            if let Some(key) = key
                && pending_mac(key, &record) != mac
            {
                return Err(BackupError::Chain(format!(
                    "workspace {name:?}: unsealed event {id} was changed or inserted (its MAC does not match its content)"
                )));
            }
        }
        for (id, (seq, hash, name)) in &heads {
            let (last_seq, last_hash) = tails.get(id).cloned().unwrap_or((0, GENESIS_HASH.to_vec()));
            let head_matches = *seq == last_seq && (*seq == 0 || hash.as_ref() == Some(&last_hash));
            if !head_matches {
                return Err(BackupError::Chain(format!(
                    "workspace {name:?}: its chain head is event {seq} but its last event is {last_seq}"
                )));
            }
        }
        Ok(ChainCheck {
            events,
            hashes_recomputed: key.is_some(),
        })
    }
}

fn format_error(what: &str) -> BackupError {
    BackupError::Format(what.to_owned())
}

fn push_line(out: &mut Vec<u8>, value: &Json) {
    out.extend_from_slice(value.to_string().as_bytes());
    out.push(b'\n');
}

fn parse_json(n: usize, line: &str) -> Result<Json, BackupError> {
    serde_json::from_str(line).map_err(|e| format_error(&format!("line {n} is not JSON: {e}")))
}

fn parse_header(h: &Json) -> Result<BackupHeader, BackupError> {
    let text = |key: &str| {
        h[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format_error(&format!("the header has no {key:?}")))
    };
    let root_key = match &h["root_key"] {
        Json::Null => None,
        k => {
            let version = k["version"].as_u64().and_then(|v| u32::try_from(v).ok());
            let check = k["check"].as_str().and_then(|c| STANDARD.decode(c).ok());
            match (version, check) {
                (Some(v), Some(c)) => Some((v, c)),
                _ => return Err(format_error("the header's root_key is not {version, check}")),
            }
        }
    };
    Ok(BackupHeader {
        source: text("source")?,
        schema: text("schema")?,
        created_at: h["created_at"]
            .as_i64()
            .ok_or_else(|| format_error("the header has no \"created_at\""))?,
        root_key,
    })
}

fn parse_row(table: &Table, n: usize, values: Vec<Json>) -> Result<Vec<Value>, BackupError> {
    if values.len() != table.columns.len() {
        return Err(format_error(&format!(
            "line {n}: a {} row has {} values, not {}",
            table.name,
            values.len(),
            table.columns.len()
        )));
    }
    values
        .into_iter()
        .zip(table.columns)
        .map(|(json, (column, kind))| {
            from_json(json, *kind)
                .ok_or_else(|| format_error(&format!("line {n}: {}.{column} does not hold a {kind:?}", table.name)))
        })
        .collect()
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Int(v) => json!(v),
        Value::Text(v) => json!(v),
        Value::Bytes(v) => json!({ "b64": STANDARD.encode(v) }),
    }
}

fn from_json(json: Json, kind: Kind) -> Option<Value> {
    match (json, kind) {
        (Json::Null, OptInt | OptText | OptBytes) => Some(Value::Null),
        (Json::Number(n), Int | OptInt) => n.as_i64().map(Value::Int),
        (Json::String(s), Text | OptText) => Some(Value::Text(s)),
        (Json::Object(o), Bytes | OptBytes) if o.len() == 1 => o
            .get("b64")?
            .as_str()
            .and_then(|b| STANDARD.decode(b).ok())
            .map(Value::Bytes),
        _ => None,
    }
}

/// A row of `audit_pending` as `(id, record, mac)`.
fn pending_row(row: &[Value]) -> Option<(i64, AuditRecord, Vec<u8>)> {
    Some((int_at(row, 0)?, record_at(row, 1)?, bytes_at(row, 10)?))
}

fn audit_row(row: &[Value]) -> Option<(i64, AuditRecord, Vec<u8>, Vec<u8>)> {
    Some((
        int_at(row, 1)?,
        record_at(row, 0)?,
        bytes_at(row, 10)?,
        bytes_at(row, 11)?,
    ))
}

/// An event's record: its workspace at `workspace`, the other fields in columns 2 to 9 (the
/// same in `audit_events` and `audit_pending`).
fn record_at(row: &[Value], workspace: usize) -> Option<AuditRecord> {
    Some(AuditRecord {
        workspace_id: text_at(row, workspace)?,
        at: int_at(row, 2)?,
        actor: text_at(row, 3)?,
        action: text_at(row, 4)?,
        target: text_at(row, 5)?,
        outcome: text_at(row, 6)?,
        request_id: text_at(row, 7)?,
        client_addr: text_at(row, 8)?,
        detail: text_at(row, 9)?,
    })
}

fn text_at(row: &[Value], i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int_at(row: &[Value], i: usize) -> Option<i64> {
    match row.get(i) {
        Some(Value::Int(v)) => Some(*v),
        _ => None,
    }
}

fn bytes_at(row: &[Value], i: usize) -> Option<Vec<u8>> {
    match row.get(i) {
        Some(Value::Bytes(b)) => Some(b.clone()),
        _ => None,
    }
}

fn read_value(row: &Row, column: &str, kind: Kind) -> Result<Value> {
    Ok(match kind {
        Int => Value::Int(row.get(column)?),
        Text => Value::Text(row.get(column)?),
        Bytes => Value::Bytes(row.get(column)?),
        OptInt => row.get::<Option<i64>>(column)?.map_or(Value::Null, Value::Int),
        OptText => row.get::<Option<String>>(column)?.map_or(Value::Null, Value::Text),
        OptBytes => row.get::<Option<Vec<u8>>>(column)?.map_or(Value::Null, Value::Bytes),
    })
}

/// Reads every table; the caller runs this in one read-only snapshot transaction.
pub(crate) async fn snapshot(c: &mut dyn Exec, source: &str, created_at: i64) -> Result<Backup> {
    let schema = applied(c).await?.pop().unwrap_or_else(|| schema_version().to_owned());
    let mut tables = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            columns.join(", "),
            table.name,
            table.order_by
        );
        let mut rows = Vec::new();
        for row in c.fetch_all(&sql, &[]).await? {
            let values = table
                .columns
                .iter()
                .map(|(column, kind)| read_value(&row, column, *kind))
                .collect::<Result<Vec<_>>>()?;
            let bookkeeping = table.name == "meta" && values.first() == Some(&Value::Text(BOOTSTRAP_PENDING.into()));
            if !bookkeeping {
                rows.push(values);
            }
        }
        tables.push((table, rows));
    }
    let root_key = tables
        .iter()
        .filter(|(t, _)| t.name == "meta")
        .flat_map(|(_, rows)| rows)
        .filter_map(|row| match &row[..] {
            [Value::Text(key), Value::Bytes(check)] => {
                let version = key.strip_prefix(ROOT_KEY_CHECK_PREFIX)?.parse::<u32>().ok()?;
                Some((version, check.clone()))
            }
            _ => None,
        })
        .max_by_key(|(version, _)| *version);
    Ok(Backup {
        header: BackupHeader {
            source: source.to_owned(),
            schema,
            created_at,
            root_key,
        },
        tables,
    })
}

/// Inserts every row of `backup` into this database, which must hold no data; the caller runs
/// this in one write transaction, so a failed restore leaves nothing behind.
pub(crate) async fn restore(c: &mut dyn Exec, backup: &Backup) -> Result<()> {
    if !applied(c).await?.contains(&backup.header.schema) {
        return Err(StoreError::Refused(format!(
            "the backup was taken from schema {} which this Sealbox does not know (it knows up to {}): \
             restore it with the Sealbox version that took it",
            backup.header.schema,
            schema_version()
        )));
    }
    let held = c.fetch_all("SELECT name FROM workspaces ORDER BY name", &[]).await?;
    if !held.is_empty() {
        let names = held
            .iter()
            .map(|r| r.get::<String>("name"))
            .collect::<Result<Vec<_>>>()?;
        return Err(StoreError::Refused(format!(
            "the target database already holds data (workspaces: {}); restore only into an empty database",
            names.join(", ")
        )));
    }
    let meta = c
        .fetch_all(
            "SELECT key FROM meta WHERE key <> $1 ORDER BY key",
            crate::db::args![BOOTSTRAP_PENDING],
        )
        .await?;
    if let Some(row) = meta.first() {
        return Err(StoreError::Refused(format!(
            "the target database already holds data (server metadata {:?}); restore only into an empty database",
            row.get::<String>("key")?
        )));
    }
    // A restored database is not new: it is never bootstrapped.
    c.execute("DELETE FROM meta WHERE key = $1", crate::db::args![BOOTSTRAP_PENDING])
        .await?;
    for (table, rows) in &backup.tables {
        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            columns.join(", "),
            params.join(", ")
        );
        for row in rows {
            let args: Vec<Arg<'_>> = row
                .iter()
                .zip(table.columns)
                .map(|(value, (_, kind))| as_arg(value, *kind))
                .collect();
            c.execute(&sql, &args).await?;
        }
    }
    c.execute_script(c.dialect().after_restore()).await?;
    Ok(())
}

/// A value bound as its column's type (a NULL too: PostgreSQL wants typed parameters).
fn as_arg(value: &Value, kind: Kind) -> Arg<'_> {
    match (value, kind) {
        (Value::Int(v), _) => Arg::Int(*v),
        (Value::Text(v), _) => Arg::Text(v),
        (Value::Bytes(v), _) => Arg::Bytes(v),
        (Value::Null, OptInt | Int) => Arg::OptInt(None),
        (Value::Null, OptText | Text) => Arg::OptText(None),
        (Value::Null, OptBytes | Bytes) => Arg::OptBytes(None),
    }
}
