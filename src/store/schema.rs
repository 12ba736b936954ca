//! The schema, as numbered migrations applied by `PRAGMA user_version`.
//!
//! Migration `i` moves a store from version `i` to `i + 1`. Never edit a shipped
//! migration: add a new one, so that every store on every server can follow.

use rusqlite::Connection;

pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the whole model of DESIGN.md.
    r#"
CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'telegram', 'whatsapp')),
    created_at  INTEGER NOT NULL
);
CREATE TABLE channels (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER REFERENCES accounts(id),
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('email', 'telegram', 'whatsapp')),
    config_key  TEXT,
    status      TEXT,
    created_at  INTEGER NOT NULL
);
CREATE TABLE contacts (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    organisation     TEXT,
    default_assignee TEXT,
    created_at       INTEGER NOT NULL
);
CREATE TABLE identities (
    id           INTEGER PRIMARY KEY,
    contact_id   INTEGER NOT NULL REFERENCES contacts(id),
    kind         TEXT NOT NULL,
    handle       TEXT NOT NULL,
    display_name TEXT,
    UNIQUE (kind, handle)
);
CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES channels(id),
    remote_key      TEXT NOT NULL,
    title           TEXT NOT NULL,
    subject         TEXT,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    assignee        TEXT,
    contact_id      INTEGER REFERENCES contacts(id),
    is_group        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL DEFAULT 0,
    last_message_id INTEGER,
    last_inbound_id INTEGER NOT NULL DEFAULT 0,
    preview         TEXT NOT NULL DEFAULT '',
    waiting_since   INTEGER,
    snoozed_until   INTEGER,
    UNIQUE (channel_id, remote_key)
);
CREATE INDEX conversations_by_time ON conversations (status, last_message_at DESC, id DESC);
CREATE INDEX conversations_by_channel ON conversations (channel_id, last_message_at DESC, id DESC);
CREATE INDEX conversations_waiting ON conversations (waiting_since, id)
    WHERE waiting_since IS NOT NULL AND status = 'open';
CREATE INDEX conversations_by_contact ON conversations (contact_id);
-- Covers the per-channel unread counts without touching table rows.
CREATE INDEX conversations_unread ON conversations (channel_id, status, last_inbound_id);

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY,
    conversation_id     INTEGER NOT NULL REFERENCES conversations(id),
    channel_id          INTEGER NOT NULL REFERENCES channels(id),
    remote_id           TEXT NOT NULL,
    direction           TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    author_identity_id  INTEGER REFERENCES identities(id),
    author              TEXT NOT NULL DEFAULT '',
    sent_at             INTEGER NOT NULL,
    subject             TEXT,
    body                TEXT NOT NULL DEFAULT '',
    body_html           TEXT,
    reply_to_remote     TEXT,
    reply_to_message_id INTEGER,
    edited              INTEGER NOT NULL DEFAULT 0,
    deleted             INTEGER NOT NULL DEFAULT 0,
    delivery            TEXT NOT NULL DEFAULT 'received',
    error               TEXT,
    parse_error         TEXT,
    actor               TEXT,
    UNIQUE (channel_id, remote_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, sent_at, id);
CREATE INDEX messages_by_direction ON messages (conversation_id, direction, sent_at);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id),
    ordinal      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    mime         TEXT NOT NULL DEFAULT 'application/octet-stream',
    size         INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT,
    remote_ref   TEXT,
    duration     INTEGER,
    UNIQUE (message_id, ordinal)
);

CREATE TABLE tasks (
    id                INTEGER PRIMARY KEY,
    conversation_id   INTEGER NOT NULL REFERENCES conversations(id),
    source_message_id INTEGER REFERENCES messages(id),
    state             TEXT NOT NULL CHECK (state IN ('new', 'accepted', 'done', 'cancelled')),
    accepted_by       TEXT,
    deadline          INTEGER,
    summary           TEXT,
    created_at        INTEGER NOT NULL,
    accepted_at       INTEGER,
    done_at           INTEGER
);
CREATE INDEX tasks_by_conversation ON tasks (conversation_id, state);
CREATE INDEX tasks_by_deadline ON tasks (state, deadline);

CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    actor           TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX notes_by_conversation ON notes (conversation_id, created_at);

CREATE TABLE assignments (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    assignee        TEXT,
    actor           TEXT NOT NULL,
    note            TEXT,
    created_at      INTEGER NOT NULL
);

