//! Time as the rest of pult sees it: real, or fixed for tests and benchmarks.

use jiff::{Timestamp, Zoned, tz::TimeZone};

#[derive(Clone, Debug)]
pub struct Clock {
    fixed: Option<i64>,
    tz: TimeZone,
    /// Weekday names in Russian (пн вт ср …) instead of English.
    russian: bool,
}

const WEEKDAYS_RU: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];

impl Clock {
    pub fn system(tz: TimeZone) -> Self {
        Clock { fixed: None, tz, russian: false }
    }

    /// A clock that always answers `unix_seconds`, for tests.
    pub fn fixed(unix_seconds: i64, tz: TimeZone) -> Self {
        Clock { fixed: Some(unix_seconds), tz, russian: false }
    }

    pub fn with_russian_names(mut self, russian: bool) -> Self {
        self.russian = russian;
        self
    }

    /// "пн" or "Mon" for a local day.
    pub fn weekday(&self, unix_seconds: i64) -> String {
        let z = self.zoned(unix_seconds);
        if self.russian {
            WEEKDAYS_RU[z.weekday().to_monday_zero_offset() as usize].to_string()
        } else {
            z.strftime("%a").to_string()
        }
    }

    pub fn now(&self) -> i64 {
        self.fixed.unwrap_or_else(|| Timestamp::now().as_second())
    }

    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    pub fn zoned(&self, unix_seconds: i64) -> Zoned {
        Timestamp::from_second(unix_seconds).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(self.tz.clone())
    }

    /// Unix time of the end of the local day containing `now` (23:59:59).
    pub fn end_of_today(&self) -> i64 {
        let z = self.zoned(self.now());
        z.start_of_day()
            .ok()
            .and_then(|d| d.tomorrow().ok())
            .map(|d| d.timestamp().as_second() - 1)
            .unwrap_or(self.now())
    }

    /// Short human time for lists: "14:05" today, "пн 14:05"-style this week, else a date.
    pub fn short(&self, unix_seconds: i64) -> String {
        let z = self.zoned(unix_seconds);
        let now = self.zoned(self.now());
        if z.date() == now.date() {
            z.strftime("%H:%M").to_string()
        } else if (now.timestamp().as_second() - unix_seconds).abs() < 6 * 86400 {
            format!("{} {}", self.weekday(unix_seconds), z.strftime("%H:%M"))
        } else if z.year() == now.year() {
            z.strftime("%d.%m").to_string()
        } else {
            z.strftime("%d.%m.%Y").to_string()
        }
    }

    pub fn full(&self, unix_seconds: i64) -> String {
        self.zoned(unix_seconds).strftime("%d.%m.%Y %H:%M").to_string()
    }

    pub fn rfc3339(&self, unix_seconds: i64) -> String {
        self.zoned(unix_seconds).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_today_is_local() {
        // 2026-11-20 10:00 UTC = 13:00 in Moscow; the day ends 23:59:59 MSK.
        let c = Clock::fixed(1_795_168_800, TimeZone::get("Europe/Moscow").expect("tz"));
        let end = c.zoned(c.end_of_today());
        assert_eq!(end.strftime("%H:%M:%S").to_string(), "23:59:59");
        assert_eq!(end.date(), c.zoned(c.now()).date());
    }
}
