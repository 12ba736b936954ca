//! Clients (the `contacts` table): one client, every channel's identity, one
//! responsible person. Merging moves identities and conversations and can be
//! undone exactly (the merged client stays as a tombstone pointing to the
//! target); suggestions say why two clients may be one, never merge silently.

use super::sql::{Conn, Searchable, ToValue, Transact, WithConn};
use super::writer::note_change;
use super::{Reader, Result};
use crate::model::ChangeKind;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One of a client's handles: `email` (lower-cased address), `telegram`
/// (`tg:<user id>`, with the @username when known), `whatsapp` (wa_id, the
/// number in E.164 without "+"), or a group chat the client writes in
/// (`telegram_group`, `whatsapp_group`: the chat id, with its title).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub kind: String,
    pub handle: String,
    /// The name the channel shows (a group's title).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl Identity {
    /// «tg:1234 @ivan», «irina@firm.ru», «Ромашка — бухгалтерия (group)».
    pub fn shown(&self) -> String {
        match (&self.username, &self.name) {
            (Some(u), _) => format!("{} @{u}", self.handle),
            (None, Some(n)) if self.kind.ends_with("_group") => format!("{n} ({})", self.handle),
            _ => self.handle.clone(),
        }
    }
}

/// A client as `pult clients --json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientSummary {
    pub id: i64,
    pub name: String,
    pub organisation: Option<String>,
    /// `person` or `organisation` (as set, else guessed from the name).
    pub kind: String,
    pub inn: Option<String>,
    pub tags: Vec<String>,
    /// Created by sync for an unknown sender; nobody has named, merged or
    /// handed it over yet.
    pub provisional: bool,
    pub responsible: Option<String>,
    pub identities: Vec<Identity>,
    pub open_tasks: i64,
    pub waiting: i64,
    /// Open promises past their deadline.
    pub overdue: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientConversation {
    pub conversation: i64,
    pub channel: String,
    pub kind: String,
    pub subject: String,
    /// Unix seconds; the CLI shows RFC 3339.
    pub last_date: i64,
    pub waiting_since: Option<i64>,
}

/// One message in a client's timeline across channels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub conversation: i64,
    pub kind: String,
    /// `in` from the client, `out` from us.
    pub direction: String,
    pub author: String,
    /// Unix seconds; the CLI shows RFC 3339.
    pub date: i64,
    /// The message's first line.
    pub text: String,
}

/// An open promise to the client: what, by when, on which conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientPromise {
    pub conversation: i64,
    pub kind: String,
    /// Unix seconds; the CLI shows RFC 3339.
    pub deadline: Option<i64>,
    pub accepted_by: Option<String>,
    /// The request it answers (its first line), else the conversation's subject.
    pub what: String,
}

/// A client with its open promises (soonest first), its conversations across
/// every channel (newest first), and the newest messages of all of them as
/// one timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientCard {
    #[serde(flatten)]
    pub summary: ClientSummary,
    pub notes: Option<String>,
    pub promises: Vec<ClientPromise>,
    pub conversations: Vec<ClientConversation>,
    pub timeline: Vec<TimelineEntry>,
}

/// More clients than this with one name are namesakes, not one person.
const MAX_NAMESAKES: usize = 4;

/// A group chat with more people than this besides its client is not the
/// client's own (director, bookkeeper, a deputy): its members are not suggested.
const MAX_GROUP_PEOPLE: usize = 4;

/// How many messages a card's timeline shows.
pub const TIMELINE: i64 = 30;

/// Two or more clients that may be one, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub clients: Vec<i64>,
    pub reason: String,
    /// Which rule: `phone`, `domain`, `name`, `group` (a group's title names the
    /// organisation) or `member` (writes in the client's group chat).
    pub rule: &'static str,
    /// What matched: the phone in E.164, the domain, the names, the group's title.
    pub detail: String,
}

/// Mail providers anyone can have an address at: a shared domain there says nothing.
pub const PUBLIC_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "mail.ru",
    "bk.ru",
    "inbox.ru",
    "list.ru",
    "internet.ru",
    "yandex.ru",
    "ya.ru",
    "yandex.com",
    "rambler.ru",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.com",
    "aol.com",
    "qip.ru",
    "ukr.net",
];

/// Each client with its open promises, waiting conversations and overdue
/// promises. Promises are counted from the open ones, once for the whole
/// list (through each client's conversations they were two lookups per
/// conversation); the waiting ones from `conversations_by_contact` alone.
const SUMMARY: &str = "SELECT k.id, k.name, k.organisation, k.default_assignee, k.kind, k.inn, k.tags, k.provisional,
        coalesce(promised.promises, 0),
        (SELECT count(*) FROM conversations c WHERE c.contact_id = k.id AND c.status = 'open'
          AND c.waiting_since IS NOT NULL),
        coalesce(promised.overdue, 0)
     FROM contacts k
     LEFT JOIN (SELECT c.contact_id AS client, count(*) AS promises,
                       sum(CASE WHEN t.deadline < {now} THEN 1 ELSE 0 END) AS overdue
                FROM tasks t JOIN conversations c ON c.id = t.conversation_id
                WHERE t.state = 'accepted' AND c.contact_id IS NOT NULL
                GROUP BY c.contact_id) promised ON promised.client = k.id";

