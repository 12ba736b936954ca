//! The command line (`:`): named views and commands.

use super::*;

impl AppState {
    pub(super) fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        match cmd {
            "" => Vec::new(),
            "q" | "quit" => {
                self.quit = true;
                vec![Effect::Quit]
            }
            "search" | "s" => vec![Effect::Search(rest.join(" "))],
            "open" | "all" => self.set_view_of(View::AllOpen),
            "unanswered" => self.set_view_of(View::Unanswered),
            "today" => self.set_view_of(View::DueToday),
            "overdue" => self.set_view_of(View::Overdue),
            "risk" | "at-risk" => self.set_view_of(View::AtRisk),
            "mine" => self.set_view_of(View::Mine),
            "snoozed" => self.set_view_of(View::Snoozed),
            "reminders" => self.set_view_of(View::Reminders),
            "unsent" => self.set_view_of(View::Unsent),
            "lists" => self.set_view_of(View::Lists),
            "threat" | "sla-risk" => self.set_view_of(View::SlaAtRisk),
            "breached" => self.set_view_of(View::Breached),
            // `:sender client` — this sender's mail always waits; `:sender never` — it never does.
            "sender" => match (self.target(), rest.first().copied()) {
                (Some(conversation), Some("client" | "клиент")) => {
                    vec![Effect::SenderRule { conversation, client: true }]
                }
                (Some(conversation), Some("never" | "никогда")) => {
                    vec![Effect::SenderRule { conversation, client: false }]
                }
                _ => {
                    self.error(self.lang.tr("sender_usage"));
                    Vec::new()
                }
            },
            "accepted" => self.set_view_of(View::AcceptedByMe),
            "unassigned" => self.set_view_of(View::Unassigned),
            "mentions" => self.set_view_of(View::Mentions),
            "history" => self.apply(Action::History),
            "client" if rest.is_empty() => self.apply(Action::ClientCard),
            "clients" => vec![Effect::ClientsList],
            // `:client-note TEXT`, `:client-org NAME`, `:client-inn 7701…`, `:client-name NAME`.
            "client-note" | "client-org" | "client-inn" | "client-name" => match self.target() {
                Some(conversation) => {
                    use crate::store::clients::Field;
                    let field = match cmd {
                        "client-note" => Field::Note,
                        "client-org" => Field::Organisation,
                        "client-inn" => Field::Inn,
                        _ => Field::Name,
                    };
                    vec![Effect::SetClientField { conversation, field, value: rest.join(" ") }]
                }
                None => Vec::new(),
            },
            "client" => vec![Effect::FindClient(rest.join(" "))],
            "forward" | "fwd" => self.apply(Action::Forward),
            "compose" | "mail" => self.apply(Action::NewEmail),
            "save" => self.apply(Action::SaveAttachment),
            "open-attachment" => self.apply(Action::OpenAttachment),
            "default-assignee" => match self.target() {
                Some(c) => {
                    let who = rest.first().filter(|n| !matches!(**n, "-" | "nobody" | "никто")).map(|n| n.to_string());
                    if let Some(w) = &who
                        && !self.team.is_empty()
                        && !self.team.contains(w)
                    {
                        self.error(format!("{}: {w}", self.lang.tr("not_in_team")));
                        return Vec::new();
                    }
                    vec![Effect::DefaultAssignee { conversation: c, assignee: who }]
                }
                None => Vec::new(),
            },
            "assign" => match (self.target(), rest.first()) {
                (Some(c), Some(name)) => {
                    let who = (!matches!(*name, "-" | "nobody" | "никто")).then(|| name.to_string());
                    vec![Effect::Assign { conversation: c, assignee: who, note: None }]
                }
                _ => self.apply(Action::Assign),
            },
            "note" => match self.target() {
                Some(c) if !rest.is_empty() => vec![Effect::AddNote { conversation: c, body: rest.join(" ") }],
                _ => self.apply(Action::Note),
            },
            "close" => self.apply(Action::CloseConversation),
            "reopen" => self.apply(Action::ReopenConversation),
            "cancel" | "cancel-task" => self.apply(Action::CancelTask),
            "redate" => self.apply(Action::Redate),
            "unsnooze" => match self.target() {
                Some(c) => vec![Effect::Snooze { conversation: c, until: None }],
                None => Vec::new(),
            },
            "help" => self.apply(Action::Help),
            "refresh" => self.apply(Action::Refresh),
            "template" | "t" => match rest.first() {
                Some(id) if self.templates.get(id).is_some() => self.open_composer(Some((*id).to_string())),
                Some(id) => {
                    self.error(format!("{}: {id}", self.lang.tr("no_template")));
                    Vec::new()
                }
                None => self.apply(Action::Template),
            },
            "channel" => {
                let name = rest.join(" ");
                match self.channels.iter().position(|c| c.name == name) {
                    Some(i) => self.set_view(i + View::SMART.len()),
                    None => {
                        self.error(format!("{}: {name}", self.lang.tr("no_channel")));
                        Vec::new()
                    }
                }
            }
            other => {
                self.error(format!("{}: {other}", self.lang.tr("unknown_command")));
                Vec::new()
            }
        }
    }
}
