//! `pult-bench`: pult's performance figures, apart from the product binary.
//! Built with it (`cargo build --release` makes both); the README's figures
//! come from here and from `scripts/bench-email.sh`, which uses its corpus
//! and store tools.

mod bench;
mod engines;
mod pg;
mod report;

use anyhow::{Result, anyhow};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "pult-bench",
    version,
    about = "pult's benchmarks: startup, render, search, ingest, memory, team, Telegram"
)]
struct Cli {
    /// Message counts to measure at
    #[arg(long, value_delimiter = ',', default_values_t = vec![100_000u64])]
    messages: Vec<u64>,
    /// Directory for the generated stores (default: a temporary directory)
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the report as a Markdown table for README.md, headed by the
    /// machine, its load at the start, the date and this command
    #[arg(long)]
    markdown: bool,
    /// Team mode: one daemon and ten pults on the largest store; idle CPU and commit-to-screen latency
    #[arg(long)]
    team: bool,
    /// Seconds of idle CPU measurement in --team mode
    #[arg(long, default_value_t = 60)]
    idle_seconds: u64,
    /// Telegram: updates served by the fake Bot API and ingested end to end
    #[arg(long)]
    telegram: bool,
    /// WhatsApp: a burst of signed webhook POSTs to the receiver; POSTs/s and p99 time to 200
    #[arg(long)]
    whatsapp: bool,
    /// Scrolling: frame time while a long group chat scrolls, and `j` held over a list of chats
    #[arg(long)]
    scroll: bool,
    /// PostgreSQL: commit-to-screen latency of ten watchers on this (empty or
    /// pult's) database, against SQLite's watcher in the same run
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// With --postgres: ingest, first frame and search on PostgreSQL and on
    /// SQLite in the same run, at each --messages size (the role of URL may
    /// create a database of the benchmark's own, dropped after)
    #[arg(long, requires = "postgres")]
    engines: bool,
    /// The PostgreSQL password, in a 0600 file
    #[arg(long, value_name = "FILE")]
    postgres_password_file: Option<PathBuf>,
    /// Messages of the long group chat in --scroll mode
    #[arg(long, default_value_t = 10_000)]
    chat_messages: usize,
    /// Webhook POSTs in --whatsapp mode, and how many are in flight at once
    #[arg(long, default_value_t = 10_000)]
    posts: usize,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// The store the tools below work on
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<PathBuf>,
    #[command(subcommand)]
    tool: Option<Tool>,
}

