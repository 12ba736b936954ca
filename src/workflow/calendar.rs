//! Working hours and the production calendar: which moments are working time,
//! when the working day ends, and arithmetic in working days and working minutes.

use crate::config::{Config, parse_hhmm};
use jiff::civil::Date;
use jiff::{Timestamp, Zoned, tz::TimeZone};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: TimeZone,
    /// Working interval (minutes after midnight) per weekday, Monday first.
    week: [Option<(u32, u32)>; 7],
    /// The usual interval, used for a weekend day made a working day.
    usual: (u32, u32),
    holidays: HashSet<Date>,
    /// Moved working days (a Saturday that the decree made working), with their hours.
    extra: HashMap<Date, (u32, u32)>,
    /// Pre-holiday working days, one hour shorter (Labour Code art. 95).
    short: HashSet<Date>,
}

/// The production calendars shipped with pult, by their `[hours] calendar` name.
const SHIPPED: &[(&str, &str)] = &[("ru", include_str!("calendar_ru.txt"))];

/// The names `[hours] calendar` accepts.
pub fn shipped_calendars() -> Vec<&'static str> {
    SHIPPED.iter().map(|(name, _)| *name).collect()
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CalendarError {
    #[error("holidays file line {line}: {message}")]
    Holidays { line: usize, message: String },
    #[error("{0}")]
    Hours(String),
}

impl Calendar {
    /// Mon–Fri 09:00–18:00 in `tz`, no holidays.
    pub fn standard(tz: TimeZone) -> Calendar {
        let mut week = [None; 7];
        for d in week.iter_mut().take(5) {
            *d = Some((9 * 60, 18 * 60));
        }
        Calendar {
            tz,
            week,
            usual: (9 * 60, 18 * 60),
            holidays: HashSet::new(),
            extra: HashMap::new(),
            short: HashSet::new(),
        }
    }