/// Suggestions read what clients wrote in this many newest messages: a
/// phone number in a signature, a member of a client's group.
const RECENT_MESSAGES: i64 = 50_000;

impl Reader {
    fn client_rows(&self, filter: &str, param: Option<i64>) -> Result<Vec<ClientSummary>> {
        // Now as a number in the text, as both engines read it (SQLite's
        // strftime('%s', 'now') is its own); the statement is run once anyway.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let sql =
            // The neediest first: overdue promises, then clients waiting, then open promises; then by name.
            format!(
                "{} WHERE k.merged_into IS NULL {filter}
                 ORDER BY 11 DESC, 10 DESC, 9 DESC, coalesce(k.organisation, k.name), k.id",
                SUMMARY.replace("{now}", &now.to_string())
            );
        // Text moved out of the rows, not copied: the list is ten thousand clients.
        let map = |mut r: super::sql::Row| {
            let name = r.take_string(1)?;
            let kind = r.take_text(4)?;
            let tags = r.take_text(6)?;
            Ok(ClientSummary {
                id: r.get(0)?,
                kind: kind.unwrap_or_else(|| guess_kind(&name).into()),
                name,
                organisation: r.take_text(2)?,
                responsible: r.take_text(3)?,
                inn: r.take_text(5)?,
                tags: split_tags(tags.as_deref().unwrap_or("")),
                provisional: r.get(7)?,
                identities: Vec::new(),
                open_tasks: r.get(8)?,
                waiting: r.get(9)?,
                overdue: r.get(10)?,
            })
        };
        let found = match param {
            Some(p) => self.connection().rows_once(&sql, &[&p])?,
            None => self.connection().rows_once(&sql, &[])?,
        };
        let mut rows = found.into_iter().map(map).collect::<Result<Vec<ClientSummary>>>()?;
        // Group chats count as the client's handles too: the client is part of
        // them. One query for the whole list (a query per client cost 0.1 s at
        // ten thousand clients), one with the client's id for a card.
        let sql = |one: bool| {
            let (a, b) = if one { ("WHERE contact_id = ?1", "AND c.contact_id = ?1") } else { ("", "") };
            format!(
                "SELECT contact_id, kind, handle, display_name, username FROM identities {a}
                 UNION ALL
                 SELECT c.contact_id, ch.kind || '_group', c.remote_key, c.title, NULL FROM conversations c
                   JOIN channels ch ON ch.id = c.channel_id WHERE c.is_group = 1 AND c.contact_id IS NOT NULL {b}
                 ORDER BY 2, 3"
            )
        };
        let map = |mut r: super::sql::Row| {
            let name = r.take_text(3)?;
            Ok((
                r.get::<i64>(0)?,
                Identity {
                    kind: r.take_string(1)?,
                    handle: r.take_string(2)?,
                    name: name.filter(|n| !n.is_empty()),
                    username: r.take_text(4)?,
                },
            ))
        };
        let all: Vec<(i64, Identity)> = self.connection().with_conn(|c| {
            let rows = match param {
                Some(p) => c.rows(&sql(true), &[&p])?,
                None => c.rows(&sql(false), &[])?,
            };
            rows.into_iter().map(map).collect()
        })?;
        let mut by_client: std::collections::HashMap<i64, Vec<Identity>> = std::collections::HashMap::new();
        for (client, identity) in all {
            by_client.entry(client).or_default().push(identity);
        }
        for c in &mut rows {
            c.identities = by_client.remove(&c.id).unwrap_or_default();
        }
        Ok(rows)
    }

    /// Every client (merged ones are tombstones and not listed).
    pub fn clients(&self) -> Result<Vec<ClientSummary>> {
        self.client_rows("", None)
    }

    /// One client's card; a merged id leads to the client it was merged into.
    pub fn client(&self, id: i64) -> Result<Option<ClientCard>> {
        let id = self.client_target(id)?;
        let Some(summary) = self.client_rows("AND k.id = ?1", Some(id))?.into_iter().next() else { return Ok(None) };
        let (notes, conversations, timeline, promises) = self.connection().with_conn(|c| {
            let notes: Option<String> = c.one("SELECT notes FROM contacts WHERE id = ?1", &[&id], |r| r.get(0))?;
            let conversations = c.all(
                "SELECT c.id, ch.name, ch.kind, coalesce(c.subject, c.title), c.last_message_at, c.waiting_since
                 FROM conversations c JOIN channels ch ON ch.id = c.channel_id
                 WHERE c.contact_id = ?1 ORDER BY c.last_message_at DESC, c.id DESC",
                &[&id],
                |r| {
                    Ok(ClientConversation {
                        conversation: r.get(0)?,
                        channel: r.get(1)?,
                        kind: r.get(2)?,
                        subject: r.get(3)?,
                        last_date: r.get(4)?,
                        waiting_since: r.get(5)?,
                    })
                },
            )?;
            let timeline = c.all(
                "SELECT m.conversation_id, ch.kind, m.direction, m.author, m.sent_at, m.body
                 FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN channels ch ON ch.id = m.channel_id
                 WHERE c.contact_id = ?1 AND m.deleted = 0 ORDER BY m.sent_at DESC, m.id DESC LIMIT ?2",
                &[&id, &TIMELINE],
                |r| {
                    let body: String = r.get(5)?;
                    let first = crate::workflow::replies::request_line(&body);
                    Ok(TimelineEntry {
                        conversation: r.get(0)?,
                        kind: r.get(1)?,
                        direction: r.get(2)?,
                        author: r.get(3)?,
                        date: r.get(4)?,
                        text: first.chars().take(100).collect(),
                    })
                },
            )?;
            let promises = c.all(
                "SELECT t.conversation_id, ch.kind, t.deadline, t.accepted_by,
                        coalesce(t.summary, m.body, c.subject, c.title)
                 FROM tasks t JOIN conversations c ON c.id = t.conversation_id JOIN channels ch ON ch.id = c.channel_id
                 LEFT JOIN messages m ON m.id = t.source_message_id
                 WHERE c.contact_id = ?1 AND t.state = 'accepted'
                 ORDER BY t.deadline IS NULL, t.deadline, t.id",
                &[&id],
                |r| {
                    let what: String = r.get(4)?;
                    Ok(ClientPromise {
                        conversation: r.get(0)?,
                        kind: r.get(1)?,
                        deadline: r.get(2)?,
                        accepted_by: r.get(3)?,
                        what: crate::workflow::replies::request_line(&what).chars().take(100).collect(),
                    })
                },
            )?;
            Ok((notes, conversations, timeline, promises))
        })?;
        Ok(Some(ClientCard { summary, notes, promises, conversations, timeline }))
    }