CREATE TABLE claims (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id),
    actor           TEXT NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE TABLE read_marks (
    actor           TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    message_id      INTEGER NOT NULL,
    PRIMARY KEY (actor, conversation_id)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY,
    conversation_id     INTEGER NOT NULL REFERENCES conversations(id),
    message_id          INTEGER REFERENCES messages(id),
    reply_to_message_id INTEGER REFERENCES messages(id),
    subject             TEXT,
    body                TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    not_before          INTEGER NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    error               TEXT,
    remote_id           TEXT,
    rfc_message_id      TEXT,
    actor               TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX outbox_pending ON outbox (state, not_before);

CREATE TABLE sync_state (
    channel_id INTEGER NOT NULL REFERENCES channels(id),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (channel_id, key)
) WITHOUT ROWID;

CREATE TABLE changes (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    conversation_id INTEGER,
    actor           TEXT
);

CREATE TABLE audit (
    id              INTEGER PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    conversation_id INTEGER,
    detail          TEXT
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

-- Full-text index over subject, body and author, external content kept in step by triggers.
-- unicode61 folds case for Cyrillic as for Latin; remove_diacritics 2 folds accents.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    subject, body, author,
    content = 'messages', content_rowid = 'id',
    tokenize = "unicode61 remove_diacritics 2"
);
-- Flush pending index data once per large batch rather than every 1 MB (the default):
-- fewer small segments, far fewer merges during an initial sync.
INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', 33554432);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 16);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, subject, body, author)
    VALUES (new.id, fts_fold(new.subject), fts_fold(new.body), fts_fold(new.author));
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, body, author)
    VALUES ('delete', old.id, fts_fold(old.subject), fts_fold(old.body), fts_fold(old.author));
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, body, author ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, body, author)
    VALUES ('delete', old.id, fts_fold(old.subject), fts_fold(old.body), fts_fold(old.author));
    INSERT INTO messages_fts (rowid, subject, body, author)
    VALUES (new.id, fts_fold(new.subject), fts_fold(new.body), fts_fold(new.author));
END;
"#,
    // 1 -> 2: voice transcripts, searchable like the body.
    r#"
ALTER TABLE messages ADD COLUMN transcript TEXT;
CREATE TABLE messages_edits (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    old_body   TEXT NOT NULL,
    edited_at  INTEGER NOT NULL
);
"#,
    // 2 -> 3: the promise ledger: automatic replies, follow-ups.
    r#"
ALTER TABLE messages ADD COLUMN auto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN auto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN follow_up_at INTEGER;
ALTER TABLE conversations ADD COLUMN after_hours_reply_at INTEGER;
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE snoozed_until IS NOT NULL;
CREATE INDEX conversations_follow_up ON conversations (follow_up_at) WHERE follow_up_at IS NOT NULL;
CREATE INDEX tasks_by_actor ON tasks (accepted_by, state);
"#,
    // 3 -> 4: team mode: one claim per person (two people composing see each other).
    r#"
DROP TABLE claims;
CREATE TABLE claims (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    actor           TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, actor)
) WITHOUT ROWID;
CREATE INDEX conversations_by_assignee ON conversations (assignee, last_message_at);
CREATE INDEX assignments_by_conversation ON assignments (conversation_id, created_at);
"#,
    // 4 -> 5: covering indexes, so that counting a view never touches table rows
    // (ten pults recount on every commit).
    r#"
DROP INDEX conversations_by_time;
CREATE INDEX conversations_by_time ON conversations (status, last_message_at DESC, id DESC, snoozed_until);
DROP INDEX conversations_waiting;
CREATE INDEX conversations_waiting ON conversations (waiting_since, id, snoozed_until)
    WHERE waiting_since IS NOT NULL AND status = 'open';
DROP INDEX conversations_by_assignee;
CREATE INDEX conversations_by_assignee ON conversations (assignee, status, last_message_at DESC, id DESC, snoozed_until);
"#,
    // 5 -> 6: files sent with a reply (paths on this server, JSON array).
    r#"
ALTER TABLE outbox ADD COLUMN attachments TEXT;
"#,
    // 6 -> 7: email recipients (To and Cc), for reply-all.
    r#"
ALTER TABLE messages ADD COLUMN recipients TEXT;
"#,
    // 7 -> 8: IMAP location and flags of email messages, flags pult owes the server.
    r#"
ALTER TABLE messages ADD COLUMN imap_folder TEXT;
ALTER TABLE messages ADD COLUMN imap_uid INTEGER;
ALTER TABLE messages ADD COLUMN seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN answered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN flag_push TEXT;
ALTER TABLE messages ADD COLUMN expunged INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_imap ON messages (channel_id, imap_folder, imap_uid) WHERE imap_uid IS NOT NULL;
CREATE INDEX messages_imap_live ON messages (channel_id, imap_folder, expunged) WHERE imap_uid IS NOT NULL;
CREATE INDEX messages_flag_push ON messages (channel_id) WHERE flag_push IS NOT NULL;
"#,
    // 8 -> 9: email that is not a reply: explicit recipients (JSON array), and the
    // message a forward carries (its text and attachments); the Cc part of a
    // mail's recipients, so that reply-all keeps Cc as Cc; forwards, which are
    // not an answer to the client.
    r#"
ALTER TABLE outbox ADD COLUMN to_addresses TEXT;
ALTER TABLE outbox ADD COLUMN forward_of INTEGER REFERENCES messages(id);
ALTER TABLE messages ADD COLUMN cc TEXT;
ALTER TABLE messages ADD COLUMN forward INTEGER NOT NULL DEFAULT 0;
"#,
    // 9 -> 10: an email is keyed by what the server guarantees, (folder,
    // UIDVALIDITY, UID); its Message-ID, which any sender controls, becomes a
    // threading attribute. Two mails with one Message-ID are both kept, the later
    // marked (`notice`). `thread_keys` maps every Message-ID and reference seen
    // in a thread to its conversation, so that a trimmed References list or
    // newest-first arrival cannot split a thread. Read marks, tasks and notes
    // point at row ids and are untouched.
    r#"
