//! The client card and the clients list as popups one acts in: open a
//! conversation of any channel, edit a field in place, accept or dismiss a
//! merge suggestion, split an identity off, hand the client over. The store's
//! answer is kept whole here; the renderer (`ui/client.rs`) only reads it.

use super::*;
use crate::store::clients::{ClientCard, ClientSummary, Field, Suggestion};

/// A field of the card one can edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardField {
    Name,
    Organisation,
    Kind,
    Inn,
    Tags,
    Responsible,
    /// Adds a line to the notes (internal, never sent).
    Notes,
}

impl CardField {
    pub const ALL: [CardField; 7] = [
        CardField::Name,
        CardField::Organisation,
        CardField::Kind,
        CardField::Inn,
        CardField::Tags,
        CardField::Responsible,
        CardField::Notes,
    ];

    pub fn label(self, lang: Lang) -> &'static str {
        lang.tr(match self {
            CardField::Name => "card_name",
            CardField::Organisation => "card_organisation",
            CardField::Kind => "card_kind",
            CardField::Inn => "card_inn",
            CardField::Tags => "card_tags",
            CardField::Responsible => "responsible",
            CardField::Notes => "card_notes",
        })
    }

    /// The value an edit starts from (notes start empty: a new line is added).
    fn current(self, card: &ClientCard) -> String {
        let s = &card.summary;
        match self {
            CardField::Name => s.name.clone(),
            CardField::Organisation => s.organisation.clone().unwrap_or_default(),
            CardField::Kind => s.kind.clone(),
            CardField::Inn => s.inn.clone().unwrap_or_default(),
            CardField::Tags => s.tags.join(", "),
            CardField::Responsible => s.responsible.clone().unwrap_or_default(),
            CardField::Notes => String::new(),
        }
    }
}

/// One line of the card the cursor can stand on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardRow {
    Field(CardField),
    /// An open promise (index): Enter opens its conversation.
    Promise(usize),
    /// An identity (index into the summary's identities).
    Identity(usize),
    /// A merge suggestion (index into `suggestions`).
    Suggestion(usize),
    Conversation(i64),
    /// A timeline entry (index): Enter opens its conversation.
    Timeline(usize),
}

/// A suggestion with the names of the clients it joins, as the card shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionRow {
    pub suggestion: Suggestion,
    /// (id, name) of each client, in `suggestion.clients` order.
    pub names: Vec<(i64, String)>,
    /// The client the others merge into: one somebody has looked at, never a
    /// sender pult made a provisional client for when there is another.
    pub into: i64,
}

/// A field being edited in the card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardEdit {
    pub field: CardField,
    pub input: String,
    /// Hand-over: the name already entered; the input is now the note.
    pub handing_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardPopup {
    pub card: ClientCard,
    pub suggestions: Vec<SuggestionRow>,
    pub cursor: usize,
    pub edit: Option<CardEdit>,
    /// The clients list this card was opened from: Esc goes back to it.
    pub back: Option<Box<ClientsPopup>>,
}

impl CardPopup {
    pub fn client(&self) -> i64 {
        self.card.summary.id
    }

    /// The rows in the order the card shows them.
    pub fn rows(&self) -> Vec<CardRow> {
        let mut rows: Vec<CardRow> = CardField::ALL.into_iter().map(CardRow::Field).collect();
        rows.extend((0..self.card.promises.len()).map(CardRow::Promise));
        rows.extend((0..self.card.summary.identities.len()).map(CardRow::Identity));
        rows.extend((0..self.suggestions.len()).map(CardRow::Suggestion));
        rows.extend(self.card.conversations.iter().map(|c| CardRow::Conversation(c.conversation)));
        rows.extend((0..self.card.timeline.len()).map(CardRow::Timeline));
        rows
    }

    pub fn selected(&self) -> Option<CardRow> {
        self.rows().get(self.cursor).copied()
    }
}

/// Every client, the neediest first, with the pending suggestions above them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientsPopup {
    pub clients: Vec<ClientSummary>,
    pub suggestions: Vec<SuggestionRow>,
    pub cursor: usize,
    /// `/` narrows the list: part of a name, organisation, handle or tag (ё as е).
    pub filter: String,
    /// The filter is being typed (letters go into it).
    pub typing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientsRow {
    Suggestion(usize),
    Client(usize),
}

impl ClientsPopup {
    pub fn rows(&self) -> Vec<ClientsRow> {
        let needle = fold(self.filter.trim());
        let suggestions = if needle.is_empty() { self.suggestions.len() } else { 0 };
        (0..suggestions)
            .map(ClientsRow::Suggestion)
            .chain(
                self.clients
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| needle.is_empty() || client_matches(c, &needle))
                    .map(|(i, _)| ClientsRow::Client(i)),
            )
            .collect()
    }
}

