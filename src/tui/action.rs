//! Everything a key can ask for, as plain data named in keymap files.

use serde::Deserialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Action {
    Quit,
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    NextChannel,
    PrevChannel,
    FocusLeft,
    FocusRight,
    Open,
    Back,
    Search,
    /// In a thread opened from search: the next (newer) message with a match.
    NextMatch,
    /// … and the previous (older) one.
    PrevMatch,
    Help,
    CommandLine,
    Reply,
    Template,
    /// Opens the composer with the given template inserted.
    InsertTemplate(String),
    Accept,
    Done,
    NextUnanswered,
    CloseConversation,
    ReopenConversation,
    /// Send again the conversation's newest failed or maybe-sent message.
    RetrySend,
    /// Drop the conversation's newest failed or maybe-sent message.
    DiscardSend,
    ViewAllOpen,
    ViewUnanswered,
    ViewDueToday,
    ViewOverdue,
    ViewAtRisk,
    ViewMine,
    ViewSnoozed,
    ViewReminders,
    ViewUnsent,
    Snooze,
    FollowUp,
    Redate,
    CancelTask,
    UndoSend,
    PostRules,
    Assign,
    Note,
    PlayVoice,
    Attach,
    SaveAttachment,
    OpenAttachment,
    Forward,
    NewEmail,
    History,
    ViewAssigned,
    ViewUnassigned,
    ViewMentions,
    Refresh,
    Send,
    CloseComposer,
    Confirm,
    Cancel,
}

const NAMES: &[(&str, Action)] = &[
    ("quit", Action::Quit),
    ("down", Action::Down),
    ("up", Action::Up),
    ("top", Action::Top),
    ("bottom", Action::Bottom),
    ("page_down", Action::PageDown),
    ("page_up", Action::PageUp),
    ("next_channel", Action::NextChannel),
    ("prev_channel", Action::PrevChannel),
    ("focus_left", Action::FocusLeft),
    ("focus_right", Action::FocusRight),
    ("open", Action::Open),
    ("back", Action::Back),
    ("search", Action::Search),
    ("next_match", Action::NextMatch),
    ("prev_match", Action::PrevMatch),
    ("help", Action::Help),
    ("command_line", Action::CommandLine),
    ("reply", Action::Reply),
    ("template", Action::Template),
    ("accept", Action::Accept),
    ("done", Action::Done),
    ("next_unanswered", Action::NextUnanswered),
    ("close_conversation", Action::CloseConversation),
    ("reopen_conversation", Action::ReopenConversation),
    ("retry_send", Action::RetrySend),
    ("discard_send", Action::DiscardSend),
    ("view_all_open", Action::ViewAllOpen),
    ("view_unanswered", Action::ViewUnanswered),
    ("view_due_today", Action::ViewDueToday),
    ("view_overdue", Action::ViewOverdue),
    ("view_at_risk", Action::ViewAtRisk),
    ("view_mine", Action::ViewMine),
    ("view_snoozed", Action::ViewSnoozed),
    ("view_reminders", Action::ViewReminders),
    ("view_unsent", Action::ViewUnsent),
    ("snooze", Action::Snooze),
    ("follow_up", Action::FollowUp),
    ("redate", Action::Redate),
    ("cancel_task", Action::CancelTask),
    ("undo_send", Action::UndoSend),
    ("post_rules", Action::PostRules),
    ("assign", Action::Assign),
    ("play_voice", Action::PlayVoice),
    ("attach", Action::Attach),
    ("save_attachment", Action::SaveAttachment),
    ("open_attachment", Action::OpenAttachment),
    ("forward", Action::Forward),
    ("new_email", Action::NewEmail),
    ("note", Action::Note),
    ("history", Action::History),
    ("view_assigned", Action::ViewAssigned),
    ("view_unassigned", Action::ViewUnassigned),
    ("view_mentions", Action::ViewMentions),
    ("refresh", Action::Refresh),
    ("send", Action::Send),
    ("close_composer", Action::CloseComposer),
    ("confirm", Action::Confirm),
    ("cancel", Action::Cancel),
];

impl TryFrom<String> for Action {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        Action::parse(&s)
    }
}

impl Action {
    /// `name` or `name:argument` (only `insert_template:ID` takes one).
    pub fn parse(s: &str) -> Result<Action, String> {
        let s = s.trim();
        if let Some(id) = s.strip_prefix("insert_template:") {
            if id.is_empty() {
                return Err("insert_template needs a template id".into());
            }
            return Ok(Action::InsertTemplate(id.to_string()));
        }
        NAMES.iter().find(|(n, _)| *n == s).map(|(_, a)| a.clone()).ok_or_else(|| format!("unknown action {s:?}"))
    }

    pub fn all_names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(n, _)| *n)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::InsertTemplate(id) => write!(f, "insert_template:{id}"),
            other => {
                let name = NAMES.iter().find(|(_, a)| a == other).map(|(n, _)| *n).unwrap_or("?");
                f.write_str(name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in Action::all_names() {
            assert_eq!(Action::parse(name).expect(name).to_string(), name);
        }
        assert_eq!(Action::parse("insert_template:accept"), Ok(Action::InsertTemplate("accept".into())));
        assert!(Action::parse("fly").is_err());
    }
}
