//! Deadlines typed the way people say them, in Russian and English:
//! «до конца дня», «завтра 12:00», «пт», «через 3 рабочих дня», «25.03 15:00»,
//! "tomorrow 18:00", "in 2 hours". A date without a time means the end of
//! working hours on that day.

use super::calendar::Calendar;
use jiff::civil::{Date, Weekday};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeadlineError {
    #[error("type a deadline: «до конца дня», «завтра 12:00», «пт», «+3д», «25.03», \"tomorrow 18:00\"")]
    Empty,
    #[error("cannot read {0:?} as a deadline")]
    Unknown(String),
    #[error("{0} is already in the past")]
    Past(String),
    #[error("no such date: {0}")]
    BadDate(String),
}

/// Resolves `input` relative to `now` on `cal`; the result is always in the future.
pub fn parse(input: &str, now: i64, cal: &Calendar) -> Result<i64, DeadlineError> {
    let text = input.trim().to_lowercase().replace('ё', "е");
    if text.is_empty() {
        return Err(DeadlineError::Empty);
    }
    let unknown = || DeadlineError::Unknown(input.trim().to_string());
    let mut words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('.').to_string())
        .filter(|w| !FILLER.contains(&w.as_str()))
        .collect();
    // A time anywhere: 15:00, 15.30 after a date, 9ч, «в 15».
    let mut time: Option<u32> = None;
    words.retain(|w| match parse_time(w) {
        Some(t) if time.is_none() => {
            time = Some(t);
            false
        }
        _ => true,
    });
    let today = cal.zoned(now).date();
    let at = |date: Date| -> i64 {
        match time {
            Some(t) => cal.at(date, t),
            None => cal.end_of(date),
        }
    };
    let future = |ts: i64| -> Result<i64, DeadlineError> {
        if ts > now { Ok(ts) } else { Err(DeadlineError::Past(cal.zoned(ts).strftime("%d.%m.%Y %H:%M").to_string())) }
    };
    let joined = words.join(" ");
    let w: Vec<&str> = words.iter().map(String::as_str).collect();

    // Only a time: today at that time, or tomorrow when it has passed.
    if w.is_empty() {
        let t = time.ok_or_else(unknown)?;
        let ts = cal.at(today, t);
        return Ok(if ts > now { ts } else { cal.at(today.tomorrow().map_err(|_| unknown())?, t) });
    }

    match joined.as_str() {
        "сегодня"
        | "today"
        | "конец дня"
        | "конца дня"
        | "концу дня"
        | "eod"
        | "end of day"
        | "end of the day"
        | "конец рабочего дня"
        | "конца рабочего дня"
        | "концу рабочего дня" => {
            return match time {
                Some(t) => future(cal.at(today, t)),
                None => Ok(cal.end_of_working_day(now)),
            };
        }
        "завтра" | "tomorrow" => return future(at(today.tomorrow().map_err(|_| unknown())?)),
        "послезавтра" | "day after tomorrow" => {
            return future(at(today.checked_add(jiff::Span::new().days(2)).map_err(|_| unknown())?));
        }
        "конец недели" | "конца недели" | "концу недели" | "end of week" | "end of the week" | "eow" =>
        {
            let mut d = last_working_day_of_week(cal, today);
            if at(d) <= now {
                d = last_working_day_of_week(cal, today.checked_add(jiff::Span::new().days(7)).map_err(|_| unknown())?);
            }
            return future(at(d));
        }
        "конец месяца" | "конца месяца" | "концу месяца" | "end of month" | "end of the month" | "eom" =>
        {
            let mut d = last_working_day_of_month(cal, today);
            if at(d) <= now {
                let next = today.last_of_month().tomorrow().map_err(|_| unknown())?;
                d = last_working_day_of_month(cal, next);
            }
            return future(at(d));
        }
        _ => {}
    }

    // A weekday: the next such day (today, if its deadline is still ahead).
    if w.len() == 1
        && let Some(wd) = weekday(w[0])
    {
        let mut d = today;
        for _ in 0..8 {
            if d.weekday() == wd && at(d) > now {
                return Ok(at(d));
            }
            d = d.tomorrow().map_err(|_| unknown())?;
        }
    }

    // A date: 25.03, 25.03.2027, 2027-03-25, 25/03.
    if w.len() == 1
        && let Some(res) = explicit_date(w[0], today)
    {
        let (mut d, year_given) = res?;
        if !year_given && at(d) <= now {
            d = d.checked_add(jiff::Span::new().years(1)).map_err(|_| unknown())?;
        }
        return future(at(d));
    }

    // Relative: +3д, +2ч, +30м, +2рд, "через 3 рабочих дня", "in 2 hours".
    if let Some(rel) = relative(&w) {
        let (n, unit) = rel;
        return match unit {
            Unit::Minutes => Ok(now + n * 60),
            Unit::Hours => Ok(now + n * 3600),
            Unit::Days => future(at(today.checked_add(jiff::Span::new().days(n)).map_err(|_| unknown())?)),
            Unit::Weeks => future(at(today.checked_add(jiff::Span::new().weeks(n)).map_err(|_| unknown())?)),
            Unit::WorkingDays => {
                // «Через 3 рабочих дня»: counted from the next working day.
                let d = cal.add_working_days(cal.next_working_day(today), (n - 1).max(0) as u32);
                future(at(d))
            }
        };
    }
    Err(unknown())
}

