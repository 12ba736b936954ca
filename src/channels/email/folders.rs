//! Which folders of a mailbox pult syncs, found by their role: the server's
//! own SPECIAL-USE attributes (RFC 6154) first, then the names the big
//! providers and Russian-speaking installations use («Отправленные»,
//! `[Gmail]/Sent Mail`, `Sent Items`). A configured folder the server no
//! longer lists is named as missing, never selected again and again.

use super::Session;
use super::mutf7;
use crate::config::EmailAccount;
use futures_util::StreamExt;

/// What a folder is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sent,
    Drafts,
    Junk,
    Trash,
    Archive,
    /// Every mail of the account (Gmail's All Mail): syncing it would repeat every other folder.
    All,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sent => "\\Sent",
            Role::Drafts => "\\Drafts",
            Role::Junk => "\\Junk",
            Role::Trash => "\\Trash",
            Role::Archive => "\\Archive",
            Role::All => "\\All",
        }
    }
}

/// One folder as LIST named it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Decoded (UTF-8): the name pult stores and shows; encoded again on the wire.
    pub name: String,
    /// The role the server declared (SPECIAL-USE), if any.
    pub declared: Option<Role>,
    /// False for `\Noselect` / `\NonExistent` hierarchy nodes.
    pub selectable: bool,
}

impl Listed {
    /// The declared role, else the role its name suggests.
    pub fn role(&self) -> Option<Role> {
        self.declared.or_else(|| role_by_name(&self.name))
    }
}

/// Well-known names, compared without case on the last level of the name.
const NAMES: &[(Role, &[&str])] = &[
    (
        Role::Sent,
        &[
            "sent",
            "sent items",
            "sent mail",
            "sent messages",
            "отправленные",
            "отправленные письма",
            "исходящие",
            "gesendet",
            "envoyés",
        ],
    ),
    (Role::Drafts, &["drafts", "draft", "черновики"]),
    (Role::Junk, &["junk", "spam", "junk e-mail", "junk email", "bulk mail", "спам", "нежелательная почта"]),
    (Role::Trash, &["trash", "deleted items", "deleted messages", "bin", "корзина", "удаленные", "удалённые"]),
    (Role::Archive, &["archive", "archives", "архив"]),
    (Role::All, &["all mail", "вся почта"]),
];

/// The role a folder's name suggests, for servers without SPECIAL-USE.
pub fn role_by_name(name: &str) -> Option<Role> {
    let leaf = name.rsplit(['/', '.']).next().unwrap_or(name).trim().to_lowercase();
    NAMES.iter().find(|(_, names)| names.contains(&leaf.as_str())).map(|(role, _)| *role)
}

/// Every folder of the mailbox (`LIST "" "*"`), names decoded.
pub async fn list(session: &mut Session) -> Result<Vec<Listed>, async_imap::error::Error> {
    use async_imap::imap_proto::types::NameAttribute as A;
    let mut out = Vec::new();
    let mut stream = session.list(Some(""), Some("*")).await?;
    while let Some(n) = stream.next().await {
        let n = n?;
        let mut declared = None;
        let mut selectable = true;
        for a in n.attributes() {
            match a {
                A::Sent => declared = Some(Role::Sent),
                A::Drafts => declared = Some(Role::Drafts),
                A::Junk => declared = Some(Role::Junk),
                A::Trash => declared = Some(Role::Trash),
                A::Archive => declared = Some(Role::Archive),
                A::All => declared = Some(Role::All),
                A::NoSelect => selectable = false,
                A::Extension(e) if e.eq_ignore_ascii_case("\\NonExistent") => selectable = false,
                _ => {}
            }
        }
        out.push(Listed { name: mutf7::decode_or_keep(n.name()), declared, selectable });
    }
    Ok(out)
}

/// The folder that has `role`: one the server declared, else one by name
/// (the shortest such name: `Sent` before `Archive/Sent`).
pub fn find(listed: &[Listed], role: Role) -> Option<&Listed> {
    let usable = || listed.iter().filter(|l| l.selectable);
    usable().find(|l| l.declared == Some(role)).or_else(|| {
        usable().filter(|l| l.declared.is_none() && role_by_name(&l.name) == Some(role)).min_by_key(|l| l.name.len())
    })
}

/// What to sync, where sent mail goes, and what is configured but gone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub sync: Vec<String>,
    pub sent: Option<String>,
    /// Configured folders the server does not list (renamed or deleted).
    pub missing: Vec<String>,
}

impl Plan {
    pub fn is_sent(&self, folder: &str) -> bool {
        self.sent.as_deref() == Some(folder)
    }
}