ALTER TABLE messages ADD COLUMN rfc_message_id TEXT;
ALTER TABLE messages ADD COLUMN imap_validity INTEGER;
ALTER TABLE messages ADD COLUMN notice TEXT;
UPDATE messages SET rfc_message_id = remote_id
 WHERE remote_id LIKE '<%>' AND channel_id IN (SELECT id FROM channels WHERE kind = 'email');
UPDATE messages SET rfc_message_id = (SELECT o.rfc_message_id FROM outbox o WHERE o.message_id = messages.id)
 WHERE rfc_message_id IS NULL AND id IN (SELECT message_id FROM outbox WHERE rfc_message_id IS NOT NULL);
UPDATE messages SET imap_validity = (SELECT CAST(s.value AS INTEGER) FROM sync_state s
                                     WHERE s.channel_id = messages.channel_id AND s.key = messages.imap_folder || '.uidvalidity')
 WHERE imap_uid IS NOT NULL;
UPDATE OR IGNORE messages SET remote_id = 'imap:' || imap_validity || ':' || imap_uid || ':' || imap_folder
 WHERE imap_uid IS NOT NULL AND imap_validity IS NOT NULL;
CREATE INDEX messages_rfc_id ON messages (channel_id, rfc_message_id) WHERE rfc_message_id IS NOT NULL;
CREATE TABLE thread_keys (
    channel_id      INTEGER NOT NULL REFERENCES channels(id),
    key             TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    PRIMARY KEY (channel_id, key)
) WITHOUT ROWID;
-- Merging two parts of a thread moves their keys: found by conversation.
CREATE INDEX thread_keys_by_conversation ON thread_keys (conversation_id);
INSERT OR IGNORE INTO thread_keys (channel_id, key, conversation_id)
    SELECT channel_id, rfc_message_id, conversation_id FROM messages WHERE rfc_message_id IS NOT NULL ORDER BY id;
INSERT OR IGNORE INTO thread_keys (channel_id, key, conversation_id)
    SELECT c.channel_id, c.remote_key, c.id FROM conversations c JOIN channels ch ON ch.id = c.channel_id
     WHERE ch.kind = 'email';
"#,
    // 10 -> 11: at-most-once sending. `unknown`: a send that may have happened
    // (the process died while it was in flight); never resent automatically.
    // `handed_over_at`: the server accepted it (SMTP 250, a chat API's answer),
    // committed before anything else is done, so recovery only files it in Sent.
    r#"
CREATE TABLE outbox_new (
    id                  INTEGER PRIMARY KEY,
    conversation_id     INTEGER NOT NULL REFERENCES conversations(id),
    message_id          INTEGER REFERENCES messages(id),
    reply_to_message_id INTEGER REFERENCES messages(id),
    subject             TEXT,
    body                TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'unknown')),
    not_before          INTEGER NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    error               TEXT,
    remote_id           TEXT,
    rfc_message_id      TEXT,
    actor               TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    auto                INTEGER NOT NULL DEFAULT 0,
    attachments         TEXT,
    to_addresses        TEXT,
    forward_of          INTEGER REFERENCES messages(id),
    handed_over_at      INTEGER
);
INSERT INTO outbox_new (id, conversation_id, message_id, reply_to_message_id, subject, body, state, not_before,
                        attempts, error, remote_id, rfc_message_id, actor, created_at, updated_at, auto,
                        attachments, to_addresses, forward_of)
    SELECT id, conversation_id, message_id, reply_to_message_id, subject, body, state, not_before,
           attempts, error, remote_id, rfc_message_id, actor, created_at, updated_at, auto,
           attachments, to_addresses, forward_of FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (state, not_before);
CREATE INDEX outbox_by_message ON outbox (message_id);
"#,
    // 11 -> 12: a promise follows the message that made it: `outbox_id` is the
    // acceptance that told the client; when it fails or is discarded the
    // promise is withdrawn (`withdrawn` says why) and comes back on a retry.
    r#"
ALTER TABLE tasks ADD COLUMN outbox_id INTEGER;
ALTER TABLE tasks ADD COLUMN withdrawn TEXT;
-- The «Выполнено» that closed it: if that message fails, the promise is open again.
ALTER TABLE tasks ADD COLUMN done_outbox_id INTEGER;
CREATE INDEX tasks_by_outbox ON tasks (outbox_id) WHERE outbox_id IS NOT NULL;
"#,
    // 12 -> 13: drafts, per person, durable: every composer saves here within a
    // second of the last keystroke and on every way out, so kill -9 or a
    // dropped SSH session loses nothing. `kind`: reply, note, forward (ref_id =
    // the forwarded message), email (ref_id = the channel; conversation 0).
    r#"
CREATE TABLE drafts (
    actor           TEXT NOT NULL,
    conversation_id INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('reply', 'note', 'forward', 'email')),
    ref_id          INTEGER NOT NULL DEFAULT 0,
    subject         TEXT,
    recipients      TEXT,
    body            TEXT NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (actor, conversation_id, kind, ref_id)
) WITHOUT ROWID;
"#,
    // 13 -> 14: display names of a mail's From/To/Cc (JSON object address ->
    // name), so that recipients are shown as people wrote them.
    r#"
