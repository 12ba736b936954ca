//! Is this mail a mail server's report on a mail we sent, and what does it
//! say? RFC 3464 (`multipart/report; report-type=delivery-status`: a
//! `message/delivery-status` part, the returned `message/rfc822` or
//! `text/rfc822-headers`), and the plain-text bounces of Postfix, Exim,
//! qmail and Sendmail that quote the original headers in their text.
//!
//! Everything here comes from outside: addresses and diagnostics are cut to a
//! line of bounded length; the store and the UI sanitise them again on show.

use crate::model::{DeliveryReport, RecipientReport, ReportAction};
use mail_parser::{MessageParser, MimeHeaders, PartType};

/// A diagnostic longer than this is cut (a server may say a lot).
const MAX_DIAGNOSTIC: usize = 300;
/// More recipients than this in one report are not listed.
const MAX_RECIPIENTS: usize = 50;

/// The report `m` carries, if it is one.
pub fn read(m: &mail_parser::Message<'_>) -> Option<DeliveryReport> {
    let status = m
        .parts
        .iter()
        .find(|p| type_is(p, "message", "delivery-status") || type_is(p, "message", "global-delivery-status"));
    let mut report = match status {
        Some(part) => {
            DeliveryReport { original_id: None, recipients: status_fields(&String::from_utf8_lossy(part.contents())) }
        }
        None => plain_bounce(m)?,
    };
    if report.recipients.is_empty()
        && let Some(text) = m.body_text(0)
    {
        // A report whose status part names nobody: its text may.
        report.recipients = failed_in_text(notice_part(&text), ReportAction::Failed);
    }
    report.original_id = returned_id(m).or(report.original_id);
    Some(report)
}

fn type_is(part: &mail_parser::MessagePart<'_>, ctype: &str, subtype: &str) -> bool {
    part.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case(ctype) && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case(subtype))
    })
}

/// The Message-ID of the returned mail: a `message/rfc822` part, or a part of
/// its headers only.
fn returned_id(m: &mail_parser::Message<'_>) -> Option<String> {
    for part in &m.parts {
        let id = match &part.body {
            PartType::Message(inner) => inner.message_id().map(str::to_string),
            _ if type_is(part, "text", "rfc822-headers") || type_is(part, "message", "global-headers") => {
                MessageParser::default().parse_headers(part.contents()).and_then(|h| h.message_id().map(str::to_string))
            }
            _ => None,
        };
        if let Some(id) = id.filter(|i| !i.trim().is_empty()) {
            return Some(bracketed(&id));
        }
    }
    None
}

fn bracketed(id: &str) -> String {
    format!("<{}>", id.trim().trim_matches(['<', '>']))
}

/// The per-recipient fields of a `message/delivery-status` body (RFC 3464
/// §2.3): blocks of header-like fields, the first about the message.
fn status_fields(text: &str) -> Vec<RecipientReport> {
    let mut out: Vec<RecipientReport> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut finish = |fields: &mut Vec<(String, String)>| {
        if let Some(r) = recipient_of(fields)
            && out.len() < MAX_RECIPIENTS
        {
            out.push(r);
        }
        fields.clear();
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            finish(&mut fields);
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A folded field goes on.
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        let name = name.trim().to_ascii_lowercase();
        // Some servers leave out the blank line between recipients.
        let again = matches!(name.as_str(), "final-recipient" | "original-recipient" | "action")
            && fields.iter().any(|(n, _)| *n == name);
        if again {
            finish(&mut fields);
        }
        fields.push((name, value.trim().to_string()));
    }
    finish(&mut fields);
    out
}

/// One recipient's fields into a report line; none for the per-message block.
fn recipient_of(fields: &[(String, String)]) -> Option<RecipientReport> {
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let final_recipient = get("final-recipient");
    let action = get("action");
    if final_recipient.is_none() && action.is_none() {
        return None;
    }
    let address = get("original-recipient")
        .and_then(typed_address)
        .or_else(|| final_recipient.and_then(typed_address))
        .unwrap_or_default();
    let status = get("status").and_then(|s| s.split_whitespace().next()).map(one_line).filter(|s| !s.is_empty());
    let action = match action.map(|a| a.trim().to_ascii_lowercase()) {
        Some(a) if a.starts_with("failed") => ReportAction::Failed,
        Some(a) if a.starts_with("delayed") => ReportAction::Delayed,
        Some(a) if a.starts_with("delivered") => ReportAction::Delivered,
        Some(a) if a.starts_with("relayed") => ReportAction::Relayed,
        Some(a) if a.starts_with("expanded") => ReportAction::Expanded,
        // No action, or an unknown one: the status class says (RFC 3463).
        _ => match status.as_deref().and_then(|s| s.chars().next()) {
            Some('2') => ReportAction::Delivered,
            Some('4') => ReportAction::Delayed,
            _ => ReportAction::Failed,
        },
    };
    let diagnostic = get("diagnostic-code").map(without_type).map(one_line).filter(|d| !d.is_empty());
    Some(RecipientReport { address, action, status, diagnostic })
}

