//! `pult store migrate`: moving a team's SQLite store into PostgreSQL.

use crate::bootstrap::{Global, load_config};
use crate::store::StoreError;
use crate::store::pg::{PgError, Target, migrate};
use crate::{say, t};
use anyhow::{Result, bail};
use std::path::PathBuf;

/// `--from sqlite:PATH` (or a bare path) and `--to postgres://…`.
pub fn migrate(global: &Global, from: &str, to: &str, json: bool) -> Result<()> {
    let source = PathBuf::from(from.strip_prefix("sqlite:").unwrap_or(from));
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        // Not repeated: a libpq string may hold a password.
        bail!("{}", t!("store_migrate_to"));
    }
    if !source.is_file() {
        bail!("{}", t!("store_migrate_no_source", path = crate::sanitize::line(&source.display().to_string())));
    }
    let cfg = load_config(global)?.unwrap_or_default();
    let password = match (&cfg.store.password_command, &cfg.store.password_file) {
        (None, None) => None,
        (command, file) => Some(crate::secrets::read(command.as_deref(), file.as_deref())?),
    };
    let mut target = Target::parse(to, password.as_deref()).map_err(|e| said(StoreError::Postgres(e)))?;
    if let Some(ca) = &cfg.store.ca_file {
        target = target.with_ca_file(ca).map_err(|e| said(StoreError::Postgres(e)))?;
    }
    let moved = migrate::sqlite_to_postgres(&source, &target).map_err(said)?;
    if json {
        let tables: serde_json::Map<String, serde_json::Value> =
            moved.tables.iter().map(|(t, n)| (t.clone(), serde_json::json!(n))).collect();
        global.print_json(&serde_json::json!({
            "from": source, "to": target.shown(), "tables": tables, "nul_replaced": moved.nul_replaced,
        }))?;
    } else {
        say!("{}", t!("store_migrated", from = source.display(), to = target.shown()));
        for (table, n) in moved.tables.iter().filter(|(_, n)| *n > 0) {
            say!("  {table:<18} {n:>9}");
        }
        if moved.nul_replaced > 0 {
            say!("{}", t!("store_migrated_nul", n = moved.nul_replaced));
        }
    }
    Ok(())
}

/// A migration's failure as the person must read it: in the UI's language,
/// with what the server or the data said (never a password; the address is
/// shown without it). Unlike a screen's errors, nothing here is retried.
pub(crate) fn said(e: StoreError) -> anyhow::Error {
    let lang = crate::i18n::ui();
    let text = match e {
        StoreError::Postgres(PgError::BadUrl) => t!("store_migrate_to"),
        StoreError::Postgres(PgError::PasswordInUrl(target)) => t!("store_pg_password_in_url", target = target),
        StoreError::Postgres(PgError::Connect { target, source }) => {
            t!(
                "store_pg_connect",
                target = target,
                why = crate::sanitize::line(&crate::store::pg::with_causes(&source))
            )
        }
        StoreError::Postgres(PgError::TooNew { .. } | PgError::Tls(_)) | StoreError::Refused(_) => e.in_language(lang),
        // The server's or the data's own words, after what was being done.
        StoreError::Postgres(e) => {
            t!("store_migrate_failed", why = crate::sanitize::line(&crate::store::pg::with_causes(&e)))
        }
        StoreError::Invalid(why) => t!("store_migrate_failed", why = crate::sanitize::line(&why)),
        e => t!("store_migrate_failed", why = crate::sanitize::line(&e.to_string())),
    };
    anyhow::anyhow!("{text}")
}
