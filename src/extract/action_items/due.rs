//! Due dates: finds a time phrase in a unit ("by Friday", "d'ici vendredi", "bis Freitag",
//! "el lunes", "tomorrow at 3pm", "15 March") and resolves it against the conversation's
//! start in its time zone.
//!
//! Rules (all relative to the local date of the reference in the time zone):
//! - `today`/`tonight` = that date; `tomorrow` +1; `the day after tomorrow` +2;
//!   `in N days` +N; `in N weeks` +7N.
//! - A bare weekday ("Friday", "by Friday", "vendredi", "am Freitag", "el viernes") is its
//!   next occurrence strictly after the reference date (said on a Friday, "Friday" is a week
//!   later). `this Friday` is the next occurrence on or after the reference date.
//!   English `next Friday` is the Friday of the following week (Monday-based weeks); the
//!   French, German and Spanish "vendredi prochain", "nächsten Freitag", "el próximo viernes"
//!   are the next occurrence strictly after the reference date, as speakers of those
//!   languages mostly mean.
//! - `end of the week` = the coming Friday (the reference date if it is a Friday);
//!   `next week` = the Friday of the following week; `end of next week` likewise.
//! - `end of the month` = the month's last day; `next month` / `end of next month` = the
//!   last day of the following month (December rolls into January of the next year).
//! - An explicit day and month ("March 15", "15 mars", "15. März", "15 de marzo") without a
//!   year is the next such date on or after the reference date; with a year, that date.
//!   Invalid dates (30 February) are ignored. ISO dates (`2025-03-15`) are read as such.
//! - A time of day ("at 3pm", "15:30", "à 15h", "um 15 Uhr", "a las 3", "noon") gives a
//!   date-time; alone, it is on the reference date if later than the reference time, else
//!   the next day. Hours 1–7 without am/pm are read as afternoon (meetings are not set at
//!   3 am).
//!
//! The phrase kept is the text from the leading preposition ("by", "d'ici", "bis", "para")
//! to the end of the expression. With no reference, only dates with a year are resolved.

use super::tokens::Tokens;
use crate::insight::Due;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Weekday};

/// A time expression before resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// Reference date plus days.
    Days(i64),
    /// A weekday: `strict` = strictly after the reference date; `next_week` = in the
    /// following Monday-based week.
    Weekday {
        /// The weekday.
        day: Weekday,
        /// Strictly after the reference date.
        strict: bool,
        /// In the following week (English "next Friday").
        next_week: bool,
    },
    /// The Friday of this week (0) or of a later week (n).
    WeekEnd(i64),
    /// The last day of this month (0) or of a later month (n).
    MonthEnd(i64),
    /// Day and month, optional year.
    Date {
        /// Month 1–12.
        month: u32,
        /// Day 1–31.
        day: u32,
        /// Year, when said.
        year: Option<i32>,
    },
}

/// Resolves a spec to a date, given the local reference date.
pub fn resolve(spec: Spec, today: NaiveDate) -> Option<NaiveDate> {
    let wd = today.weekday().num_days_from_monday() as i64;
    match spec {
        Spec::Days(n) => today.checked_add_signed(Duration::days(n)),
        Spec::Weekday {
            day,
            strict,
            next_week,
        } => {
            let target = day.num_days_from_monday() as i64;
            let delta = if next_week {
                (7 - wd) + target
            } else {
                let d = (target - wd).rem_euclid(7);
                if d == 0 && strict {
                    7
                } else {
                    d
                }
            };
            today.checked_add_signed(Duration::days(delta))
        }
        Spec::WeekEnd(n) => {
            let to_friday = (4 - wd).rem_euclid(7);
            let base = today.checked_add_signed(Duration::days(to_friday))?;
            let base = if n > 0 && wd > 4 {
                base.checked_sub_signed(Duration::days(7))?
            } else {
                base
            };
            base.checked_add_signed(Duration::days(7 * n))
        }
        Spec::MonthEnd(n) => {
            let months = today.year() as i64 * 12 + today.month0() as i64 + n + 1;
            let first_next =
                NaiveDate::from_ymd_opt((months / 12) as i32, (months % 12) as u32 + 1, 1)?;
            first_next.pred_opt()
        }
        Spec::Date { month, day, year } => match year {
            Some(y) => NaiveDate::from_ymd_opt(y, month, day),
            None => {
                let this = NaiveDate::from_ymd_opt(today.year(), month, day)?;
                if this >= today {
                    Some(this)
                } else {
                    NaiveDate::from_ymd_opt(today.year() + 1, month, day)
                }
            }
        },
    }
}