/// `rfc822; a@x` → `a@x`; a value that names no address → none.
fn typed_address(value: &str) -> Option<String> {
    let address = without_type(value).trim().trim_matches(['<', '>']).trim().to_lowercase();
    is_address(&address).then_some(address)
}

/// `smtp; 550 …` → `550 …`: the diagnostic without its type.
fn without_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest)) if !kind.trim().is_empty() && !kind.trim().contains(char::is_whitespace) => rest.trim(),
        _ => value.trim(),
    }
}

fn is_address(s: &str) -> bool {
    s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && s.chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '[' | ']'))
    })
}

/// One line, control characters and runs of blanks made one space, cut to a
/// bounded length.
fn one_line(s: &str) -> String {
    let words: Vec<&str> = s.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let line = words.join(" ");
    match line.char_indices().nth(MAX_DIAGNOSTIC) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// How the text of a bounce begins, per mail server (lower-case).
const BOUNCE_OPENINGS: &[&str] = &[
    "this is the mail system at host",                                  // Postfix
    "this is the postfix program at host",                              // Postfix before 2.3
    "this message was created automatically by mail delivery software", // Exim
    "this is the qmail-send program at",                                // qmail
    "the following addresses had permanent fatal errors",               // Sendmail
    "could not be delivered to one or more recipients",
    "delivery to the following recipient failed",
    "delivery to the following recipients failed",
    "delivery has failed to these recipients",
];

/// Words of a notice that the mail is late, not lost (lower-case).
const DELAY_WORDS: &[&str] = &[
    "this is a warning only",
    "has not yet been delivered",
    "delivery attempts will continue",
    "still being retried",
    "will continue to try",
    "could not send message for past",
];

/// Where a bounce's text ends and the returned mail begins (lower-case).
const RETURNED_MAIL: &[&str] = &[
    "this is a copy of the message",
    "below this line is a copy of the message",
    "original message follows",
    "----- original message -----",
    "------ original message ------",
    "undelivered message follows",
    "returned mail follows",
    "message headers follow",
];

/// Local parts of the senders of bounces.
const MAIL_SYSTEMS: &[&str] = &["mailer-daemon", "postmaster", "mail-daemon"];

/// A bounce without a status part: from a mail system (by its address, an
/// empty return path or `Auto-Submitted`) and worded as a bounce.
fn plain_bounce(m: &mail_parser::Message<'_>) -> Option<DeliveryReport> {
    let from = m.from().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or("");
    let local = from.rsplit_once('@').map_or(from, |(l, _)| l).to_ascii_lowercase();
    let null_sender = m.header_raw("Return-Path").is_some_and(|r| r.trim().trim_matches(['<', '>']).trim().is_empty());
    let automatic = m.header_raw("Auto-Submitted").is_some_and(|a| a.trim().to_ascii_lowercase().starts_with("auto-"));
    if !(MAIL_SYSTEMS.contains(&local.as_str()) || null_sender || automatic) {
        return None;
    }
    let text = m.body_text(0)?;
    let notice = notice_part(&text);
    let lower = notice.to_lowercase();
    if !BOUNCE_OPENINGS.iter().any(|o| lower.contains(o)) {
        return None;
    }
    let subject = m.subject().unwrap_or("").to_lowercase();
    let delayed = DELAY_WORDS.iter().any(|w| lower.contains(w))
        || subject.starts_with("delayed mail")
        || subject.starts_with("warning: message")
        || subject.contains("delivery status notification (delay)");
    let action = if delayed { ReportAction::Delayed } else { ReportAction::Failed };
    Some(DeliveryReport { original_id: quoted_id(&text), recipients: failed_in_text(notice, action) })
}

/// The text of a bounce before the mail it returns.
fn notice_part(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let lower = line.to_lowercase();
        if RETURNED_MAIL.iter().any(|r| lower.contains(r)) {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

/// The Message-ID among the headers a bounce quotes after its text.
fn quoted_id(text: &str) -> Option<String> {
    let rest = &text[notice_part(text).len()..];
    let mut lines = rest.lines();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else { continue };
        if !name.trim().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let value = if value.trim().is_empty() { lines.next().unwrap_or("") } else { value };
        let value = value.trim();
        let id = match (value.find('<'), value.find('>')) {
            (Some(a), Some(b)) if a < b => &value[a..=b],
            _ => value.split_whitespace().next().unwrap_or(""),
        };
        if id.trim_matches(['<', '>']).contains('@') {
            return Some(bracketed(id));
        }
    }
    None
}

/// Recipients a bounce's text names, each on a line that starts with the
/// address (`<a@x>: host … said: 550 …`, Exim's indented `a@x`, qmail's
/// `<a@x>:`), with what the server said below it.
fn failed_in_text(notice: &str, action: ReportAction) -> Vec<RecipientReport> {
    let lines: Vec<&str> = notice.lines().collect();
    let mut out: Vec<RecipientReport> = Vec::new();
    let mut i = 0;
    while i < lines.len() && out.len() < MAX_RECIPIENTS {
        let Some((address, rest)) = leading_address(lines[i]) else {
            i += 1;
            continue;
        };
        // What the server said: the rest of the line and the lines below,
        // up to a blank line or the next address (at most as indented: a
        // wrapped reply may start with an address too).
        let mut block: Vec<&str> = Vec::new();
        if !rest.trim().is_empty() {
            block.push(rest);
        }
        let next = |l: &str| indent(l) <= indent(lines[i]) && leading_address(l).is_some();
        let mut j = i + 1;
        while j < lines.len() && !lines[j].trim().is_empty() && !next(lines[j]) {
            block.push(lines[j]);
            j += 1;
        }
        let diagnostic =
            smtp_reply(&block, indent(lines[i])).or_else(|| Some(one_line(&block.join(" ")))).filter(|d| !d.is_empty());
        if !out.iter().any(|r| r.address == address) {
            let status = diagnostic.as_deref().and_then(enhanced_status);
            out.push(RecipientReport { address, action, status, diagnostic });
        }
        i = j;
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `<a@x>: rest`, `a@x`, `<a@x>:` at the start of a line: the address and the rest.
fn leading_address(line: &str) -> Option<(String, &str)> {
    let trimmed = line.trim_start();
    let first = trimmed.split_whitespace().next()?;
    let address = first.trim_end_matches(':').trim_start_matches('<').trim_end_matches('>').to_lowercase();
    is_address(&address).then(|| (address, &trimmed[first.len()..]))
}

/// The server's reply in the block of lines below an address indented by
/// `base`: from its code (`550 5.1.1 …`) to the end of that line, and the
/// lines after it that are indented deeper than the address (a reply Postfix
/// wrapped; not qmail's «Giving up on …»).
fn smtp_reply(block: &[&str], base: usize) -> Option<String> {
    for (k, line) in block.iter().enumerate() {
        let Some(at) = reply_code_at(line) else { continue };
        let mut reply = line[at..].to_string();
        for more in &block[k + 1..] {
            if indent(more) <= base {
                break;
            }
            reply.push(' ');
            reply.push_str(more.trim());
        }
        return Some(one_line(&reply));
    }
    None
}

/// Where an SMTP reply code (`4xx`/`5xx` and a space or a dash) starts a word.
fn reply_code_at(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len().saturating_sub(3)).find(|&i| {
        (i == 0 || b[i - 1].is_ascii_whitespace() || b[i - 1] == b':' || b[i - 1] == b'(')
            && matches!(b[i], b'4' | b'5')
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
            && matches!(b[i + 3], b' ' | b'-')
    })
}

/// `5.1.1` in `550 5.1.1 …`.
fn enhanced_status(reply: &str) -> Option<String> {
    reply.split_whitespace().take(3).find_map(|w| {
        let w = w.trim_end_matches([',', ':']);
        let parts: Vec<&str> = w.split('.').collect();
        (parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..].iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())))
        .then(|| w.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mail from its lines (kept apart so that indentation shows as sent).
    fn mail(lines: &[&str]) -> String {
        lines.join("\r\n") + "\r\n"
    }

    fn report(raw: &str) -> Option<DeliveryReport> {
        let m = MessageParser::default().parse(raw.as_bytes()).expect("parses");
        read(&m)
    }

    /// As Postfix 3.7 writes it when Dovecot's LMTP refuses the recipient.
    fn postfix(returned: &str) -> String {
        mail(&[
            "Return-Path: <>",
            "Date: Fri, 20 Nov 2026 10:00:05 +0300 (MSK)",
            "From: MAILER-DAEMON@mail.office.test (Mail Delivery System)",
            "Subject: Undelivered Mail Returned to Sender",
            "To: alice@office.test",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status;",
            "\tboundary=\"8C3F1200A3.1763622005/mail.office.test\"",
            "Message-Id: <20261120070005.9D1D2200A4@mail.office.test>",
            "",
            "This is a MIME-encapsulated message.",
            "",
            "--8C3F1200A3.1763622005/mail.office.test",
            "Content-Description: Notification",
            "Content-Type: text/plain; charset=us-ascii",
            "",
            "This is the mail system at host mail.office.test.",
            "",
            "I'm sorry to have to inform you that your message could not",
            "be delivered to one or more recipients. It's attached below.",
            "",
            "                   The mail system",
            "",
            "<nobody@office.test> (expanded from <nobody@elsewhere.test>): host",
            "    127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@office.test> User doesn't",
            "    exist: nobody@office.test (in reply to RCPT TO command)",
            "",
            "--8C3F1200A3.1763622005/mail.office.test",
            "Content-Description: Delivery report",
            "Content-Type: message/delivery-status",
            "",
            "Reporting-MTA: dns; mail.office.test",
            "X-Postfix-Queue-ID: 8C3F1200A3",
            "X-Postfix-Sender: rfc822; alice@office.test",
            "Arrival-Date: Fri, 20 Nov 2026 10:00:04 +0300 (MSK)",
            "",
            "Final-Recipient: rfc822; nobody@office.test",
            "Original-Recipient: rfc822;nobody@elsewhere.test",
            "Action: failed",
            "Status: 5.1.1",
            "Remote-MTA: dns; 127.0.0.1",
            "Diagnostic-Code: smtp; 550 5.1.1 <nobody@office.test> User doesn't exist:",
            "    nobody@office.test",
            "",
            "--8C3F1200A3.1763622005/mail.office.test",
            "Content-Description: Undelivered Message",
            returned,
            "",
            "Return-Path: <alice@office.test>",
            "From: alice@office.test",
            "To: nobody@elsewhere.test",
            "Subject: Act",
            "Message-ID: <pult.new.17a@office.test>",
            "Date: Fri, 20 Nov 2026 10:00:03 +0300",
            "",
            "The act is attached.",
            "",
            "--8C3F1200A3.1763622005/mail.office.test--",
        ])
    }

    #[test]
    fn a_postfix_report_names_the_mail_the_recipient_and_what_the_server_said() {
        let r = report(&postfix("Content-Type: message/rfc822")).expect("a report");
        assert_eq!(r.original_id.as_deref(), Some("<pult.new.17a@office.test>"));
        assert_eq!(r.outcome(), ReportAction::Failed);
        assert_eq!(
            r.recipients,
            [RecipientReport {
                address: "nobody@elsewhere.test".into(),
                action: ReportAction::Failed,
                status: Some("5.1.1".into()),
                diagnostic: Some("550 5.1.1 <nobody@office.test> User doesn't exist: nobody@office.test".into()),
            }],
            "the address we wrote to, the folded diagnostic in one line"
        );
        assert_eq!(
            r.reason(ReportAction::Failed),
            "nobody@elsewhere.test: 550 5.1.1 <nobody@office.test> User doesn't exist: nobody@office.test"
        );
    }

    #[test]
    fn a_report_of_the_headers_only_still_names_the_mail() {
        let r = report(&postfix("Content-Type: text/rfc822-headers")).expect("a report");
        assert_eq!(r.original_id.as_deref(), Some("<pult.new.17a@office.test>"));
    }

    #[test]
    fn a_report_whose_status_part_names_nobody_is_read_from_its_text() {
        let raw = postfix("Content-Type: message/rfc822")
            .replace("Final-Recipient: rfc822; nobody@office.test\r\n", "")
            .replace("Original-Recipient: rfc822;nobody@elsewhere.test\r\nAction: failed\r\n", "")
            .replace("Status: 5.1.1\r\nRemote-MTA: dns; 127.0.0.1\r\n", "")
            .replace("Diagnostic-Code: smtp; 550 5.1.1 <nobody@office.test> User doesn't exist:\r\n    nobody@office.test\r\n", "");
        let r = report(&raw).expect("a report");
        assert_eq!(
            r.reason(ReportAction::Failed),
            "nobody@office.test: 550 5.1.1 <nobody@office.test> User doesn't exist: nobody@office.test \
             (in reply to RCPT TO command)"
        );
    }

    #[test]
    fn a_delay_notice_says_delayed_not_failed() {
        let raw = mail(&[
            "From: MAILER-DAEMON@mx.office.test (Mail Delivery System)",
            "To: alice@office.test",
            "Subject: Delayed Mail (still being retried)",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"",
            "",
            "--B",
            "Content-Type: text/plain",
            "",
            "This is the mail system at host mx.office.test.",
            "",
            "####################################################################",
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
            "####################################################################",
            "",
            "<irina@client.test>: connect to mx.client.test[192.0.2.7]:25: Connection timed",
            "    out",
            "",
            "--B",
            "Content-Type: message/delivery-status",
            "",
            "Reporting-MTA: dns; mx.office.test",
            "",
            "Final-Recipient: rfc822; irina@client.test",
            "Action: delayed",
            "Status: 4.4.1",
            "Diagnostic-Code: X-Postfix; connect to mx.client.test[192.0.2.7]:25: Connection",
            "    timed out",
            "Will-Retry-Until: Fri, 25 Nov 2026 10:00:00 +0300",
            "",
            "--B",
            "Content-Type: text/rfc822-headers",
            "",
            "From: alice@office.test",
            "To: irina@client.test",
            "Subject: Act",
            "Message-ID: <late@office.test>",
            "",
            "--B--",
        ]);
        let r = report(&raw).expect("a report");
        assert_eq!(r.outcome(), ReportAction::Delayed);
        assert_eq!(r.original_id.as_deref(), Some("<late@office.test>"));
        assert_eq!(
            r.reason(ReportAction::Delayed),
            "irina@client.test: 4.4.1 connect to mx.client.test[192.0.2.7]:25: Connection timed out"
        );
    }

    #[test]
    fn an_exim_bounce_in_plain_text_quotes_the_headers() {
        let raw = mail(&[
            "Return-path: <>",
            "From: Mail Delivery System <Mailer-Daemon@mx.partner.test>",
            "To: alice@office.test",
            "Subject: Mail delivery failed: returning message to sender",
            "Message-Id: <E1abc-0001@mx.partner.test>",
            "Date: Fri, 20 Nov 2026 10:01:00 +0300",
            "",
            "This message was created automatically by mail delivery software.",
            "",
            "A message that you sent could not be delivered to one or more of its",
            "recipients. This is a permanent error. The following address(es) failed:",
            "",
            "  ivan@partner.test",
            "    host mx.partner.test [192.0.2.1]",
            "    SMTP error from remote mail server after RCPT TO:<ivan@partner.test>:",
            "    550 5.1.1 <ivan@partner.test>: Recipient address rejected: User unknown",
            "  boss@partner.test",
            "    mailbox is full: retry timeout exceeded",
            "",
            "------ This is a copy of the message, including all the headers. ------",
            "",
            "Return-path: <alice@office.test>",
            "Received: from [127.0.0.1] by mx.partner.test",
            "From: alice@office.test",
            "To: ivan@partner.test, boss@partner.test",
            "Subject: Act",
            "Message-ID:",
            " <exim-bounced@office.test>",
            "",
            "  someone@else.test in the returned text is nobody we failed",
        ]);
        let r = report(&raw).expect("a report");
        assert_eq!(r.original_id.as_deref(), Some("<exim-bounced@office.test>"), "a folded Message-ID too");
        assert_eq!(r.outcome(), ReportAction::Failed);
        assert_eq!(
            r.reason(ReportAction::Failed),
            "ivan@partner.test: 550 5.1.1 <ivan@partner.test>: Recipient address rejected: User unknown; \
             boss@partner.test: mailbox is full: retry timeout exceeded"
        );
        assert_eq!(r.recipients[0].status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn qmail_and_old_postfix_in_plain_text() {
        let qmail = mail(&[
            "From: MAILER-DAEMON@mx.client.test",
            "To: alice@office.test",
            "Subject: failure notice",
            "",
            "Hi. This is the qmail-send program at mx.client.test.",
            "I'm afraid I wasn't able to deliver your message to the following addresses.",
            "This is a permanent error; I've given up. Sorry it didn't work out.",
            "",
            "<irina@client.test>:",
            "192.0.2.7 does not like recipient.",
            "Remote host said: 550 5.1.1 <irina@client.test>... User unknown",
            "Giving up on 192.0.2.7.",
            "",
            "--- Below this line is a copy of the message.",
            "",
            "Return-Path: <alice@office.test>",
            "Message-ID: <q@office.test>",
            "Subject: Act",
            "",
            "Text",
        ]);
        let r = report(&qmail).expect("a report");
        assert_eq!(r.original_id.as_deref(), Some("<q@office.test>"));
        assert_eq!(r.reason(ReportAction::Failed), "irina@client.test: 550 5.1.1 <irina@client.test>... User unknown");
        let postfix = mail(&[
            "Return-Path: <>",
            "From: MAILER-DAEMON (Mail Delivery System)",
            "To: alice@office.test",
            "Subject: Undelivered Mail Returned to Sender",
            "",
            "This is the Postfix program at host mx.office.test.",
            "",
            "<irina@client.test>: host mx.client.test[192.0.2.7] said: 550 5.1.1",
            "    <irina@client.test>: Recipient address rejected: User unknown (in reply",
            "    to RCPT TO command)",
            "",
            "--- Delivery report unavailable ---",
            "",
            "--- Undelivered message follows ---",
            "",
            "From: alice@office.test",
            "Message-Id: <p@office.test>",
            "",
            "Text",
        ]);
        let r = report(&postfix).expect("a report");
        assert_eq!(r.original_id.as_deref(), Some("<p@office.test>"));
        assert_eq!(
            r.reason(ReportAction::Failed),
            "irina@client.test: 550 5.1.1 <irina@client.test>: Recipient address rejected: User unknown \
             (in reply to RCPT TO command)",
            "a wrapped reply that starts a line with an address is still one reply"
        );
    }

    #[test]
    fn an_exim_delay_warning_is_delayed() {
        let raw = mail(&[
            "From: Mail Delivery System <Mailer-Daemon@mx.partner.test>",
            "To: alice@office.test",
            "Subject: Warning: message 1abc-0001 delayed 24 hours",
            "Auto-Submitted: auto-replied",
            "",
            "This message was created automatically by mail delivery software.",
            "",
            "A message that you sent has not yet been delivered to one or more of its",
            "recipients after more than 24 hours on the queue on mx.partner.test.",
            "",
            "The address to which the message has not yet been delivered is:",
            "",
            "  ivan@partner.test",
            "    Delay reason: SMTP error from remote mail server after RCPT TO:<ivan@partner.test>:",
            "    451 4.7.1 Greylisted, try again later",
            "",
            "No action is required on your part.",
        ]);
        let r = report(&raw).expect("a report");
        assert_eq!(r.outcome(), ReportAction::Delayed);
        assert_eq!(r.reason(ReportAction::Delayed), "ivan@partner.test: 451 4.7.1 Greylisted, try again later");
        assert_eq!(r.original_id, None, "no headers quoted: matched by the recipient");
    }

    #[test]
    fn a_person_writing_about_a_bounce_is_no_bounce() {
        // A client pastes a bounce into an ordinary mail: not from a mail system.
        let raw = mail(&[
            "From: Irina <irina@client.test>",
            "To: alice@office.test",
            "Subject: your mail bounced?",
            "",
            "I got this: This is the mail system at host mx.client.test.",
            "<boss@client.test>: 550 5.1.1 User unknown",
        ]);
        assert_eq!(report(&raw), None);
        // An out-of-office reply is automatic but not a bounce.
        let raw = mail(&[
            "From: Irina <irina@client.test>",
            "Auto-Submitted: auto-replied",
            "Subject: Out of office",
            "",
            "I am away until Monday.",
        ]);
        assert_eq!(report(&raw), None);
    }

    #[test]
    fn hostile_reports_stay_bounded() {
        let mut raw = mail(&[
            "From: MAILER-DAEMON@x.test",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=B",
            "",
            "--B",
            "Content-Type: message/delivery-status",
            "",
            "Reporting-MTA: dns; x",
            "",
        ]);
        for i in 0..200 {
            raw.push_str(&mail(&[
                &format!("Final-Recipient: rfc822; r{i}@x.test"),
                "Action: failed",
                &format!("Diagnostic-Code: smtp; 550 {}\x1b[2J", "x".repeat(2000)),
                "",
            ]));
        }
        raw.push_str("--B--\r\n");
        let r = report(&raw).expect("a report");
        assert_eq!(r.recipients.len(), MAX_RECIPIENTS);
        let d = r.recipients[0].diagnostic.as_deref().expect("diagnostic");
        assert!(d.chars().count() <= MAX_DIAGNOSTIC + 1 && !d.contains('\x1b'), "{d}");
    }
}