ALTER TABLE messages ADD COLUMN names TEXT;
"#,
    // 14 -> 15: search in word forms. The index is rebuilt with the `pult`
    // tokenizer (Russian and English stems, see store::fts) and is contentless:
    // its rowid is a search key that grows with the message's date, so that
    // "newest first" is the index's own order and the first page of a common
    // word is read without sorting every match. Internal notes and attachment
    // names get indexes of their own. A body is indexed without the quoted
    // thread under it (search::authored). `search_index` records which tokenizer
    // built each index and how far a rebuild got (store::search_index).
    r#"
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE TABLE search_keys (
    key        INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL UNIQUE
);
INSERT INTO search_keys (key, message_id)
    SELECT (sent_at << 20) + row_number() OVER (PARTITION BY sent_at ORDER BY id) - 1, id FROM messages;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    subject, body, people, recipients,
    content = '', contentless_delete = 1, tokenize = 'pult'
);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', 33554432);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 16);
CREATE VIRTUAL TABLE notes_fts USING fts5 (body, author, content = '', contentless_delete = 1, tokenize = 'pult');
-- The terms of each index: a prefix (`докум*`) is looked up here and, when it
-- stands for a few terms, searched as those terms, which the index reads
-- newest first and stops early, instead of merging every posting of the prefix.
CREATE VIRTUAL TABLE messages_vocab USING fts5vocab (messages_fts, 'row');
CREATE VIRTUAL TABLE notes_vocab USING fts5vocab (notes_fts, 'row');
CREATE VIRTUAL TABLE attachments_fts USING fts5 (name, content = '', contentless_delete = 1, tokenize = 'pult');
-- `client:`: a conversation by its title and its client's name and organisation.
CREATE VIRTUAL TABLE clients_fts USING fts5 (title, client, content = '', contentless_delete = 1, tokenize = 'pult');
CREATE TABLE search_index (
    name      TEXT PRIMARY KEY,
    tokenizer INTEGER NOT NULL,
    -- A rebuild indexes rows up to this id; rows after it index themselves.
    upto      INTEGER NOT NULL DEFAULT 0,
    -- Rows up to this id are indexed.
    next      INTEGER NOT NULL DEFAULT 0,
    done      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO search_index (name, tokenizer, upto, done)
    SELECT 'messages', 0, coalesce((SELECT max(id) FROM messages), 0), 0
    UNION ALL SELECT 'notes', 0, coalesce((SELECT max(id) FROM notes), 0), 0
    UNION ALL SELECT 'attachments', 0, coalesce((SELECT max(id) FROM attachments), 0), 0
    UNION ALL SELECT 'conversations', 0, coalesce((SELECT max(id) FROM conversations), 0), 0;

-- A new message takes the next key of its second (or, past a million in one
-- second, the next key of all); its terms go under that key.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_keys (key, message_id)
        SELECT CASE WHEN k < ((new.sent_at + 1) << 20) THEN k ELSE (SELECT max(key) + 1 FROM search_keys) END, new.id
        FROM (SELECT coalesce(max(key) + 1, new.sent_at << 20) AS k FROM search_keys
              WHERE key >= (new.sent_at << 20) AND key < ((new.sent_at + 1) << 20));
    INSERT INTO messages_fts (rowid, subject, body, people, recipients)
        SELECT last_insert_rowid(), new.subject, search_authored(new.body) || coalesce(char(10) || new.transcript, ''),
               new.author || ' ' || coalesce((SELECT handle FROM identities WHERE id = new.author_identity_id), ''),
               search_recipients(new.recipients, new.cc, new.names);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = (SELECT key FROM search_keys WHERE message_id = old.id);
    DELETE FROM search_keys WHERE message_id = old.id;
END;
CREATE TRIGGER messages_search_update
AFTER UPDATE OF subject, body, transcript, author, author_identity_id, recipients, cc, names ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = (SELECT key FROM search_keys WHERE message_id = new.id);
    INSERT INTO messages_fts (rowid, subject, body, people, recipients)
        SELECT key, new.subject, search_authored(new.body) || coalesce(char(10) || new.transcript, ''),
               new.author || ' ' || coalesce((SELECT handle FROM identities WHERE id = new.author_identity_id), ''),
               search_recipients(new.recipients, new.cc, new.names)
        FROM search_keys WHERE message_id = new.id;
END;
CREATE TRIGGER notes_search_insert AFTER INSERT ON notes BEGIN
    INSERT INTO notes_fts (rowid, body, author) VALUES (new.id, new.body, new.actor);
END;
CREATE TRIGGER notes_search_delete AFTER DELETE ON notes BEGIN
    DELETE FROM notes_fts WHERE rowid = old.id;
END;
CREATE TRIGGER notes_search_update AFTER UPDATE OF body, actor ON notes BEGIN
    DELETE FROM notes_fts WHERE rowid = old.id;
    INSERT INTO notes_fts (rowid, body, author) VALUES (new.id, new.body, new.actor);
END;
CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO clients_fts (rowid, title, client)
        SELECT new.id, new.title,
               coalesce((SELECT name || ' ' || coalesce(organisation, '') FROM contacts WHERE id = new.contact_id), '');
END;
CREATE TRIGGER conversations_search_update AFTER UPDATE OF title, contact_id ON conversations
WHEN old.title IS NOT new.title OR old.contact_id IS NOT new.contact_id BEGIN
    DELETE FROM clients_fts WHERE rowid = old.id;
    INSERT INTO clients_fts (rowid, title, client)
        SELECT new.id, new.title,
               coalesce((SELECT name || ' ' || coalesce(organisation, '') FROM contacts WHERE id = new.contact_id), '');
END;
CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations BEGIN
    DELETE FROM clients_fts WHERE rowid = old.id;
END;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF name, organisation ON contacts
WHEN old.name IS NOT new.name OR old.organisation IS NOT new.organisation BEGIN
    DELETE FROM clients_fts WHERE rowid IN (SELECT id FROM conversations WHERE contact_id = new.id);
    INSERT INTO clients_fts (rowid, title, client)
        SELECT id, title, new.name || ' ' || coalesce(new.organisation, '') FROM conversations WHERE contact_id = new.id;
END;
CREATE TRIGGER attachments_search_insert AFTER INSERT ON attachments BEGIN
    INSERT INTO attachments_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER attachments_search_delete AFTER DELETE ON attachments BEGIN
    DELETE FROM attachments_fts WHERE rowid = old.id;
END;
CREATE TRIGGER attachments_search_update AFTER UPDATE OF name ON attachments BEGIN
    DELETE FROM attachments_fts WHERE rowid = old.id;
    INSERT INTO attachments_fts (rowid, name) VALUES (new.id, new.name);
END;
"#,
    // 15 -> 16: a sync batch indexes the rows it adds in one statement at its
    // end (store::search_index::Deferred) rather than row by row: FTS5 writes
    // its buffered terms out at every statement savepoint, so a trigger per
    // message made a segment per message, and most of a sync went into merging
    // them. A row is "pending" while such a batch runs if the batch added it;
    // triggers leave pending rows alone, and the batch indexes them from their
    // final content. Every other row is indexed by its triggers, as before.
    r#"
DROP TRIGGER messages_search_insert;
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_keys (key, message_id)
        SELECT CASE WHEN k < ((new.sent_at + 1) << 20) THEN k ELSE (SELECT max(key) + 1 FROM search_keys) END, new.id
        FROM (SELECT coalesce(max(key) + 1, new.sent_at << 20) AS k FROM search_keys
              WHERE key >= (new.sent_at << 20) AND key < ((new.sent_at + 1) << 20));
    INSERT INTO messages_fts (rowid, subject, body, people, recipients)
        SELECT last_insert_rowid(), new.subject, search_authored(new.body) || coalesce(char(10) || new.transcript, ''),
               new.author || ' ' || coalesce((SELECT handle FROM identities WHERE id = new.author_identity_id), ''),
               search_recipients(new.recipients, new.cc, new.names)
        WHERE NOT search_pending('messages', new.id);
END;
DROP TRIGGER messages_search_delete;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts
        WHERE rowid = (SELECT key FROM search_keys WHERE message_id = old.id AND NOT search_pending('messages', old.id));
    DELETE FROM search_keys WHERE message_id = old.id;
END;
DROP TRIGGER messages_search_update;
CREATE TRIGGER messages_search_update
AFTER UPDATE OF subject, body, transcript, author, author_identity_id, recipients, cc, names ON messages
WHEN NOT search_pending('messages', new.id) BEGIN
    DELETE FROM messages_fts WHERE rowid = (SELECT key FROM search_keys WHERE message_id = new.id);
    INSERT INTO messages_fts (rowid, subject, body, people, recipients)
        SELECT key, new.subject, search_authored(new.body) || coalesce(char(10) || new.transcript, ''),
               new.author || ' ' || coalesce((SELECT handle FROM identities WHERE id = new.author_identity_id), ''),
               search_recipients(new.recipients, new.cc, new.names)
        FROM search_keys WHERE message_id = new.id;
END;
DROP TRIGGER conversations_search_insert;
CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations
WHEN NOT search_pending('conversations', new.id) BEGIN
    INSERT INTO clients_fts (rowid, title, client)
        SELECT new.id, new.title,
               coalesce((SELECT name || ' ' || coalesce(organisation, '') FROM contacts WHERE id = new.contact_id), '');
END;
DROP TRIGGER conversations_search_update;
CREATE TRIGGER conversations_search_update AFTER UPDATE OF title, contact_id ON conversations
WHEN (old.title IS NOT new.title OR old.contact_id IS NOT new.contact_id)
     AND NOT search_pending('conversations', new.id) BEGIN
    DELETE FROM clients_fts WHERE rowid = old.id;
    INSERT INTO clients_fts (rowid, title, client)
        SELECT new.id, new.title,
               coalesce((SELECT name || ' ' || coalesce(organisation, '') FROM contacts WHERE id = new.contact_id), '');
END;
DROP TRIGGER conversations_search_delete;
CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations
WHEN NOT search_pending('conversations', old.id) BEGIN
    DELETE FROM clients_fts WHERE rowid = old.id;
END;
DROP TRIGGER contacts_search_update;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF name, organisation ON contacts
WHEN old.name IS NOT new.name OR old.organisation IS NOT new.organisation BEGIN
    DELETE FROM clients_fts WHERE rowid IN
        (SELECT id FROM conversations WHERE contact_id = new.id AND NOT search_pending('conversations', id));
    INSERT INTO clients_fts (rowid, title, client)
        SELECT id, title, new.name || ' ' || coalesce(new.organisation, '') FROM conversations
        WHERE contact_id = new.id AND NOT search_pending('conversations', id);
END;
DROP TRIGGER attachments_search_insert;
CREATE TRIGGER attachments_search_insert AFTER INSERT ON attachments
WHEN NOT search_pending('attachments', new.id) BEGIN
    INSERT INTO attachments_fts (rowid, name) VALUES (new.id, new.name);
END;
DROP TRIGGER attachments_search_delete;
CREATE TRIGGER attachments_search_delete AFTER DELETE ON attachments
WHEN NOT search_pending('attachments', old.id) BEGIN
    DELETE FROM attachments_fts WHERE rowid = old.id;
END;
DROP TRIGGER attachments_search_update;
CREATE TRIGGER attachments_search_update AFTER UPDATE OF name ON attachments
WHEN NOT search_pending('attachments', new.id) BEGIN
    DELETE FROM attachments_fts WHERE rowid = old.id;
    INSERT INTO attachments_fts (rowid, name) VALUES (new.id, new.name);
END;
"#,
    // 16 -> 17: reports about a message pult does not have yet (a delivery
    // receipt that overtakes the record of our send, a deletion of a message
    // still on its way) are kept and applied when the message appears.
    r#"
CREATE TABLE pending_reports (
    channel_id INTEGER NOT NULL,
    remote_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    state      TEXT,
    error      TEXT,
    at         INTEGER NOT NULL,
    PRIMARY KEY (channel_id, remote_id, kind)
);
"#,
    // 17 -> 18: WhatsApp. Reactions sit on the message they react to; what a
    // channel sent that pult could not read is kept raw; media is fetched at
    // arrival (content-addressed, `content_hash`) and a failed fetch says why.
    r#"
CREATE TABLE reactions (
    message_id    INTEGER NOT NULL REFERENCES messages(id),
    author_handle TEXT NOT NULL,
    author_name   TEXT NOT NULL,
    emoji         TEXT NOT NULL,
    at            INTEGER NOT NULL,
    PRIMARY KEY (message_id, author_handle)
);
CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY,
    channel_id  INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    raw         BLOB NOT NULL
);
ALTER TABLE attachments ADD COLUMN fetch_error TEXT;
ALTER TABLE outbox ADD COLUMN template TEXT;
ALTER TABLE messages ADD COLUMN closing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN merged_into INTEGER REFERENCES contacts(id);
ALTER TABLE contacts ADD COLUMN notes TEXT;
ALTER TABLE contacts ADD COLUMN inn TEXT;
CREATE TABLE client_merges (
    id           INTEGER PRIMARY KEY,
    into_id      INTEGER NOT NULL REFERENCES contacts(id),
    moved        TEXT NOT NULL,
    notes_before TEXT,
    actor        TEXT NOT NULL,
    at           INTEGER NOT NULL,
    undone_at    INTEGER
);
CREATE TABLE client_dismissals (
    a INTEGER NOT NULL,
    b INTEGER NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE connections (
    channel_id INTEGER NOT NULL REFERENCES channels(id),
    id         TEXT NOT NULL,
    owner_id   INTEGER NOT NULL,
    owner_name TEXT NOT NULL,
    can_reply  INTEGER NOT NULL,
    can_read   INTEGER NOT NULL,
    enabled    INTEGER NOT NULL,
    date       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, id)
);
"#,
    // 18 -> 19: the client card. A client is a person or an organisation
    // (NULL: not said, guessed from the name), has tags, and is provisional
    // while nobody has looked at it (created by sync for an unknown sender).
    // Telegram identities keep the @username when the sender has one. A
    // merge remembers the target's fields it changes, for an exact undo.
    r#"