#[derive(Subcommand, Debug)]
enum Tool {
    /// Write COUNT generated mails into a maildir (the email benchmark's own corpus)
    GenMaildir {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        count: u64,
        /// Attach a file of this many KB to every mail (the lazy-attachment benchmark)
        #[arg(long, default_value_t = 0)]
        attachment_kb: u64,
    },
    /// The email benchmark's store tools: an empty store with the old
    /// tokenizer, the message index rebuilt from whole bodies, its size as JSON
    Store {
        #[arg(long)]
        unicode61: bool,
        #[arg(long)]
        whole_bodies: bool,
        #[arg(long)]
        report: bool,
    },
    /// Write COUNT notes to a conversation as fast as possible (team tests)
    StressNotes {
        #[arg(long)]
        conversation: i64,
        #[arg(long)]
        count: u32,
        #[arg(long)]
        actor: String,
    },
    /// Run the loopback fake of the WhatsApp Cloud API until killed, printing
    /// its api_url and the secrets to configure (by-hand trials)
    FakeWhatsapp,
    /// Post one signed client message to a WhatsApp webhook receiver, as Meta
    /// would (with the fake's app secret)
    WhatsappPost {
        /// The receiver's host:port (webhook_listen)
        #[arg(long)]
        to: String,
        /// The client's number (wa_id)
        #[arg(long, default_value = "79161234567")]
        from: String,
        #[arg(long, default_value = "Ольга Семёнова")]
        name: String,
        /// The message's text
        #[arg(long, required_unless_present = "status")]
        text: Option<String>,
        /// Instead of a message: a status (sent, delivered, read, failed) of the message --wamid
        #[arg(long, requires = "wamid")]
        status: Option<String>,
        #[arg(long)]
        wamid: Option<String>,
    },
    /// (internal) Open a store, draw a frame, report timing and RSS as JSON
    #[command(hide = true)]
    Probe,
    /// (internal) A headless pult that reports when it has redrawn after a commit
    #[command(hide = true)]
    Headless {
        /// Poll data_version every millisecond (the busy-polling baseline)
        #[arg(long)]
        busy: bool,
    },
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("pult-bench: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let store = || cli.store.clone().ok_or_else(|| anyhow!("this needs --store PATH"));
    // Read before the run loads the machine.
    let out = match (cli.json, cli.markdown) {
        (true, _) => report::Output::Json,
        (_, true) => report::Output::Markdown(report::Machine::now()),
        _ => report::Output::Text,
    };
    match cli.tool {
        None if cli.engines => {
            let password =
                cli.postgres_password_file.as_deref().map(|f| pult::secrets::read(None, Some(f))).transpose()?;
            let target =
                pult::store::pg::Target::parse(cli.postgres.as_deref().unwrap_or_default(), password.as_deref())?;
            engines::run(&target, &cli.messages, &out)
        }
        None if cli.postgres.is_some() => {
            pg::run(cli.postgres.as_deref().unwrap_or_default(), cli.postgres_password_file.as_deref(), cli.json)
        }
        None if cli.whatsapp => bench::run_whatsapp(cli.posts, cli.clients.max(1), cli.dir.as_deref(), &out),
        None if cli.telegram => bench::run_telegram(10_000, cli.dir.as_deref(), &out),
        None if cli.scroll => bench::run_scroll(cli.chat_messages, cli.dir.as_deref(), &out),
        None if cli.team => bench::run_team(
            cli.messages.iter().copied().max().unwrap_or(100_000),
            cli.dir.as_deref(),
            cli.idle_seconds,
            &out,
        ),
        None => bench::run(&cli.messages, cli.dir.as_deref(), &out),
        Some(Tool::GenMaildir { ref out, count, attachment_kb }) => bench::gen_maildir(out, count, attachment_kb),
        Some(Tool::Store { unicode61, whole_bodies, report }) => {
            bench::store_tool(&store()?, unicode61, whole_bodies, report)
        }
        Some(Tool::StressNotes { conversation, count, ref actor }) => {
            let writer = pult::store::Writer::spawn(&store()?)?;
            for i in 0..count {
                let (actor, now) = (actor.clone(), jiff::Timestamp::now().as_second());
                writer.call_blocking(move |c| {
                    pult::store::team::add_note(c, conversation, &actor, &format!("note {i} from {actor}"), now)
                })?;
            }
            Ok(())
        }
        Some(Tool::FakeWhatsapp) => {
            use pult::channels::whatsapp::fake;
            let api = fake::FakeGraphApi::start()?;
            api.open_window_for_all();
            println!("api_url = \"{}\"", api.api_url());
            println!("phone_number_id = \"{}\"", fake::PHONE_NUMBER_ID);
            println!(
                "token: {}   app secret: {}   verify token: {}",
                fake::TOKEN,
                fake::APP_SECRET,
                fake::VERIFY_TOKEN
            );
            println!("(running until killed; sent messages are printed as they come)");
            let mut seen = 0;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(300));
                let sent = api.sent();
                for m in &sent[seen..] {
                    println!("sent: {m}");
                }
                seen = sent.len();
            }
        }
        Some(Tool::WhatsappPost { ref to, ref from, ref name, ref text, ref status, wamid: ref of }) => {
            use pult::channels::whatsapp::{fake, webhook::build};
            let now = jiff::Timestamp::now();
            let (wamid, payload) = match (status, of) {
                (Some(status), Some(of)) => {
                    let errors: &[(i64, &str)] =
                        if status == "failed" { &[(131026, "Message undeliverable")] } else { &[] };
                    (of.clone(), build::status(fake::PHONE_NUMBER_ID, of, from, status, now.as_second(), errors))
                }
                _ => {
                    let wamid = format!("wamid.bypost{}", now.as_nanosecond());
                    let text = text.clone().unwrap_or_default();
                    (wamid.clone(), build::text(fake::PHONE_NUMBER_ID, from, name, &wamid, now.as_second(), &text))
                }
            };
            let status = fake::meta::post(to, Some(fake::APP_SECRET), payload.to_string().as_bytes())?;
            println!("{status} {wamid}");
            Ok(())
        }
        Some(Tool::Probe) => bench::probe(&store()?),
        Some(Tool::Headless { busy }) => bench::headless_pult(&store()?, busy),
    }
}