/// The words due dates are read with, per language (each language's in
/// [`crate::extract::languages`]).
pub(crate) struct DueWords {
    pub(crate) today: &'static [&'static str],
    pub(crate) tomorrow: &'static [&'static str],
    /// Two-word "day after tomorrow" (first, second) or one word.
    pub(crate) after_tomorrow: &'static [&'static str],
    pub(crate) weekdays: [&'static [&'static str]; 7],
    pub(crate) months: [&'static [&'static str]; 12],
    pub(crate) next: &'static [&'static str],
    pub(crate) this: &'static [&'static str],
    pub(crate) week: &'static [&'static str],
    pub(crate) month: &'static [&'static str],
    pub(crate) end: &'static [&'static str],
    pub(crate) day_unit: &'static [&'static str],
    pub(crate) in_: &'static [&'static str],
    pub(crate) preps: &'static [&'static str],
    pub(crate) numbers: &'static [(&'static str, i64)],
    /// "next" follows the noun ("vendredi prochain", "semana que viene").
    pub(crate) next_after: bool,
    /// "next <weekday>" means the following week.
    pub(crate) next_is_following_week: bool,
    pub(crate) time_preps: &'static [&'static str],
    pub(crate) noon: &'static [&'static str],
}

type Lex = DueWords;

fn lex(lang: &str) -> &'static Lex {
    crate::extract::languages::get(lang).due
}

fn number(l: &Lex, w: &str) -> Option<i64> {
    if let Ok(n) = w.parse::<i64>() {
        return (1..=60).contains(&n).then_some(n);
    }
    l.numbers.iter().find(|(s, _)| *s == w).map(|(_, n)| *n)
}

fn weekday(l: &Lex, w: &str) -> Option<Weekday> {
    const DAYS: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];
    l.weekdays
        .iter()
        .position(|names| names.contains(&w))
        .map(|i| DAYS[i])
}

fn month(l: &Lex, w: &str) -> Option<u32> {
    l.months
        .iter()
        .position(|names| names.contains(&w))
        .map(|i| i as u32 + 1)
}

/// Day of month from "15", "15th", "1st", "3rd", "1er".
fn day_number(w: &str) -> Option<u32> {
    let digits: String = w.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &w[digits.len()..];
    if digits.is_empty()
        || digits.len() > 2
        || !matches!(rest, "" | "st" | "nd" | "rd" | "th" | "er" | "e" | "º")
    {
        return None;
    }
    let d: u32 = digits.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

/// A matched expression: spec, optional time, token range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    spec: Option<Spec>,
    time: Option<NaiveTime>,
    first: usize,
    last: usize,
}

