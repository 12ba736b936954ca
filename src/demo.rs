//! `pult demo`: a throw-away store with a realistic week of an outsourced
//! accountant, and a simulated channel that keeps delivering client messages.

use crate::model::{ChannelKind, Inbound, InboundAttachment};
use crate::store::{Writer, demo_data, ingest, intents};
use crate::sync::dispatcher::{self, ChannelSender, OutboxItem, SendFuture, Senders};
use jiff::{Timestamp, tz::TimeZone};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A small deterministic generator, so every demo tells the same story.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

struct Client {
    org: &'static str,
    people: &'static [&'static str],
    kind: ChannelKind,
    group: Option<&'static str>,
}

const CLIENTS: &[Client] = &[
    Client {
        org: "ООО «Ромашка»",
        people: &["Ирина Соколова", "Павел Дёмин"],
        kind: ChannelKind::Telegram,
        group: Some("ООО Ромашка — бухгалтерия"),
    },
    Client {
        org: "ООО «Вектор»", people: &["Олег Кузнецов"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ИП Морозова", people: &["Светлана Морозова"], kind: ChannelKind::Whatsapp, group: None
    },
    Client {
        org: "ООО «СтройМонтаж»",
        people: &["Алексей Волков", "Наталья Егорова"],
        kind: ChannelKind::Telegram,
        group: Some("СтройМонтаж / учёт"),
    },
    Client {
        org: "ООО «Альфа-Трейд»", people: &["Дмитрий Лебедев"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ИП Петров", people: &["Сергей Петров"], kind: ChannelKind::Telegram, group: None
    },
    Client {
        org: "ООО «Северный ветер»", people: &["Екатерина Новикова"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ООО «Кофейня на Садовой»",
        people: &["Артём Фёдоров", "Юлия Фёдорова"],
        kind: ChannelKind::Whatsapp,
        group: Some("Кофейня — документы"),
    },
    Client {
        org: "ООО «Техносервис»", people: &["Михаил Павлов"], kind: ChannelKind::Telegram, group: None
    },
    Client {
        org: "ИП Семёнова", people: &["Ольга Семёнова"], kind: ChannelKind::Whatsapp, group: None
    },
    Client {
        org: "ООО «Логистик Плюс»", people: &["Николай Степанов"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ООО «Зелёный сад»",
        people: &["Татьяна Козлова", "Андрей Козлов"],
        kind: ChannelKind::Telegram,
        group: Some("Зелёный сад + бухгалтер"),
    },
    Client {
        org: "ООО «Медицинский центр Здоровье»",
        people: &["Елена Алексеева"],
        kind: ChannelKind::Email,
        group: None,
    },
    Client {
        org: "ИП Васильев", people: &["Владимир Васильев"], kind: ChannelKind::Telegram, group: None
    },
    Client {
        org: "ООО «Печатный двор»", people: &["Ксения Михайлова"], kind: ChannelKind::Whatsapp, group: None
    },
    Client {
        org: "ООО «Ремонт-Эксперт»", people: &["Игорь Николаев"], kind: ChannelKind::Telegram, group: None
    },
    Client {
        org: "ООО «Орион»", people: &["Анастасия Белова"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ИП Крылова", people: &["Марина Крылова"], kind: ChannelKind::Whatsapp, group: None
    },
    Client {
        org: "ООО «Гранит»",
        people: &["Роман Орлов", "Вера Орлова"],
        kind: ChannelKind::Telegram,
        group: Some("Гранит: финансы"),
    },
    Client {
        org: "ООО «Айти Решения»", people: &["Константин Зайцев"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ООО «Пекарня Колосок»", people: &["Людмила Смирнова"], kind: ChannelKind::Whatsapp, group: None
    },
    Client {
        org: "ИП Ковалёв", people: &["Денис Ковалёв"], kind: ChannelKind::Telegram, group: None
    },
    Client {
        org: "ООО «Мебельная фабрика»", people: &["Галина Попова"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ООО «Автодеталь»", people: &["Виктор Соловьёв"], kind: ChannelKind::Telegram, group: None
    },
    Client {
        org: "ООО «Студия Лайм»", people: &["Дарья Воробьёва"], kind: ChannelKind::Whatsapp, group: None
    },
    Client {
        org: "ООО «ЭкоЧистка»", people: &["Борис Виноградов"], kind: ChannelKind::Email, group: None
    },
    Client { org: "ИП Гусева", people: &["Алина Гусева"], kind: ChannelKind::Telegram, group: None },
    Client {
        org: "ООО «Фермер»",
        people: &["Пётр Комаров", "Нина Комарова"],
        kind: ChannelKind::Whatsapp,
        group: Some("Фермер — бухгалтерия"),
    },
    Client {
        org: "ООО «Юнона»", people: &["Евгений Титов"], kind: ChannelKind::Email, group: None
    },
    Client {
        org: "ООО «Транзит»", people: &["Сергей Белов"], kind: ChannelKind::Telegram, group: None
    },
];

/// (subject for email, the client's request, optional attachment)
const REQUESTS: &[(&str, &str, Option<(&str, &str, i64)>)] = &[
    (
        "Счёт на оплату",
        "Добрый день! Выставите, пожалуйста, счёт на оплату ООО «Вектор» на 45 000 ₽ за поставку материалов.",
        None,
    ),
    (
        "Акт сверки за III квартал",
        "Пришлите, пожалуйста, акт сверки за III квартал с ООО «Гранит». Их бухгалтер просит до конца недели.",
        None,
    ),
    ("Доверенность", "Нужна доверенность на получение ТМЦ на водителя Смирнова А. П., паспорт пришлю отдельно.", None),
    (
        "Оплата поставщику",
        "Оплатите, пожалуйста, счёт поставщику до пятницы, счёт во вложении.",
        Some(("Счёт_1487.pdf", "application/pdf", 184_320)),
    ),
    ("Платёжка по аренде", "Проведите платёжку по аренде за декабрь, 120 000 ₽, реквизиты прежние.", None),
    ("Отпускные", "Рассчитайте отпускные Ивановой с 12.12 на 14 календарных дней.", None),
    ("Зарплатная ведомость", "Когда будет зарплатная ведомость? Хотим выплатить аванс в пятницу.", None),
    ("Налоги за месяц", "Сколько в этом месяце платить налогов? ЕНП ведь до 28-го?", None),
    (
        "УПД от поставщика",
        "Прислали УПД от поставщика, посмотрите, всё ли верно оформлено.",
        Some(("УПД_00342.pdf", "application/pdf", 96_512)),
    ),
    ("Документы в ЭДО", "Документы в ЭДО подписал, можно проводить.", None),
    (
        "Выписка",
        "Загрузил выписку в 1С за прошлую неделю, проверьте, пожалуйста.",
        Some(("выписка_11.txt", "text/plain", 12_288)),
    ),
    (
        "Срочно: блокировка счёта",
        "Срочно! Банк заблокировал счёт!!! Просят пояснения по трём платежам, что им отвечать?",
        None,
    ),
    (
        "Накладные",
        "Фото накладных за ноябрь, оригиналы передам курьером.",
        Some(("IMG_2041.jpg", "image/jpeg", 2_411_724)),
    ),
    (
        "Договор аренды",
        "Высылаю подписанный договор аренды склада, внесите в учёт.",
        Some(("Договор аренды №17.pdf", "application/pdf", 742_113)),
    ),
    ("Новый сотрудник", "С понедельника выходит новый менеджер, что нужно для оформления?", None),
    ("УСН аванс", "Подскажите сумму авансового платежа по УСН за 9 месяцев.", None),
    ("Возврат от поставщика", "Поставщик вернул 18 300 ₽ переплаты, как это отразить?", None),
    ("Касса", "Не сходится касса за 14 число, на 2 500 ₽ меньше. Посмотрите?", None),
];

const THANKS: &[&str] =
    &["Спасибо!", "Благодарю, получили.", "Отлично, спасибо большое 👍", "Спасибо, всё верно.", "Принято, спасибо."];

const LIVE: &[&str] = &[
    "Добрый день! Пришлите, пожалуйста, реквизиты для оплаты ЕНП.",
    "Загрузил выписку в 1С, проверьте, пожалуйста.",
    "Когда будет готов акт сверки с поставщиком?",
    "Рассчитайте, пожалуйста, больничный Петровой, лист закрыт вчера.",
    "Срочно! Налоговая прислала требование о пояснениях, что делать?",
    "Документы в ЭДО подписал.",
    "Можно счёт на 30 000 ₽ для ООО «Орион»?",
    "Напомните, до какого числа платим страховые взносы?",
];

pub const AGENT: &str = "Анна";

pub struct DemoChannels {
    pub ids: HashMap<ChannelKind, i64>,
}

fn channel_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => "office mail",
        ChannelKind::Telegram => "office-bot",
        ChannelKind::Whatsapp => "whatsapp",
    }
}

fn handle(kind: ChannelKind, person: &str, i: usize) -> String {
    match kind {
        ChannelKind::Email => format!("client{i}@{}.test", translit_first(person)),
        ChannelKind::Telegram => format!("tg:{}", 100_000 + i * 37),
        // A wa_id: the number's digits, as WhatsApp names a person.
        ChannelKind::Whatsapp => format!("7916{:07}", 1_000_000 + i * 7919),
    }
}

fn translit_first(s: &str) -> String {
    let map = [
        ("а", "a"),
        ("б", "b"),
        ("в", "v"),
        ("г", "g"),
        ("д", "d"),
        ("е", "e"),
        ("ё", "e"),
        ("ж", "zh"),
        ("з", "z"),
        ("и", "i"),
        ("й", "y"),
        ("к", "k"),
        ("л", "l"),
        ("м", "m"),
        ("н", "n"),
        ("о", "o"),
        ("п", "p"),
        ("р", "r"),
        ("с", "s"),
        ("т", "t"),
        ("у", "u"),
        ("ф", "f"),
        ("х", "h"),
        ("ц", "c"),
        ("ч", "ch"),
        ("ш", "sh"),
        ("щ", "sch"),
        ("ы", "y"),
        ("э", "e"),
        ("ю", "yu"),
        ("я", "ya"),
    ];
    let word = s.split_whitespace().last().unwrap_or("client").to_lowercase();
    word.chars()
        .map(|c| map.iter().find(|(r, _)| r.starts_with(c)).map(|(_, l)| l.to_string()).unwrap_or_default())
        .collect()
}

/// Local time `days_ago` days before `now` at `hh:mm`. What would happen
/// later today than `now` (a demo started at 03:00) happened the day before:
/// the week's story makes sense at any hour, never a pile of «0 min» waits.
fn at(now: i64, tz: &TimeZone, days_ago: i64, hh: i8, mm: i8) -> i64 {
    let z = Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(tz.clone());
    let moment = |back: i64| {
        let day = z.date().checked_sub(jiff::Span::new().days(back)).unwrap_or(z.date());
        day.at(hh, mm, 0, 0).to_zoned(tz.clone()).map(|x| x.timestamp().as_second()).unwrap_or(now)
    };
    match moment(days_ago) {
        t if days_ago >= 0 && t > now - 600 => moment(days_ago + 1),
        t => t,
    }
}

/// Fills `writer`'s store with the demo week ending at `now`.
pub fn populate(writer: &Writer, now: i64, tz: &TimeZone, actor: &str) -> anyhow::Result<DemoChannels> {
    let mut ids = HashMap::new();
    for kind in [ChannelKind::Email, ChannelKind::Telegram, ChannelKind::Whatsapp] {
        let id = writer.call_blocking(move |c| ingest::ensure_channel(c, channel_name(kind), kind, now))?;
        ids.insert(kind, id);
    }
    let mut rng = Lcg::new(7);
    let calendar = crate::workflow::calendar::Calendar::standard(tz.clone());
    let mut batches: HashMap<ChannelKind, Vec<Inbound>> = HashMap::new();
    // (conversation key, kind, deadline, days ago of acceptance) for promises.
    let mut promises: Vec<(String, ChannelKind, i64)> = Vec::new();
    let mut closed: Vec<(String, ChannelKind)> = Vec::new();
    let mut seq = 0usize;
    let mut next_id = || {
        seq += 1;
        format!("demo-{seq}")
    };
    let mut contacts: Vec<(String, String, Vec<String>, ChannelKind)> = Vec::new();

    for (ci, client) in CLIENTS.iter().enumerate() {
        let kind = client.kind;
        let people: Vec<(String, String)> =
            client.people.iter().enumerate().map(|(pi, p)| (handle(kind, p, ci * 10 + pi), p.to_string())).collect();
        contacts.push((
            client.org.to_string(),
            client.people[0].to_string(),
            people.iter().map(|p| p.0.clone()).collect(),
            kind,
        ));
        let threads = if kind == ChannelKind::Email { 1 + rng.below(3) as usize } else { 1 };
        for th in 0..threads {
            let key = match (kind, client.group) {
                (ChannelKind::Email, _) => format!("<thread-{ci}-{th}@demo.test>"),
                (_, Some(_)) => format!("group-{ci}"),
                // WhatsApp keys a chat by the client's number.
                (ChannelKind::Whatsapp, None) => people[0].0.clone(),
                _ => format!("chat-{ci}"),
            };
            let title = match (kind, client.group) {
                (_, Some(g)) => g.to_string(),
                (ChannelKind::Email, None) => String::new(),
                _ => client.people[0].to_string(),
            };
            // Each conversation holds a few requests over the week; the last one
            // decides the state a newcomer sees: answered, accepted, overdue or waiting.
            let rounds = 1 + rng.below(3) as i64;
            let mut subject = String::new();
            for round in 0..rounds {
                let (subj, text, attachment) = *rng.pick(REQUESTS);
                if subject.is_empty() {
                    subject = subj.to_string();
                }
                let last = round == rounds - 1;
                let days_ago = if last { rng.below(4) as i64 } else { 6 - round * 2 };
                let hour = 9 + rng.below(8) as i8;
                let t_req = at(now, tz, days_ago, hour, (rng.below(12) * 5) as i8).min(now - 600);
                let (person_handle, person_name) = people[rng.below(people.len() as u64) as usize].clone();
                let conv_title = if title.is_empty() { subject.clone() } else { title.clone() };
                let email_subject = |s: &str, reply: bool| {
                    if kind == ChannelKind::Email {
                        Some(if reply { format!("Re: {s}") } else { s.to_string() })
                    } else {
                        None
                    }
                };
                let req_id = next_id();
                batches.entry(kind).or_default().push(Inbound {
                    remote_id: req_id.clone(),
                    conversation_key: key.clone(),
                    conversation_title: conv_title.clone(),
                    is_group: client.group.is_some(),
                    outgoing: false,
                    author_handle: person_handle.clone(),
                    author_name: person_name.clone(),
                    sent_at: t_req,
                    subject: email_subject(&subject, round > 0),
                    body_text: text.to_string(),
                    attachments: attachment
                        .map(|(n, m, s)| {
                            vec![InboundAttachment { name: n.into(), mime: m.into(), size: s, ..Default::default() }]
                        })
                        .unwrap_or_default(),
                    ..Default::default()
                });
                let fate = if last { rng.below(10) } else { 0 };
                // 0-3 answered and done, 4-5 accepted (open promise), 6 overdue, 7-9 waiting.
                if fate >= 7 {
                    // WhatsApp lets a reply go only within 24 hours of the
                    // client's message: a waiting WhatsApp client wrote today.
                    if kind == ChannelKind::Whatsapp
                        && let Some(m) = batches.get_mut(&kind).and_then(|b| b.last_mut())
                    {
                        m.sent_at = m.sent_at.max(now - 2 * 3600 - ci as i64 * 420);
                    }
                    continue;
                }
                let t_acc = (t_req + 600 + rng.below(3000) as i64).min(now - 60);
                let deadline = match fate {
                    // Due at 18:00 today, whatever the hour (a deadline, not an event).
                    4 => at(now, tz, 0, 18, 0).max(at(now, tz, -1, 18, 0) - 86400),
                    5 => at(now, tz, -(1 + rng.below(3) as i64), 12 + rng.below(6) as i8, 0),
                    6 => at(now, tz, 1 + rng.below(2) as i64, 18, 0),
                    _ => t_acc + 4 * 3600,
                };
                let deadline_text = crate::workflow::deadline::format_for_client(deadline, &calendar);
                batches.entry(kind).or_default().push(Inbound {
                    remote_id: next_id(),
                    conversation_key: key.clone(),
                    conversation_title: conv_title.clone(),
                    is_group: client.group.is_some(),
                    outgoing: true,
                    author_handle: String::new(),
                    author_name: actor.to_string(),
                    sent_at: t_acc,
                    subject: email_subject(&subject, true),
                    body_text: format!("Принято в работу. Срок — {deadline_text}."),
                    reply_to_remote: Some(req_id.clone()),
                    ..Default::default()
                });
                if fate >= 4 {
                    promises.push((key.clone(), kind, deadline));
                    continue;
                }
                let t_done = (t_acc + 3600 + rng.below(7200) as i64).min(now - 30);
                batches.entry(kind).or_default().push(Inbound {
                    remote_id: next_id(),
                    conversation_key: key.clone(),
                    conversation_title: conv_title.clone(),
                    is_group: client.group.is_some(),
                    outgoing: true,
                    author_name: actor.to_string(),
                    sent_at: t_done,
                    subject: email_subject(&subject, true),
                    body_text: "Выполнено.".into(),
                    reply_to_remote: Some(req_id),
                    ..Default::default()
                });
                // Half the clients say thank you; those conversations were closed afterwards.
                if !last || rng.below(2) == 0 {
                    continue;
                }
                closed.push((key.clone(), kind));
                batches.entry(kind).or_default().push(Inbound {
                    remote_id: next_id(),
                    conversation_key: key.clone(),
                    conversation_title: conv_title,
                    is_group: client.group.is_some(),
                    outgoing: false,
                    author_handle: person_handle,
                    author_name: person_name,
                    sent_at: (t_done + 300 + rng.below(1800) as i64).min(now - 20),
                    subject: email_subject(&subject, true),
                    body_text: rng.pick(THANKS).to_string(),
                    ..Default::default()
                });
            }
        }
    }

    // Story beats from DOMAIN.md: a voice message at 23:10, and hostile bytes that must render harmlessly.
    batches.entry(ChannelKind::Whatsapp).or_default().push(Inbound {
        remote_id: next_id(),
        conversation_key: handle(ChannelKind::Whatsapp, "Светлана Морозова", 20),
        conversation_title: "Светлана Морозова".into(),
        outgoing: false,
        author_handle: handle(ChannelKind::Whatsapp, "Светлана Морозова", 20),
        author_name: "Светлана Морозова".into(),
        // Last night at 23:10, or tonight's 23:10 when the demo starts so late
        // that last night's is outside WhatsApp's 24-hour reply window.
        sent_at: match at(now, tz, 1, 23, 10) {
            t if now - t > 20 * 3600 => at(now, tz, 0, 23, 10).min(now - 60),
            t => t.min(now - 60),
        },
        body_text: "🎤 Голосовое сообщение".into(),
        attachments: vec![InboundAttachment {
            name: "voice-2310.ogg".into(),
            mime: "audio/ogg".into(),
            size: 412_000,
            duration: Some(297),
            ..Default::default()
        }],
        ..Default::default()
    });
    batches.entry(ChannelKind::Email).or_default().push(Inbound {
        remote_id: next_id(),
        conversation_key: "<hostile@demo.test>".into(),
        conversation_title: "Invoice \u{202E}fdp.exe".into(),
        outgoing: false,
        author_handle: "billing@unknown-sender.test".into(),
        author_name: "Billing\x1b]52;c;cm0gLXJmIH4=\x07 Dept\x1b[2J\u{3164}".into(),
        sent_at: now - 3 * 3600,
        subject: Some("Invoice \u{202E}fdp.exe\u{2028}".into()),
        // The tag characters spell "pay now" where only a machine reads it.
        body_text: "This mail carries terminal escape sequences (\x1b[31mred\x1b[0m, OSC 52 clipboard writes), \
                    a bidi override, a line\u{2028}separator and a hidden sentence\u{E0070}\u{E0061}\u{E0079}\u{E0020}\
                    \u{E006E}\u{E006F}\u{E0077}. pult shows it as plain text."
            .into(),
        ..Default::default()
    });

    // One client, several channels: three clients also write on a second
    // channel (their card shows both), and the bakery's accountant mails from
    // an address pult has not seen, with the bakery's WhatsApp number in her
    // signature — a merge pult suggests and does not make by itself.
    let wa_of = |org: &str| contacts.iter().find(|c| c.0 == org).and_then(|c| c.2.first().cloned()).unwrap_or_default();
    let bakery_phone = wa_of("ООО «Пекарня Колосок»");
    let mut contacts = contacts;
    let second: [(&str, ChannelKind, &str); 3] = [
        ("ИП Семёнова", ChannelKind::Email, "o.semenova@semenova-ip.ru"),
        ("ИП Ковалёв", ChannelKind::Whatsapp, "79035550142"),
        ("ООО «Ромашка»", ChannelKind::Email, "director@romashka-td.ru"),
    ];
    for (org, kind, handle) in second {
        if let Some(c) = contacts.iter().find(|c| c.0 == org).cloned() {
            contacts.push((c.0.clone(), c.1.clone(), vec![handle.to_string()], kind));
            let (title, text) = match kind {
                ChannelKind::Email => (
                    "Документы для сверки".to_string(),
                    format!("Добрый день!\n\nНаправляю документы для сверки за октябрь.\n\n{}\n{org}", c.1),
                ),
                _ => (c.1.clone(), "Анна, продублирую сюда: счёт оплатили, платёжка в почте.".to_string()),
            };
            batches.entry(kind).or_default().push(Inbound {
                remote_id: next_id(),
                conversation_key: format!("second-{handle}"),
                conversation_title: title.clone(),
                author_handle: handle.to_string(),
                author_name: c.1.clone(),
                // WhatsApp's within its 24-hour window, so it can be answered.
                sent_at: if kind == ChannelKind::Whatsapp { now - 5 * 3600 } else { at(now, tz, 2, 11, 40) },
                subject: (kind == ChannelKind::Email).then_some(title),
                body_text: text,
                ..Default::default()
            });
        }
    }
    batches.entry(ChannelKind::Email).or_default().push(Inbound {
        remote_id: next_id(),
        conversation_key: "<kolosok-buh@demo.test>".into(),
        conversation_title: "Вопрос по зарплате".into(),
        author_handle: "buh.kolosok@gmail.com".into(),
        author_name: "Людмила Смирнова".into(),
        sent_at: at(now, tz, 3, 10, 15),
        subject: Some("Вопрос по зарплате".into()),
        body_text: format!(
            "Анна, добрый день!\n\nКогда будет расчёт отпускных?\n\n--\nЛюдмила Смирнова, бухгалтер\nтел. +{} {} {}-{}-{}",
            &bakery_phone.get(..1).unwrap_or("7"),
            bakery_phone.get(1..4).unwrap_or(""),
            bakery_phone.get(4..7).unwrap_or(""),
            bakery_phone.get(7..9).unwrap_or(""),
            bakery_phone.get(9..).unwrap_or("")
        ),
        ..Default::default()
    });

    // Contacts first, so that every person in a group chat belongs to one client card.
    writer.call_blocking(move |c| demo_data::add_contacts(c, &contacts, now))?;

    // Channel by channel in a fixed order, so a demo store's ids are the
    // same every time (a HashMap's order is not).
    let mut batches: Vec<(ChannelKind, Vec<Inbound>)> = batches.into_iter().collect();
    batches.sort_by_key(|(kind, _)| ids[kind]);
    for (kind, mut batch) in batches {
        batch.sort_by_key(|m| m.sent_at);
        let channel = ids[&kind];
        if kind == ChannelKind::Whatsapp {
            let events = whatsapp_events(&batch);
            writer.call_blocking(move |c| crate::store::events::apply(c, channel, &events, now))?;
            continue;
        }
        writer.call_blocking(move |c| ingest::apply(c, channel, &batch, &[], now))?;
    }

    for (key, kind, deadline) in promises {
        let channel = ids[&kind];
        let actor = actor.to_string();
        writer.call_blocking(move |c| {
            let (conv, msg) = demo_data::conversation_by_key(c, channel, &key)?;
            intents::add_task(c, conv, msg, &actor, deadline, now)?;
            Ok(())
        })?;
    }

    let closed: Vec<(String, i64)> = closed.into_iter().map(|(k, kind)| (k, ids[&kind])).collect();
    writer.call_blocking(move |c| demo_data::close(c, &closed))?;

    // Most conversations were read earlier in the week; the newest ones were not.
    let actor = actor.to_string();
    writer.call_blocking(move |c| demo_data::read_before(c, &actor, now - 5 * 3600))?;
    Ok(DemoChannels { ids })
}

/// The demo's WhatsApp week as Meta would have POSTed it: each client message
/// a signed-webhook payload read by the receiver's own parser, each of our
/// replies followed by its `read` status.
fn whatsapp_events(batch: &[Inbound]) -> Vec<crate::model::SyncEvent> {
    use crate::channels::whatsapp::{receiver, webhook::build};
    use crate::model::SyncEvent;
    use serde_json::json;
    const NUMBER: &str = "demo-number";
    let mut out = Vec::new();
    for m in batch {
        // The Cloud API as pult speaks it has no group chats: the demo's
        // WhatsApp groups stay as they were written.
        if m.is_group {
            out.push(SyncEvent::Message(m.clone()));
            continue;
        }
        if m.outgoing {
            out.push(SyncEvent::Message(m.clone()));
            let read = build::status(NUMBER, &m.remote_id, &m.conversation_key, "read", m.sent_at + 60, &[]);
            out.extend(receiver::events_of(read.to_string().as_bytes(), NUMBER));
            continue;
        }
        let message = match m.attachments.first() {
            Some(a) if a.mime.starts_with("audio/") => {
                json!({"type": "audio", "audio": {"id": format!("media-{}", m.remote_id), "mime_type": a.mime, "voice": true}})
            }
            Some(a) => json!({"type": "document", "document": {"id": format!("media-{}", m.remote_id),
                              "filename": a.name, "mime_type": a.mime, "caption": m.body_text}}),
            None => json!({"type": "text", "text": {"body": m.body_text}}),
        };
        let payload = build::message(NUMBER, &m.author_handle, &m.author_name, &m.remote_id, m.sent_at, message);
        for mut event in receiver::events_of(payload.to_string().as_bytes(), NUMBER) {
            // As if the media had been fetched: its size and length are known.
            if let SyncEvent::Message(inbound) = &mut event {
                for (got, had) in inbound.attachments.iter_mut().zip(&m.attachments) {
                    got.size = had.size;
                    got.duration = had.duration;
                    got.remote_ref = None;
                }
                if m.attachments.iter().any(|a| a.mime.starts_with("audio/")) {
                    inbound.body_text = m.body_text.clone();
                }
            }
            out.push(event);
        }
    }
    out
}

/// Delivers replies after a short, realistic delay and sometimes gets a thank-you back.
struct DemoSender {
    writer: Writer,
    kind: ChannelKind,
    channel: i64,
}

impl ChannelSender for DemoSender {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(900)).await;
            let remote = format!("demo-out-{}", item.id);
            let (writer, channel, kind, conversation) =
                (self.writer.clone(), self.channel, self.kind, item.conversation_id);
            // The client answers a few seconds later, as real clients do.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(6)).await;
                let _ = client_says(&writer, channel, kind, conversation, "Спасибо, получили 👍").await;
            });
            Ok(remote)
        })
    }
}