/// The folders to sync: INBOX and the Sent folder when none are configured;
/// else those listed, where `*` is every folder but Junk, Trash and All Mail,
/// and `Sent` is the Sent folder whatever the server calls it.
pub fn plan(account: &EmailAccount, listed: &[Listed]) -> Plan {
    let sent = match &account.sent_folder {
        Some(f) => Some(f.clone()),
        None => find(listed, Role::Sent).map(|l| l.name.clone()),
    };
    let mut out = Plan { sent: sent.clone(), ..Plan::default() };
    let add = |name: String, out: &mut Plan| {
        if !out.sync.contains(&name) {
            out.sync.push(name);
        }
    };
    let exists = |name: &str| listed.iter().any(|l| l.selectable && l.name == name);
    if account.folders.is_empty() {
        add("INBOX".into(), &mut out);
        if let Some(s) = sent.clone().filter(|s| exists(s)) {
            add(s, &mut out);
        }
        return out;
    }
    for wanted in &account.folders {
        if wanted == "*" {
            for l in listed.iter().filter(|l| l.selectable) {
                if !matches!(l.role(), Some(Role::Junk | Role::Trash | Role::All)) {
                    let name = if l.name.eq_ignore_ascii_case("INBOX") { "INBOX".into() } else { l.name.clone() };
                    add(name, &mut out);
                }
            }
        } else if wanted.eq_ignore_ascii_case("INBOX") {
            add("INBOX".into(), &mut out);
        } else if exists(wanted) {
            add(wanted.clone(), &mut out);
        } else if let Some(s) = sent.clone().filter(|s| wanted.eq_ignore_ascii_case("sent") && exists(s)) {
            add(s, &mut out);
        } else if !out.missing.contains(wanted) {
            out.missing.push(wanted.clone());
        }
    }
    out
}

/// Lists the folders and plans the sync in one go.
pub async fn discover(session: &mut Session, account: &EmailAccount) -> Result<Plan, async_imap::error::Error> {
    let listed = list(session).await?;
    Ok(plan(account, &listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str, declared: Option<Role>) -> Listed {
        Listed { name: name.into(), declared, selectable: true }
    }

    fn account(folders: &[&str]) -> EmailAccount {
        let text = format!(
            "[[accounts]]\nkind = \"email\"\nname = \"o\"\naddress = \"a@x.test\"\nfolders = [{}]\n\
             imap = {{ host = \"h\", port = 993, user = \"u\", password_command = [\"p\"] }}\n\
             smtp = {{ host = \"h\", port = 465, user = \"u\", password_command = [\"p\"] }}\n",
            folders.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
        );
        match crate::config::Config::parse(&text).expect("config").accounts.remove(0) {
            crate::config::Account::Email(e) => e,
            _ => unreachable!("an email account"),
        }
    }

    #[test]
    fn a_declared_role_wins_over_a_name() {
        let listed = [l("INBOX", None), l("Sent", None), l("Отправленные", Some(Role::Sent))];
        assert_eq!(find(&listed, Role::Sent).map(|l| l.name.as_str()), Some("Отправленные"));
        let plain = [l("INBOX", None), l("Archive/Sent", None), l("Отправленные", None)];
        assert_eq!(find(&plain, Role::Sent).map(|l| l.name.as_str()), Some("Archive/Sent"));
        let gmail = [l("INBOX", None), l("[Gmail]", None), l("[Gmail]/Sent Mail", None), l("[Gmail]/Spam", None)];
        assert_eq!(find(&gmail, Role::Sent).map(|l| l.name.as_str()), Some("[Gmail]/Sent Mail"));
        assert_eq!(role_by_name("[Gmail]/Spam"), Some(Role::Junk));
        assert_eq!(role_by_name("Входящие/Клиенты"), None);
        assert_eq!(role_by_name("Sent Items"), Some(Role::Sent));
    }

    #[test]
    fn default_star_sent_and_missing() {
        let listed = [
            l("INBOX", None),
            l("Отправленные", Some(Role::Sent)),
            l("Спам", Some(Role::Junk)),
            l("Корзина", None),
            l("Входящие/Клиенты", None),
            Listed { name: "Входящие".into(), declared: None, selectable: false },
        ];
        let p = plan(&account(&[]), &listed);
        assert_eq!(
            (p.sync.as_slice(), p.sent.as_deref()),
            (&["INBOX".to_string(), "Отправленные".into()][..], Some("Отправленные"))
        );
        let p = plan(&account(&["*"]), &listed);
        assert_eq!(p.sync, ["INBOX", "Отправленные", "Входящие/Клиенты"]);
        // The old default `["INBOX", "Sent"]` finds Sent by its role.
        let p = plan(&account(&["INBOX", "Sent", "Клиенты-старые"]), &listed);
        assert_eq!(p.sync, ["INBOX", "Отправленные"]);
        assert_eq!(p.missing, ["Клиенты-старые"]);
        assert!(p.is_sent("Отправленные") && !p.is_sent("INBOX"));
    }
}