    /// The live client a (maybe merged) id stands for.
    pub fn client_target(&self, id: i64) -> Result<i64> {
        Ok(follow_merges(self.connection(), id)?.unwrap_or(id))
    }

    /// A live client by (part of) its name or organisation, case-insensitive
    /// and ё as е; the one with the most conversations first.
    pub fn find_client(&self, name: &str) -> Result<Option<i64>> {
        let needle = fold(name.trim());
        if needle.is_empty() {
            return Ok(None);
        }
        // A handle as written (`irina@firm.ru`, `@ivan`, `79161234567`) names its client exactly.
        let handle = needle.trim_start_matches('@');
        let (all, by_handle) = self.connection().with_conn(|c| {
            let all: Vec<(i64, String, Option<String>, i64)> = c.all(
                "SELECT k.id, k.name, k.organisation, (SELECT count(*) FROM conversations c WHERE c.contact_id = k.id)
                 FROM contacts k WHERE k.merged_into IS NULL",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let by_handle: Option<i64> = c.opt(
                "SELECT contact_id FROM identities WHERE lower(handle) = ?1 OR lower(username) = ?1
                   OR (kind = 'whatsapp' AND handle = ltrim(?1, '+')) LIMIT 1",
                &[&handle],
                |r| r.get(0),
            )?;
            Ok((all, by_handle))
        })?;
        if let Some(id) = by_handle {
            return Ok(Some(self.client_target(id)?));
        }
        Ok(all
            .into_iter()
            .filter(|(_, n, o, _)| fold(n).contains(&needle) || o.as_deref().is_some_and(|o| fold(o).contains(&needle)))
            .max_by_key(|(id, _, _, n)| (*n, -id))
            .map(|(id, ..)| id))
    }