ALTER TABLE contacts ADD COLUMN kind TEXT CHECK (kind IN ('person', 'organisation'));
ALTER TABLE contacts ADD COLUMN tags TEXT;
ALTER TABLE contacts ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
UPDATE contacts SET provisional = 1
 WHERE organisation IS NULL AND default_assignee IS NULL AND notes IS NULL AND inn IS NULL AND merged_into IS NULL;
ALTER TABLE identities ADD COLUMN username TEXT;
ALTER TABLE client_merges ADD COLUMN target_before TEXT;
-- A client's identities: the card, the clients list, merges and splits (a
-- full scan per client made `pult clients` 40 s at 11,700 clients).
CREATE INDEX identities_by_contact ON identities (contact_id);
"#,
    // 19 -> 20: what a mail is made of (its sender's address, each part's
    // type, size and bytes): mail that shares a Message-ID, a date, a name
    // and a text is told apart by it when it comes back renumbered or moved.
    r#"
ALTER TABLE messages ADD COLUMN mime_shape TEXT;
"#,
    // 20 -> 21: mail that never waits. `messages.quiet` says why a client
    // message needs no answer (list, auto, noreply, history, sender);
    // `conversations.automatic` holds conversations made only of list and
    // automatic mail (the «Рассылки» view); `channels.history_before` is the
    // cut-off below which incoming mail is history, not a queue;
    // `sender_rules` remembers a person's word on a sender (client | never).
    r#"