fn fold(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

fn client_matches(c: &ClientSummary, needle: &str) -> bool {
    let has = |s: &str| fold(s).contains(needle);
    has(&c.name)
        || c.organisation.as_deref().is_some_and(has)
        || c.tags.iter().any(|t| has(t))
        || c.identities.iter().any(|i| has(&i.handle) || i.username.as_deref().is_some_and(has))
}

/// What the card's and the list's keys do besides moving.
enum CardKey {
    Confirm,
    Edit,
    Merge,
    Dismiss,
    Split,
    HandOver,
    Undo,
}

impl AppState {
    /// The store's card: a new popup, or the open card refreshed in place
    /// (the cursor stays on the same row where it still exists).
    pub(super) fn card_arrived(&mut self, card: ClientCard, suggestions: Vec<SuggestionRow>) {
        let back = match self.popup.take() {
            Some(Popup::Card(old)) if old.client() == card.summary.id => {
                let cursor = old.cursor;
                let mut fresh = CardPopup { card, suggestions, cursor, edit: None, back: old.back };
                fresh.cursor = cursor.min(fresh.rows().len().saturating_sub(1));
                self.popup = Some(Popup::Card(fresh));
                return;
            }
            Some(Popup::Card(old)) => old.back,
            Some(Popup::Clients(list)) => Some(Box::new(list)),
            other => {
                self.popup = other;
                None
            }
        };
        // The cursor starts where the work is: the soonest promise, else the
        // newest conversation.
        let mut popup = CardPopup { card, suggestions, cursor: 0, edit: None, back };
        let rows = popup.rows();
        popup.cursor = rows
            .iter()
            .position(|r| matches!(r, CardRow::Promise(_)))
            .or_else(|| rows.iter().position(|r| matches!(r, CardRow::Conversation(_))))
            .unwrap_or(0);
        self.popup = Some(Popup::Card(popup));
    }

    pub(super) fn clients_arrived(&mut self, clients: Vec<ClientSummary>, suggestions: Vec<SuggestionRow>) {
        let (cursor, filter) = match &self.popup {
            Some(Popup::Clients(old)) => (old.cursor, old.filter.clone()),
            _ => (0, String::new()),
        };
        let mut list = ClientsPopup { clients, suggestions, cursor, filter, typing: false };
        list.cursor = cursor.min(list.rows().len().saturating_sub(1));
        self.popup = Some(Popup::Clients(list));
    }

    /// The open client popup, read again after a change.
    pub(super) fn refresh_client_popup(&self) -> Vec<Effect> {
        match &self.popup {
            Some(Popup::Card(c)) => vec![Effect::ShowClient(c.client()), Effect::ReloadList],
            Some(Popup::Clients(_)) => vec![Effect::ClientsList, Effect::ReloadList],
            _ => vec![Effect::ReloadList],
        }
    }

    /// Actions (Enter, Esc, arrows, Tab) in the card.
    pub(super) fn card_action(&mut self, mut card: CardPopup, action: Action) -> Vec<Effect> {
        if let Some(mut edit) = card.edit.take() {
            match action {
                Action::Cancel => {}
                Action::Confirm => return self.card_edit_done(card, edit),
                Action::Complete if edit.field == CardField::Responsible && edit.handing_to.is_none() => {
                    self.complete_name(&mut edit.input);
                    card.edit = Some(edit);
                }
                _ => card.edit = Some(edit),
            }
            self.popup = Some(Popup::Card(card));
            return Vec::new();
        }
        match action {
            Action::Cancel => {
                if let Some(list) = card.back.take() {
                    self.popup = Some(Popup::Clients(*list));
                    return vec![Effect::ClientsList];
                }
                Vec::new()
            }
            Action::Down | Action::Up => {
                let n = card.rows().len();
                card.cursor = step(card.cursor, n, action == Action::Down);
                self.popup = Some(Popup::Card(card));
                Vec::new()
            }
            Action::Confirm => self.card_key(card, CardKey::Confirm),
            _ => {
                self.popup = Some(Popup::Card(card));
                Vec::new()
            }
        }
    }

    /// Letters in the card: text while a field is edited, commands otherwise.
    pub(super) fn card_letter(&mut self, mut card: CardPopup, key: Key) -> Vec<Effect> {
        if let Some(edit) = &mut card.edit {
            edit_line(&mut edit.input, key);
            self.popup = Some(Popup::Card(card));
            return Vec::new();
        }
        let command = match key.code {
            KeyCode::Char('j') => {
                card.cursor = step(card.cursor, card.rows().len(), true);
                None
            }
            KeyCode::Char('k') => {
                card.cursor = step(card.cursor, card.rows().len(), false);
                None
            }
            KeyCode::Char('e') => Some(CardKey::Edit),
            KeyCode::Char('m') => Some(CardKey::Merge),
            KeyCode::Char('d') => Some(CardKey::Dismiss),
            KeyCode::Char('s') => Some(CardKey::Split),
            KeyCode::Char('A') => Some(CardKey::HandOver),
            KeyCode::Char('u') => Some(CardKey::Undo),
            KeyCode::Char('q') | KeyCode::Char('C') => return Vec::new(),
            _ => None,
        };
        match command {
            Some(c) => self.card_key(card, c),
            None => {
                self.popup = Some(Popup::Card(card));
                Vec::new()
            }
        }
    }

    fn card_key(&mut self, mut card: CardPopup, command: CardKey) -> Vec<Effect> {
        let client = card.client();
        let row = card.selected();
        let mut fx = Vec::new();
        match (command, row) {
            (CardKey::Confirm | CardKey::Edit, Some(CardRow::Field(CardField::Kind))) => {
                // Two values: Enter switches between them.
                let to = if card.card.summary.kind == "organisation" { "person" } else { "organisation" };
                fx.push(Effect::EditClient { client, field: Field::Kind, value: to.into() });
            }
            (CardKey::Confirm | CardKey::Edit, Some(CardRow::Field(field))) => {
                card.edit = Some(CardEdit { field, input: field.current(&card.card), handing_to: None });
            }
            (CardKey::HandOver, _) => {
                card.cursor =
                    card.rows().iter().position(|r| *r == CardRow::Field(CardField::Responsible)).unwrap_or(0);
                let input = CardField::Responsible.current(&card.card);
                card.edit = Some(CardEdit { field: CardField::Responsible, input, handing_to: None });
            }
            (CardKey::Confirm, Some(CardRow::Conversation(conversation))) => {
                return self.open_from_card(client, conversation);
            }
            (CardKey::Confirm, Some(CardRow::Promise(i))) => {
                if let Some(p) = card.card.promises.get(i) {
                    return self.open_from_card(client, p.conversation);
                }
            }
            (CardKey::Confirm, Some(CardRow::Timeline(i))) => {
                if let Some(e) = card.card.timeline.get(i) {
                    return self.open_from_card(client, e.conversation);
                }
            }
            (CardKey::Confirm | CardKey::Merge, Some(CardRow::Suggestion(i))) => {
                if let Some(s) = card.suggestions.get(i) {
                    fx.push(merge_of(s));
                }
            }
            (CardKey::Dismiss, Some(CardRow::Suggestion(i))) => {
                if let Some(s) = card.suggestions.get(i) {
                    fx.push(Effect::DismissSuggestion(s.suggestion.clients.clone()));
                }
            }
            (CardKey::Split, Some(CardRow::Identity(i))) => {
                let ids = &card.card.summary.identities;
                match ids.get(i) {
                    Some(id) if id.kind.ends_with("_group") => self.error(self.lang.tr("split_group")),
                    Some(_) if ids.iter().filter(|x| !x.kind.ends_with("_group")).count() < 2 => {
                        self.error(self.lang.tr("split_last"))
                    }
                    Some(id) => fx.push(Effect::SplitIdentity { kind: id.kind.clone(), handle: id.handle.clone() }),
                    None => {}
                }
            }
            (CardKey::Undo, _) => fx.extend(self.undo_merge()),
            (CardKey::Merge | CardKey::Dismiss, _) => self.error(self.lang.tr("no_suggestion_here")),
            (CardKey::Split, _) => self.error(self.lang.tr("split_where")),
            _ => {}
        }
        self.popup = Some(Popup::Card(card));
        fx
    }

    fn card_edit_done(&mut self, mut card: CardPopup, mut edit: CardEdit) -> Vec<Effect> {
        let client = card.client();
        let value = edit.input.trim().to_string();
        let fx = match edit.field {
            CardField::Responsible => match edit.handing_to.take() {
                // The name first, then the hand-over note (Enter alone: none).
                None => {
                    if self.warn_unknown_assignee(&value) {
                        card.edit = Some(edit);
                        self.popup = Some(Popup::Card(card));
                        return Vec::new();
                    }
                    edit.handing_to = Some(value);
                    edit.input.clear();
                    card.edit = Some(edit);
                    self.popup = Some(Popup::Card(card));
                    return Vec::new();
                }
                Some(to) => {
                    let to = (!super::prompts::is_nobody(&to)).then_some(to);
                    vec![Effect::HandOverClient { client, to, note: (!value.is_empty()).then_some(value) }]
                }
            },
            CardField::Name if value.is_empty() => {
                self.error(self.lang.tr("name_required"));
                Vec::new()
            }
            CardField::Notes if value.is_empty() => Vec::new(),
            field => {
                let field = match field {
                    CardField::Name => Field::Name,
                    CardField::Organisation => Field::Organisation,
                    CardField::Kind => Field::Kind,
                    CardField::Inn => Field::Inn,
                    CardField::Tags => Field::Tags,
                    CardField::Notes | CardField::Responsible => Field::Note,
                };
                vec![Effect::EditClient { client, field, value }]
            }
        };
        self.popup = Some(Popup::Card(card));
        fx
    }

    /// Enter on a conversation of the card: the client's conversations become
    /// the list, and the chosen one opens.
    fn open_from_card(&mut self, client: i64, conversation: i64) -> Vec<Effect> {
        self.popup = None;
        self.view = View::Client(client);
        self.search = None;
        self.focus = Focus::Thread;
        if let Some(t) = &mut self.thread {
            t.scroll = 0;
        }
        vec![Effect::ListTop, Effect::LoadThread(conversation), Effect::MarkRead(conversation)]
    }

    fn undo_merge(&mut self) -> Vec<Effect> {
        match self.last_merge.take() {
            Some(merge) => vec![Effect::UnmergeClients(merge)],
            None => {
                self.error(self.lang.tr("nothing_to_undo"));
                Vec::new()
            }
        }
    }

    /// Actions in the clients list.
    pub(super) fn clients_action(&mut self, mut list: ClientsPopup, action: Action) -> Vec<Effect> {
        if list.typing && matches!(action, Action::Confirm | Action::Cancel) {
            list.typing = false;
            if action == Action::Cancel {
                list.filter.clear();
            }
            self.popup = Some(Popup::Clients(list));
            return Vec::new();
        }
        match action {
            // Esc clears a filter first, then closes.
            Action::Cancel if !list.filter.is_empty() => {
                list.filter.clear();
                list.cursor = 0;
                self.popup = Some(Popup::Clients(list));
                Vec::new()
            }
            Action::Cancel => Vec::new(),
            Action::Down | Action::Up => {
                list.cursor = step(list.cursor, list.rows().len(), action == Action::Down);
                self.popup = Some(Popup::Clients(list));
                Vec::new()
            }
            Action::Confirm => self.clients_key(list, CardKey::Confirm),
            _ => {
                self.popup = Some(Popup::Clients(list));
                Vec::new()
            }
        }
    }

    pub(super) fn clients_letter(&mut self, mut list: ClientsPopup, key: Key) -> Vec<Effect> {
        if list.typing {
            edit_line(&mut list.filter, key);
            list.cursor = 0;
            self.popup = Some(Popup::Clients(list));
            return Vec::new();
        }
        let command = match key.code {
            KeyCode::Char('/') => {
                list.typing = true;
                None
            }
            KeyCode::Char('j') => {
                list.cursor = step(list.cursor, list.rows().len(), true);
                None
            }
            KeyCode::Char('k') => {
                list.cursor = step(list.cursor, list.rows().len(), false);
                None
            }
            KeyCode::Char('m') => Some(CardKey::Merge),
            KeyCode::Char('d') => Some(CardKey::Dismiss),
            KeyCode::Char('u') => Some(CardKey::Undo),
            KeyCode::Char('q') => return Vec::new(),
            _ => None,
        };
        match command {
            Some(c) => self.clients_key(list, c),
            None => {
                self.popup = Some(Popup::Clients(list));
                Vec::new()
            }
        }
    }

    fn clients_key(&mut self, list: ClientsPopup, command: CardKey) -> Vec<Effect> {
        let row = list.rows().get(list.cursor).copied();
        let mut fx = Vec::new();
        match (command, row) {
            (CardKey::Confirm, Some(ClientsRow::Client(i))) => {
                if let Some(c) = list.clients.get(i) {
                    fx.push(Effect::ShowClient(c.id));
                }
            }
            (CardKey::Confirm | CardKey::Merge, Some(ClientsRow::Suggestion(i))) => {
                if let Some(s) = list.suggestions.get(i) {
                    fx.push(merge_of(s));
                }
            }
            (CardKey::Dismiss, Some(ClientsRow::Suggestion(i))) => {
                if let Some(s) = list.suggestions.get(i) {
                    fx.push(Effect::DismissSuggestion(s.suggestion.clients.clone()));
                }
            }
            (CardKey::Undo, _) => fx.extend(self.undo_merge()),
            (CardKey::Merge | CardKey::Dismiss, _) => self.error(self.lang.tr("no_suggestion_here")),
            _ => {}
        }
        self.popup = Some(Popup::Clients(list));
        fx
    }
}

/// The merge a suggestion proposes: the others into `into`.
fn merge_of(s: &SuggestionRow) -> Effect {
    let from = s.suggestion.clients.iter().copied().filter(|c| *c != s.into).collect();
    Effect::MergeClients { into: s.into, from }
}

/// One row down or up, staying inside `0..n`.
fn step(cursor: usize, n: usize, down: bool) -> usize {
    if down { (cursor + 1).min(n.saturating_sub(1)) } else { cursor.saturating_sub(1) }
}