    /// Every client's shown name (its organisation, else its name) and
    /// whether it is provisional.
    pub fn client_names(&self) -> Result<std::collections::HashMap<i64, (String, bool)>> {
        let rows: Vec<(i64, (String, bool))> = self.connection().with_conn(|c| {
            c.all("SELECT id, coalesce(organisation, name), provisional FROM contacts", &[], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
            })
        })?;
        Ok(rows.into_iter().collect())
    }

    /// The conversation's client when it is provisional (made by sync for a
    /// sender nobody has looked at yet).
    pub fn provisional_client(&self, conversation: i64) -> Result<Option<i64>> {
        self.connection().with_conn(|c| {
            c.opt(
                "SELECT k.id FROM conversations c JOIN contacts k ON k.id = c.contact_id
                 WHERE c.id = ?1 AND k.provisional = 1 AND k.merged_into IS NULL",
                &[&conversation],
                |r| r.get(0),
            )
        })
    }

    /// The client of a conversation.
    pub fn client_of(&self, conversation: i64) -> Result<Option<i64>> {
        self.connection().with_conn(|c| {
            Ok(c.opt("SELECT contact_id FROM conversations WHERE id = ?1", &[&conversation], |r| r.get(0))?.flatten())
        })
    }

    /// Clients that may be one, with the reason; dismissed pairs are left out.
    pub fn client_suggestions(&self) -> Result<Vec<Suggestion>> {
        let engine = self.engine();
        type Read = (
            BTreeMap<i64, (String, Option<String>)>,
            Vec<(i64, String, String, Option<String>)>,
            BTreeSet<(i64, i64)>,
            Vec<(i64, String, String, Vec<String>)>,
            Vec<(i64, String)>,
            Vec<(i64, i64, String)>,
        );
        let (live, identities, dismissed, bodies, group_titles, members): Read = self.connection().with_conn(|c| {
            let live = c.all("SELECT id, name, organisation FROM contacts WHERE merged_into IS NULL", &[], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
            })?;
            let identities = c.all("SELECT contact_id, kind, handle, display_name FROM identities", &[], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            let dismissed = c.all("SELECT a, b FROM client_dismissals", &[], |r| Ok((r.get(0)?, r.get(1)?)))?;
            // The bodies of the newest messages: only those with a number in them are kept.
            let mut bodies = Vec::new();
            for mut r in c.rows(
                &format!(
                    "SELECT c.contact_id, ch.kind, m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id
                     JOIN channels ch ON ch.id = m.channel_id
                     WHERE m.direction = 'in' AND c.contact_id IS NOT NULL
                       AND m.id > (SELECT max(id) - {RECENT_MESSAGES} FROM messages)"
                ),
                &[],
            )? {
                let body = r.take_text(2)?.unwrap_or_default();
                // Most messages carry no number: only those that do are read for
                // what the client wrote (a number in a quote is someone else's).
                let numbers = phones_in(&body);
                if !numbers.is_empty() {
                    bodies.push((r.get(0)?, r.get(1)?, body, numbers));
                }
            }
            let group_titles = c.all(
                "SELECT contact_id, title FROM conversations WHERE is_group = 1 AND contact_id IS NOT NULL",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // Who wrote in client groups, from the newest messages as the
            // numbers above: every group message of a big store is millions
            // of rows (2 s and 170 MB at 10M), and a member who wrote in
            // neither of these is no news. A store without client groups
            // (mail only) has none to read.
            let members = if group_titles.is_empty() {
                Vec::new()
            } else {
                c.all(
                    &format!(
                        "SELECT DISTINCT c.contact_id, i.contact_id, c.title, c.id FROM messages m
                           {} conversations c ON c.id = m.conversation_id
                           JOIN identities i ON i.id = m.author_identity_id
                         WHERE m.id > (SELECT max(id) - {RECENT_MESSAGES} FROM messages) AND m.direction = 'in'
                           AND c.is_group = 1 AND c.contact_id IS NOT NULL AND i.contact_id <> c.contact_id
                         ORDER BY c.id",
                        super::read_conn::cross_join(engine)
                    ),
                    &[],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?
            };
            // DISTINCT over the three, as before: c.id is selected only because
            // PostgreSQL orders a DISTINCT by what it selects.
            let mut seen = std::collections::HashSet::new();
            let members: Vec<(i64, i64, String)> = members.into_iter().filter(|m| seen.insert(m.clone())).collect();
            Ok((live.into_iter().collect(), identities, dismissed.into_iter().collect(), bodies, group_titles, members))
        })?;
        let mut out: Vec<Suggestion> = Vec::new();
        let mut seen: std::collections::HashSet<Vec<i64>> = std::collections::HashSet::new();
        let mut add = |mut ids: Vec<i64>, rule: &'static str, detail: String, reason: String| {
            ids.sort_unstable();
            ids.dedup();
            ids.retain(|i| live.contains_key(i));
            if ids.len() < 2 || ids.windows(2).all(|w| dismissed.contains(&(w[0], w[1]))) {
                return;
            }
            if seen.insert(ids.clone()) {
                out.push(Suggestion { clients: ids, reason, rule, detail });
            }
        };
        // 1. One phone number: a WhatsApp wa_id, a Telegram shared contact, a mail signature.
        let mut phones: BTreeMap<String, BTreeMap<i64, &'static str>> = BTreeMap::new();
        for (client, kind, handle, _) in &identities {
            if kind == "whatsapp"
                && let Some(p) = crate::phone::e164(&format!("+{handle}"), "7")
            {
                phones.entry(p).or_default().insert(*client, "WhatsApp");
            }
        }
        for (client, kind, body, numbers) in bodies {
            // Numbers this client is already known to have written add nothing:
            // a signature, mail after mail, is read for its author once.
            if numbers.iter().all(|p| phones.get(p).is_some_and(|c| c.contains_key(&client))) {
                continue;
            }
            let authored = crate::search::authored::authored(&body);
            for p in phones_in(&authored) {
                let source = if kind == "email" { "a mail signature" } else { "a shared contact" };
                phones.entry(p).or_default().entry(client).or_insert(source);
            }
        }
        for (phone, clients) in &phones {
            if clients.len() > 1 {
                let sources: BTreeSet<&str> = clients.values().copied().collect();
                let sources: Vec<&str> = sources.into_iter().collect();
                add(
                    clients.keys().copied().collect(),
                    "phone",
                    format!("+{}", phone.trim_start_matches('+')),
                    format!("the same phone {phone} ({})", sources.join(", ")),
                );
            }
        }
        // 2. A company's own mail domain.
        let mut domains: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for (client, kind, handle, _) in &identities {
            if kind == "email"
                && let Some((_, domain)) = handle.rsplit_once('@')
                && !PUBLIC_DOMAINS.contains(&domain)
                && !domain.ends_with(".test")
            {
                domains.entry(domain.to_string()).or_default().insert(*client);
            }
        }
        for (domain, clients) in &domains {
            if clients.len() > 1 {
                add(
                    clients.iter().copied().collect(),
                    "domain",
                    domain.clone(),
                    format!("mail from the same company domain {domain}"),
                );
            }
        }
        // 3. Names that fold to the same words (ё/е, order, an initial) on
        // different channels. A name many clients share says nothing (namesakes),
        // and only names with the same initials are compared: the work stays
        // near-linear at ten thousand clients.
        let mut kinds: BTreeMap<i64, BTreeSet<&str>> = BTreeMap::new();
        for (client, kind, _, _) in &identities {
            kinds.entry(*client).or_default().insert(kind.as_str());
        }
        let mut exact: BTreeMap<Vec<String>, Vec<i64>> = BTreeMap::new();
        for (id, (name, _)) in &live {
            let words = folded_words(name);
            if words.len() >= 2 {
                exact.entry(words).or_default().push(*id);
            }
        }
        let mut by_initials: BTreeMap<(usize, BTreeSet<char>), Vec<(i64, &Vec<String>)>> = BTreeMap::new();
        for (words, ids) in &exact {
            if ids.len() > MAX_NAMESAKES {
                continue;
            }
            let initials: BTreeSet<char> = words.iter().filter_map(|w| w.chars().next()).collect();
            for id in ids {
                by_initials.entry((words.len(), initials.clone())).or_default().push((*id, words));
            }
        }
        let no_kinds = BTreeSet::new();
        let kinds_of = |c: &i64| kinds.get(c).unwrap_or(&no_kinds);
        for people in by_initials.values().filter(|p| p.len() <= 4 * MAX_NAMESAKES) {
            for (i, (a, wa)) in people.iter().enumerate() {
                for (b, wb) in &people[i + 1..] {
                    if same_person(wa, wb) && kinds_of(a) != kinds_of(b) {
                        let names = format!("{} / {}", live[a].0, live[b].0);
                        add(vec![*a, *b], "name", names.clone(), format!("the same name on two channels: {names}"));
                    }
                }
            }
        }
        // 4. A group chat whose title names a client's organisation.
        let groups = group_titles;
        let cores: Vec<(i64, String, &Option<String>)> = live
            .iter()
            .filter_map(|(id, (_, org))| {
                let core = organisation_core(org.as_deref()?);
                (core.chars().count() >= 4).then_some((*id, core, org))
            })
            .collect();
        for (client, shown) in &groups {
            let title = fold(shown);
            for (id, core, org) in &cores {
                if id != client && title.contains(core.as_str()) {
                    let org = org.as_deref().unwrap_or_default();
                    add(vec![*id, *client], "group", shown.clone(), format!("the group «{title}» names {org}"));
                }
            }
        }
        // 5. People who write in a client's group chat (the client's own
        // bookkeeper beside the director), as one suggestion per group; not
        // another organisation's people, and not a big chat (a team's, a
        // community's), where writing together says nothing.
        let mut groups: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
        for (owner, member, title) in members {
            let (Some(o), Some(m)) = (live.get(&owner), live.get(&member)) else { continue };
            if m.1.is_none() || m.1 == o.1 {
                groups.entry((owner, title)).or_default().push(member);
            }
        }
        for ((owner, title), people) in groups {
            if people.len() > MAX_GROUP_PEOPLE {
                continue;
            }
            let o = &live[&owner];
            let names: Vec<&str> = people.iter().map(|p| live[p].0.as_str()).collect();
            let verb = if names.len() == 1 { "writes" } else { "write" };
            let of = o.1.as_deref().unwrap_or(&o.0);
            let reason = format!("{} {verb} in the group «{title}» of {of}", names.join(", "));
            add([vec![owner], people].concat(), "member", title, reason);
        }
        Ok(out)
    }
}