const FILLER: &[&str] = &[
    "до",
    "к",
    "ко",
    "в",
    "во",
    "на",
    "by",
    "at",
    "on",
    "the",
    "до:",
    "срок",
    "deadline",
    "next",
    "следующий",
    "следующую",
    "следующего",
    "this",
    "эту",
    "этот",
    "этой",
    "this",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Minutes,
    Hours,
    Days,
    Weeks,
    WorkingDays,
}

fn parse_time(w: &str) -> Option<u32> {
    let w = w.trim_end_matches(['ч', 'h']);
    let (h, m) = match w.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None => return None,
    };
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "пн" | "понедельник" | "понедельника" | "понедельнику" | "mon" | "monday" => {
            Weekday::Monday
        }
        "вт" | "вторник" | "вторника" | "вторнику" | "tue" | "tues" | "tuesday" => {
            Weekday::Tuesday
        }
        "ср" | "среда" | "среду" | "среды" | "среде" | "wed" | "wednesday" => Weekday::Wednesday,
        "чт" | "четверг" | "четверга" | "четвергу" | "thu" | "thurs" | "thursday" => {
            Weekday::Thursday
        }
        "пт" | "пятница" | "пятницу" | "пятницы" | "пятнице" | "fri" | "friday" => {
            Weekday::Friday
        }
        "сб" | "суббота" | "субботу" | "субботы" | "субботе" | "sat" | "saturday" => {
            Weekday::Saturday
        }
        "вс" | "воскресенье" | "воскресенья" | "воскресенью" | "sun" | "sunday" => {
            Weekday::Sunday
        }
        _ => return None,
    })
}

/// `Some(Ok((date, year_given)))` for a date-looking word.
fn explicit_date(w: &str, today: Date) -> Option<Result<(Date, bool), DeadlineError>> {
    if let Ok(d) = w.parse::<Date>() {
        return Some(Ok((d, true)));
    }
    let parts: Vec<&str> = w.split(['.', '/']).collect();
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let day: i8 = parts[0].parse().ok()?;
    let month: i8 = parts[1].parse().ok()?;
    let (year, given) = match parts.get(2) {
        Some(y) if y.len() == 2 => (2000 + y.parse::<i16>().ok()?, true),
        Some(y) => (y.parse::<i16>().ok()?, true),
        None => (today.year(), false),
    };
    Some(Date::new(year, month, day).map(|d| (d, given)).map_err(|_| DeadlineError::BadDate(w.to_string())))
}

fn number(w: &str) -> Option<i64> {
    if let Ok(n) = w.parse::<i64>() {
        return (0..=1000).contains(&n).then_some(n);
    }
    Some(match w {
        "a" | "an" | "one" | "один" | "одну" | "одна" | "один." => 1,
        "two" | "два" | "две" => 2,
        "three" | "три" => 3,
        "four" | "четыре" => 4,
        "five" | "пять" => 5,
        "six" | "шесть" => 6,
        "seven" | "семь" => 7,
        "ten" | "десять" => 10,
        _ => return None,
    })
}

fn unit(w: &str) -> Option<Unit> {
    Some(match w {
        "м" | "мин" | "минут" | "минуты" | "минуту" | "m" | "min" | "mins" | "minute" | "minutes" => {
            Unit::Minutes
        }
        "ч" | "час" | "часа" | "часов" | "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hours,
        "д" | "дн" | "день" | "дня" | "дней" | "d" | "day" | "days" => Unit::Days,
        "нед" | "неделю" | "недели" | "недель" | "w" | "week" | "weeks" => Unit::Weeks,
        "рд" | "wd" | "bd" => Unit::WorkingDays,
        _ => return None,
    })
}

