//! Provider presets: `provider = "gmail"` fills what every Gmail user would
//! otherwise copy from a help page (servers, ports, TLS, the login kind, the
//! provider's folder habits). A key the user writes always wins: a preset only
//! fills keys that are absent, before serde reads the file.

/// One server of a preset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Endpoint {
    pub host: &'static str,
    pub port: u16,
    pub tls: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub imap: Endpoint,
    pub smtp: Endpoint,
    /// The login kind when the user gives no password: Google and Microsoft
    /// take OAuth2 only; Yandex and Mail.ru take app passwords too.
    pub auth: &'static str,
    /// Whether pult appends sent mail to Sent (Gmail files it itself).
    pub save_sent: bool,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "gmail",
        imap: Endpoint { host: "imap.gmail.com", port: 993, tls: "implicit" },
        smtp: Endpoint { host: "smtp.gmail.com", port: 465, tls: "implicit" },
        auth: "oauth2",
        save_sent: false,
    },
    Preset {
        name: "outlook",
        imap: Endpoint { host: "outlook.office365.com", port: 993, tls: "implicit" },
        smtp: Endpoint { host: "smtp.office365.com", port: 587, tls: "starttls" },
        auth: "oauth2",
        save_sent: true,
    },
    Preset {
        name: "yandex",
        imap: Endpoint { host: "imap.yandex.ru", port: 993, tls: "implicit" },
        smtp: Endpoint { host: "smtp.yandex.ru", port: 465, tls: "implicit" },
        auth: "password",
        save_sent: true,
    },
    Preset {
        name: "mailru",
        imap: Endpoint { host: "imap.mail.ru", port: 993, tls: "implicit" },
        smtp: Endpoint { host: "smtp.mail.ru", port: 465, tls: "implicit" },
        auth: "password",
        save_sent: true,
    },
];

pub fn get(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

/// The keys a preset fills in a server table (`imap` or `smtp`).
pub const SERVER_KEYS: [&str; 4] = ["host", "port", "tls", "user"];

/// Fills the absent keys of every `[[accounts]]` entry that names a provider.
pub fn apply(doc: &mut toml::Table) {
    let Some(toml::Value::Array(accounts)) = doc.get_mut("accounts") else { return };
    for account in accounts.iter_mut() {
        let toml::Value::Table(a) = account else { continue };
        let Some(preset) = a.get("provider").and_then(|p| p.as_str()).and_then(get) else { continue };
        let address = a.get("address").and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let account_auth = a.contains_key("auth");
        let account_password = a.contains_key("password_command") || a.contains_key("password_file");
        for (key, end) in [("imap", preset.imap), ("smtp", preset.smtp)] {
            let server = a.entry(key).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(s) = server else { continue };
            s.entry("host").or_insert_with(|| end.host.into());
            s.entry("port").or_insert_with(|| i64::from(end.port).into());
            s.entry("tls").or_insert_with(|| end.tls.into());
            // These providers log in with the whole address.
            s.entry("user").or_insert_with(|| address.clone().into());
            let has_password = s.contains_key("password_command") || s.contains_key("password_file");
            if !account_auth && !has_password && !account_password {
                s.entry("auth").or_insert_with(|| preset.auth.into());
            }
        }
        if !preset.save_sent {
            a.entry("save_sent").or_insert(false.into());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_preset_fills_and_explicit_keys_win() {
        let text = r#"
[[accounts]]
kind = "email"
name = "g"
address = "anna@gmail.com"
provider = "gmail"
oauth2_token_command = ["oama", "access", "anna@gmail.com"]

[[accounts]]
kind = "email"
name = "y"
address = "anna@yandex.ru"
provider = "yandex"
save_sent = false
imap = { port = 1993, password_command = ["pass", "yandex"] }
smtp = { password_command = ["pass", "yandex"] }

[[accounts]]
kind = "email"
name = "m"
address = "anna@mail.ru"
provider = "mailru"
password_command = ["pass", "mailru"]
smtp = { password_command = ["pass", "mailru-smtp"] }
"#;
        let c = crate::config::Config::parse(text).expect("config");
        let email = |i: usize| match &c.accounts[i] {
            crate::config::Account::Email(e) => e.clone(),
            _ => unreachable!("email"),
        };
        let g = email(0);
        assert_eq!((g.imap.host.as_str(), g.imap.port, g.imap.tls.as_str()), ("imap.gmail.com", 993, "implicit"));
        assert_eq!((g.smtp.host.as_str(), g.smtp.port), ("smtp.gmail.com", 465));
        assert_eq!(g.imap.user, "anna@gmail.com");
        assert!(!g.save_sent, "Gmail files sent mail itself");
        assert!(matches!(g.login(&g.smtp), crate::config::Login::OAuth2 { command } if command[0] == "oama"));
        let y = email(1);
        assert_eq!((y.imap.host.as_str(), y.imap.port), ("imap.yandex.ru", 1993), "an explicit port wins");
        assert!(!y.save_sent);
        assert!(matches!(y.login(&y.imap), crate::config::Login::Password { .. }), "an app password");
        // Once for the account; a server's own wins.
        let m = email(2);
        let pass = |l: crate::config::Login<'_>| match l {
            crate::config::Login::Password { command: Some(c), .. } => c[1].clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(pass(m.login(&m.imap)), "mailru");
        assert_eq!(pass(m.login(&m.smtp)), "mailru-smtp");
    }

    #[test]
    fn an_unknown_provider_is_named_with_the_known_ones() {
        let text = "[[accounts]]\nkind = \"email\"\nname = \"g\"\naddress = \"a@b\"\nprovider = \"gmial\"\n";
        let err = crate::config::Config::parse(text).expect_err("unknown");
        assert!(err.contains("line 5") && err.contains("gmail, outlook, yandex, mailru"), "{err}");
    }
}