/// Parses "3pm", "3", "15h30", "15h", "15:30" (as `15` `30` tokens separated by ':').
fn time_at(
    words: &[&str],
    text: &[char],
    toks: &Tokens,
    idx: &[usize],
    i: usize,
    l: &Lex,
) -> Option<(NaiveTime, usize)> {
    let w = words[i];
    if l.noon.contains(&w) {
        return Some((NaiveTime::from_hms_opt(12, 0, 0)?, i));
    }
    let digits: String = w.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || digits.len() > 2 {
        return None;
    }
    let mut hour: u32 = digits.parse().ok()?;
    let rest = &w[digits.len()..];
    let mut minute = 0u32;
    let mut last = i;
    let mut meridiem: Option<bool> = None; // Some(true) = pm
    let mut explicit = false;
    match rest {
        "pm" | "p" => {
            meridiem = Some(true);
            explicit = true;
        }
        "am" | "a" => {
            meridiem = Some(false);
            explicit = true;
        }
        "h" | "uhr" => explicit = true,
        "" => {}
        r if r.starts_with('h') => {
            minute = r[1..].parse().ok()?;
            explicit = true;
        }
        _ => return None,
    }
    // "15:30": the next token is two digits and the text between is ':'.
    if rest.is_empty() && i + 1 < words.len() {
        let a = toks.list[idx[i]].end as usize;
        let b = toks.list[idx[i + 1]].start as usize;
        let between: String = text
            .get(a..b)
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        if between == ":" && words[i + 1].len() == 2 {
            minute = words[i + 1].parse().ok()?;
            last = i + 1;
            explicit = true;
        }
    }
    if let Some(n) = words.get(last + 1) {
        match *n {
            "pm" | "p.m" | "o'clock" | "uhr" | "heures" | "heure" | "h" => {
                if *n == "pm" || *n == "p.m" {
                    meridiem = Some(true);
                }
                last += 1;
                explicit = true;
            }
            "am" | "a.m" => {
                meridiem = Some(false);
                last += 1;
                explicit = true;
            }
            _ => {}
        }
    }
    if !explicit {
        return None;
    }
    match meridiem {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        None if (1..=7).contains(&hour) => hour += 12,
        _ => {}
    }
    Some((NaiveTime::from_hms_opt(hour, minute, 0)?, last))
}