ALTER TABLE messages ADD COLUMN quiet TEXT;
ALTER TABLE conversations ADD COLUMN automatic INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN history_before INTEGER;
CREATE TABLE sender_rules (
    kind    TEXT NOT NULL,
    handle  TEXT NOT NULL,
    rule    TEXT NOT NULL CHECK (rule IN ('client', 'never')),
    actor   TEXT NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (kind, handle)
);
"#,
    // 21 -> 22: a channel whose account left the config is archived (when):
    // its history stays, it has no worker and no warning (store::archive).
    r#"
ALTER TABLE channels ADD COLUMN archived_at INTEGER;
"#,
    // 22 -> 23: a mail server's report on our mail (a bounce, a delay):
    // `report` says what it reported (failed, delayed, delivered …) and such
    // a mail never waits for an answer; `reports_on` is the message it
    // reports on, when pult has it (no foreign key: a reported message may be
    // removed, the report stays).
    r#"
ALTER TABLE messages ADD COLUMN report TEXT;
ALTER TABLE messages ADD COLUMN reports_on INTEGER;
"#,
    // 23 -> 24: an attachment's size is NULL when the channel did not say
    // (Telegram leaves `file_size` out at times; teloxide then reads
    // u32::MAX, shown as «4096.0 MB»). A channel says «unknown» with a
    // negative size (`InboundAttachment::size`); the triggers store NULL, so
    // no writer can forget. The table is rebuilt: SQLite cannot drop NOT NULL.
    r#"