    /// Adds a shipped production calendar (`"ru"`); a holidays file loaded
    /// after it overrides its dates.
    pub fn with_shipped(mut self, name: &str) -> Result<Calendar, CalendarError> {
        let (_, text) = SHIPPED.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            CalendarError::Hours(format!("no calendar {name:?}; known: {}", shipped_calendars().join(", ")))
        })?;
        self.load_holidays(text)?;
        Ok(self)
    }

    pub fn from_config(cfg: &Config) -> Result<Calendar, CalendarError> {
        let (days, start, end) = cfg.hours_parsed().map_err(CalendarError::Hours)?;
        let mut week = [None; 7];
        for d in days {
            week[d as usize] = Some((start, end));
        }
        for (i, spec) in cfg.hours.weekdays().into_iter().enumerate() {
            if let Some(spec) = spec {
                week[i] = parse_interval(spec).map_err(CalendarError::Hours)?;
            }
        }
        let mut cal = Calendar {
            tz: cfg.timezone(),
            week,
            usual: (start, end),
            holidays: HashSet::new(),
            extra: HashMap::new(),
            short: HashSet::new(),
        };
        if let Some(name) = &cfg.hours.calendar {
            cal = cal.with_shipped(name)?;
        }
        if let Some(path) = &cfg.hours.holidays {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CalendarError::Hours(format!("holidays file {}: {e}", path.display())))?;
            cal.load_holidays(&text)?;
        }
        Ok(cal)
    }

    /// Lines: `2026-01-01` or `01.01.2026` (a day off), optionally followed by
    /// `off`, `work` (a moved working day) with optional `HH:MM-HH:MM`, or
    /// `short` (a pre-holiday day, one hour shorter). `#` comments. A line
    /// replaces whatever an earlier line (or a shipped calendar) said of its date.
    pub fn load_holidays(&mut self, text: &str) -> Result<(), CalendarError> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| CalendarError::Holidays { line: i + 1, message };
            let mut parts = line.split_whitespace();
            let date = parts.next().and_then(parse_date).ok_or_else(|| err(format!("no date in {line:?}")))?;
            self.holidays.remove(&date);
            self.extra.remove(&date);
            self.short.remove(&date);
            match parts.next() {
                None | Some("off") | Some("holiday") => {
                    self.holidays.insert(date);
                }
                Some("work") => {
                    let hours = match parts.next() {
                        Some(spec) => parse_interval(spec).map_err(err)?.unwrap_or(self.usual),
                        None => self.usual,
                    };
                    self.extra.insert(date, hours);
                }
                Some("short") => {
                    self.short.insert(date);
                }
                Some(other) => return Err(err(format!("expected `off`, `work` or `short`, found {other:?}"))),
            }
        }
        Ok(())
    }

    pub fn hours_on(&self, date: Date) -> Option<(u32, u32)> {
        let hours = match self.extra.get(&date) {
            Some(h) => *h,
            None if self.holidays.contains(&date) => return None,
            None => self.week[date.weekday().to_monday_zero_offset() as usize]?,
        };
        match hours {
            // A day too short to lose an hour keeps what it has.
            (start, end) if self.short.contains(&date) && end >= start + 2 * 60 => Some((start, end - 60)),
            h => Some(h),
        }
    }

    /// Whether `date` is a pre-holiday day, one hour shorter.
    pub fn is_shortened(&self, date: Date) -> bool {
        self.short.contains(&date) && self.is_working_day(date)
    }

    /// The same calendar in a client's own hours: «Asia/Yekaterinburg
    /// 09:00-18:00», either part alone (the card's `hours`). Holidays and
    /// moved days stay the team's (the production calendar is the country's).
    pub fn for_client(&self, spec: &str) -> Result<Calendar, String> {
        let (tz, hours) = parse_client_hours(spec)?;
        let mut c = self.clone();
        if let Some(tz) = tz {
            c.tz = tz;
        }
        if let Some(h) = hours {
            for d in c.week.iter_mut().filter(|d| d.is_some()) {
                *d = Some(h);
            }
            c.usual = h;
        }
        Ok(c)
    }

    /// The usual working day's length («1d» of a response-time policy).
    pub fn usual_day_seconds(&self) -> i64 {
        i64::from(self.usual.1 - self.usual.0) * 60
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        self.hours_on(date).is_some()
    }

    pub fn zoned(&self, ts: i64) -> Zoned {
        Timestamp::from_second(ts).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(self.tz.clone())
    }

    /// Unix time of `minutes` after local midnight on `date`.
    pub fn at(&self, date: Date, minutes: u32) -> i64 {
        let (h, m) = ((minutes / 60).min(23) as i8, (minutes % 60) as i8);
        let extra = if minutes >= 24 * 60 { 60 } else { 0 };
        date.at(h, m, 0, 0).to_zoned(self.tz.clone()).map(|z| z.timestamp().as_second() + extra).unwrap_or(0)
    }

    /// The end of working hours on `date`, or the usual end time if it is a day off.
    pub fn end_of(&self, date: Date) -> i64 {
        self.at(date, self.hours_on(date).unwrap_or(self.usual).1)
    }

    pub fn next_working_day(&self, date: Date) -> Date {
        let mut d = date;
        for _ in 0..400 {
            d = d.tomorrow().unwrap_or(d);
            if self.is_working_day(d) {
                return d;
            }
        }
        d
    }

    pub fn working_day_on_or_after(&self, date: Date) -> Date {
        if self.is_working_day(date) { date } else { self.next_working_day(date) }
    }

    /// «До конца дня»: the end of today's working hours, or of the next working day
    /// when today's are over or today is a day off.
    pub fn end_of_working_day(&self, now: i64) -> i64 {
        let today = self.zoned(now).date();
        match self.hours_on(today) {
            Some((_, end)) if now < self.at(today, end) => self.at(today, end),
            _ => self.end_of(self.next_working_day(today)),
        }
    }

    /// The `n`-th working day after `date` (n = 0 is the first working day on or after it).
    pub fn add_working_days(&self, date: Date, n: u32) -> Date {
        let mut d = self.working_day_on_or_after(date);
        for _ in 0..n {
            d = self.next_working_day(d);
        }
        d
    }

    pub fn is_working_time(&self, ts: i64) -> bool {
        let z = self.zoned(ts);
        match self.hours_on(z.date()) {
            Some((start, end)) => ts >= self.at(z.date(), start) && ts < self.at(z.date(), end),
            None => false,
        }
    }

    /// When the team is back: `ts` itself in working time, else the next start.
    pub fn next_work_start(&self, ts: i64) -> i64 {
        if self.is_working_time(ts) {
            return ts;
        }
        let date = self.zoned(ts).date();
        if let Some((start, _)) = self.hours_on(date)
            && ts < self.at(date, start)
        {
            return self.at(date, start);
        }
        let next = self.next_working_day(date);
        self.at(next, self.hours_on(next).unwrap_or(self.usual).0)
    }

    /// The start of the off-hours period containing `ts` (the end of the last
    /// working interval before it); `None` while it is working time.
    pub fn off_hours_since(&self, ts: i64) -> Option<i64> {
        if self.is_working_time(ts) {
            return None;
        }
        let mut date = self.zoned(ts).date();
        for _ in 0..400 {
            if let Some((_, end)) = self.hours_on(date) {
                let e = self.at(date, end);
                if e <= ts {
                    return Some(e);
                }
            }
            date = date.yesterday().ok()?;
        }
        None
    }

    /// Seconds of working time between `from` and `to` (0 when `to <= from`).
    pub fn working_seconds(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut date = self.zoned(from).date();
        let last = self.zoned(to).date();
        // Bounded: a waiting time longer than two years is shown as such anyway.
        for _ in 0..800 {
            if let Some((start, end)) = self.hours_on(date) {
                let (s, e) = (self.at(date, start).max(from), self.at(date, end).min(to));
                if e > s {
                    total += e - s;
                }
            }
            if date >= last {
                break;
            }
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        total
    }

    /// The moment `secs` of working time after `from` (e.g. two working hours from now).
    pub fn after_working_seconds(&self, from: i64, secs: i64) -> i64 {
        let mut left = secs;
        let mut date = self.zoned(from).date();
        for _ in 0..800 {
            if let Some((start, end)) = self.hours_on(date) {
                let s = self.at(date, start).max(from);
                let e = self.at(date, end);
                if e > s {
                    if e - s >= left {
                        return s + left;
                    }
                    left -= e - s;
                }
            }
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        from + secs
    }

    /// The times views are computed against at `now`.
    pub fn moment(&self, now: i64) -> crate::model::Moment {
        let today = self.zoned(now).date();
        let end_of_today = today.tomorrow().map(|d| self.at(d, 0) - 1).unwrap_or(now);
        crate::model::Moment { now, end_of_today, risk_until: self.after_working_seconds(now, 2 * 3600) }
    }

    /// "пн–пт 09:00–18:00"-style text for templates.
    pub fn describe(&self, russian: bool) -> String {
        let names: [&str; 7] = if russian {
            ["пн", "вт", "ср", "чт", "пт", "сб", "вс"]
        } else {
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        };
        let days: Vec<usize> = (0..7).filter(|&i| self.week[i].is_some()).collect();
        let fmt = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        let (s, e) = self.usual;
        let range = match (days.first(), days.last()) {
            (Some(&a), Some(&b)) if b - a + 1 == days.len() && a != b => format!("{}–{}", names[a], names[b]),
            _ => days.iter().map(|&i| names[i]).collect::<Vec<_>>().join(", "),
        };
        if russian {
            format!("{range} с {} до {}", fmt(s), fmt(e))
        } else {
            format!("{range} {}–{}", fmt(s), fmt(e))
        }
    }
}

/// `09:00-18:00` (or `off`).
pub(crate) fn parse_interval(spec: &str) -> Result<Option<(u32, u32)>, String> {
    if spec.trim() == "off" {
        return Ok(None);
    }
    let (a, b) = spec.split_once(['-', '–']).ok_or_else(|| format!("hours {spec:?} are not HH:MM-HH:MM"))?;
    let (a, b) = (parse_hhmm(a.trim())?, parse_hhmm(b.trim())?);
    if b <= a {
        return Err(format!("hours {spec:?} end before they start"));
    }
    Ok(Some((a, b)))
}

/// A client's time zone and working interval (minutes after midnight), each optional.
pub type ClientHours = (Option<TimeZone>, Option<(u32, u32)>);

/// A client's hours on their card: a time zone (`Asia/Yekaterinburg`), hours
/// (`09:00-18:00`), or both, in any order.
pub fn parse_client_hours(spec: &str) -> Result<ClientHours, String> {
    let (mut tz, mut hours) = (None, None);
    for part in spec.split_whitespace() {
        if part.contains(':') && part.contains(['-', '–']) {
            hours = parse_interval(part)?;
        } else {
            tz = Some(
                crate::clock::named_zone(part)
                    .ok_or_else(|| format!("{part:?} is not a time zone like Asia/Yekaterinburg"))?,
            );
        }
    }
    if tz.is_none() && hours.is_none() {
        return Err("give a time zone (Asia/Yekaterinburg), hours (09:00-18:00) or both".into());
    }
    Ok((tz, hours))
}

/// `2026-03-25`, `25.03.2026`.
pub fn parse_date(s: &str) -> Option<Date> {
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    let mut it = s.split('.');
    let (d, m, y) = (it.next()?.parse::<i8>().ok()?, it.next()?.parse::<i8>().ok()?, it.next()?.parse::<i16>().ok()?);
    Date::new(y, m, d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calendar {
        let mut c = Calendar::standard(TimeZone::get("Europe/Moscow").expect("tz"));
        c.load_holidays("2026-12-31 off\n01.01.2027\n2026-12-26 work 10:00-15:00 # a moved Saturday\n").expect("file");
        c
    }

    fn t(c: &Calendar, s: &str) -> i64 {
        let dt: jiff::civil::DateTime = s.parse().expect("datetime");
        dt.to_zoned(c.tz.clone()).expect("zoned").timestamp().as_second()
    }

    #[test]
    fn end_of_day_rolls_over_after_hours_weekends_and_holidays() {
        let c = cal();
        // Friday 17:55 -> 18:00 today; Friday 18:30 -> Monday 18:00.
        assert_eq!(c.end_of_working_day(t(&c, "2026-11-20T17:55")), t(&c, "2026-11-20T18:00"));
        assert_eq!(c.end_of_working_day(t(&c, "2026-11-20T18:30")), t(&c, "2026-11-23T18:00"));
        // Wednesday 30 Dec evening: 31 Dec is off, 1 Jan off -> Friday 2 Jan.
        assert_eq!(c.end_of_working_day(t(&c, "2026-12-30T19:00")), t(&c, "2027-01-04T18:00"));
        // A moved working Saturday has its own hours.
        assert_eq!(c.end_of_working_day(t(&c, "2026-12-26T11:00")), t(&c, "2026-12-26T15:00"));
    }

    #[test]
    fn working_seconds_skip_nights_and_weekends() {
        let c = cal();
        // Friday 17:00 -> Monday 10:00 is two working hours.
        assert_eq!(c.working_seconds(t(&c, "2026-11-20T17:00"), t(&c, "2026-11-23T10:00")), 2 * 3600);
        assert_eq!(c.working_seconds(t(&c, "2026-11-21T10:00"), t(&c, "2026-11-22T10:00")), 0);
    }

    #[test]
    fn off_hours_periods() {
        let c = cal();
        assert_eq!(c.off_hours_since(t(&c, "2026-11-20T12:00")), None);
        assert_eq!(c.off_hours_since(t(&c, "2026-11-22T23:10")), Some(t(&c, "2026-11-20T18:00")));
        assert_eq!(c.next_work_start(t(&c, "2026-11-22T23:10")), t(&c, "2026-11-23T09:00"));
        assert_eq!(c.next_work_start(t(&c, "2026-11-23T07:00")), t(&c, "2026-11-23T09:00"));
        assert_eq!(c.describe(true), "пн–пт с 09:00 до 18:00");
        // Two working hours from Friday 17:00 end on Monday 10:00.
        assert_eq!(c.after_working_seconds(t(&c, "2026-11-20T17:00"), 7200), t(&c, "2026-11-23T10:00"));
    }

    #[test]
    fn bad_holiday_lines_are_reported_with_their_number() {
        let mut c = cal();
        let e = c.load_holidays("2026-01-01\nnot a date\n").unwrap_err();
        assert_eq!(e, CalendarError::Holidays { line: 2, message: "no date in \"not a date\"".into() });
    }

    fn ru(hours: (u32, u32)) -> Calendar {
        let mut c = Calendar::standard(TimeZone::get("Europe/Moscow").expect("tz"));
        for d in c.week.iter_mut().take(5) {
            *d = Some(hours);
        }
        c.usual = hours;
        c.with_shipped("ru").expect("shipped calendar")
    }

    fn d(s: &str) -> Date {
        parse_date(s).expect("date")
    }

    /// The figures the decree's calendar is published with: 247 working days
    /// and 1972 hours at 40 hours a week (8-hour days, four pre-holiday days
    /// one hour shorter).
    #[test]
    fn russian_2026_has_the_published_norm() {
        let c = ru((9 * 60, 17 * 60));
        let (mut days, mut minutes, mut short) = (0, 0, Vec::new());
        let mut date = d("2026-01-01");
        while date.year() == 2026 {
            if let Some((start, end)) = c.hours_on(date) {
                days += 1;
                minutes += end - start;
            }
            if c.is_shortened(date) {
                short.push(date.to_string());
            }
            date = date.tomorrow().expect("date");
        }
        assert_eq!((days, minutes / 60), (247, 1972));
        assert_eq!(short, ["2026-04-30", "2026-05-08", "2026-06-11", "2026-11-03"]);
    }

    #[test]
    fn russian_known_dates() {
        let c = ru((9 * 60, 18 * 60));
        // New year: 31.12.2025 is not ours to say; 1–11 January 2026 are off, 12th is Monday.
        for off in ["2026-01-01", "2026-01-08", "2026-01-09", "2026-01-11", "2026-02-23", "2026-03-09", "2026-05-11"] {
            assert!(!c.is_working_day(d(off)), "{off} is a day off");
        }
        assert!(c.is_working_day(d("2026-01-12")));
        assert!(!c.is_working_day(d("2026-12-31")), "31.12.2026 is off (moved from 4 January)");
        // A pre-holiday day ends an hour early: 03.11.2026 09:00–17:00.
        assert_eq!(c.hours_on(d("2026-11-03")), Some((9 * 60, 17 * 60)));
        assert_eq!(c.end_of_working_day(t(&c, "2026-11-03T12:00")), t(&c, "2026-11-03T17:00"));
        // 17:30 on that day is after hours: «до конца дня» is Thursday 5th (the 4th is a holiday).
        assert_eq!(c.end_of_working_day(t(&c, "2026-11-03T17:30")), t(&c, "2026-11-05T18:00"));
        // 2027 as the Labour Code fixes it: holidays on a weekend move to the next working day.
        for off in ["2027-01-08", "2027-02-23", "2027-03-08", "2027-05-03", "2027-05-10", "2027-06-14", "2027-11-04"] {
            assert!(!c.is_working_day(d(off)), "{off} is a day off");
        }
        assert!(c.is_working_day(d("2027-01-11")));
        assert_eq!(c.hours_on(d("2027-02-22")), Some((9 * 60, 17 * 60)));
        // The working time of the week of 1 May 2027 (Mon–Thu full, Fri 30.04 short): 4·9 + 8 h.
        assert_eq!(c.working_seconds(t(&c, "2027-04-26T00:00"), t(&c, "2027-05-04T00:00")), (4 * 9 + 8) * 3600);
    }

    #[test]
    fn a_holidays_file_overrides_the_shipped_calendar() {
        let mut c = ru((9 * 60, 18 * 60));
        c.load_holidays(
            "2026-12-31 work\n2026-11-03 work 10:00-16:00\n2026-12-30 short\n2027-11-13 work # the decree\n",
        )
        .expect("file");
        assert_eq!(c.hours_on(d("2026-12-31")), Some((9 * 60, 18 * 60)));
        assert_eq!(c.hours_on(d("2026-11-03")), Some((10 * 60, 16 * 60)));
        assert_eq!(c.hours_on(d("2026-12-30")), Some((9 * 60, 17 * 60)));
        assert!(c.is_working_day(d("2027-11-13")), "a Saturday made working");
        assert!(Calendar::standard(TimeZone::UTC).with_shipped("xx").is_err());
    }
}
