//! pult: a keyboard-driven terminal shared inbox (email, Telegram, WhatsApp in one queue).
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod attachments;
pub mod auth_cli;
pub mod bootstrap;
pub mod channels;
pub mod channels_cli;
pub mod cli;
pub mod clients_cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod export;
pub mod export_cli;
pub mod history;
pub mod i18n;
pub mod mail_cli;
pub mod mailauth;
pub mod model;
pub mod oauth2;
pub mod out;
pub mod paths;
pub mod phone;
pub mod sanitize;
pub mod scripting;
pub mod search;
pub mod secrets;
pub mod sla_cli;
pub mod store;
pub mod store_cli;
pub mod sync;
pub mod trouble;
pub mod tui;
pub mod workflow;
