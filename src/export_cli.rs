//! `pult export` and `pult export verify` on the command line (the work is in `export`).

use crate::bootstrap::{load_config, location};
use crate::cli::Cli;
use crate::{say, t};
use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};

pub struct Args<'a> {
    pub client: i64,
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub out: &'a Path,
    pub include_notes: bool,
    pub redact_others: bool,
}

/// The command line as typed, the output directory said as `DIR` (no path of this machine).
fn command_line(a: &Args<'_>) -> String {
    let mut s = format!("pult export --client {}", a.client);
    if let Some(v) = a.since {
        s.push_str(&format!(" --since {v}"));
    }
    if let Some(v) = a.until {
        s.push_str(&format!(" --until {v}"));
    }
    s.push_str(" --out DIR");
    if a.include_notes {
        s.push_str(" --include-notes");
    }
    if a.redact_others {
        s.push_str(" --redact-others");
    }
    s
}

pub fn export(cli: &Cli, a: &Args<'_>, json: bool) -> Result<()> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let (reader, clock, calendar) = crate::cli::reader_of(cli)?;
    let since = a.since.map(|s| crate::cli::parse_bound("--since", s, &clock, &calendar, false)).transpose()?;
    let until = a.until.map(|s| crate::cli::parse_bound("--until", s, &clock, &calendar, true)).transpose()?;
    if let (Some(s), Some(u), Some(since_text), Some(until_text)) = (since, until, a.since, a.until)
        && s > u
    {
        bail!(
            "{}",
            t!(
                "export_bad_range",
                since = crate::sanitize::line(since_text),
                until = crate::sanitize::line(until_text)
            )
        );
    }
    let store = location(cli, &cfg)?;
    let writer = store.spawn_writer().with_context(|| t!("opening_store", path = store.shown()))?;
    let opts = crate::export::Options {
        client: a.client,
        since,
        until,
        out: PathBuf::from(a.out),
        include_notes: a.include_notes,
        redact_others: a.redact_others,
        lang: crate::i18n::ui(),
        operator: cfg.actor(),
        command_line: command_line(a),
        sign_command: cfg.export.sign_command.clone(),
    };
    let summary = crate::export::export(&reader, &writer, &cfg, &clock, &opts)?;
    if json {
        return cli.print_json(&summary);
    }
    say!(
        "{}",
        t!(
            "export_done",
            files = summary.files,
            dir = crate::sanitize::line(&a.out.display().to_string()),
            sha = summary.manifest_sha256
        )
    );
    if !summary.left_out.is_empty() {
        say!("{}", t!("export_left_out"));
        for l in &summary.left_out {
            say!("  - {}", crate::sanitize::line(l));
        }
    }
    Ok(())
}

pub fn verify(cli: &Cli, dir: &Path, json: bool) -> Result<()> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let dkim = cfg.mail.settings().map_err(|e| anyhow::anyhow!(e))?;
    let dkim = dkim.enabled.then_some(&dkim);
    let v = crate::export::verify(dir, cfg.export.verify_command.as_deref(), dkim)?;
    let lang = crate::i18n::ui();
    if json {
        cli.print_json(&serde_json::json!({
            "ok": v.problems.is_empty(),
            "files": v.files,
            "audit_rows": v.audit_rows,
            "signature_checked": v.signature_checked,
            "signed": v.signature_checked.is_some(),
            "problems": v.problems,
            "dkim": v.dkim,
        }))?;
    } else {
        for p in &v.problems {
            say!("{}", crate::sanitize::line(&p.in_language(lang)));
        }
        for d in v.dkim.iter().filter(|d| !d.now.is_failure()) {
            use crate::mailauth::Recheck;
            let key = match d.now {
                Recheck::Holds => "export_dkim_holds",
                Recheck::KeyChanged => "export_dkim_key_changed",
                Recheck::KeyGone => "export_dkim_key_gone",
                _ => "export_dkim_unavailable",
            };
            let (path, domain) = (crate::sanitize::line(&d.path), crate::sanitize::line(&d.domain));
            say!("{}", crate::i18n::fill(lang.tr(key), &[("path", &path), ("domain", &domain)]));
        }
        if v.problems.is_empty() {
            say!("{}", t!("export_verify_ok", files = v.files, rows = v.audit_rows));
            match v.signature_checked {
                Some(true) => say!("{}", t!("export_verify_signed_ok")),
                Some(false) => say!("{}", t!("export_verify_signed_unchecked")),
                // Hashes in an unsigned manifest prove only that the files fit it.
                None => say!("{}", t!("export_verify_unsigned")),
            }
        }
    }
    if !v.problems.is_empty() {
        bail!("{}", t!("export_verify_failed", n = v.problems.len()));
    }
    Ok(())
}