fn relative(w: &[&str]) -> Option<(i64, Unit)> {
    // «+3д», «+3 д», «+3рд»
    if let Some(first) = w.first().and_then(|f| f.strip_prefix('+')) {
        let digits: String = first.chars().take_while(|c| c.is_ascii_digit()).collect();
        let n: i64 = digits.parse().ok()?;
        let rest = &first[digits.len()..];
        let u = if rest.is_empty() { unit(w.get(1)?)? } else { unit(rest)? };
        return Some((n, u));
    }
    // «через …» / "in …"
    let (head, tail) = w.split_first()?;
    if *head != "через" && *head != "in" {
        return None;
    }
    match tail {
        ["полчаса"] | ["half", "an", "hour"] => Some((30, Unit::Minutes)),
        ["рабочий" | "working" | "business", "день" | "day"] => Some((1, Unit::WorkingDays)),
        [u] => Some((1, unit(u)?)),
        [n, u] => Some((number(n)?, unit(u)?)),
        [n, "рабочих" | "рабочий" | "рабочие" | "working" | "business", "дня" | "дней" | "день" | "days" | "day"] => {
            Some((number(n)?, Unit::WorkingDays))
        }
        _ => None,
    }
}

fn last_working_day_of_week(cal: &Calendar, date: Date) -> Date {
    let offset = date.weekday().to_monday_zero_offset() as i64;
    let sunday = date.checked_add(jiff::Span::new().days(6 - offset)).unwrap_or(date);
    let mut d = sunday;
    for _ in 0..7 {
        if cal.is_working_day(d) {
            return d;
        }
        d = d.yesterday().unwrap_or(d);
    }
    sunday
}

fn last_working_day_of_month(cal: &Calendar, date: Date) -> Date {
    let mut d = date.last_of_month();
    for _ in 0..31 {
        if cal.is_working_day(d) {
            return d;
        }
        d = d.yesterday().unwrap_or(d);
    }
    date.last_of_month()
}

/// A deadline a message states in words, «Срок — ср 02.12 12:00.» or «срок до
/// пятницы», as typed by hand or returned to the composer by undo: the promise
/// it makes, so that nothing is promised silently.
pub fn stated_in(text: &str, now: i64, cal: &Calendar) -> Option<i64> {
    for line in text.lines() {
        let lower = line.to_lowercase().replace('ё', "е");
        let Some(at) = lower.find("срок") else { continue };
        let rest = lower[at + "срок".len()..].trim_start_matches([' ', '—', '–', '-', ':', '\u{a0}']);
        let rest = rest.strip_prefix("до ").unwrap_or(rest);
        // The phrase ends at a sentence end: a dot not inside a date (02.12).
        let mut end = rest.len();
        let bytes = rest.as_bytes();
        for (i, c) in rest.char_indices() {
            if matches!(c, '!' | '?' | ';') {
                end = i;
                break;
            }
            if c == '.' && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                end = i;
                break;
            }
        }
        let phrase = rest[..end].trim();
        if phrase.is_empty() {
            continue;
        }
        if let Ok(ts) = parse(phrase, now, cal) {
            return Some(ts);
        }
        // «ср 02.12 12:00», as pult writes it: the weekday is redundant.
        if let Some((_, tail)) = phrase.split_once(' ')
            && let Ok(ts) = parse(tail, now, cal)
        {
            return Some(ts);
        }
    }
    None
}

/// A deadline on a day off (a weekend, a holiday of the calendar): the same
/// time on the next working day, to offer before it is told to a client.
pub fn moved_off_day_off(ts: i64, cal: &Calendar) -> Option<i64> {
    let z = cal.zoned(ts);
    if cal.is_working_day(z.date()) {
        return None;
    }
    let minutes = u32::from(z.hour() as u8) * 60 + u32::from(z.minute() as u8);
    Some(cal.at(cal.next_working_day(z.date()), minutes))
}

