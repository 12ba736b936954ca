//! What every command starts from: the global options, the config they name
//! and the store they point at. The command line (`cli`), the daemon and the
//! script commands (`mail_cli`, `scripting`) all build on this, not on each
//! other.

use crate::config::{Config, ConfigError};
use crate::store::Location;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Options every subcommand takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Global {
    /// Configuration file (default: ~/.config/pult/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Store: a file (default: [store] path from the config, else
    /// ~/.local/share/pult/pult.db) or a PostgreSQL address (postgres://USER@HOST:PORT/DB)
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Theme: dark, light, high-contrast, or a path to a theme file
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// With --json: exact text, without escaping the invisible and control
    /// characters (C1, bidi, zero-width) that a terminal might act on
    #[arg(long, global = true)]
    pub raw: bool,
}

impl Global {
    /// Prints a value as JSON for scripts; see [`crate::sanitize::json`].
    pub fn print_json<T: serde::Serialize>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        crate::say!("{}", if self.raw { text } else { crate::sanitize::json(text) });
        Ok(())
    }
}

/// The config, or None when the default file does not exist (an explicit path must exist).
pub fn load_config(global: &Global) -> Result<Option<Config>> {
    let path = global.config.clone().unwrap_or_else(crate::paths::config_file);
    match Config::load(&path) {
        Ok(c) => {
            crate::workflow::closing::extend(&c.ui.closing_words);
            crate::secrets::set_timeout(c.guards.secret_timeout_seconds);
            crate::i18n::set_written(crate::i18n::Lang::detect(c.ui.language.as_deref()));
            crate::i18n::set_ui(crate::i18n::Lang::detect(c.ui.language.as_deref()));
            Ok(Some(c))
        }
        Err(ConfigError::Missing(_)) if global.config.is_none() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn store_path(global: &Global, cfg: &Config) -> Result<PathBuf> {
    resolve_store(global.store.as_deref(), cfg)
}

/// `--store`, else `[store] path`, else the default under XDG_DATA_HOME, for
/// the commands that run on SQLite alone: a PostgreSQL store (`--store
/// postgres://…`, `[store] url`) is refused plainly by them, not taken for a
/// file named like the address.
pub fn resolve_store(arg: Option<&Path>, cfg: &Config) -> Result<PathBuf> {
    match resolve_location(arg, cfg)? {
        Location::Sqlite(path) => Ok(path),
        Location::Postgres(_) => anyhow::bail!("{}", crate::t!("store_postgres_not_yet")),
    }
}

/// Where the store is: `--store` (a path or a `postgres://` address), else
/// `[store] url` or `[store] path`, else the default file. PostgreSQL's
/// password comes from `[store] password_command`/`password_file`, never
/// from the address.
pub fn resolve_location(arg: Option<&Path>, cfg: &Config) -> Result<Location> {
    let url = match arg {
        Some(a) => a.to_str().filter(|s| Location::is_postgres_url(s)).map(str::to_owned),
        None => {
            if cfg.store.url.is_some() && cfg.store.path.is_some() {
                anyhow::bail!("{}", crate::t!("store_path_and_url"));
            }
            cfg.store.url.clone()
        }
    };
    let Some(url) = url else {
        let path = arg.map(Path::to_path_buf).or_else(|| cfg.store.path.clone());
        return Ok(Location::Sqlite(path.unwrap_or_else(crate::paths::default_store)));
    };
    let password = match (&cfg.store.password_command, &cfg.store.password_file) {
        (None, None) => None,
        (command, file) => Some(crate::secrets::read(command.as_deref(), file.as_deref())?),
    };
    let said = |e| anyhow::anyhow!("{}", crate::store::StoreError::Postgres(e).in_language(crate::i18n::ui()));
    let mut target = crate::store::pg::Target::parse(&url, password.as_deref()).map_err(said)?;
    if let Some(ca) = &cfg.store.ca_file {
        target = target.with_ca_file(ca).map_err(said)?;
    }
    Ok(Location::Postgres(target))
}

/// The store `global` and `cfg` point at (see [`resolve_location`]).
pub fn location(global: &Global, cfg: &Config) -> Result<Location> {
    resolve_location(global.store.as_deref(), cfg)
}
