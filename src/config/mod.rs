//! The user's TOML configuration: agent identity, store, working hours, UI and accounts.

mod keys;
pub mod providers;
mod shape;

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}", crate::t!("config_missing", path = .0.display()))]
    Missing(PathBuf),
    #[error("{}", crate::t!("config_unreadable", path = .path.display(), why = .source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    pub agent: Agent,
    pub store: StoreConfig,
    pub export: ExportConfig,
    pub mail: MailConfig,
    pub hours: Hours,
    pub ui: Ui,
    pub guards: Guards,
    pub team: Vec<String>,
    pub accounts: Vec<Account>,
    /// Response-time policies, first match wins (`workflow::sla`).
    pub sla: Vec<SlaPolicy>,
}

/// One `[[sla]]` table: which conversations it covers and how fast they are
/// answered, in working time. Durations and percentages are text («30m»,
/// «2h», «2d», «75%»), read by `workflow::sla`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
pub struct SlaPolicy {
    pub id: String,
    /// Which conversations; none: every conversation no earlier policy took (the default).
    #[serde(rename = "match")]
    pub matches: Option<SlaMatch>,
    pub first_response: Option<String>,
    pub next_response: Option<String>,
    pub keep_informed: Option<String>,
    pub warn_at: Option<String>,
    /// "team" ([hours]) or "client" (the client's own hours).
    pub calendar: Option<String>,
    #[serde(default)]
    pub escalate: Vec<SlaEscalation>,
}

/// Every condition given must hold.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(default)]
pub struct SlaMatch {
    /// A client tag (case-insensitive).
    pub tag: Option<String>,
    /// Channel kinds: ["telegram", "whatsapp"].
    pub kind: Option<Vec<String>>,
    /// A channel (account) name.
    pub channel: Option<String>,
    /// A client id (`pult clients --json`).
    pub client: Option<i64>,
}

/// `{ at = "150%", to = "Ольга" }`: an internal note at that share of the target.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
pub struct SlaEscalation {
    pub at: String,
    /// "responsible" (the conversation's assignee) or a person's name.
    pub to: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Agent {
    /// Shown to clients in templates and recorded as the actor of every write.
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    pub path: Option<PathBuf>,
    /// Keep every message's bytes as received (default: on for a new store).
    pub keep_raw: Option<bool>,
    /// A PostgreSQL store (`postgres://USER@HOST:PORT/DB`, or a Unix socket
    /// `postgres:///DB?host=/var/run/postgresql`) instead of the file.
    pub url: Option<String>,
    /// The PostgreSQL password (argv, no shell).
    pub password_command: Option<Vec<String>>,
    /// The PostgreSQL password in a 0600 file.
    pub password_file: Option<PathBuf>,
    /// The private CA that signed the PostgreSQL server's certificate;
    /// giving one asks for TLS (as `sslmode=require` in the address does).
    pub ca_file: Option<PathBuf>,
}

/// `[export]`: how `pult export` signs a manifest and `pult export verify` checks it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ExportConfig {
    /// An argument vector (no shell); `{manifest}` is replaced by the manifest's path,
    /// else the path is appended. Its standard output is kept as `manifest.json.sig`
    /// unless the command writes that file itself.
    pub sign_command: Option<Vec<String>>,
    /// An argument vector (no shell); `{manifest}` and `{signature}` are replaced
    /// by the paths. Exit 0 means the signature holds.
    pub verify_command: Option<Vec<String>>,
}

/// `[mail]`: how arriving mail is checked (DKIM, `mailauth`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// Check DKIM signatures of arriving mail (default true).
    pub dkim: Option<bool>,
    /// The DNS server asked for DKIM keys, "IP:PORT" (default: the first
    /// `nameserver` of /etc/resolv.conf).
    pub dns_server: Option<String>,
    /// How long one key lookup may take, in milliseconds (default 3000).
    pub dns_timeout_ms: Option<u64>,
    /// Mail older than this many days when it is synced is not checked (default 30).
    pub dkim_max_age_days: Option<u64>,
}