/// A person unless the name reads as a company («ООО «Ромашка»», "Acme LLC").
pub fn guess_kind(name: &str) -> &'static str {
    if crate::workflow::templates::greeting_name(name).is_none() { "organisation" } else { "person" }
}

/// «VIP, зарплата ,, vip» → ["VIP", "зарплата"]: trimmed, no empties, no repeats (case-insensitive).
pub fn split_tags(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !out.iter().any(|o| fold(o) == fold(t)) {
            out.push(t.to_string());
        }
    }
    out
}

/// Lower case, ё as е.
fn fold(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

/// «ООО «Ромашка»» → «ромашка»: the name without its legal form and quotes.
fn organisation_core(org: &str) -> String {
    let forms = ["ооо", "ип", "ао", "зао", "пао", "оао", "llc", "ltd", "inc"];
    fold(org)
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty() && !forms.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn folded_words(name: &str) -> Vec<String> {
    let mut w: Vec<String> =
        fold(name).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect();
    w.sort();
    w
}

/// The same words in any order; a one-letter word matches a word it begins.
fn same_person(a: &[String], b: &[String]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let full = |w: &[String]| w.iter().filter(|x| x.chars().count() > 1).cloned().collect::<Vec<_>>();
    let (fa, fb) = (full(a), full(b));
    if fa.is_empty() || fb.is_empty() {
        return false;
    }
    let covered = |words: &[String], other: &[String]| {
        words.iter().all(|w| {
            other.iter().any(|o| {
                o == w
                    || (w.chars().count() == 1 && o.starts_with(w.as_str()))
                    || (o.chars().count() == 1 && w.starts_with(o.as_str()))
            })
        })
    };
    covered(a, b) && covered(b, a)
}

/// Phone numbers written in a text (a signature, a shared contact).
pub fn phones_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // A run of digits and the separators people write in numbers, as a slice
    // of the text: (start, digits in it). Read once, nothing copied per character.
    let mut run: Option<(usize, usize)> = None;
    let mut end_run = |run: &mut Option<(usize, usize)>, end: usize| {
        if let Some((start, digits)) = run.take()
            && (10..=15).contains(&digits)
            && let Some(p) = crate::phone::e164(text[start..end].trim(), "7")
            && !out.contains(&p)
        {
            out.push(p);
        }
    };
    for (i, c) in text.char_indices() {
        match (c, &mut run) {
            ('0'..='9', Some((_, digits))) => *digits += 1,
            ('0'..='9', None) => run = Some((i, 1)),
            ('+', None) => run = Some((i, 0)),
            (' ' | '+' | '-' | '(' | ')' | '.' | '\u{a0}', Some(_)) => {}
            (_, Some(_)) => end_run(&mut run, i),
            (_, None) => {}
        }
    }
    end_run(&mut run, text.len());
    out
}

/// The live client an id stands for (a merged client leads to its target),
/// or a clear error for an id no client ever had.
fn live_client(c: &dyn Conn, id: i64) -> Result<i64> {
    follow_merges(c, id)?.ok_or_else(|| super::StoreError::Invalid(format!("no client {id}")))
}

/// Follows `merged_into` from a client to the one it lives on in; None for an
/// id no client ever had. (Sixteen steps at most: merges never form a cycle,
/// and a damaged store must not hang.)
fn follow_merges(c: &(impl WithConn + ?Sized), mut id: i64) -> Result<Option<i64>> {
    c.with_conn(|c| {
        for _ in 0..16 {
            let next: Option<Option<i64>> =
                c.opt("SELECT merged_into FROM contacts WHERE id = ?1", &[&id], |r| r.get(0))?;
            match next {
                None => return Ok(None),
                Some(Some(target)) => id = target,
                Some(None) => return Ok(Some(id)),
            }
        }
        Ok(Some(id))
    })
}

/// Merges `from` clients into `into`: identities and conversations move, the
/// target's fields win and the others' differences are kept in its notes;
/// each merged client stays as a tombstone. Returns the merge's id (for undo).
pub fn merge(db: &mut impl Transact, into: i64, from: &[i64], actor: &str, now: i64) -> Result<i64> {
    db.write(|c| merge_in(c, into, from, actor, now))
}

fn merge_in(c: &dyn Conn, into: i64, from: &[i64], actor: &str, now: i64) -> Result<i64> {
    // Ids as a person has them, maybe of clients merged since: their live clients.
    let into = live_client(c, into)?;
    let mut sources = Vec::new();
    for &f in from {
        let f = live_client(c, f)?;
        if f != into && !sources.contains(&f) {
            sources.push(f);
        }
    }
    if sources.is_empty() {
        return Err(super::StoreError::Invalid(format!("nothing to merge into client {into}")));
    }
    let target: (String, Option<String>, Option<String>, Option<String>) = c.one(
        "SELECT name, organisation, default_assignee, notes FROM contacts WHERE id = ?1 AND merged_into IS NULL",
        &[&into],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    // The target's fields a merge may change besides its notes, for the undo.
    let (tags_before, kind_before, inn_before, provisional_before): (
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
    ) = c.one("SELECT tags, kind, inn, provisional FROM contacts WHERE id = ?1", &[&into], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    let mut tags = split_tags(tags_before.as_deref().unwrap_or(""));
    let mut kind = kind_before.clone();
    let mut inn = inn_before.clone();
    let mut moved = serde_json::Map::new();
    let mut notes = target.3.clone().unwrap_or_default();
    let mut differences_inn: Vec<String> = Vec::new();
    for &f in &sources {
        let (name, org, resp, their_tags, their_kind, their_inn): (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = c.one(
            "SELECT name, organisation, default_assignee, tags, kind, inn FROM contacts WHERE id = ?1 AND merged_into IS NULL",
            &[&f],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )?;
        // Tags add up; a kind or INN only the merged client knew is kept.
        tags = split_tags(&format!("{},{}", tags.join(","), their_tags.unwrap_or_default()));
        kind = kind.or(their_kind);
        if inn.is_none() {
            inn = their_inn;
        } else if their_inn.is_some() && their_inn != inn {
            differences_inn.push(format!("merged client {f}: inn {}", their_inn.unwrap_or_default()));
        }
        let ids = |sql: &str| -> Result<Vec<i64>> { c.all(sql, &[&f], |r| r.get(0)) };
        let identities = ids("SELECT id FROM identities WHERE contact_id = ?1 ORDER BY id")?;
        let conversations = ids("SELECT id FROM conversations WHERE contact_id = ?1 ORDER BY id")?;
        c.exec("UPDATE identities SET contact_id = ?1 WHERE contact_id = ?2", &[&into, &f])?;
        c.exec("UPDATE conversations SET contact_id = ?1 WHERE contact_id = ?2", &[&into, &f])?;
        c.exec("UPDATE contacts SET merged_into = ?1 WHERE id = ?2", &[&into, &f])?;
        moved.insert(f.to_string(), serde_json::json!({"identities": identities, "conversations": conversations}));
        let mut differences = Vec::new();
        if name != target.0 {
            differences.push(format!("name {name}"));
        }
        if org.is_some() && org != target.1 {
            differences.push(format!("organisation {}", org.unwrap_or_default()));
        }
        if resp.is_some() && resp != target.2 {
            differences.push(format!("responsible {}", resp.unwrap_or_default()));
        }
        if !differences.is_empty() {
            if !notes.is_empty() {
                notes.push('\n');
            }
            notes.push_str(&format!("merged client {f}: {}", differences.join(", ")));
        }
    }
    for d in differences_inn {
        if !notes.is_empty() {
            notes.push('\n');
        }
        notes.push_str(&d);
    }
    let before = serde_json::json!({
        "tags": tags_before, "kind": kind_before, "inn": inn_before, "provisional": provisional_before,
    });
    let merge_id = c.insert(
        "INSERT INTO client_merges (into_id, moved, notes_before, actor, at, target_before)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        &[&into, &serde_json::Value::Object(moved.clone()).to_string(), &target.3, &actor, &now, &before.to_string()],
    )?;
    let tags = (!tags.is_empty()).then(|| tags.join(", "));
    c.exec(
        "UPDATE contacts SET notes = ?1, tags = ?2, kind = ?3, inn = ?4, provisional = 0 WHERE id = ?5",
        &[&(!notes.is_empty()).then_some(notes), &tags, &kind, &inn, &into],
    )?;
    c.reindex(Searchable::Client(into))?;
    let merged: Vec<&String> = moved.keys().collect();
    let detail = format!("clients {merged:?} into {into} (merge {merge_id})");
    super::writer::audit(c, now, actor, "client_merge", None, &detail)?;
    note_change(c, now, ChangeKind::Assign, None, None)?;
    Ok(merge_id)
}

/// Undoes a merge exactly: identities and conversations go back to the
/// clients they came from, the tombstones live again, the notes are as before.
pub fn unmerge(db: &mut impl Transact, merge_id: i64, actor: &str, now: i64) -> Result<()> {
    db.write(|c| {
        let (into, moved, notes_before, before): (i64, String, Option<String>, Option<String>) = c.one(
            "SELECT into_id, moved, notes_before, target_before FROM client_merges WHERE id = ?1 AND undone_at IS NULL",
            &[&merge_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let moved: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&moved).unwrap_or_default();
        for (from, what) in &moved {
            let Ok(from) = from.parse::<i64>() else { continue };
            let list = |k: &str| what.get(k).and_then(|v| v.as_array()).cloned().unwrap_or_default();
            for id in list("identities").iter().filter_map(serde_json::Value::as_i64) {
                c.exec("UPDATE identities SET contact_id = ?1 WHERE id = ?2", &[&from, &id])?;
            }
            for id in list("conversations").iter().filter_map(serde_json::Value::as_i64) {
                c.exec("UPDATE conversations SET contact_id = ?1 WHERE id = ?2", &[&from, &id])?;
            }
            c.exec("UPDATE contacts SET merged_into = NULL WHERE id = ?1", &[&from])?;
            c.reindex(Searchable::Client(from))?;
        }
        c.exec("UPDATE contacts SET notes = ?1 WHERE id = ?2", &[&notes_before, &into])?;
        if let Some(before) = before.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok()) {
            let text = |k: &str| before.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let provisional = before.get("provisional").and_then(|v| v.as_bool()).unwrap_or(false);
            c.exec(
                "UPDATE contacts SET tags = ?1, kind = ?2, inn = ?3, provisional = ?4 WHERE id = ?5",
                &[&text("tags"), &text("kind"), &text("inn"), &provisional, &into],
            )?;
        }
        c.exec("UPDATE client_merges SET undone_at = ?1 WHERE id = ?2", &[&now, &merge_id])?;
        super::writer::audit(c, now, actor, "client_unmerge", None, &format!("merge {merge_id} undone"))?;
        note_change(c, now, ChangeKind::Assign, None, None)
    })
}

/// "Not the same client", for good: the pair is not suggested again.
pub fn dismiss(db: &mut impl Transact, a: i64, b: i64) -> Result<()> {
    let (a, b) = (a.min(b), a.max(b));
    db.write(|c| {
        c.exec("INSERT INTO client_dismissals (a, b) VALUES (?1, ?2) ON CONFLICT DO NOTHING", &[&a, &b])?;
        Ok(())
    })
}

/// Hands a client over: the responsible person for new conversations, and
/// each open conversation reassigned with the hand-over note. Returns how
/// many conversations moved.
pub fn hand_over(
    db: &mut impl Transact,
    client: i64,
    to: Option<&str>,
    actor: &str,
    note: Option<&str>,
    now: i64,
) -> Result<usize> {
    let open: Vec<i64> = db.write(|c| {
        let client = live_client(c, client)?;
        c.exec("UPDATE contacts SET default_assignee = ?1, provisional = 0 WHERE id = ?2", &[&to, &client])?;
        let open = c.all(
            "SELECT id FROM conversations WHERE contact_id = ?1 AND status = 'open' ORDER BY id",
            &[&client],
            |r| r.get(0),
        )?;
        let detail = format!("client {client} to {}", to.unwrap_or("nobody"));
        super::writer::audit(c, now, actor, "client_hand_over", None, &detail)?;
        Ok(open)
    })?;
    for &c in &open {
        super::team::assign(db, c, to, actor, note, now)?;
    }
    Ok(open.len())
}

/// Splits an identity off into a client of its own, with the conversations
/// only it wrote in. Returns the new client's id.
pub fn split(db: &mut impl Transact, kind: &str, handle: &str, actor: &str, now: i64) -> Result<i64> {
    db.write(|c| {
        let (identity, old, shown): (i64, i64, Option<String>) = c.one(
            "SELECT id, contact_id, display_name FROM identities WHERE kind = ?1 AND handle = ?2",
            &[&kind, &handle],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let new = c.insert(
            "INSERT INTO contacts (name, created_at) VALUES (?1, ?2) RETURNING id",
            &[&shown.unwrap_or_else(|| handle.to_string()), &now],
        )?;
        c.exec("UPDATE identities SET contact_id = ?1 WHERE id = ?2", &[&new, &identity])?;
        // Conversations where every client message is this identity's go with it.
        c.exec(
            "UPDATE conversations SET contact_id = ?1 WHERE contact_id = ?2
               AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id
                             AND m.author_identity_id = ?3)
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id
                                 AND m.direction = 'in'
                                 AND (m.author_identity_id IS NULL OR m.author_identity_id <> ?3))",
            &[&new, &old, &identity],
        )?;
        c.reindex(Searchable::Client(new))?;
        let detail = format!("{kind}:{handle} from client {old} into {new}");
        super::writer::audit(c, now, actor, "client_split", None, &detail)?;
        note_change(c, now, ChangeKind::Assign, None, None)?;
        Ok(new)
    })
}

/// A client's field a person can edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Organisation,
    Inn,
    /// `person` or `organisation`.
    Kind,
    /// The whole list, comma-separated («VIP, зарплата»); empty clears it.
    Tags,
    /// Appends a line to the client's notes (internal, never sent).
    Note,
    /// Replaces the notes (the card's editor shows them whole).
    Notes,
    /// The client's own time zone and hours («Asia/Yekaterinburg 09:00-18:00»),
    /// for response-time policies with `calendar = "client"`; empty clears it.
    Hours,
}

impl Field {
    pub fn parse(s: &str) -> Option<Field> {
        match s {
            "name" => Some(Field::Name),
            "organisation" | "org" => Some(Field::Organisation),
            "inn" => Some(Field::Inn),
            "kind" => Some(Field::Kind),
            "tags" | "tag" => Some(Field::Tags),
            "note" => Some(Field::Note),
            "notes" => Some(Field::Notes),
            "hours" | "work_hours" => Some(Field::Hours),
            _ => None,
        }
    }
}

/// Sets a client's field (a note is appended), audited.
pub fn set_field(db: &mut impl Transact, client: i64, field: Field, value: &str, actor: &str, now: i64) -> Result<()> {
    db.write(|c| {
        let client = live_client(c, client)?;
        let value = value.trim();
        let empty = (!value.is_empty()).then_some(value);
        let set = |column: &str, v: &dyn ToValue| {
            c.exec(&format!("UPDATE contacts SET {column} = ?1 WHERE id = ?2"), &[v, &client])
        };
        let changed = match field {
            Field::Name => c.exec("UPDATE contacts SET name = ?1 WHERE id = ?2 AND ?1 <> ''", &[&value, &client])?,
            Field::Organisation => set("organisation", &empty)?,
            Field::Inn => set("inn", &empty)?,
            Field::Kind => {
                let kind = match fold(value).as_str() {
                    "person" | "человек" | "физлицо" | "лицо" => "person",
                    "organisation" | "organization" | "org" | "организация" | "компания" => {
                        "organisation"
                    }
                    _ => {
                        return Err(super::StoreError::Invalid(format!(
                            "client {client}: kind is person or organisation, not «{}»",
                            crate::sanitize::line(value)
                        )));
                    }
                };
                set("kind", &kind)?
            }
            Field::Tags => {
                let tags = split_tags(value);
                set("tags", &(!tags.is_empty()).then(|| tags.join(", ")))?
            }
            Field::Notes => set("notes", &empty)?,
            Field::Hours => {
                if let Some(v) = empty {
                    crate::workflow::calendar::parse_client_hours(v).map_err(|e| {
                        super::StoreError::Invalid(format!("client {client}: hours: {}", crate::sanitize::line(&e)))
                    })?;
                }
                set("work_hours", &empty)?
            }
            Field::Note => c.exec(
                "UPDATE contacts SET notes = CASE WHEN notes IS NULL OR notes = '' THEN ?1 ELSE notes || ?3 || ?1 END
                 WHERE id = ?2 AND ?1 <> ''",
                &[&value, &client, &"\n"],
            )?,
        };
        if changed == 0 {
            return Err(super::StoreError::Invalid(format!(
                "client {client}: nothing to set (unknown client or empty value)"
            )));
        }
        c.exec("UPDATE contacts SET provisional = 0 WHERE id = ?1", &[&client])?;
        if matches!(field, Field::Name | Field::Organisation) {
            c.reindex(Searchable::Client(client))?;
        }
        super::writer::audit(c, now, actor, "client_edit", None, &format!("client {client}: {field:?} = {value}"))?;
        note_change(c, now, ChangeKind::Assign, None, None)
    })
}