/// Finds the first date expression (and a time of day near it) in the unit's tokens.
fn scan(words: &[&str], text: &[char], toks: &Tokens, idx: &[usize], lang: &str) -> Option<Found> {
    let l = lex(lang);
    let n = words.len();
    let mut found: Option<Found> = None;
    let mut time: Option<(NaiveTime, usize, usize)> = None;
    let is = |i: usize, set: &[&str]| i < n && set.contains(&words[i]);
    let mut i = 0;
    while i < n {
        let w = words[i];
        let mut hit: Option<(Spec, usize, usize)> = None;
        // Multi-word today ("ce soir", "esta noche").
        if i + 1 < n && l.today.iter().any(|t| t.split(' ').eq([w, words[i + 1]])) {
            hit = Some((Spec::Days(0), i, i + 1));
        } else if l.today.contains(&w) {
            hit = Some((Spec::Days(0), i, i));
        } else if l.after_tomorrow.contains(&w) {
            hit = Some((Spec::Days(2), i, i));
        } else if w == "après" && is(i + 1, &["demain"]) || w == "pasado" && is(i + 1, &["mañana"])
        {
            hit = Some((Spec::Days(2), i, i + 1));
        } else if w == "day" && is(i + 1, &["after"]) && is(i + 2, &["tomorrow"]) {
            hit = Some((Spec::Days(2), i, i + 2));
        } else if l.tomorrow.contains(&w) {
            // Spanish "la/esta mañana" is the morning, German "morgen früh" is still tomorrow.
            let morning = lang == "es" && i > 0 && matches!(words[i - 1], "la" | "esta" | "por");
            let guten = lang == "de" && i > 0 && words[i - 1] == "guten";
            if !morning && !guten {
                hit = Some((Spec::Days(1), i, i));
            }
        } else if let Some(day) = weekday(l, w) {
            let prev = if i > 0 { words[i - 1] } else { "" };
            let next_before = i > 0 && l.next.contains(&prev);
            let this_before = i > 0 && l.this.contains(&prev);
            let next_after = l.next_after && is(i + 1, l.next);
            let es_que_viene = lang == "es" && is(i + 1, &["que"]) && is(i + 2, &["viene"]);
            let start = if next_before || this_before { i - 1 } else { i };
            let mut end = if next_after { i + 1 } else { i };
            if es_que_viene {
                end = i + 2;
            }
            let spec = if next_before && l.next_is_following_week {
                Spec::Weekday {
                    day,
                    strict: true,
                    next_week: true,
                }
            } else if this_before {
                Spec::Weekday {
                    day,
                    strict: false,
                    next_week: false,
                }
            } else {
                Spec::Weekday {
                    day,
                    strict: true,
                    next_week: false,
                }
            };
            hit = Some((spec, start, end));
        } else if l.week.contains(&w) || l.month.contains(&w) {
            let is_week = l.week.contains(&w);
            let prev = if i > 0 { words[i - 1] } else { "" };
            let next_before = l.next.contains(&prev);
            let next_after =
                is(i + 1, l.next) || (is(i + 1, &["que"]) && is(i + 2, &["viene", "vem"]));
            let this_before = l.this.contains(&prev);
            // "end of (the) week/month", "fin de la semaine", "Ende der Woche", "fin de mes".
            let end_of = (1..=4).any(|k| i >= k && l.end.contains(&words[i - k]));
            let end_start = (1..=4)
                .find(|&k| i >= k && l.end.contains(&words[i - k]))
                .map(|k| i - k);
            // "in two weeks": number + plural unit.
            let in_n = i >= 1
                && number(l, words[i - 1]).is_some()
                && (i < 2 || l.in_.contains(&words[i - 2]));
            let last = if next_after {
                if is(i + 1, &["que"]) {
                    i + 2
                } else {
                    i + 1
                }
            } else {
                i
            };
            if in_n && !end_of {
                let k = number(l, words[i - 1]).unwrap_or(1);
                let start = if i >= 2 && l.in_.contains(&words[i - 2]) {
                    i - 2
                } else {
                    i - 1
                };
                let spec = if is_week {
                    Spec::Days(7 * k)
                } else {
                    Spec::MonthEnd(k)
                };
                hit = Some((spec, start, i));
            } else if next_before || next_after {
                let start = end_start.unwrap_or(if next_before { i - 1 } else { i });
                hit = Some((
                    if is_week {
                        Spec::WeekEnd(1)
                    } else {
                        Spec::MonthEnd(1)
                    },
                    start,
                    last,
                ));
            } else if end_of || this_before {
                let start = end_start.unwrap_or(i - 1);
                hit = Some((
                    if is_week {
                        Spec::WeekEnd(0)
                    } else {
                        Spec::MonthEnd(0)
                    },
                    start,
                    i,
                ));
            }
        } else if l.day_unit.contains(&w) && i >= 1 {
            if let Some(k) = number(l, words[i - 1]) {
                if i >= 2 && l.in_.contains(&words[i - 2]) {
                    hit = Some((Spec::Days(k), i - 2, i));
                }
            }
        } else if let Some(m) = month(l, w) {
            // "15 March", "15 mars", "15. März", "15 de marzo", "March 15", "March 15th".
            let before = if i >= 1 {
                day_number(words[i - 1])
            } else {
                None
            };
            let before_de = if i >= 2 && words[i - 1] == "de" {
                day_number(words[i - 2])
            } else {
                None
            };
            let before_of = if i >= 2 && words[i - 1] == "of" {
                day_number(words[i - 2])
            } else {
                None
            };
            let after = if i + 1 < n {
                day_number(words[i + 1])
            } else {
                None
            };
            let (day, start, mut end) = if let Some(d) = before {
                (Some(d), i - 1, i)
            } else if let Some(d) = before_de.or(before_of) {
                (Some(d), i - 2, i)
            } else if let Some(d) = after {
                (Some(d), i, i + 1)
            } else {
                (None, i, i)
            };
            // "may" is also a verb: only with a day number.
            if let Some(day) = day {
                let mut year = None;
                let yi = if is(end + 1, &["de"]) {
                    end + 2
                } else {
                    end + 1
                };
                if yi < n && words[yi].len() == 4 {
                    if let Ok(y) = words[yi].parse::<i32>() {
                        if (1900..=2200).contains(&y) {
                            year = Some(y);
                            end = yi;
                        }
                    }
                }
                let start = if start >= 1
                    && matches!(words[start - 1], "the" | "le" | "el" | "am" | "den")
                {
                    start - 1
                } else {
                    start
                };
                hit = Some((
                    Spec::Date {
                        month: m,
                        day,
                        year,
                    },
                    start,
                    end,
                ));
            }
        } else if w.len() == 4 && i + 2 < n && w.chars().all(|c| c.is_ascii_digit()) {
            // ISO date 2025-03-15 (tokens 2025 03 15 separated by '-').
            let (y, mo, d) = (
                w.parse::<i32>().ok(),
                words[i + 1].parse::<u32>().ok(),
                words[i + 2].parse::<u32>().ok(),
            );
            let a = toks.list[idx[i]].end as usize;
            let sep = text.get(a).copied();
            if let (Some(y), Some(mo), Some(d), Some('-')) = (y, mo, d, sep) {
                if (1..=12).contains(&mo) && (1..=31).contains(&d) {
                    hit = Some((
                        Spec::Date {
                            month: mo,
                            day: d,
                            year: Some(y),
                        },
                        i,
                        i + 2,
                    ));
                }
            }
        }
        if time.is_none() {
            let after_prep =
                i > 0 && (l.time_preps.contains(&words[i - 1]) || words[i - 1] == "at");
            if let Some((t, last)) = time_at(words, text, toks, idx, i, l) {
                let start = if after_prep { i - 1 } else { i };
                // "a las 3": take "a" too.
                let start = if start >= 1
                    && lang == "es"
                    && words[start] == "las"
                    && words[start - 1] == "a"
                {
                    start - 1
                } else {
                    start
                };
                time = Some((t, start, last));
            } else if after_prep
                && (1..=12).contains(&w.parse::<u32>().unwrap_or(0))
                && lang == "es"
            {
                // "a las 3" without "h".
                if let Some(t) =
                    NaiveTime::from_hms_opt(w.parse::<u32>().unwrap_or(0) % 12 + 12, 0, 0)
                {
                    time = Some((t, i - 1, i));
                }
            }
        }
        if let Some((spec, mut start, end)) = hit {
            if found.is_none() {
                // Leading preposition: "by Friday", "d'ici vendredi", "bis Freitag".
                while start >= 1
                    && (l.preps.contains(&words[start - 1])
                        || (words[start - 1] == "the" && lang == "en"))
                {
                    start -= 1;
                    if lang == "fr"
                        && start >= 1
                        && words[start] == "ici"
                        && words[start - 1] == "d'"
                    {
                        start -= 1;
                    }
                }
                found = Some(Found {
                    spec: Some(spec),
                    time: None,
                    first: start,
                    last: end,
                });
            }
            i = end + 1;
            continue;
        }
        i += 1;
    }
    match (found, time) {
        (Some(mut f), Some((t, a, b))) => {
            // Keep the time if it is near the date (within 4 words).
            if a <= f.last + 4 && b + 4 >= f.first {
                f.time = Some(t);
                f.first = f.first.min(a);
                f.last = f.last.max(b);
            }
            Some(f)
        }
        (Some(f), None) => Some(f),
        (None, Some((t, a, b))) => Some(Found {
            spec: None,
            time: Some(t),
            first: a,
            last: b,
        }),
        (None, None) => None,
    }
}