/// How a deadline is written to clients: «пт 21.11 18:00».
pub fn format_for_client(ts: i64, cal: &Calendar) -> String {
    const DAYS: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
    let z = cal.zoned(ts);
    format!("{} {}", DAYS[z.weekday().to_monday_zero_offset() as usize], z.strftime("%d.%m %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn cal() -> Calendar {
        let mut c = Calendar::standard(TimeZone::get("Europe/Moscow").expect("tz"));
        // 4 November 2026 (Wednesday) is a holiday; Saturday 28 Nov is a moved working day.
        c.load_holidays("2026-11-04\n2026-12-31\n2027-01-01\n2026-11-28 work\n").expect("holidays");
        c
    }

    fn ts(c: &Calendar, s: &str) -> i64 {
        let dt: jiff::civil::DateTime = s.parse().expect(s);
        dt.to_zoned(c.tz.clone()).expect("zoned").timestamp().as_second()
    }

    fn show(c: &Calendar, t: i64) -> String {
        c.zoned(t).strftime("%Y-%m-%d %H:%M %a").to_string()
    }

    #[test]
    fn a_deadline_on_a_day_off_is_offered_the_next_working_day() {
        let c = cal();
        let friday = ts(&c, "2026-11-20T10:00");
        let saturday = parse("завтра 12:00", friday, &c).expect("завтра");
        assert_eq!(show(&c, saturday), "2026-11-21 12:00 Sat");
        let moved = moved_off_day_off(saturday, &c).expect("a day off");
        assert_eq!(show(&c, moved), "2026-11-23 12:00 Mon");
        // A holiday on a weekday, and a Saturday the calendar makes a working day.
        assert_eq!(
            show(&c, moved_off_day_off(ts(&c, "2026-11-04T15:00"), &c).expect("holiday")),
            "2026-11-05 15:00 Thu"
        );
        assert_eq!(moved_off_day_off(ts(&c, "2026-11-28T11:00"), &c), None);
        assert_eq!(moved_off_day_off(friday, &c), None);
    }

    /// (now, phrase, expected local time)
    const TABLE: &[(&str, &str, &str)] = &[
        // Friday 20 November 2026, 13:00.
        ("2026-11-20T13:00", "сегодня", "2026-11-20 18:00 Fri"),
        ("2026-11-20T13:00", "до конца дня", "2026-11-20 18:00 Fri"),
        ("2026-11-20T13:00", "today", "2026-11-20 18:00 Fri"),
        ("2026-11-20T13:00", "EOD", "2026-11-20 18:00 Fri"),
        ("2026-11-20T13:00", "сегодня 16:30", "2026-11-20 16:30 Fri"),
        ("2026-11-20T13:00", "16:30", "2026-11-20 16:30 Fri"),
        ("2026-11-20T13:00", "10:00", "2026-11-21 10:00 Sat"),
        ("2026-11-20T13:00", "завтра", "2026-11-21 18:00 Sat"),
        ("2026-11-20T13:00", "завтра 12:00", "2026-11-21 12:00 Sat"),
        ("2026-11-20T13:00", "tomorrow 18:00", "2026-11-21 18:00 Sat"),
        ("2026-11-20T13:00", "послезавтра", "2026-11-22 18:00 Sun"),
        ("2026-11-20T13:00", "пт", "2026-11-20 18:00 Fri"),
        ("2026-11-20T13:00", "fri", "2026-11-20 18:00 Fri"),
        ("2026-11-20T13:00", "в понедельник", "2026-11-23 18:00 Mon"),
        ("2026-11-20T13:00", "до среды", "2026-11-25 18:00 Wed"),
        ("2026-11-20T13:00", "monday 10:00", "2026-11-23 10:00 Mon"),
        ("2026-11-20T13:00", "чт 15:00", "2026-11-26 15:00 Thu"),
        ("2026-11-20T13:00", "+3д", "2026-11-23 18:00 Mon"),
        ("2026-11-20T13:00", "+3d", "2026-11-23 18:00 Mon"),
        ("2026-11-20T13:00", "+2ч", "2026-11-20 15:00 Fri"),
        ("2026-11-20T13:00", "+30м", "2026-11-20 13:30 Fri"),
        ("2026-11-20T13:00", "через 2 часа", "2026-11-20 15:00 Fri"),
        ("2026-11-20T13:00", "через два часа", "2026-11-20 15:00 Fri"),
        ("2026-11-20T13:00", "через час", "2026-11-20 14:00 Fri"),
        ("2026-11-20T13:00", "через полчаса", "2026-11-20 13:30 Fri"),
        ("2026-11-20T13:00", "in 2 hours", "2026-11-20 15:00 Fri"),
        ("2026-11-20T13:00", "in an hour", "2026-11-20 14:00 Fri"),
        // Working days skip the weekend and count the moved Saturday 28 Nov.
        ("2026-11-20T13:00", "через 3 рабочих дня", "2026-11-25 18:00 Wed"),
        ("2026-11-20T13:00", "in 3 working days", "2026-11-25 18:00 Wed"),
        ("2026-11-20T13:00", "+2рд", "2026-11-24 18:00 Tue"),
        ("2026-11-26T10:00", "через 2 рабочих дня", "2026-11-28 18:00 Sat"),
        ("2026-11-20T13:00", "через неделю", "2026-11-27 18:00 Fri"),
        ("2026-11-20T13:00", "через рабочий день", "2026-11-23 18:00 Mon"),
        ("2026-11-20T13:00", "через 3 дня", "2026-11-23 18:00 Mon"),
        ("2026-11-20T13:00", "конец недели", "2026-11-20 18:00 Fri"),
        ("2026-11-20T19:00", "end of week", "2026-11-28 18:00 Sat"),
        ("2026-11-20T13:00", "конец месяца", "2026-11-30 18:00 Mon"),
        ("2026-11-30T19:00", "end of month", "2026-12-30 18:00 Wed"),
        ("2026-11-20T13:00", "25.12", "2026-12-25 18:00 Fri"),
        ("2026-11-20T13:00", "25.12 15:00", "2026-12-25 15:00 Fri"),
        ("2026-11-20T13:00", "25.03", "2027-03-25 18:00 Thu"),
        ("2026-11-20T13:00", "25.03.2027 10:30", "2027-03-25 10:30 Thu"),
        ("2026-11-20T13:00", "2027-01-15", "2027-01-15 18:00 Fri"),
        ("2026-11-20T13:00", "до 01.12", "2026-12-01 18:00 Tue"),
        // After hours and on weekends «до конца дня» means the next working day's end.
        ("2026-11-20T17:55", "до конца дня", "2026-11-20 18:00 Fri"),
        ("2026-11-20T18:30", "до конца дня", "2026-11-23 18:00 Mon"),
        ("2026-11-21T11:00", "сегодня", "2026-11-23 18:00 Mon"),
        ("2026-11-03T19:00", "до конца дня", "2026-11-05 18:00 Thu"),
        ("2026-12-30T20:00", "eod", "2027-01-04 18:00 Mon"),
        ("2026-11-27T19:00", "сегодня", "2026-11-28 18:00 Sat"),
        ("2026-11-20T13:00", "к пятнице", "2026-11-20 18:00 Fri"),
        ("2026-11-20T19:00", "пятница", "2026-11-27 18:00 Fri"),
    ];

    #[test]
    fn phrase_table() {
        let c = cal();
        assert!(TABLE.len() >= 40);
        let mut failures = Vec::new();
        for (now, phrase, want) in TABLE {
            let got = parse(phrase, ts(&c, now), &c).map(|t| show(&c, t));
            if got.as_deref() != Ok(*want) {
                failures.push(format!("{now} {phrase:?}: want {want}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn a_deadline_stated_in_a_message_is_found() {
        let c = cal();
        let now = ts(&c, "2026-11-20T13:00");
        let friday = ts(&c, "2026-11-27T18:00");
        let found = |t: &str| stated_in(t, now, &c).map(|x| show(&c, x));
        let written = format!("Принято в работу. Срок — {}.", format_for_client(friday, &c));
        assert_eq!(stated_in(&written, now, &c), Some(friday), "{written}");
        assert_eq!(
            found("Здравствуйте!\n\nПринято. Срок: 25.11 15:00\nС уважением"),
            Some("2026-11-25 15:00 Wed".into())
        );
        assert_eq!(found("Принято, срок до 24.11!"), Some("2026-11-24 18:00 Tue".into()));
        assert_eq!(found("Спасибо, документы получили."), None);
        assert_eq!(found("Срок сдачи отчёта ещё не определён."), None, "no deadline phrase, no promise");
    }

    #[test]
    fn errors_are_clear() {
        let c = cal();
        let now = ts(&c, "2026-11-20T13:00");
        assert_eq!(parse("", now, &c), Err(DeadlineError::Empty));
        assert!(matches!(parse("когда-нибудь", now, &c), Err(DeadlineError::Unknown(_))));
        assert!(matches!(parse("сегодня 10:00", now, &c), Err(DeadlineError::Past(_))));
        assert!(matches!(parse("31.02", now, &c), Err(DeadlineError::BadDate(_))));
        assert!(matches!(parse("2025-01-01", now, &c), Err(DeadlineError::Past(_))));
    }

    #[test]
    fn client_format() {
        let c = cal();
        assert_eq!(format_for_client(ts(&c, "2026-11-20T18:00"), &c), "пт 20.11 18:00");
    }
}
