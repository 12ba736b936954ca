//! Time as the rest of pult sees it: real, or fixed for tests and benchmarks.

use jiff::{Timestamp, Zoned, tz::TimeZone};

/// The system's zone files: read directly, because finding a name through
/// jiff's database lists every file under it first (a tenth of a command's
/// process time). With `TZDIR` set, jiff reads that directory as it would.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The zone called `name` (`Europe/Moscow`), if there is one.
pub fn named_zone(name: &str) -> Option<TimeZone> {
    // A plain IANA name, never a path out of the zone files; `right/` and
    // `posix/` are the variants jiff leaves out (leap seconds).
    let plain = std::env::var_os("TZDIR").is_none()
        && !name.is_empty()
        && !name.starts_with("right/")
        && !name.starts_with("posix/")
        && !name.split('/').any(|part| part.is_empty() || part.starts_with('.'))
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "/_-+".contains(c));
    plain
        .then(|| std::fs::read(format!("{ZONEINFO}/{name}")).ok())
        .flatten()
        .and_then(|data| TimeZone::tzif(name, &data).ok())
        .or_else(|| TimeZone::get(name).ok())
}

/// The zone named in the config, else the machine's own (`TZ`,
/// `/etc/localtime`). A name that is not a zone is taken for none.
pub fn local_zone(name: Option<&str>) -> TimeZone {
    name.and_then(named_zone).unwrap_or_else(system_zone)
}

fn system_zone() -> TimeZone {
    let localtime = std::path::Path::new("/etc/localtime");
    // The zone's name is where the link points; without one, jiff's own way.
    let name = std::fs::read_link(localtime)
        .ok()
        .and_then(|target| target.to_str().and_then(|t| t.split_once("zoneinfo/")).map(|(_, n)| n.to_string()));
    match name {
        Some(name) if std::env::var_os("TZ").is_none() && std::env::var_os("TZDIR").is_none() => {
            std::fs::read(localtime).ok().and_then(|data| TimeZone::tzif(&name, &data).ok())
        }
        _ => None,
    }
    .unwrap_or_else(TimeZone::system)
}

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

    #[test]
    fn a_named_zone_is_read_from_its_file_and_a_path_is_no_name() {
        let at = Timestamp::from_second(1_795_168_800).expect("ts");
        let moscow = local_zone(Some("Europe/Moscow"));
        assert_eq!(moscow.iana_name(), Some("Europe/Moscow"));
        assert_eq!(moscow.to_offset(at).seconds(), 3 * 3600);
        // Not a zone, or a path out of the zone files: the machine's own zone.
        for name in ["../../etc/passwd", "/etc/localtime", "Europe//Moscow", "Нет/Такой", ""] {
            let z = local_zone(Some(name));
            assert_eq!(z.to_offset(at), system_zone().to_offset(at), "{name}");
        }
    }
}
