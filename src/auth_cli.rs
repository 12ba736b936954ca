//! `pult auth ACCOUNT`: signs an email account in with pult's own OAuth2
//! client (`oauth2.rs`): the device-code flow where the provider has one
//! (Microsoft), else a loopback redirect to 127.0.0.1 whose final address can
//! also be pasted into the terminal, so that it works over SSH.

use crate::bootstrap::{Global, load_config};
use crate::config::Account;
use crate::i18n::Lang;
use anyhow::{Context, Result, bail};

pub fn run(cli: &Global, account: &str) -> Result<()> {
    let cfg = load_config(cli)?.context("no configuration: run pult once to write an example")?;
    let lang = Lang::detect(cfg.ui.language.as_deref());
    let flow = cfg.accounts.iter().find_map(|a| match a {
        Account::Email(e) if e.name == account => Some(e.oauth2.clone()),
        _ => None,
    });
    let Some(flow) = flow else { bail!("no email account {account:?} in the config") };
    let Some(flow) = flow else { bail!("{account} {}", lang.tr("auth_no_flow")) };
    let line = |s: &str| crate::sanitize::line(s).into_owned();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let ends = crate::oauth2::endpoints(&flow)?;
    let done = if ends.device_url.is_some() {
        rt.block_on(crate::oauth2::device_login(account, &flow, |code| {
            println!("{}:\n  {}\n  {}", lang.tr("auth_device"), line(&code.verification_uri), line(&code.user_code));
            println!("{}", lang.tr("auth_waiting"));
        }))
    } else {
        let pasted = async {
            tokio::task::spawn_blocking(|| {
                let mut text = String::new();
                std::io::stdin().read_line(&mut text).ok().filter(|n| *n > 0).map(|_| text)
            })
            .await
            .ok()
            .flatten()
        };
        rt.block_on(crate::oauth2::loopback_login(
            account,
            &flow,
            |url| {
                println!("{}:\n  {}\n{}", lang.tr("auth_open"), line(url), lang.tr("auth_paste"));
            },
            pasted,
        ))
    };
    // A blocked stdin reader must not keep the process alive.
    rt.shutdown_background();
    done?;
    println!("{} {}", lang.tr("auth_done"), crate::oauth2::token_file(account).display());
    Ok(())
}