DROP TRIGGER attachments_search_insert;
DROP TRIGGER attachments_search_delete;
DROP TRIGGER attachments_search_update;
CREATE TABLE attachments_new (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id),
    ordinal      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    mime         TEXT NOT NULL DEFAULT 'application/octet-stream',
    size         INTEGER,
    content_hash TEXT,
    remote_ref   TEXT,
    duration     INTEGER,
    fetch_error  TEXT,
    UNIQUE (message_id, ordinal)
);
INSERT INTO attachments_new (id, message_id, ordinal, name, mime, size, content_hash, remote_ref, duration, fetch_error)
    SELECT id, message_id, ordinal, name, mime, CASE WHEN size < 0 OR size = 4294967295 THEN NULL ELSE size END,
           content_hash, remote_ref, duration, fetch_error
    FROM attachments;
DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;
CREATE TRIGGER attachments_search_insert AFTER INSERT ON attachments
WHEN NOT search_pending('attachments', new.id) BEGIN
    INSERT INTO attachments_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER attachments_search_delete AFTER DELETE ON attachments
WHEN NOT search_pending('attachments', old.id) BEGIN
    DELETE FROM attachments_fts WHERE rowid = old.id;
END;
CREATE TRIGGER attachments_search_update AFTER UPDATE OF name ON attachments
WHEN NOT search_pending('attachments', new.id) BEGIN
    DELETE FROM attachments_fts WHERE rowid = old.id;
    INSERT INTO attachments_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER attachments_size_unknown AFTER INSERT ON attachments WHEN new.size < 0 BEGIN
    UPDATE attachments SET size = NULL WHERE id = new.id;
END;
CREATE TRIGGER attachments_size_unknown_update AFTER UPDATE OF size ON attachments WHEN new.size < 0 BEGIN
    UPDATE attachments SET size = NULL WHERE id = new.id;
END;
"#,
    // 24 -> 25: response-time policies (workflow::sla). `sla_pauses`: a
    // person paused a conversation's clocks, with a reason; a pause ends when
    // the client writes (read from the messages) or when a person ends it
    // (`ended_at`). `sla_policies`: the [[sla]] tables as they were from a
    // moment on (a clock counts under the version in effect when it started;
    // `pult sla recompute` adds one dated back). `sla_escalations`: the
    // internal notes written for a clock passing a threshold, once each.
    // `contacts.work_hours`: the client's own time zone and hours
    // (`calendar = "client"`).
    r#"
ALTER TABLE contacts ADD COLUMN work_hours TEXT;
CREATE TABLE sla_pauses (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    reason          TEXT NOT NULL CHECK (reason IN ('documents', 'payment', 'signature', 'answer', 'other')),
    actor           TEXT NOT NULL,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    ended_by        TEXT
);
CREATE INDEX sla_pauses_by_conversation ON sla_pauses (conversation_id, started_at);
CREATE TABLE sla_policies (
    id             INTEGER PRIMARY KEY,
    effective_from INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,
    actor          TEXT NOT NULL,
    policies       TEXT NOT NULL
);
CREATE TABLE sla_escalations (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    clock           TEXT NOT NULL,
    started         INTEGER NOT NULL,
    threshold       INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, clock, started, threshold)
) WITHOUT ROWID;
"#,
    // 25 -> 26 (#34): the audit log as a hash chain (store/audit_chain.rs), rows
    // written before it chained here, oldest first; originals as received.
    r#"
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN row_hash TEXT;
DROP TRIGGER audit_no_update;
CREATE TEMP TABLE audit_chained AS
WITH RECURSIVE chain(id, prev, hash) AS (
    SELECT id, NULL, audit_row_hash(NULL, id, at, actor, action, conversation_id, detail)
      FROM audit WHERE id = (SELECT min(id) FROM audit)
    UNION ALL
    SELECT a.id, chain.hash, audit_row_hash(chain.hash, a.id, a.at, a.actor, a.action, a.conversation_id, a.detail)
      FROM chain JOIN audit a ON a.id = (SELECT min(id) FROM audit WHERE id > chain.id)
)
SELECT id, prev, hash FROM chain;
UPDATE audit SET prev_hash = c.prev, row_hash = c.hash FROM temp.audit_chained c WHERE c.id = audit.id;
DROP TABLE temp.audit_chained;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;