impl MailConfig {
    pub fn settings(&self) -> Result<crate::mailauth::Settings, String> {
        let d = crate::mailauth::Settings::default();
        let dns_server = match &self.dns_server {
            None => None,
            Some(s) => Some(
                s.parse::<std::net::SocketAddr>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
                    .map_err(|_| "[mail] dns_server: not an IP address with an optional :PORT".to_string())?,
            ),
        };
        Ok(crate::mailauth::Settings {
            enabled: self.dkim.unwrap_or(d.enabled),
            dns_server,
            timeout: self.dns_timeout_ms.map(std::time::Duration::from_millis).unwrap_or(d.timeout),
            max_age_days: self.dkim_max_age_days.unwrap_or(d.max_age_days),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Hours {
    pub timezone: Option<String>,
    pub workdays: String,
    pub start: String,
    pub end: String,
    /// Per-weekday overrides: `fri = "09:00-17:00"`, `sat = "off"`. Named
    /// fields, not a flattened map, so that serde names every key (`shape.rs`).
    pub mon: Option<String>,
    pub tue: Option<String>,
    pub wed: Option<String>,
    pub thu: Option<String>,
    pub fri: Option<String>,
    pub sat: Option<String>,
    pub sun: Option<String>,
    /// A shipped production calendar (`"ru"`: holidays, moved days off,
    /// pre-holiday short days); the `holidays` file overrides its dates.
    pub calendar: Option<String>,
    /// A production calendar: days off and moved working days (see README).
    pub holidays: Option<PathBuf>,
    /// Answer client messages that arrive outside working hours (once per night).
    pub auto_reply: bool,
}

impl Default for Hours {
    fn default() -> Self {
        Hours {
            timezone: None,
            workdays: "mon-fri".into(),
            start: "09:00".into(),
            end: "18:00".into(),
            mon: None,
            tue: None,
            wed: None,
            thu: None,
            fri: None,
            sat: None,
            sun: None,
            calendar: None,
            holidays: None,
            auto_reply: false,
        }
    }
}

impl Hours {
    /// The per-weekday overrides, Monday first.
    pub fn weekdays(&self) -> [Option<&str>; 7] {
        [&self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun].map(|d| d.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Ui {
    pub theme: Option<String>,
    /// "en" or "ru"; default from LANG/LC_ALL.
    pub language: Option<String>,
    /// Ring the terminal bell on events that must not be missed.
    pub bell: Option<bool>,
    /// Where `S` saves attachments (default: ~/Downloads, else the home directory).
    pub download_dir: Option<PathBuf>,
    /// Opens a saved attachment: argv, run without a shell, file path appended (default ["xdg-open"]).
    pub open_command: Option<Vec<String>>,
    /// Let the mouse wheel scroll the focused pane (off: the terminal keeps
    /// the mouse for selecting and copying text).
    pub mouse: bool,
    /// `a` sends «Принято в работу» as soon as the deadline is given, without
    /// showing it in the composer first.
    pub one_key_accept: bool,
    /// More words of short messages that need no answer («спасибочки»), besides the shipped ones.
    pub closing_words: Vec<String>,
}

impl Ui {
    pub fn download_dir(&self) -> PathBuf {
        if let Some(d) = &self.download_dir {
            return d.clone();
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        let downloads = home.join("Downloads");
        if downloads.is_dir() { downloads } else { home }
    }

    pub fn open_command(&self) -> Vec<String> {
        self.open_command.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| vec!["xdg-open".into()])
    }
}

/// Checks before a message leaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Guards {
    /// Seconds a sent message waits in the outbox, during which `U` takes it back.
    pub undo_seconds: i64,
    /// Words that make pult ask you to re-read a message before sending it.
    pub tone_words: Vec<String>,
    /// Attachments larger than this (MB) ask for confirmation.
    pub max_attachment_mb: u64,
    /// How long a password or token command may run before it is stopped
    /// (`pass` waiting for a passphrase nobody types).
    pub secret_timeout_seconds: u64,
}

impl EmailAccount {
    /// How often a server without IDLE is asked for new mail.
    pub fn poll(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.poll_seconds.unwrap_or(60).max(1))
    }

    /// How to log in to `server` (its `imap` or `smtp`): its own `auth` and
    /// token command, else the account's.
    pub fn login<'a>(&'a self, server: &'a Server) -> Login<'a> {
        let auth = server.auth.as_deref().or(self.auth.as_deref());
        let command = server.oauth2_token_command.as_deref().or(self.oauth2_token_command.as_deref());
        // The server's own password, else the account's unless the server chose another login.
        let own = server.password_command.is_some() || server.password_file.is_some();
        let (password_command, password_file) = if own || server.auth.is_some() || server.oauth2_token_command.is_some()
        {
            (server.password_command.as_deref(), server.password_file.as_deref())
        } else {
            (self.password_command.as_deref(), self.password_file.as_deref())
        };
        let no_password = password_command.is_none() && password_file.is_none();
        if let (Some("oauth2") | None, None, Some(flow)) = (auth, command, self.oauth2.as_ref())
            && no_password
        {
            return Login::Flow(flow);
        }
        match (auth, command) {
            (Some("oauth2"), command) => Login::OAuth2 { command: command.unwrap_or_default() },
            (None, Some(command)) if no_password => Login::OAuth2 { command },
            _ => Login::Password { command: password_command, file: password_file },
        }
    }

    /// Every address that is us, lower-cased.
    pub fn own_addresses(&self) -> Vec<String> {
        std::iter::once(&self.address).chain(&self.aliases).map(|a| a.trim().to_lowercase()).collect()
    }
}

impl Default for Guards {
    fn default() -> Self {
        Guards { undo_seconds: 10, tone_words: Vec::new(), max_attachment_mb: 20, secret_timeout_seconds: 30 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Account {
    Email(EmailAccount),
    Telegram(TelegramAccount),
    Whatsapp(WhatsappAccount),
}

impl Account {
    pub fn name(&self) -> &str {
        match self {
            Account::Email(a) => &a.name,
            Account::Telegram(a) => &a.name,
            Account::Whatsapp(a) => &a.name,
        }
    }

    pub fn kind(&self) -> crate::model::ChannelKind {
        use crate::model::ChannelKind;
        match self {
            Account::Email(_) => ChannelKind::Email,
            Account::Telegram(_) => ChannelKind::Telegram,
            Account::Whatsapp(_) => ChannelKind::Whatsapp,
        }
    }

    /// The servers the account talks to, by the key that names them: hosts,
    /// and the hosts of API URLs given.
    pub fn hosts(&self) -> Vec<(&'static str, String)> {
        let url_host = |u: &Option<String>| {
            u.as_deref().and_then(|u| url::Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_string))
        };
        match self {
            Account::Email(a) => vec![("imap host", a.imap.host.clone()), ("smtp host", a.smtp.host.clone())],
            Account::Telegram(a) => url_host(&a.api_url).map(|h| ("api_url", h)).into_iter().collect(),
            Account::Whatsapp(a) => url_host(&a.api_url).map(|h| ("api_url", h)).into_iter().collect(),
        }
    }

    /// Where the account's secrets come from.
    pub fn secret_sources(&self) -> Vec<SecretSource<'_>> {
        let source = SecretSource::of;
        match self {
            Account::Email(a) => [("imap", &a.imap), ("smtp", &a.smtp)]
                .into_iter()
                .map(|(which, server)| match a.login(server) {
                    Login::Password { command, file } => SecretSource {
                        key: if which == "imap" { "imap password" } else { "smtp password" },
                        command,
                        file,
                    },
                    Login::OAuth2 { command } => SecretSource {
                        key: if which == "imap" { "imap oauth2 token" } else { "smtp oauth2 token" },
                        command: Some(command),
                        file: None,
                    },
                    Login::Flow(o) => SecretSource {
                        key: "oauth2 client secret",
                        command: o.client_secret_command.as_deref(),
                        file: None,
                    },
                })
                .collect(),
            Account::Telegram(a) => vec![source("token", &a.token_command, &a.token_file)],
            Account::Whatsapp(a) => vec![
                source("token", &a.token_command, &a.token_file),
                source("app_secret", &a.app_secret_command, &a.app_secret_file),
                source("verify_token", &a.verify_token_command, &a.verify_token_file),
            ],
        }
    }
}

/// One secret of an account: a command (argv) or a file, by the key that names it.
#[derive(Debug, Clone, Copy)]
pub struct SecretSource<'a> {
    pub key: &'static str,
    pub command: Option<&'a [String]>,
    pub file: Option<&'a Path>,
}

impl<'a> SecretSource<'a> {
    fn of(key: &'static str, command: &'a Option<Vec<String>>, file: &'a Option<PathBuf>) -> SecretSource<'a> {
        SecretSource { key, command: command.as_deref(), file: file.as_deref() }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmailAccount {
    pub name: String,
    pub address: String,
    /// "gmail", "outlook", "yandex" or "mailru": fills servers, ports, TLS,
    /// the login kind and folder habits; keys given here win (`providers.rs`).
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub from_name: Option<String>,
    pub imap: Server,
    pub smtp: Server,
    /// Folders to sync, by name; `*` is every folder but Junk and Trash, and
    /// `Sent` is the Sent folder whatever the server calls it. Default (empty):
    /// INBOX and the Sent folder, found by its role.
    #[serde(default)]
    pub folders: Vec<String>,
    #[serde(default)]
    pub signature: Option<String>,
    /// Quote the answered mail below a reply (`> ` lines), as mail clients do.
    #[serde(default = "yes")]
    pub quote_original: bool,
    /// Other addresses of ours (aliases, the team's shared box): never a reply-all recipient.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The folder sent mail is filed in (default: the one the server marks \\Sent, else one named so).
    #[serde(default)]
    pub sent_folder: Option<String>,
    /// Append sent mail to the Sent folder; false where the server files it itself (Gmail).
    #[serde(default = "yes")]
    pub save_sent: bool,
    /// Mail older than this is history, not a queue: a date ("2026-11-01") or
    /// days before now ("7d"). Default: 7 days before the account's first sync.
    #[serde(default)]
    pub history_before: Option<String>,
    /// pult's own OAuth2 login (`pult auth ACCOUNT`), instead of a token command.
    #[serde(default)]
    pub oauth2: Option<OAuth2Config>,
    /// Seconds between looks for new mail on a server without IDLE (default 60).
    #[serde(default)]
    pub poll_seconds: Option<u64>,
    /// `auth` for both servers ("password" or "oauth2"), unless one says otherwise.
    #[serde(default)]
    pub auth: Option<String>,
    /// `oauth2_token_command` for both servers, unless one says otherwise.
    #[serde(default)]
    pub oauth2_token_command: Option<Vec<String>>,
    /// The password for both servers (an app password of Yandex or Mail.ru),
    /// unless one has its own password, `auth` or token command.
    #[serde(default)]
    pub password_command: Option<Vec<String>>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// How arriving mail is checked: `[mail]`, copied here when the config is read.
    #[serde(skip)]
    pub dkim: crate::mailauth::Settings,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    pub host: String,
    pub port: u16,
    #[serde(default = "default_tls")]
    pub tls: String,
    #[serde(default)]
    pub insecure: bool,
    pub user: String,
    #[serde(default)]
    pub password_command: Option<Vec<String>>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A CA certificate (PEM) to trust besides the public roots (a company CA, a test server).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for each answer of the server (default 60); a silent
    /// server then costs one send of this account, never the others'.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// How to log in: "password" (default) or "oauth2" (SASL OAUTHBEARER or
    /// XOAUTH2 with an access token); default: the account's `auth`.
    #[serde(default)]
    pub auth: Option<String>,
    /// Prints a current OAuth2 access token (oama, mutt_oauth2.py): argv, run
    /// without a shell; run again once when the server refuses the token.
    #[serde(default)]
    pub oauth2_token_command: Option<Vec<String>>,
}

/// The identity providers `pult auth` knows; "custom" takes its URLs from the config.
pub const OAUTH2_PROVIDERS: [&str; 5] = ["google", "microsoft", "yandex", "mailru", "custom"];

/// pult's own OAuth2 client for an account (see `oauth2.rs`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OAuth2Config {
    /// google, microsoft (device code), yandex, mailru or custom.
    pub provider: String,
    /// The app registered with the provider (its "client ID").
    pub client_id: String,
    /// Prints the app's client secret, where the provider wants one (Google, Yandex).
    #[serde(default)]
    pub client_secret_command: Option<Vec<String>>,
    /// Microsoft: the directory (tenant) id; default "common".
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    /// A device-code endpoint (RFC 8628): then `pult auth` uses that flow.
    #[serde(default)]
    pub device_url: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// How pult proves who it is to one server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Login<'a> {
    Password {
        command: Option<&'a [String]>,
        file: Option<&'a Path>,
    },
    /// An access token from this command (empty: none configured).
    OAuth2 {
        command: &'a [String],
    },
    /// An access token from pult's own OAuth2 client (`pult auth`).
    Flow(&'a OAuth2Config),
}

fn default_tls() -> String {
    "implicit".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelegramAccount {
    pub name: String,
    #[serde(default)]
    pub token_command: Option<Vec<String>>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub api_url: Option<String>,
    /// Turns a voice message into text: argv, run without a shell, file path appended.
    #[serde(default)]
    pub transcribe_command: Option<Vec<String>>,
    /// Plays a voice message: argv, run without a shell, file path appended (e.g. ["mpv", "--no-video"]).
    #[serde(default)]
    pub player_command: Option<Vec<String>>,
    /// In chats seen through a business connection, tell Telegram when a
    /// person has read the client's message in pult.
    #[serde(default = "yes")]
    pub mark_read: bool,
}

/// A WhatsApp Business number through Meta's Cloud API: webhooks in, Graph API out.
#[derive(Debug, Clone, Deserialize)]
pub struct WhatsappAccount {
    pub name: String,
    /// The number's id in Meta's app dashboard (WhatsApp → API Setup), not the number itself.
    pub phone_number_id: String,
    /// The access token (a System User token): a command or a 0600 file.
    #[serde(default)]
    pub token_command: Option<Vec<String>>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// The app secret that signs every webhook (App settings → Basic).
    #[serde(default)]
    pub app_secret_command: Option<Vec<String>>,
    #[serde(default)]
    pub app_secret_file: Option<PathBuf>,
    /// The verify token typed into the dashboard when the webhook URL is registered.
    #[serde(default)]
    pub verify_token_command: Option<Vec<String>>,
    #[serde(default)]
    pub verify_token_file: Option<PathBuf>,
    /// Graph API base with its version (default https://graph.facebook.com/v26.0).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Where the webhook receiver listens (host:port) behind the TLS proxy; path `/whatsapp`.
    #[serde(default = "default_webhook_listen")]
    pub webhook_listen: String,
    /// Media larger than this (MB) is not downloaded; the message says so.
    #[serde(default = "default_media_max_mb")]
    pub media_max_mb: u64,
    /// Turns a voice message into text: argv, run without a shell, file path appended.
    #[serde(default)]
    pub transcribe_command: Option<Vec<String>>,
    /// Plays a voice message: argv, run without a shell, file path appended.
    #[serde(default)]
    pub player_command: Option<Vec<String>>,
    /// Tell WhatsApp when a person has read a client's message in pult (blue ticks).
    #[serde(default = "yes")]
    pub mark_read: bool,
}

fn default_webhook_listen() -> String {
    "127.0.0.1:8088".into()
}

fn default_media_max_mb() -> u64 {
    64
}

impl Config {
    /// Our own addresses on an email account, by its name (reply-all leaves them
    /// out); every account's when `account` is None.
    pub fn own_addresses(&self, account: Option<&str>) -> Vec<String> {
        self.accounts
            .iter()
            .filter_map(|a| match a {
                Account::Email(e) if account.is_none_or(|n| n == e.name) => Some(e.own_addresses()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The signature an email account appends to every mail, by its name.
    pub fn signature(&self, account: &str) -> Option<&str> {
        self.accounts.iter().find_map(|a| match a {
            Account::Email(e) if e.name == account => e.signature.as_deref().filter(|s| !s.trim().is_empty()),
            _ => None,
        })
    }

    /// The address an email account sends from, by its name.
    pub fn sending_address(&self, account: &str) -> Option<String> {
        self.accounts.iter().find_map(|a| match a {
            Account::Email(e) if e.name == account => Some(e.address.clone()),
            _ => None,
        })
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(path.to_path_buf()));
            }
            Err(source) => {
                return Err(ConfigError::Read { path: path.to_path_buf(), source });
            }
        };
        Self::parse(&text).map_err(|message| ConfigError::Parse { path: path.to_path_buf(), message })
    }

    /// Values are checked by `keys::check`, which knows their lines: every
    /// message names the line and the key, never the value (it may be a secret).
    pub fn parse(text: &str) -> Result<Config, String> {
        keys::check(text)?;
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| keys::syntax_error(text, &e))?;
        providers::apply(&mut doc);
        let mut config = Config::deserialize(doc).map_err(|e| keys::syntax_error(text, &e))?;
        let dkim = config.mail.settings()?;
        for a in &mut config.accounts {
            if let Account::Email(e) = a {
                e.dkim = dkim.clone();
            }
        }
        Ok(config)
    }

    /// The actor recorded on every row this person writes.
    pub fn actor(&self) -> String {
        self.agent
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(crate::paths::unix_user)
            .unwrap_or_else(|| "me".into())
    }

    pub fn timezone(&self) -> jiff::tz::TimeZone {
        crate::clock::local_zone(self.hours.timezone.as_deref())
    }

    /// Working days (0 = Monday) and start/end minutes after midnight.
    pub fn hours_parsed(&self) -> Result<(Vec<u8>, u32, u32), String> {
        let days = parse_workdays(&self.hours.workdays)?;
        let start = parse_hhmm(&self.hours.start)?;
        let end = parse_hhmm(&self.hours.end)?;
        if end <= start {
            return Err(format!("hours: end {} is not after start {}", self.hours.end, self.hours.start));
        }
        Ok((days, start, end))
    }

    pub fn language(&self) -> crate::i18n::Lang {
        crate::i18n::Lang::detect(self.ui.language.as_deref())
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_index(s: &str) -> Result<u8, String> {
    DAYS.iter().position(|d| *d == s.trim()).map(|i| i as u8).ok_or_else(|| format!("unknown weekday {s:?}"))
}

/// "mon-fri", "mon,wed,fri", "mon-thu,sat".
/// A history cut-off: a date ("2026-11-01", midnight UTC) or days before
/// `now` ("7d"), as a Unix time.
pub fn parse_cutoff(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if let Some(days) = s.strip_suffix('d').and_then(|d| d.parse::<i64>().ok()).filter(|d| *d >= 0) {
        return Some(now - days * 86_400);
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    Some(date.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}

pub fn parse_workdays(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for part in s.to_lowercase().split(',') {
        if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (day_index(a)?, day_index(b)?);
            if a > b {
                return Err(format!("workdays: range {part:?} runs backwards"));
            }
            out.extend(a..=b);
        } else {
            out.push(day_index(part)?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

pub fn parse_hhmm(s: &str) -> Result<u32, String> {
    let (h, m) = s.split_once(':').ok_or_else(|| format!("time {s:?} is not HH:MM"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("time {s:?} is not HH:MM"))?;
    let m: u32 = m.trim().parse().map_err(|_| format!("time {s:?} is not HH:MM"))?;
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(format!("time {s:?} is out of range"));
    }
    Ok(h * 60 + m)
}

/// The example shown when no configuration exists; also checked by a test.
pub const EXAMPLE: &str = r#"[agent]
name = "Анна"

[store]
# path = "/var/lib/pult/team.db"      # default: ~/.local/share/pult/pult.db

[hours]
timezone = "Europe/Moscow"
workdays = "mon-fri"
start = "09:00"
end = "18:00"

[ui]
# theme = "dark"        # dark | light | high-contrast
# language = "ru"       # en | ru (default: from LANG)

[[accounts]]
kind = "email"
name = "office"
address = "anna@example.test"
imap = { host = "imap.example.test", port = 993, tls = "implicit", user = "anna", password_command = ["pass", "mail/office"] }
smtp = { host = "smtp.example.test", port = 465, tls = "implicit", user = "anna", password_command = ["pass", "mail/office"] }
folders = ["INBOX", "Sent"]

[[accounts]]
kind = "telegram"
name = "office-bot"
token_command = ["pass", "telegram/office-bot"]
# api_url = "https://api.telegram.org"
"#;

/// The example config with its comments in the reader's language (keys are
/// the file's syntax and stay as they are).
pub fn example(lang: crate::i18n::Lang) -> String {
    match lang {
        crate::i18n::Lang::En => EXAMPLE.to_string(),
        crate::i18n::Lang::Ru => EXAMPLE
            .replace("# default: ~/.local/share/pult/pult.db", "# по умолчанию: ~/.local/share/pult/pult.db")
            .replace("# en | ru (default: from LANG)", "# en | ru (по умолчанию — по LANG)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses() {
        for lang in [crate::i18n::Lang::En, crate::i18n::Lang::Ru] {
            assert_eq!(Config::parse(&example(lang)).expect("example config").accounts.len(), 2);
        }
        let c = Config::parse(EXAMPLE).expect("example config");
        assert_eq!(c.accounts.len(), 2);
        assert_eq!(c.accounts[0].name(), "office");
        assert_eq!(c.actor(), "Анна");
        assert_eq!(c.hours_parsed().expect("hours"), (vec![0, 1, 2, 3, 4], 540, 1080));
    }

    #[test]
    fn plaintext_needs_insecure() {
        let bad = EXAMPLE.replace("tls = \"implicit\", user = \"anna\"", "tls = \"none\", user = \"anna\"");
        assert!(Config::parse(&bad).unwrap_err().contains("insecure"));
    }

    /// Typos and misplaced keys: each is refused with its line and, where one is
    /// close, the key that was meant.
    #[test]
    fn unknown_keys_are_errors_with_a_suggestion() {
        let email = |extra: &str| EXAMPLE.replacen("folders = [", &format!("{extra}\nfolders = ["), 1);
        let cases: Vec<(String, &str)> = vec![
            (email("sent_foldr = \"Sent\""), "did you mean `sent_folder`"),
            (email("save_snet = false"), "did you mean `save_sent`"),
            (email("nmae = \"x\""), "did you mean `name`"),
            (email("adress = \"x@y\""), "did you mean `address`"),
            (email("signatur = \"x\""), "did you mean `signature`"),
            (email("alias = [\"x\"]"), "did you mean `aliases`"),
            (email("qoute_original = true"), "did you mean `quote_original`"),
            (email("password = \"p\""), "password_command"),
            (email("host = \"x\""), "unknown key `host` in [[accounts]] (email)"),
            (
                EXAMPLE.replace("user = \"anna\", password_command", "usr = \"anna\", password_command"),
                "did you mean `user`",
            ),
            (EXAMPLE.replace("port = 993", "prot = 993"), "did you mean `port`"),
            (
                EXAMPLE.replace("tls = \"implicit\", user = \"anna\"", "tsl = \"implicit\", user = \"anna\""),
                "did you mean `tls`",
            ),
            (EXAMPLE.replace("workdays =", "workday ="), "did you mean `workdays`"),
            (EXAMPLE.replace("timezone =", "timzone ="), "did you mean `timezone`"),
            (EXAMPLE.replace("[ui]", "[ui]\nlanguag = \"ru\""), "did you mean `language`"),
            (EXAMPLE.replace("[agent]\nname", "[agent]\nnmae"), "in [agent]; did you mean `name`"),
            (EXAMPLE.replace("token_command", "token_comand"), "did you mean `token_command`"),
            (EXAMPLE.replace("token_command", "token"), "token_command"),
            (format!("{EXAMPLE}\n[guards]\nundo_secs = 5\n"), "did you mean `undo_seconds`"),
            (format!("{EXAMPLE}\n[sotre]\npath = \"/x\"\n"), "did you mean `store`"),
            (EXAMPLE.replace("kind = \"telegram\"", "kind = \"telegramm\""), "unknown kind"),
            (EXAMPLE.replace("port = 993", "port = \"993\""), "`port` must be a number"),
        ];
        for (text, expected) in cases {
            let err = Config::parse(&text).expect_err(expected);
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
            assert!(err.contains("line "), "no line in {err:?}");
        }
    }

    #[test]
    fn syntax_errors_never_show_values() {
        let text = "[[accounts]]\nkind = \"email\"\nimap = { host = \"h\", password_command = [\"printf\", \"SYNTAXSECRET1\"\n";
        let err = Config::parse(text).expect_err("syntax");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("imap"), "{err}");
        assert!(!err.contains("SYNTAXSECRET1") && !err.contains("printf"), "{err}");
        let err = Config::parse("token_file = \"/run/SECRETPATH\"\nx = = 1\n").expect_err("syntax");
        assert!(!err.contains("SECRETPATH"), "{err}");
    }

    /// A wrong value is named by its key and the key's line, and never shown:
    /// numbers included, and a token pasted where a number or a word belongs.
    #[test]
    fn value_errors_name_the_keys_line_and_never_the_value() {
        let config = |imap: &str, rest: &str| {
            format!(
                "[agent]\nname = \"Анна\"\n\n[hours]\nstart = \"09:00\"\nend = \"18:00\"\n\n[[accounts]]\nkind = \"email\"\n\
                 name = \"office\"\naddress = \"a@x.test\"\nimap = {{ host = \"h\", {imap}, user = \"u\", password_command = [\"pass\", \"m\"] }}\n\
                 smtp = {{ host = \"h\", port = 465, user = \"u\", password_command = [\"pass\", \"m\"] }}\n{rest}"
            )
        };
        assert!(Config::parse(&config("port = 993", "")).is_ok());
        let token = "ghp_R2d2C3poX9TokenFromTheClipboard77";
        let cases: Vec<(String, usize, &str, &str)> = vec![
            (config("port = 99999", ""), 12, "`port` must be a number from 1 to 65535", "99999"),
            (config("port = 0", ""), 12, "`port` must be a number from 1 to 65535", "= 0"),
            (config(&format!("port = \"{token}\""), ""), 12, "`port` must be a number", token),
            (
                config("port = 993, tls = \"sk_live_51Hq\"", ""),
                12,
                "`tls` must be implicit, starttls or none",
                "sk_live_51Hq",
            ),
            (config("port = 993", "signature = 7316402957\n"), 14, "`signature` must be text in quotes", "7316402957"),
            (
                config("port = 993", "folders = [\n  \"INBOX\",\n  90210,\n]\n"),
                14,
                "`folders` must be a list of strings",
                "90210",
            ),
            (
                config("port = 993", "").replace("start = \"09:00\"", &format!("start = \"{token}\"")),
                5,
                "`start` must be a time",
                token,
            ),
            (
                config("port = 993", "").replace("end = \"18:00\"", "end = \"08:59\""),
                6,
                "`end` must be after `start`",
                "08:59",
            ),
            (
                config("port = 993", "\n[[accounts]]\nkind = \"telegram\"\nname = \"office\"\ntoken_file = \"/t\"\n"),
                17,
                "`name` is the same as the account's on line 10",
                "\"office\"",
            ),
            (config("port = 993", "").replace("host = \"h\", port = 465, ", ""), 13, "`smtp` has no `host`", "465"),
            (
                format!("[guards]\nundo_seconds = -31337\n"),
                2,
                "`undo_seconds` must be a whole number, 0 or more",
                "31337",
            ),
            (
                "[hours]\ncalendar = \"by\"\n".to_string(),
                2,
                "`calendar` must be one of the shipped calendars: ru",
                "by",
            ),
        ];
        assert_eq!(Config::parse("[hours]\ncalendar = \"ru\"\n").map(|c| c.hours.calendar), Ok(Some("ru".into())));
        for (text, line, expected, hidden) in cases {
            let err = Config::parse(&text).expect_err(expected);
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
            assert!(err.starts_with(&format!("line {line}, ")), "not at line {line}: {err:?}\n{text}");
            assert!(!err.contains(hidden), "{hidden:?} shown in {err:?}");
        }
    }

    #[test]
    fn sla_tables_are_read_strictly() {
        let good = "[[sla]]\nid = \"vip\"\nmatch = { tag = \"VIP\", kind = [\"telegram\", \"whatsapp\"] }\n\
                    first_response = \"30m\"\nnext_response = \"2h\"\nkeep_informed = \"2d\"\nwarn_at = \"75%\"\n\
                    calendar = \"team\"\nescalate = [{ at = \"100%\", to = \"responsible\" }, { at = \"150%\", to = \"Ольга\" }]\n\n\
                    [[sla]]\nid = \"default\"\nfirst_response = \"4h\"\n";
        let cfg = Config::parse(good).expect("good");
        assert_eq!(cfg.sla.len(), 2);
        assert_eq!(
            cfg.sla[0].matches.as_ref().and_then(|m| m.kind.clone()),
            Some(vec!["telegram".into(), "whatsapp".into()])
        );
        assert_eq!(cfg.sla[0].escalate[1].to, "Ольга");
        assert_eq!(cfg.sla[1].matches, None);
        let cases = [
            ("[[sla]]\nid = \"a\"\nfirst_responce = \"30m\"\n", 3, "did you mean `first_response`?"),
            ("[[sla]]\nid = \"a\"\nfirst_response = \"soon\"\n", 3, "`first_response` must be working time like 30m"),
            ("[[sla]]\nid = \"a\"\nwarn_at = \"75\"\n", 3, "`warn_at` must be a share like 75%"),
            ("[[sla]]\nid = \"a\"\ncalendar = \"moon\"\n", 3, "`calendar` must be team or client"),
            ("[[sla]]\nid = \"a\"\nmatch = { kind = [\"fax\"] }\n", 3, "`kind` must be a list of channel kinds"),
            ("[[sla]]\nid = \"a\"\nmatch = { tga = \"VIP\" }\n", 3, "did you mean `tag`?"),
            ("[[sla]]\nid = \"a\"\nescalate = [{ at = \"x\", to = \"Ольга\" }]\n", 3, "`at` must be a share like 75%"),
            ("[[sla]]\nfirst_response = \"30m\"\n", 1, "this [[sla]] table has no `id`"),
            ("[[sla]]\nid = \"a\"\n[[sla]]\nid = \"a\"\n", 4, "`id` is the same as the one on line 2"),
        ];
        for (text, line, expected) in cases {
            let err = Config::parse(text).expect_err(expected);
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
            assert!(err.starts_with(&format!("line {line}, ")), "not at line {line}: {err:?}");
        }
    }

    /// `[mail]` reaches every email account's DKIM check; a resolver that is
    /// not an address is refused with the key named.
    #[test]
    fn mail_settings_reach_each_email_account() {
        let account = "[[accounts]]\nkind = \"email\"\nname = \"o\"\naddress = \"a@x.test\"\n\
             imap = { host = \"h\", port = 993, user = \"u\", password_command = [\"p\"] }\n\
             smtp = { host = \"h\", port = 465, user = \"u\", password_command = [\"p\"] }\n";
        let dkim = |text: &str| match Config::parse(text).map(|mut c| c.accounts.remove(0)) {
            Ok(Account::Email(e)) => Ok(e.dkim),
            Ok(_) => Err("not email".to_string()),
            Err(e) => Err(e),
        };
        assert_eq!(dkim(account), Ok(crate::mailauth::Settings::default()));
        let set = dkim(&format!(
            "[mail]\ndns_server = \"127.0.0.1:5353\"\ndns_timeout_ms = 200\ndkim_max_age_days = 7\n{account}"
        ))
        .expect("config");
        assert_eq!(set.dns_server, Some(std::net::SocketAddr::from(([127, 0, 0, 1], 5353))));
        assert_eq!((set.timeout, set.max_age_days, set.enabled), (std::time::Duration::from_millis(200), 7, true));
        let port_53 = dkim(&format!("[mail]\ndns_server = \"::1\"\ndkim = false\n{account}")).expect("config");
        assert_eq!(port_53.dns_server.map(|a| a.port()), Some(53));
        assert!(!port_53.enabled);
        let bad = dkim(&format!("[mail]\ndns_server = \"resolver.local\"\n{account}")).expect_err("refused");
        assert!(bad.contains("dns_server"), "{bad}");
    }

    /// Every ```toml block of the README is read by the real parser, so the
    /// manual and pult cannot disagree: a block of `[[template]]` tables is a
    /// templates.toml, every other block a config (a partial one is a config
    /// that leaves the rest at its defaults). A commented-out setting that is
    /// one `key = value` on its line is uncommented and must be read too.
    #[test]
    fn every_toml_block_of_the_readme_parses() {
        let readme = include_str!("../../README.md");
        let mut blocks = Vec::new();
        let mut open: Option<(usize, Vec<&str>)> = None;
        for (i, line) in readme.lines().enumerate() {
            match (&mut open, line.trim_end()) {
                (None, "```toml") => open = Some((i + 1, Vec::new())),
                (Some(_), "```") => blocks.extend(open.take()),
                (Some((_, lines)), _) => lines.push(line),
                (None, _) => {}
            }
        }
        assert!(open.is_none(), "a ```toml block is not closed");
        assert!(blocks.len() >= 3, "{} blocks", blocks.len());
        let mut configs = 0;
        for (line, lines) in blocks {
            let uncommented: Vec<String> = lines
                .iter()
                .map(|l| match l.trim_start().strip_prefix('#').map(str::trim_start) {
                    Some(setting) if setting.contains(" = ") && setting.parse::<toml::Table>().is_ok() => {
                        setting.to_string()
                    }
                    _ => l.to_string(),
                })
                .collect();
            for text in [lines.join("\n"), uncommented.join("\n")] {
                if text.lines().any(|l| l.trim() == "[[template]]") {
                    let (templates, error) = crate::workflow::templates::Templates::with_user_file(Some(&text));
                    assert_eq!(error, None, "README line {line}: {text}");
                    assert!(
                        templates.get("whatsapp-follow-up").is_some_and(|t| t.whatsapp.is_some()),
                        "README line {line}"
                    );
                } else {
                    Config::parse(&text).unwrap_or_else(|e| panic!("README line {line}: {e}\n{text}"));
                    configs += 1;
                }
            }
        }
        assert!(configs >= 4, "{configs} config blocks");
        // The full example has one account of each kind.
        let full = readme.split("```toml\n").nth(1).and_then(|b| b.split("\n```").next()).unwrap_or_default();
        let c = Config::parse(full).expect("the README's config");
        let kinds: Vec<_> = c.accounts.iter().map(|a| a.kind().as_str()).collect();
        assert_eq!(kinds, ["email", "telegram", "whatsapp"]);
    }

    #[test]
    fn workdays() {
        assert_eq!(parse_workdays("mon-wed,sat").expect("days"), vec![0, 1, 2, 5]);
        assert!(parse_workdays("fri-mon").is_err());
        assert!(parse_hhmm("25:00").is_err());
    }
}