async fn client_says(
    writer: &Writer,
    channel: i64,
    kind: ChannelKind,
    conversation: i64,
    text: &str,
) -> anyhow::Result<()> {
    let text = text.to_string();
    writer
        .call(move |c| {
            let now = Timestamp::now().as_second();
            let demo_data::ClientTurn { key, title, is_group, subject, author } =
                demo_data::client_turn(c, conversation)?;
            let (handle, name) = author.unwrap_or_else(|| ("demo-client".into(), "Клиент".into()));
            let m = Inbound {
                remote_id: format!("demo-live-{now}-{conversation}"),
                conversation_key: key,
                conversation_title: title,
                is_group,
                author_handle: handle,
                author_name: name,
                sent_at: now,
                subject: if kind == ChannelKind::Email { subject.map(|s| format!("Re: {s}")) } else { None },
                body_text: text,
                ..Default::default()
            };
            ingest::apply(c, channel, &[m], &[], now)
        })
        .await?;
    Ok(())
}

/// The simulated channel: a new client message about every half minute, and
/// the outbox dispatcher delivering replies. Runs until the process exits.
pub fn start_live(writer: Writer, channels: &DemoChannels, every: Duration) {
    let channels: Vec<(ChannelKind, i64)> = channels.ids.iter().map(|(k, v)| (*k, *v)).collect();
    let spawned = std::thread::Builder::new().name("pult-demo".into()).spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!("demo runtime: {e}");
                return;
            }
        };
        rt.block_on(async move {
            let mut senders: Senders = HashMap::new();
            for (kind, id) in &channels {
                senders.insert(*id, Arc::new(DemoSender { writer: writer.clone(), kind: *kind, channel: *id }));
            }
            tokio::spawn(dispatcher::run(writer.clone(), senders, Duration::from_millis(500)));
            let mut rng = Lcg::new(Timestamp::now().as_second() as u64);
            let mut interval = tokio::time::interval(every);
            interval.tick().await;
            loop {
                interval.tick().await;
                let (kind, channel) = *rng.pick(&channels);
                let pick = rng.below(1000) as i64;
                let conversation = writer.call(move |c| demo_data::nth_conversation(c, channel, pick)).await;
                if let Ok(conversation) = conversation {
                    let text = *rng.pick(LIVE);
                    if let Err(e) = client_says(&writer, channel, kind, conversation, text).await {
                        tracing::warn!("demo delivery: {e}");
                    }
                }
            }
        });
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start the demo channel: {e}");
    }
}

/// The demo's response-time policy: messengers answered within an hour,
/// mail within four working hours; a promise's client told something every
/// two days. Written as a user would write it in the config.
pub fn sla_policies() -> Vec<crate::config::SlaPolicy> {
    const POLICIES: &str = r#"
[[sla]]
id = "messengers"
match = { kind = ["telegram", "whatsapp"] }
first_response = "1h"
next_response = "2h"
keep_informed = "2d"
warn_at = "75%"

[[sla]]
id = "mail"
first_response = "4h"
next_response = "8h"
keep_informed = "2d"
warn_at = "75%"
"#;
    crate::config::Config::parse(POLICIES).map(|c| c.sla).unwrap_or_default()
}

#[cfg(test)]
mod sla_tests {
    #[test]
    fn the_demo_policies_parse() {
        let p = super::sla_policies();
        assert_eq!(p.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["messengers", "mail"]);
    }
}