/// Finds and resolves the first due-date phrase among the unit's tokens (`in_unit` are token
/// indices into `toks`, which tokenised `text`).
pub fn find(
    text: &str,
    toks: &Tokens,
    in_unit: &[usize],
    lang: &str,
    reference: Option<DateTime<FixedOffset>>,
    time_zone: &str,
) -> Option<Due> {
    if in_unit.is_empty() {
        return None;
    }
    let words: Vec<&str> = in_unit.iter().map(|&k| toks.word(k)).collect();
    let chars: Vec<char> = text.chars().collect();
    let f = scan(&words, &chars, toks, in_unit, lang)?;
    let a = toks.list[in_unit[f.first]].start as usize;
    let b = toks.list[in_unit[f.last]].end as usize;
    let phrase: String = chars.get(a..b)?.iter().collect();
    resolve_due(f.spec, f.time, phrase, reference, time_zone)
}

/// Resolves a spec and time against the reference in the time zone.
fn resolve_due(
    spec: Option<Spec>,
    time: Option<NaiveTime>,
    phrase: String,
    reference: Option<DateTime<FixedOffset>>,
    time_zone: &str,
) -> Option<Due> {
    let tz: Option<chrono_tz::Tz> = time_zone.parse().ok();
    let (today, now) = match reference {
        Some(r) => match tz {
            Some(tz) => {
                let l = r.with_timezone(&tz);
                (Some(l.date_naive()), Some(l.time()))
            }
            None => (Some(r.date_naive()), Some(r.time())),
        },
        None => (None, None),
    };
    let date = match (spec, today) {
        (Some(s @ Spec::Date { year: Some(_), .. }), _) => resolve(s, NaiveDate::MIN)?,
        (Some(s), Some(t)) => resolve(s, t)?,
        (None, Some(t)) => {
            let at = time?;
            if now.is_some_and(|n| at > n) {
                t
            } else {
                t.succ_opt()?
            }
        }
        _ => return None,
    };
    let datetime = time.and_then(|t| {
        let local = date.and_time(t);
        match tz {
            Some(tz) => tz
                .from_local_datetime(&local)
                .earliest()
                .map(|d| d.fixed_offset().to_rfc3339()),
            None => {
                let off = reference
                    .map(|r| *r.offset())
                    .or_else(|| FixedOffset::east_opt(0))?;
                off.from_local_datetime(&local)
                    .earliest()
                    .map(|d| d.to_rfc3339())
            }
        }
    });
    Some(Due {
        date: date.format("%Y-%m-%d").to_string(),
        datetime,
        phrase,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    /// Due date of `text` said at `reference` (RFC 3339) in `tz`.
    fn due(text: &str, lang: &str, reference: &str, tz: &str) -> Option<Due> {
        let mut t = Tokens::default();
        tokenize(text, lang, &mut t);
        let idx: Vec<usize> = (0..t.len()).collect();
        let r = DateTime::parse_from_rfc3339(reference).unwrap();
        find(text, &t, &idx, lang, Some(r), tz)
    }

    fn date(text: &str, lang: &str, reference: &str) -> String {
        due(text, lang, reference, "UTC")
            .map(|d| d.date)
            .unwrap_or_default()
    }

    // 2025-01-29 is a Wednesday.
    const WED: &str = "2025-01-29T10:00:00+00:00";

    #[test]
    fn weekdays_relative_to_the_meeting_date() {
        assert_eq!(date("I'll send it by Friday", "en", WED), "2025-01-31");
        assert_eq!(date("I'll send it on Wednesday", "en", WED), "2025-02-05"); // same weekday: a week later
        assert_eq!(date("call me Monday", "en", WED), "2025-02-03");
        assert_eq!(date("let's do it this Wednesday", "en", WED), "2025-01-29");
        assert_eq!(date("next Friday then", "en", WED), "2025-02-07"); // following week
        assert_eq!(date("next Monday", "en", WED), "2025-02-03");
        assert_eq!(date("je l'envoie d'ici vendredi", "fr", WED), "2025-01-31");
        assert_eq!(
            date("on se voit vendredi prochain", "fr", WED),
            "2025-01-31"
        );
        assert_eq!(date("ich schicke es bis Freitag", "de", WED), "2025-01-31");
        assert_eq!(date("lo reviso el lunes", "es", WED), "2025-02-03");
    }

    #[test]
    fn month_and_year_boundaries() {
        assert_eq!(
            date("I'll do it tomorrow", "en", "2024-12-31T15:00:00+00:00"),
            "2025-01-01"
        );
        assert_eq!(
            date("by the end of the month", "en", "2024-02-10T09:00:00+00:00"),
            "2024-02-29"
        );
        assert_eq!(
            date("by the end of the month", "en", "2025-02-10T09:00:00+00:00"),
            "2025-02-28"
        );
        assert_eq!(
            date("we'll do it next month", "en", "2024-12-05T09:00:00+00:00"),
            "2025-01-31"
        );
        assert_eq!(
            date("fin du mois", "fr", "2025-04-30T09:00:00+00:00"),
            "2025-04-30"
        );
        assert_eq!(
            date("bis Ende des Monats", "de", "2025-11-03T09:00:00+00:00"),
            "2025-11-30"
        );
        assert_eq!(
            date("demain", "fr", "2025-01-31T09:00:00+00:00"),
            "2025-02-01"
        );
        assert_eq!(
            date("mañana", "es", "2025-02-28T09:00:00+00:00"),
            "2025-03-01"
        );
        // A date without a year that has passed is next year's.
        assert_eq!(
            date("send it by January 5th", "en", "2024-12-20T09:00:00+00:00"),
            "2025-01-05"
        );
        assert_eq!(date("le 3 mars", "fr", WED), "2025-03-03");
        assert_eq!(date("am 15. März", "de", WED), "2025-03-15");
        assert_eq!(date("el 3 de marzo de 2026", "es", WED), "2026-03-03");
        assert_eq!(date("on February 30", "en", WED), "");
    }

    #[test]
    fn weeks_and_spans() {
        assert_eq!(date("next week", "en", WED), "2025-02-07");
        assert_eq!(date("by the end of the week", "en", WED), "2025-01-31");
        assert_eq!(date("la semaine prochaine", "fr", WED), "2025-02-07");
        assert_eq!(date("nächste Woche", "de", WED), "2025-02-07");
        assert_eq!(date("la semana que viene", "es", WED), "2025-02-07");
        assert_eq!(date("in two weeks", "en", WED), "2025-02-12");
        assert_eq!(date("dans trois jours", "fr", WED), "2025-02-01");
        assert_eq!(date("the day after tomorrow", "en", WED), "2025-01-31");
        assert_eq!(date("après-demain", "fr", WED), "2025-01-31");
        assert_eq!(date("übermorgen", "de", WED), "2025-01-31");
        assert_eq!(date("pasado mañana", "es", WED), "2025-01-31");
    }

    #[test]
    fn times_of_day_and_time_zones() {
        let d = due("call him tomorrow at 3pm", "en", WED, "Europe/Paris").unwrap();
        assert_eq!(d.date, "2025-01-30");
        assert_eq!(d.datetime.as_deref(), Some("2025-01-30T15:00:00+01:00"));
        assert_eq!(d.phrase, "tomorrow at 3pm");
        let d = due("on se rappelle demain à 15h30", "fr", WED, "Europe/Paris").unwrap();
        assert_eq!(d.datetime.as_deref(), Some("2025-01-30T15:30:00+01:00"));
        let d = due("um 15 Uhr", "de", WED, "Europe/Berlin").unwrap();
        assert_eq!(d.datetime.as_deref(), Some("2025-01-29T15:00:00+01:00"));
        // Late evening UTC is already the next day in Tokyo.
        let d = due("tomorrow", "en", "2025-01-29T20:00:00+00:00", "Asia/Tokyo").unwrap();
        assert_eq!(d.date, "2025-01-31");
        // A time already past today is tomorrow.
        let d = due("at 9:30", "en", "2025-01-29T10:00:00+00:00", "UTC").unwrap();
        assert_eq!(d.datetime.as_deref(), Some("2025-01-30T09:30:00+00:00"));
        // Summer time.
        let d = due(
            "a las 10:00",
            "es",
            "2025-07-01T07:00:00+00:00",
            "Europe/Madrid",
        )
        .unwrap();
        assert_eq!(d.datetime.as_deref(), Some("2025-07-01T10:00:00+02:00"));
    }

    #[test]
    fn phrases_keep_their_preposition() {
        assert_eq!(
            due("I'll send it by Friday", "en", WED, "UTC")
                .unwrap()
                .phrase,
            "by Friday"
        );
        assert_eq!(
            due("je l'envoie d'ici vendredi", "fr", WED, "UTC")
                .unwrap()
                .phrase,
            "d'ici vendredi"
        );
        assert_eq!(
            due("Ich schicke es bis Freitag.", "de", WED, "UTC")
                .unwrap()
                .phrase,
            "bis Freitag"
        );
        assert_eq!(
            due("by the end of the month", "en", WED, "UTC")
                .unwrap()
                .phrase,
            "by the end of the month"
        );
    }

    #[test]
    fn no_reference_no_relative_date_and_no_false_dates() {
        let mut t = Tokens::default();
        tokenize("I'll do it tomorrow", "en", &mut t);
        let idx: Vec<usize> = (0..t.len()).collect();
        assert_eq!(
            find("I'll do it tomorrow", &t, &idx, "en", None, "UTC"),
            None
        );
        assert_eq!(date("we may need to look at it", "en", WED), "");
        assert_eq!(date("i have three items", "en", WED), "");
        assert_eq!(date("la mañana fue larga", "es", WED), "");
    }
}
