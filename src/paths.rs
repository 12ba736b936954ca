//! Where pult keeps its files, following the XDG base directory rules.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() && PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

pub fn config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config").join("pult")
}

pub fn data_dir() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").join("pult")
}

pub fn state_dir() -> PathBuf {
    xdg("XDG_STATE_HOME", ".local/state").join("pult")
}

pub fn config_file() -> PathBuf {
    config_dir().join("config.toml")
}

pub fn default_store() -> PathBuf {
    data_dir().join("pult.db")
}

pub fn user_keymap() -> PathBuf {
    config_dir().join("keymap.toml")
}

pub fn log_file() -> PathBuf {
    state_dir().join("pult.log")
}