-- Originals as received (store/originals.rs): bytes deflated and addressed by
-- the SHA-256 of what was received; one row per message and where it came from.
CREATE TABLE blobs (
    sha256  TEXT PRIMARY KEY,
    size    INTEGER NOT NULL,
    codec   TEXT NOT NULL,
    data    BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE originals (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id),
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES blobs(sha256),
    received_at INTEGER NOT NULL,
    partial     TEXT,
    signature   TEXT
);
CREATE INDEX originals_by_message ON originals (message_id, id);
-- A store's own settings. keep_raw: on for a new store, off for one that
-- already holds mail (`[store] keep_raw` in the config decides either way).
CREATE TABLE store_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO store_settings (key, value)
    SELECT 'keep_raw', CASE WHEN EXISTS (SELECT 1 FROM messages) THEN '0' ELSE '1' END;
INSERT INTO store_settings (key, value) VALUES ('store_id', lower(hex(randomblob(16))));
"#,
    // 26 -> 27 (#34): the server's own words on taking a mail (SMTP's `250 … queued as …`),
    // kept with the row for the record (`pult export`'s ledger/outbox.json).
    r#"
ALTER TABLE outbox ADD COLUMN server_answer TEXT;
"#,
    // 27 -> 28 (#34): DKIM as pult checked it when the mail arrived (keys rotate:
    // a result recorded near receipt is what survives), the best signature's
    // domain and selector, whether d= aligns with From, every signature's
    // outcome, and the Authentication-Results the receiving servers wrote
    // (`mailauth`). One row per mail others sent; none for chats.
    r#"
CREATE TABLE mail_auth (
    message_id  INTEGER PRIMARY KEY REFERENCES messages(id),
    dkim        TEXT NOT NULL
                CHECK (dkim IN ('pass', 'fail', 'neutral', 'policy', 'temperror', 'permerror', 'none')),
    reason      TEXT,
    domain      TEXT,
    selector    TEXT,
    aligned     INTEGER NOT NULL DEFAULT 0,
    from_domain TEXT,
    checked_at  INTEGER NOT NULL,
    signatures  TEXT NOT NULL DEFAULT '[]',
    reported    TEXT NOT NULL DEFAULT '[]'
) WITHOUT ROWID;
"#,
    // 28 -> 29 (#31): the views' indexes cover them again. Since archived
    // channels, every view asks each conversation's channel, which the indexes
    // of 4 -> 5 lacked: counting the sidebar's views read every open
    // conversation's row (a third of the first frame at 1M messages). The
    // «Рассылки» view gets an index of its own instead of scanning them all.
    r#"
DROP INDEX conversations_by_time;
CREATE INDEX conversations_by_time ON conversations (status, last_message_at DESC, id DESC, snoozed_until, channel_id);
DROP INDEX conversations_waiting;
CREATE INDEX conversations_waiting ON conversations (waiting_since, id, snoozed_until, channel_id)
    WHERE waiting_since IS NOT NULL AND status = 'open';
DROP INDEX conversations_by_assignee;
CREATE INDEX conversations_by_assignee
    ON conversations (assignee, status, last_message_at DESC, id DESC, snoozed_until, channel_id);
CREATE INDEX conversations_lists ON conversations (last_message_at DESC, id DESC) WHERE automatic = 1;
"#,
    // 29 -> 30 (#31): the clients list counts each client's waiting
    // conversations from this index alone; with the client's id only, it
    // read every conversation's row (0.9 s for 12,000 clients at 10M messages).
    r#"
DROP INDEX conversations_by_contact;
CREATE INDEX conversations_by_contact ON conversations (contact_id, status, waiting_since);
"#,
    // 30 -> 31 (#31): a new message's search key and terms come from the code
    // that stores it (`search_index::index_new_message`, through
    // `sql::Conn::reindex`, as PostgreSQL's do), not from a trigger. With the
    // trigger, every message's INSERT kept a statement journal (each page it
    // touched copied first), a tenth of a first sync's writer time. Changes
    // and deletions are still indexed by their triggers.
    r#"
DROP TRIGGER IF EXISTS messages_search_insert;
"#,
    // 31 -> 32 (#31): batches no longer merge the message index's segments
    // as they write them, only past 64 on one level; the writer merges
    // levels of 16 when it is idle (`store::index_merge`). Merging inside
    // the batches was a seventh of a first sync's writer time.
    super::index_merge::SETTINGS,
];

pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Applies every migration the store has not seen yet, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    migrate_to(conn, VERSION)
}

pub(super) fn migrate_to(conn: &mut Connection, target: i64) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target as usize).skip(current.max(0) as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
