//! `pult store migrate`: moving a team's SQLite store into PostgreSQL.

use crate::bootstrap::{Global, load_config};
use crate::store::pg::{Target, migrate};
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
    let cfg = load_config(global)?.unwrap_or_default();
    let password = match (&cfg.store.password_command, &cfg.store.password_file) {
        (None, None) => None,
        (command, file) => Some(crate::secrets::read(command.as_deref(), file.as_deref())?),
    };
    let target = Target::parse(to, password.as_deref())?;
    let moved = migrate::sqlite_to_postgres(&source, &target).map_err(|e| match e {
        // What the server said, with its address (never the password): the person must act on it.
        crate::store::StoreError::Postgres(crate::store::pg::PgError::TooNew { .. }) => {
            anyhow::anyhow!("{}", e.in_language(crate::i18n::ui()))
        }
        crate::store::StoreError::Postgres(e) => anyhow::anyhow!("{e}"),
        e => anyhow::anyhow!("{}", e.in_language(crate::i18n::ui())),
    })?;
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
