//! Read queries: everything the UI and the CLI show, each over an index,
//! written once against `sql::Conn` and run on either engine.

use super::Result;
use super::read_conn::ReadConn;
use super::sql::{Engine, Row, WithConn as _};
use crate::model::*;
use std::path::Path;

pub struct Reader {
    conn: ReadConn,
    actor: String,
    moment: Moment,
    /// Up to how many messages a filter-only search starts from their conversations.
    pub(super) few_messages: i64,
    /// Conversations whose response-time clock is at risk / breached, as the
    /// caller last computed them (`workflow::sla`): the SLA views list these.
    sla_at_risk: Vec<i64>,
    sla_breached: Vec<i64>,
    /// Originals kept beside the store file (none on PostgreSQL).
    blobs: super::side_blobs::SideBlobs,
    /// Counts of conversations stop past this (see [`Reader::cap_counts`]).
    count_cap: Option<i64>,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.channel_id, ch.name, ch.kind, c.title, coalesce(ct.organisation, ct.name),
    c.is_group, c.last_message_at, c.preview, c.waiting_since, c.last_inbound_id > coalesce(rm.message_id, 0),
    (SELECT min(t.deadline) FROM tasks t WHERE t.conversation_id = c.id AND t.state = 'accepted'),
    c.assignee, ct.name, c.snoozed_until, c.follow_up_at,
    (SELECT group_concat(cl.actor, ', ') FROM claims cl WHERE cl.conversation_id = c.id AND cl.actor != ?1
       AND cl.expires_at > {now})";

const CONVERSATION_FROM: &str = "FROM conversations c
    JOIN channels ch ON ch.id = c.channel_id
    LEFT JOIN contacts ct ON ct.id = c.contact_id
    LEFT JOIN read_marks rm ON rm.conversation_id = c.id AND rm.actor = ?1";

thread_local! {
    /// Statements run on this thread by readers that count them ([`Reader::count_statements`]).
    static STATEMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many statements counting readers have run on this thread so far.
#[doc(hidden)]
pub fn statements_counted() -> u64 {
    STATEMENTS.with(|c| c.get())
}

impl Reader {
    /// A reader of the SQLite store at `path` (it must exist).
    pub fn open(path: &Path, actor: &str) -> Result<Reader> {
        let conn = ReadConn::Sqlite(super::open_reader(path)?);
        Ok(Reader::on(conn, actor, super::side_blobs::SideBlobs::beside(path)))
    }

    /// A reader of the PostgreSQL store at `target`, which its writer has
    /// created and migrated (a reader never changes the schema). Originals
    /// are all in its database. A connection the server closes (a restart)
    /// fails the call that meets it; the next call connects again.
    pub fn open_postgres(target: &super::pg::Target, actor: &str) -> Result<Reader> {
        let conn = ReadConn::Postgres(super::pg::PgDb::open_reader(target)?, target.clone());
        Ok(Reader::on(conn, actor, super::side_blobs::SideBlobs::none()))
    }

    fn on(conn: ReadConn, actor: &str, blobs: super::side_blobs::SideBlobs) -> Reader {
        Reader {
            conn,
            actor: actor.to_string(),
            moment: Moment::default(),
            few_messages: 5_000,
            sla_at_risk: Vec::new(),
            sla_breached: Vec::new(),
            blobs,
            count_cap: None,
        }
    }

    /// Whether a SQLite store needs its writer opened once before reading: a
    /// migration or an index rebuild pending. Asked of the read-only
    /// connection, so that a command that only reads opens the store once
    /// (two parses of the schema cost a tenth of a search's process time).
    /// PostgreSQL's reader refuses an older schema itself (see
    /// [`super::Location::open_current_reader`]).
    pub fn needs_writer(&self) -> Result<bool> {
        let ReadConn::Sqlite(conn) = &self.conn else { return Ok(false) };
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        // A database without pult's tables (an older pult's, or not ours): the writer decides.
        Ok(version != super::schema::VERSION || !super::search_index::current(conn).unwrap_or(false))
    }

    /// Which engine this reader reads.
    pub fn engine(&self) -> Engine {
        self.conn.engine()
    }

    /// Where this store keeps originals beside its file.
    pub fn side_blobs(&self) -> &super::side_blobs::SideBlobs {
        &self.blobs
    }

    /// From now on, counts each statement this reader runs (not the trigger
    /// programs inside one) in [`statements_counted`]: tests check that a
    /// screen loads in a fixed number of reads whatever its size.
    #[doc(hidden)]
    pub fn count_statements(&self) {
        // PostgreSQL's statements are counted by the server, not here.
        let Ok(conn) = self.conn.sqlite() else { return };
        conn.trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(|event| {
                if let rusqlite::trace::TraceEvent::Stmt(_, sql) = event
                    && !sql.starts_with("--")
                {
                    STATEMENTS.with(|c| c.set(c.get() + 1));
                }
            }),
        );
    }

    fn columns(&self) -> String {
        let columns = CONVERSATION_COLUMNS.replace("{now}", &self.moment.now.to_string());
        match self.engine() {
            Engine::Sqlite => columns,
            // The one aggregate the engines name differently.
            Engine::Postgres => columns.replace("group_concat(", "string_agg("),
        }
    }

    /// `conversations c`, named with the index SQLite should read (without
    /// ANALYZE statistics it may prefer a worse one); PostgreSQL's planner
    /// has its statistics and no such hint.
    fn conversations_table(&self, index: Option<&str>) -> String {
        match (index, self.engine()) {
            (Some(i), Engine::Sqlite) => format!("conversations c INDEXED BY {i}"),
            _ => "conversations c".to_string(),
        }
    }

    /// The conversations the SLA views list (computed above the store).
    pub fn set_sla(&mut self, at_risk: Vec<i64>, breached: Vec<i64>) {
        self.sla_at_risk = at_risk;
        self.sla_breached = breached;
    }

    /// Sets the time views are computed against (now, end of today, at-risk horizon).
    pub fn set_moment(&mut self, moment: Moment) {
        self.moment = moment;
    }

    /// The filter, sort key, direction and index of a view.
    fn view_sql(&self, view: View) -> (String, String, bool, Option<&'static str>) {
        let Moment { now, end_of_today, risk_until } = self.moment;
        let awake = format!("(c.snoozed_until IS NULL OR c.snoozed_until <= {now})");
        let deadline = "(SELECT min(t.deadline) FROM tasks t WHERE t.conversation_id = c.id AND t.state = 'accepted')";
        let with_task =
            |cond: &str| format!("c.id IN (SELECT conversation_id FROM tasks WHERE state = 'accepted' AND {cond})");
        let time = "c.last_message_at".to_string();
        // An archived channel's conversations are history: no worker answers them.
        let live = "c.channel_id NOT IN (SELECT id FROM channels WHERE archived_at IS NOT NULL)";
        match view {
            View::AllOpen => {
                (format!("c.status = 'open' AND {awake} AND {live}"), time, true, Some("conversations_by_time"))
            }
            View::Channel(id) => (format!("c.channel_id = {id}"), time, true, Some("conversations_by_channel")),
            View::Client(id) => (format!("c.contact_id = {id}"), time, true, None),
            View::Unanswered => (
                format!("c.waiting_since IS NOT NULL AND c.status = 'open' AND {awake} AND {live}"),
                "c.waiting_since".into(),
                false,
                Some("conversations_waiting"),
            ),
            View::DueToday => {
                (with_task(&format!("deadline >= {now} AND deadline <= {end_of_today}")), deadline.into(), false, None)
            }
            View::Overdue => (with_task(&format!("deadline < {now}")), deadline.into(), false, None),
            View::AtRisk => {
                (with_task(&format!("deadline >= {now} AND deadline <= {risk_until}")), deadline.into(), false, None)
            }
            View::AcceptedByMe => (with_task("accepted_by = ?1"), deadline.into(), false, None),
            View::Mine => (
                format!("c.assignee = ?1 AND c.status = 'open' AND {awake} AND {live}"),
                time,
                true,
                Some("conversations_by_assignee"),
            ),
            View::Unassigned => (
                format!("c.assignee IS NULL AND c.status = 'open' AND {awake} AND {live}"),
                time,
                true,
                Some("conversations_by_assignee"),
            ),
            View::Mentions => (
                match self.engine() {
                    Engine::Sqlite => "c.id IN (SELECT conversation_id FROM notes WHERE instr(body, '@' || ?1) > 0)",
                    Engine::Postgres => "c.id IN (SELECT conversation_id FROM notes WHERE strpos(body, '@' || ?1) > 0)",
                }
                .to_string(),
                time,
                true,
                None,
            ),
            View::Snoozed => {
                (format!("c.snoozed_until > {now}"), "c.snoozed_until".into(), false, Some("conversations_snoozed"))
            }
            View::Reminders => {
                (format!("c.follow_up_at <= {now}"), "c.follow_up_at".into(), false, Some("conversations_follow_up"))
            }
            View::Lists => ("c.automatic = 1".into(), time.clone(), true, Some("conversations_lists")),
            // The longest silence first.
            View::SlaAtRisk => (ids_in(&self.sla_at_risk), time.clone(), false, None),
            View::Breached => (ids_in(&self.sla_breached), time.clone(), false, None),
            View::Unsent => (
                "c.id IN (SELECT conversation_id FROM outbox WHERE state IN ('failed', 'unknown'))".into(),
                time,
                true,
                None,
            ),
        }
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The attachments of one message, in their order, with where their bytes
    /// are; None when there is no such message.
    pub fn attachments_of(&self, message: i64) -> Result<Option<Vec<Located>>> {
        type Head = (String, ChannelKind, Option<String>, Option<u32>, bool, Vec<String>, Option<u32>);
        type Att = ((String, String, Option<i64>), Option<String>, i64, Option<String>, Option<String>);
        let (head, rows) = self.conn.with_conn(|c| {
            let head: Option<Head> = c.opt(
                "SELECT ch.name, ch.kind, m.imap_folder, m.imap_uid, m.expunged, o.attachments, m.imap_validity
                 FROM messages m JOIN channels ch ON ch.id = m.channel_id
                 LEFT JOIN outbox o ON o.message_id = m.id WHERE m.id = ?1",
                &[&message],
                |r| {
                    let kind: String = r.get(1)?;
                    Ok((
                        r.get(0)?,
                        ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.json_list(5)?,
                        r.get(6)?,
                    ))
                },
            )?;
            if head.is_none() {
                return Ok((None, Vec::new()));
            }
            let rows: Vec<Att> = c.all(
                "SELECT name, mime, size, remote_ref, ordinal, content_hash, fetch_error
                 FROM attachments WHERE message_id = ?1 ORDER BY ordinal",
                &[&message],
                |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )?;
            Ok((head, rows))
        })?;
        let Some((channel, kind, folder, uid, expunged, sent_files, validity)) = head else { return Ok(None) };
        let mut out = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            let ((name, mime, size), remote_ref, ordinal, content_hash, fetch_error) = row;
            out.push(Located {
                message,
                index,
                name,
                mime,
                size,
                channel: channel.clone(),
                kind,
                remote_ref,
                imap: folder.clone().zip(uid).map(|(f, u)| (f, u, validity)),
                expunged,
                local_path: usize::try_from(ordinal).ok().and_then(|o| sent_files.get(o)).map(std::path::PathBuf::from),
                content_hash,
                fetch_error,
                stored: None,
            });
        }
        Ok(Some(out))
    }

    /// People seen at work in this store: who wrote to the audit log, and
    /// who is responsible for a conversation (completion for `A`).
    pub fn people(&self) -> Result<Vec<String>> {
        let names: Vec<String> = self.conn.with_conn(|c| {
            c.all(
                "SELECT actor FROM audit UNION SELECT assignee FROM conversations WHERE assignee IS NOT NULL
                 UNION SELECT default_assignee FROM contacts WHERE default_assignee IS NOT NULL ORDER BY 1",
                &[],
                |r| r.get(0),
            )
        })?;
        Ok(names.into_iter().filter(|n| !n.trim().is_empty() && n != "pult").collect())
    }

    /// Per channel name: how many things it sent that pult kept in quarantine
    /// because it could not read them (`pult doctor`).
    pub fn quarantined(&self) -> Result<Vec<(String, i64)>> {
        self.conn.with_conn(|c| {
            c.all(
                "SELECT ch.name, count(*) FROM quarantine q JOIN channels ch ON ch.id = q.channel_id
                 GROUP BY ch.name ORDER BY ch.name",
                &[],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    /// The sidebar's channels: the configured ones, then the archived ones
    /// that still hold conversations (an archived channel with nothing in it
    /// has nothing to show; `pult channels` lists it).
    pub fn channels(&self) -> Result<Vec<ChannelRow>> {
        let sql = format!(
            "SELECT ch.id, ch.name, ch.kind,
                    (SELECT count(*) FROM (SELECT 1 FROM conversations c
                     LEFT JOIN read_marks rm ON rm.conversation_id = c.id AND rm.actor = ?1
                                          WHERE c.channel_id = ch.id AND c.status = 'open'
                       AND c.last_inbound_id > coalesce(rm.message_id, 0) {cap}) AS unread),
                    ch.status, ch.archived_at IS NOT NULL
             FROM channels ch
             WHERE ch.archived_at IS NULL
                OR EXISTS (SELECT 1 FROM {} WHERE c.channel_id = ch.id)
             ORDER BY ch.archived_at IS NOT NULL, ch.kind, ch.name",
            self.conversations_table(Some("conversations_by_channel")),
            cap = self.count_cap.map(|cap| format!("LIMIT {}", cap + 1)).unwrap_or_default()
        );
        self.conn.with_conn(|c| {
            let mut out = c.all(&sql, &[&self.actor], |r| {
                let kind: String = r.get(2)?;
                Ok(ChannelRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                    unread: r.get(3)?,
                    status: r.get::<Option<String>>(4)?.as_deref().and_then(ChannelStatus::from_stored),
                    connections: Vec::new(),
                    archived: r.get(5)?,
                })
            })?;
            for ch in out.iter_mut().filter(|c| c.kind == ChannelKind::Telegram && !c.archived) {
                ch.connections = super::channel_state::connections_of(c, ch.id)?;
            }
            Ok(out)
        })
    }

    /// The connection a conversation is seen through (Telegram Business), by
    /// its key `biz:<connection>:<chat>`.
    pub fn connection_of(&self, conversation: i64) -> Result<Option<crate::model::Connection>> {
        self.conn.with_conn(|c| {
            let found: Option<(i64, String)> =
                c.opt("SELECT channel_id, remote_key FROM conversations WHERE id = ?1", &[&conversation], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let Some((channel, key)) = found else { return Ok(None) };
            let Some((id, _)) = crate::model::business_key(&key) else { return Ok(None) };
            Ok(super::channel_state::connections_of(c, channel)?.into_iter().find(|c| c.id == id))
        })
    }

    /// One page of the conversation list after (or before) `from`, in the view's order.
    /// Keyset paging: the cost does not grow with how far down the list one is.
    pub fn conversations(&self, view: View, window: Window, limit: usize) -> Result<Vec<ConversationRow>> {
        let (from, inclusive, forward) = match window {
            Window::Top => (None, false, true),
            Window::Bottom => (None, false, false),
            Window::From(k) => (Some(k), true, true),
            Window::After(k) => (Some(k), false, true),
            Window::Before(k) => (Some(k), false, false),
        };
        // Each view sorts by (sort key, id), newest first except Unanswered (oldest waiting first).
        // Without ANALYZE statistics SQLite may prefer a worse index; name the right one.
        let (filter, sort, descending, index) = self.view_sql(view);
        let sort = sort.as_str();
        // Walking backwards flips both the comparison and the order.
        let ascending = descending != forward;
        let (cmp, order) = match (ascending, inclusive) {
            (true, false) => (">", "ASC"),
            (true, true) => (">=", "ASC"),
            (false, false) => ("<", "DESC"),
            (false, true) => ("<=", "DESC"),
        };
        let keyset = if from.is_some() { format!("AND ({sort}, c.id) {cmp} (?2, ?3)") } else { String::new() };
        let from_clause = CONVERSATION_FROM.replacen("conversations c", &self.conversations_table(index), 1);
        let columns = self.columns();
        let sql = format!(
            "SELECT {columns} {from_clause}
             WHERE {filter} {keyset}
             ORDER BY {sort} {order}, c.id {order} LIMIT {limit}"
        );
        // Time is part of the text, so these statements are prepared afresh (microseconds).
        let found = match from {
            Some(k) => self.conn.rows_once(&sql, &[&self.actor, &k.sort, &k.id])?,
            None => self.conn.rows_once(&sql, &[&self.actor])?,
        };
        let mut rows = found.iter().map(conversation_row).collect::<Result<Vec<_>>>()?;
        if !forward {
            rows.reverse();
        }
        Ok(rows)
    }

    /// Every conversation of a view, in its order (`*` marks them all).
    pub fn conversation_ids(&self, view: View) -> Result<Vec<i64>> {
        let (filter, sort, descending, _) = self.view_sql(view);
        let order = if descending { "DESC" } else { "ASC" };
        let sql = format!("SELECT c.id {CONVERSATION_FROM} WHERE {filter} ORDER BY {sort} {order}, c.id {order}");
        self.conn.rows_once(&sql, &[&self.actor])?.iter().map(|r| r.get(0)).collect()
    }

    /// Of these conversations, the open ones: (id, holds an open promise,
    /// its newest message).
    pub fn open_among(&self, ids: &[i64]) -> Result<Vec<(i64, bool, Option<i64>)>> {
        self.conn.with_conn(|c| {
            let mut out = Vec::new();
            for &id in ids {
                let row = c.opt(
                    "SELECT status = 'open', EXISTS (SELECT 1 FROM tasks WHERE conversation_id = ?1 AND state = 'accepted'),
                            (SELECT id FROM messages WHERE conversation_id = ?1 ORDER BY sent_at DESC, id DESC LIMIT 1)
                     FROM conversations WHERE id = ?1",
                    &[&id],
                    |r| Ok((r.get::<bool>(0)?, r.get(1)?, r.get(2)?)),
                )?;
                if let Some((true, promised, newest)) = row {
                    out.push((id, promised, newest));
                }
            }
            Ok(out)
        })
    }

    pub fn conversation(&self, id: i64) -> Result<Option<ConversationRow>> {
        let sql = format!("SELECT {} {CONVERSATION_FROM} WHERE c.id = ?2", self.columns());
        self.conn.rows_once(&sql, &[&self.actor, &id])?.first().map(conversation_row).transpose()
    }

    pub fn count(&self, view: View) -> Result<i64> {
        let sql = self.count_sql(view);
        // Views without ?1 take no parameter.
        let rows = if sql.contains("?1") {
            self.conn.rows_once(&sql, &[&self.actor])?
        } else {
            self.conn.rows_once(&sql, &[])?
        };
        rows.first().map_or(Ok(0), |r| r.get(0))
    }

    fn count_sql(&self, view: View) -> String {
        let (filter, _, _, index) = self.view_sql(view);
        let table = self.conversations_table(index);
        match self.count_cap {
            Some(cap) => {
                format!("SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {filter} LIMIT {}) AS capped", cap + 1)
            }
            None => format!("SELECT count(*) FROM {table} WHERE {filter}"),
        }
    }

    /// Counts of conversations (views, a channel's unread) stop at `cap` + 1,
    /// which a screen shows as "more than `cap`": counting reads an index
    /// entry per conversation, and a store of 400,000 open ones spent 200 ms
    /// of its first frame on numbers nobody reads to the last digit. The
    /// command line (`pult status`) counts them all.
    pub fn cap_counts(&mut self, cap: i64) {
        self.count_cap = Some(cap);
    }

    /// How SQLite counts a view (`EXPLAIN QUERY PLAN`'s details), for the
    /// tests that keep the sidebar's counts off the table rows.
    #[doc(hidden)]
    pub fn count_plan(&self, view: View) -> Result<Vec<String>> {
        let sql = format!("EXPLAIN QUERY PLAN {}", self.count_sql(view));
        let mut st = self.conn.sqlite()?.prepare(&sql)?;
        let rows = if st.parameter_count() == 1 {
            st.query_map([&self.actor], |r| r.get::<_, String>(3))?.collect::<rusqlite::Result<_>>()?
        } else {
            st.query_map([], |r| r.get::<_, String>(3))?.collect::<rusqlite::Result<_>>()?
        };
        Ok(rows)
    }

    /// The newest `limit` messages of a conversation, oldest first, with quotes and attachments.
    /// A quote is its message's first 4096 characters: it is shown as one line,
    /// and a reply to a 30 MB mail must not copy that mail again.
    pub fn thread(&self, conversation: i64, limit: usize) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT m.id, m.direction, m.author, m.sent_at, m.subject, m.body, m.delivery, m.error, m.edited, m.deleted,
                    q.author, substr(q.body, 1, 4096), m.expunged, m.notice, m.parse_error, i.handle, m.recipients, m.cc, m.names, m.remote_id,
                    m.closing, m.report, {auth}
             FROM messages m LEFT JOIN messages q ON q.id = m.reply_to_message_id
             LEFT JOIN identities i ON i.id = m.author_identity_id
             LEFT JOIN mail_auth a ON a.message_id = m.id
             WHERE m.conversation_id = ?1
             ORDER BY m.sent_at DESC, m.id DESC LIMIT ?2",
            auth = super::mail_auth::COLUMNS
        );
        // Message ids as a JSON array, each engine reading it its own way.
        let of_ids = match self.engine() {
            Engine::Sqlite => "SELECT value FROM json_each(?1)",
            Engine::Postgres => {
                "SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST(?1 AS TEXT) AS json))"
            }
        };
        self.conn.with_conn(|c| {
            let mut rows: Vec<MessageRow> = c
                .rows(&sql, &[&conversation, &(limit as i64)])?
                .into_iter()
                .map(|mut r| {
                    let direction: String = r.get(1)?;
                    let delivery: String = r.get(6)?;
                    let quote_author: Option<String> = r.get(10)?;
                    let quote_body: Option<String> = r.take_text(11)?;
                    let cc = r.json_list(17)?;
                    Ok(MessageRow {
                        id: r.get(0)?,
                        remote_id: r.get(19)?,
                        direction: if direction == "out" { Direction::Out } else { Direction::In },
                        author: r.get(2)?,
                        sent_at: r.get(3)?,
                        subject: r.get(4)?,
                        // Moved, not copied: a body may be a 30 MB mail.
                        body: r.take_text(5)?.unwrap_or_default(),
                        delivery: Delivery::parse(&delivery),
                        error: r.get(7)?,
                        edited: r.get(8)?,
                        deleted: r.get(9)?,
                        expunged: r.get(12)?,
                        notices: r
                            .get::<Option<String>>(13)?
                            .map(|n| n.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                        parse_error: r.get(14)?,
                        from_handle: r.get(15)?,
                        to: r.json_list(16)?.into_iter().filter(|a| !cc.contains(a)).collect(),
                        cc,
                        names: r
                            .get::<Option<String>>(18)?
                            .and_then(|j| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&j).ok())
                            .map(|m| m.into_iter().filter_map(|(a, n)| Some((a, n.as_str()?.to_string()))).collect())
                            .unwrap_or_default(),
                        reply_quote: match (quote_author, quote_body) {
                            (Some(a), Some(b)) => Some((a, b)),
                            _ => None,
                        },
                        attachments: Vec::new(),
                        reactions: Vec::new(),
                        closing: r.get(20)?,
                        report: r.get(21)?,
                        auth: super::mail_auth::from_row(&r, 22)?,
                    })
                })
                .collect::<Result<_>>()?;
            rows.reverse();
            // Internal notes sit in the thread by time, in their own style.
            let since = if rows.len() < limit { i64::MIN } else { rows.first().map(|m| m.sent_at).unwrap_or(i64::MIN) };
            let notes: Vec<MessageRow> = c
                .rows(
                    "SELECT id, actor, created_at, body FROM notes WHERE conversation_id = ?1 AND created_at >= ?2
                     ORDER BY created_at, id",
                    &[&conversation, &since],
                )?
                .into_iter()
                .map(|mut r| {
                    Ok(MessageRow {
                        id: -r.get::<i64>(0)?,
                        remote_id: None,
                        direction: Direction::Note,
                        author: r.get(1)?,
                        sent_at: r.get(2)?,
                        subject: None,
                        body: r.take_text(3)?.unwrap_or_default(),
                        delivery: Delivery::Received,
                        error: None,
                        edited: false,
                        deleted: false,
                        expunged: false,
                        notices: Vec::new(),
                        parse_error: None,
                        from_handle: None,
                        names: Vec::new(),
                        to: Vec::new(),
                        cc: Vec::new(),
                        reply_quote: None,
                        attachments: Vec::new(),
                        reactions: Vec::new(),
                        closing: false,
                        report: None,
                        auth: None,
                    })
                })
                .collect::<Result<_>>()?;
            if !notes.is_empty() {
                rows.extend(notes);
                rows.sort_by_key(|m| (m.sent_at, m.direction == Direction::Note));
            }
            // Attachments and reactions of every message in two statements, not
            // two per message: a 200-message thread is four reads, like a short one.
            let ids: Vec<i64> = rows.iter().filter(|m| m.direction != Direction::Note).map(|m| m.id).collect();
            if ids.is_empty() {
                return Ok(rows);
            }
            let ids = serde_json::Value::from(ids).to_string();
            let mut attachments: std::collections::HashMap<i64, Vec<AttachmentRow>> = Default::default();
            for r in c.rows(
                &format!(
                    "SELECT message_id, name, mime, size, duration, remote_ref, fetch_error FROM attachments
                     WHERE message_id IN ({of_ids}) ORDER BY message_id, ordinal"
                ),
                &[&ids],
            )? {
                attachments.entry(r.get(0)?).or_default().push(AttachmentRow {
                    name: r.get(1)?,
                    mime: r.get(2)?,
                    size: r.get(3)?,
                    duration: r.get(4)?,
                    remote_ref: r.get(5)?,
                    fetch_error: r.get(6)?,
                });
            }
            let mut reactions: std::collections::HashMap<i64, Vec<(String, String)>> = Default::default();
            for r in c.rows(
                &format!(
                    "SELECT message_id, author_name, emoji FROM reactions
                     WHERE message_id IN ({of_ids}) ORDER BY message_id, at, author_handle"
                ),
                &[&ids],
            )? {
                reactions.entry(r.get(0)?).or_default().push((r.get(1)?, r.get(2)?));
            }
            for m in rows.iter_mut().filter(|m| m.direction != Direction::Note) {
                m.attachments = attachments.remove(&m.id).unwrap_or_default();
                m.reactions = reactions.remove(&m.id).unwrap_or_default();
            }
            Ok(rows)
        })
    }

    /// Whether `D` and `R` can act on a conversation (see [`super::ledger::PromiseState`]).
    pub fn promise_state(&self, conversation: i64) -> Result<super::ledger::PromiseState> {
        super::ledger::promise_state(&self.conn, conversation)
    }

    pub fn tasks(&self, conversation: i64) -> Result<Vec<TaskRow>> {
        self.conn.with_conn(|c| {
            c.all(
                "SELECT id, state, deadline, accepted_by, withdrawn,
                        coalesce((SELECT CASE WHEN o.state IN ('pending', 'sending', 'unknown') THEN 1 ELSE 0 END
                                  FROM outbox o WHERE o.id = tasks.outbox_id), 0)
                 FROM tasks
                 WHERE conversation_id = ?1
                   AND (state IN ('new', 'accepted')
                        OR (withdrawn IS NOT NULL AND id = (SELECT max(id) FROM tasks WHERE conversation_id = ?1)))
                 ORDER BY deadline",
                &[&conversation],
                |r| {
                    Ok(TaskRow {
                        id: r.get(0)?,
                        state: r.get(1)?,
                        deadline: r.get(2)?,
                        accepted_by: r.get(3)?,
                        withdrawn: r.get(4)?,
                        unsent: r.get(5)?,
                    })
                },
            )
        })
    }

    /// Counts for the status line and `pult status`; working minutes are filled in by the caller.
    pub fn status(&self) -> Result<StatusCounts> {
        let now = self.moment.now;
        let oldest: Option<i64> = self
            .conn
            .rows_once(
                &format!(
                    "SELECT min(c.waiting_since) FROM {}
                     WHERE c.waiting_since IS NOT NULL AND c.status = 'open'
                       AND (c.snoozed_until IS NULL OR c.snoozed_until <= {now})
                       AND c.channel_id NOT IN (SELECT id FROM channels WHERE archived_at IS NOT NULL)",
                    self.conversations_table(Some("conversations_waiting"))
                ),
                &[],
            )?
            .first()
            .map_or(Ok(None), |r| r.get(0))?;
        let (unknown, failed) = self.conn.with_conn(|c| {
            Ok((
                c.one("SELECT count(*) FROM outbox WHERE state = 'unknown'", &[], |r| r.get(0))?,
                c.one("SELECT count(*) FROM outbox WHERE state = 'failed'", &[], |r| r.get(0))?,
            ))
        })?;
        Ok(StatusCounts {
            unanswered: self.count(View::Unanswered)?,
            open: self.count(View::AllOpen)?,
            overdue: self.task_count(&format!("deadline < {now}"))?,
            due_today: self.task_count(&format!("deadline >= {now} AND deadline <= {}", self.moment.end_of_today))?,
            at_risk: self.task_count(&format!("deadline >= {now} AND deadline <= {}", self.moment.risk_until))?,
            breached: 0,
            unknown,
            failed,
            oldest_unanswered_minutes: 0,
            oldest_waiting_since: oldest,
        })
    }

    fn task_count(&self, cond: &str) -> Result<i64> {
        let sql = format!("SELECT count(*) FROM tasks WHERE state = 'accepted' AND {cond}");
        self.conn.rows_once(&sql, &[])?.first().map_or(Ok(0), |r| r.get(0))
    }

    /// Today's and overdue promises, by deadline.
    /// Open promises due up to `until` (overdue ones first), oldest deadline first.
    pub fn agenda(&self, clock: &crate::clock::Clock, until: i64) -> Result<Vec<AgendaItem>> {
        let now = self.moment.now;
        let end_of_today = self.moment.end_of_today;
        self.conn.with_conn(|c| {
            c.all(
                "SELECT t.conversation_id, t.id, coalesce(ct.organisation, ct.name), c.title, ch.name, ch.kind, t.deadline,
                        t.accepted_by
                 FROM tasks t JOIN conversations c ON c.id = t.conversation_id
                 JOIN channels ch ON ch.id = c.channel_id LEFT JOIN contacts ct ON ct.id = c.contact_id
                 WHERE t.state = 'accepted' AND t.deadline <= ?1 ORDER BY t.deadline, t.id",
                &[&until.max(end_of_today)],
                |r| {
                    let kind: String = r.get(5)?;
                    let deadline: i64 = r.get(6)?;
                    Ok(AgendaItem {
                        conversation: r.get(0)?,
                        task: r.get(1)?,
                        client: r.get(2)?,
                        title: r.get(3)?,
                        channel: r.get(4)?,
                        kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                        deadline: clock.rfc3339(deadline),
                        deadline_ts: deadline,
                        state: if deadline < now {
                            "overdue".into()
                        } else if deadline <= end_of_today {
                            "due_today".into()
                        } else {
                            "upcoming".into()
                        },
                        accepted_by: r.get(7)?,
                    })
                },
            )
        })
    }

    /// This person's drafts (see [`super::drafts`]).
    pub fn drafts(&self) -> Result<Vec<(super::drafts::DraftKey, super::drafts::Draft)>> {
        super::drafts::of(&self.conn, &self.actor)
    }

    /// Outbox rows that wait for a person: failed for good, or maybe sent
    /// (`unknown`), oldest first.
    pub fn outbox_problems(&self, clock: &crate::clock::Clock) -> Result<Vec<crate::model::OutboxProblem>> {
        self.conn.with_conn(|c| {
            c.all(
                "SELECT o.id, o.conversation_id, ch.name, o.state, coalesce(o.error, ''), o.created_at, o.body, c.title
                 FROM outbox o JOIN conversations c ON c.id = o.conversation_id JOIN channels ch ON ch.id = c.channel_id
                 WHERE o.state IN ('failed', 'unknown') ORDER BY o.id",
                &[],
                |r| {
                    let body: String = r.get(6)?;
                    Ok(crate::model::OutboxProblem {
                        outbox: r.get(0)?,
                        conversation: r.get(1)?,
                        channel: r.get(2)?,
                        state: r.get(3)?,
                        error: r.get(4)?,
                        queued: clock.rfc3339(r.get(5)?),
                        text: body.lines().next().unwrap_or("").chars().take(80).collect(),
                        title: r.get(7)?,
                    })
                },
            )
        })
    }

    /// Audit events at or after `since`, oldest first.
    pub fn audit(&self, since: i64, clock: &crate::clock::Clock) -> Result<Vec<AuditEvent>> {
        self.audit_where("at >= ?1", since, clock)
    }

    /// The history of one conversation.
    pub fn conversation_audit(&self, conversation: i64, clock: &crate::clock::Clock) -> Result<Vec<AuditEvent>> {
        self.audit_where("conversation_id = ?1", conversation, clock)
    }

    fn audit_where(&self, cond: &str, arg: i64, clock: &crate::clock::Clock) -> Result<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT at, actor, action, conversation_id, coalesce(detail, '') FROM audit WHERE {cond} ORDER BY id"
        );
        self.conn.with_conn(|c| {
            c.all(&sql, &[&arg], |r| {
                let at: i64 = r.get(0)?;
                let detail: String = r.get(4)?;
                Ok(AuditEvent {
                    time: clock.rfc3339(at),
                    actor: r.get(1)?,
                    action: r.get(2)?,
                    conversation: r.get(3)?,
                    detail: deadlines_shown(&detail, |t| clock.rfc3339(t)),
                    detail_local: deadlines_shown(&detail, |t| clock.full(t)),
                })
            })
        })
    }

    /// The `seq` of the newest change, where a watcher starts reading.
    pub fn last_change(&self) -> Result<i64> {
        self.conn.with_conn(|c| c.one("SELECT coalesce(max(seq), 0) FROM changes", &[], |r| r.get(0)))
    }

    /// The search baseline of `pult-bench`: newest 200 messages whose body
    /// contains `word`, by a full scan (what search would cost without an index).
    pub fn like_scan(&self, word: &str) -> Result<usize> {
        let pattern = format!("%{word}%");
        self.conn.with_conn(|c| {
            Ok(c.rows("SELECT id FROM messages WHERE body LIKE ?1 ORDER BY id DESC LIMIT 200", &[&pattern])?.len())
        })
    }

    /// How many messages the store holds, and the bytes of their search index
    /// (`pult-bench`, the email benchmark).
    pub fn index_report(&self) -> Result<(i64, i64)> {
        match &self.conn {
            ReadConn::Sqlite(conn) => {
                Ok((super::search_index::message_count(conn)?, super::search_index::message_index_bytes(conn)?))
            }
            ReadConn::Postgres(..) => self.conn.with_conn(|c| {
                c.one(
                    "SELECT (SELECT count(*) FROM messages), CAST(pg_total_relation_size('search_keys') AS BIGINT)",
                    &[],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            }),
        }
    }

    /// Rows an index (`messages`, `notes`, `attachments`, `clients`) holds for
    /// an FTS5 query, read from the index itself rather than through search:
    /// a consistency check that each row is indexed once (SQLite's FTS5 only).
    pub fn index_rows(&self, index: &str, fts_query: &str) -> Result<usize> {
        let table = match index {
            "messages" => "messages_fts",
            "notes" => "notes_fts",
            "attachments" => "attachments_fts",
            "clients" => "clients_fts",
            other => return Err(super::StoreError::Invalid(format!("no index {other}"))),
        };
        let mut st = self.conn.sqlite()?.prepare(&format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1"))?;
        Ok(st.query_map([fts_query], |r| r.get::<_, i64>(0))?.count())
    }

    /// The newest conversation's id (0 in an empty store).
    pub fn newest_conversation(&self) -> Result<i64> {
        self.conn.with_conn(|c| c.one("SELECT coalesce(max(id), 0) FROM conversations", &[], |r| r.get(0)))
    }

    /// The reader's connection, on whichever engine (the read code of
    /// `search.rs`, `clients.rs`, `sla.rs`… goes through it).
    pub(super) fn connection(&self) -> &ReadConn {
        &self.conn
    }
}

fn conversation_row(r: &Row) -> Result<ConversationRow> {
    let kind: String = r.get(3)?;
    Ok(ConversationRow {
        id: r.get(0)?,
        channel_id: r.get(1)?,
        channel_name: r.get(2)?,
        kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
        title: r.get(4)?,
        client: r.get(5)?,
        is_group: r.get(6)?,
        last_message_at: r.get(7)?,
        preview: r.get(8)?,
        waiting_since: r.get(9)?,
        unread: r.get(10)?,
        next_deadline: r.get(11)?,
        assignee: r.get(12)?,
        client_name: r.get(13)?,
        snoozed_until: r.get(14)?,
        follow_up_at: r.get(15)?,
        claimed_by: r.get(16)?,
    })
}

impl ConversationRow {
    /// Where this row stands in the ordering of `view`.
    pub fn key(&self, view: View) -> ListKey {
        match view {
            View::Unanswered => ListKey { sort: self.waiting_since.unwrap_or(0), id: self.id },
            View::DueToday | View::Overdue | View::AtRisk | View::AcceptedByMe => {
                ListKey { sort: self.next_deadline.unwrap_or(0), id: self.id }
            }
            View::Snoozed => ListKey { sort: self.snoozed_until.unwrap_or(0), id: self.id },
            View::Reminders => ListKey { sort: self.follow_up_at.unwrap_or(0), id: self.id },
            View::AllOpen
            | View::Channel(_)
            | View::Client(_)
            | View::Mine
            | View::Unassigned
            | View::Mentions
            | View::Unsent
            | View::Lists
            | View::SlaAtRisk
            | View::Breached => ListKey { sort: self.last_message_at, id: self.id },
        }
    }
}

/// `c.id IN (…)` of ids (numbers only, so safe to write into the SQL).
fn ids_in(ids: &[i64]) -> String {
    if ids.is_empty() {
        // A condition both engines read as false (PostgreSQL's WHERE takes no integer).
        return "1 = 0".into();
    }
    format!("c.id IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(","))
}

/// An audit detail with its deadlines (stored as Unix seconds after "deadline"
/// and "->", older rows as `Some(…)`) written as times.
fn deadlines_shown(detail: &str, show: impl Fn(i64) -> String) -> String {
    if !detail.contains("deadline") {
        return detail.to_string();
    }
    let detail = detail.replace("Some(", "").replace(')', "").replace("None", "—");
    detail
        .split(' ')
        .map(|w| match w.parse::<i64>() {
            // 2001-09-09 … 2286-11-20: a time, not a task number.
            Ok(t) if (1_000_000_000..10_000_000_000).contains(&t) => show(t),
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
