//! The cron rule: which expressions a bundle may declare ([`check_cron`]).
//!
//! Airflow hands a cron schedule's expression to croniter, whose expansion refuses what it
//! cannot read; the Dag processor then reports the dag as broken. The rule here refuses every
//! expression that croniter 7 (Airflow 3.3 and 3.4) refuses, so the mistake is named when the
//! bundle is declared. It is deliberately narrower than croniter in places: five fields only
//! (no seconds or year field), no ranges that wrap around (`22-2`), and none of croniter's
//! extensions (`W`, `L` in day of week, `R`, `@midnight`, lower-case `l`).

use std::fmt;

use super::CRON_PRESETS;

/// One of the five fields of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronField {
    /// 0-59.
    Minute,
    /// 0-23.
    Hour,
    /// 1-31, `L` (the last day), `?`.
    DayOfMonth,
    /// 1-12 or `jan`-`dec`.
    Month,
    /// 0-7 (0 and 7 are Sunday) or `sun`-`sat`, `d#n` (the n-th weekday d of the month), `?`.
    DayOfWeek,
}

impl CronField {
    const ALL: [CronField; 5] = [
        CronField::Minute,
        CronField::Hour,
        CronField::DayOfMonth,
        CronField::Month,
        CronField::DayOfWeek,
    ];

    /// The field's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            CronField::Minute => "minute",
            CronField::Hour => "hour",
            CronField::DayOfMonth => "day of month",
            CronField::Month => "month",
            CronField::DayOfWeek => "day of week",
        }
    }

    /// The lowest and highest number the field takes.
    fn bounds(self) -> (u32, u32) {
        match self {
            CronField::Minute => (0, 59),
            CronField::Hour => (0, 23),
            CronField::DayOfMonth => (1, 31),
            CronField::Month => (1, 12),
            CronField::DayOfWeek => (0, 7),
        }
    }

    /// The names the field takes, and the number of the first.
    fn names(self) -> (&'static [&'static str], u32) {
        match self {
            CronField::Month => (
                &[
                    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                    "dec",
                ],
                1,
            ),
            CronField::DayOfWeek => (&["sun", "mon", "tue", "wed", "thu", "fri", "sat"], 0),
            _ => (&[], 0),
        }
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a cron expression is refused. The text says which field and item, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronError {
    /// It starts with `@` but is none of [`CRON_PRESETS`].
    UnknownPreset,
    /// It does not have five fields (split on ASCII white space, as croniter splits).
    FieldCount(usize),
    /// An item is neither a number, a name of the field, nor a form the field allows.
    NotANumber {
        /// The field.
        field: CronField,
        /// The item, or the part of it that is not a number.
        item: String,
    },
    /// A number is outside the field's range.
    OutOfRange {
        /// The field.
        field: CronField,
        /// The number.
        value: u32,
    },
    /// A step (`/n`) is not a positive whole number.
    BadStep {
        /// The field.
        field: CronField,
        /// The step as written.
        step: String,
    },
    /// A range runs from a higher value to a lower one.
    Backwards {
        /// The field.
        field: CronField,
        /// The range as written.
        range: String,
    },
    /// A list has an empty item (`1,,2`, `1,`).
    EmptyItem {
        /// The field.
        field: CronField,
    },
    /// `d#n` without a week number 1 to 5.
    WeekNumber {
        /// The item as written.
        item: String,
    },
    /// `?` is not the whole field, or is in a field other than the two day fields.
    QuestionMark {
        /// The field.
        field: CronField,
    },
    /// A step on an item that takes none (`L/2`, `5#3/2`).
    StepNotAllowed {
        /// The field.
        field: CronField,
        /// The item as written.
        item: String,
    },
    /// Plain days of the week listed with `d#n` items, which croniter cannot combine (unless
    /// they are the days of those items, or the list covers the whole week).
    MixedNthWeekday {
        /// The day-of-week field as written.
        field: String,
    },
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CronError::UnknownPreset => {
                f.write_str("unknown preset; known: ")?;
                for (i, (p, _)) in CRON_PRESETS.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(p)?;
                }
                Ok(())
            }
            CronError::FieldCount(n) => write!(
                f,
                "it has {n} field(s); a cron expression has 5: minute hour day-of-month month \
                 day-of-week"
            ),
            CronError::NotANumber { field, item } => write!(f, "{field}: {item:?} is not a number"),
            CronError::OutOfRange { field, value } => {
                let (lo, hi) = field.bounds();
                write!(f, "{field}: {value} is outside {lo}-{hi}")
            }
            CronError::BadStep { field, step } => {
                write!(f, "{field}: the step {step:?} is not a positive number")
            }
            CronError::Backwards { field, range } => {
                write!(f, "{field}: the range {range:?} runs backwards")
            }
            CronError::EmptyItem { field } => write!(f, "{field}: an empty item"),
            CronError::WeekNumber { item } => write!(
                f,
                "{}: {item:?} needs a week number 1-5 after #",
                CronField::DayOfWeek
            ),
            CronError::QuestionMark { field } => write!(
                f,
                "{field}: `?` must be the whole field, and only day of month or day of week \
                 may be `?`"
            ),
            CronError::StepNotAllowed { field, item } => {
                write!(f, "{field}: {item:?} takes no step")
            }
            CronError::MixedNthWeekday { field } => write!(
                f,
                "{}: {field:?} lists other days with `day#n` items, which croniter cannot \
                 combine; list only `day#n` items (and their own days), or the whole week",
                CronField::DayOfWeek
            ),
        }
    }
}

impl std::error::Error for CronError {}

/// Checks a cron expression as Airflow's cron timetables read it, refusing whatever Airflow
/// would: five fields (minute, hour, day of month, month, day of week) or a preset
/// ([`CRON_PRESETS`]). Lists, ranges, steps, month and day names, `?` (a whole day field), `L`
/// (day of month) and `d#n` (day of week) are accepted.
///
/// The check reads what Airflow is given: a preset is recognised after trimming (and sent
/// expanded), any other expression is split on ASCII white space only, as croniter splits it.
///
/// ```
/// use airflow_bundle::declare::check_cron;
///
/// assert!(check_cron("*/15 0-6,22 1,15 jan-mar mon-fri").is_ok());
/// assert_eq!(
///     check_cron("0 25 * * *").unwrap_err().to_string(),
///     "hour: 25 is outside 0-23"
/// );
/// ```
///
/// # Errors
///
/// [`CronError`] naming the field and value Airflow's cron parser would refuse.
pub fn check_cron(expression: &str) -> Result<(), CronError> {
    let trimmed = expression.trim();
    if trimmed.starts_with('@') {
        return if super::expand_preset(trimmed).is_some() {
            Ok(())
        } else {
            Err(CronError::UnknownPreset)
        };
    }
    // croniter's `\S+` is ASCII: a no-break space does not separate fields.
    let fields: Vec<&str> = expression
        .split([' ', '\t', '\n', '\r', '\x0b', '\x0c'])
        .filter(|f| !f.is_empty())
        .collect();
    if fields.len() != 5 {
        return Err(CronError::FieldCount(fields.len()));
    }
    for (text, field) in fields.iter().zip(CronField::ALL) {
        check_field(text, field)?;
    }
    Ok(())
}

/// `s` as a whole number written in ASCII digits only (no sign, as croniter reads numbers), if
/// it is one that fits a `u32` (larger ones fit no field and are no useful step).
fn digits(s: &str) -> Option<u32> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A number or name of `field`, checked against the field's range.
fn value(field: CronField, s: &str) -> Result<u32, CronError> {
    let (names, base) = field.names();
    let lower = s.to_ascii_lowercase();
    if let Some(i) = names.iter().position(|n| *n == lower) {
        return Ok(u32::try_from(i).unwrap_or(u32::MAX) + base);
    }
    let v = digits(s).ok_or_else(|| CronError::NotANumber {
        field,
        item: s.to_owned(),
    })?;
    let (lo, hi) = field.bounds();
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(CronError::OutOfRange { field, value: v })
    }
}

/// Checks one field, item by item.
fn check_field(text: &str, field: CronField) -> Result<(), CronError> {
    let day_field = matches!(field, CronField::DayOfMonth | CronField::DayOfWeek);
    if text.contains('?') {
        return if text == "?" && day_field {
            Ok(())
        } else {
            Err(CronError::QuestionMark { field })
        };
    }
    // The days its plain items cover, and those of its `d#n` items, for croniter's rule against
    // mixing the two in day of week (other fields fill it too, and it is not read).
    let mut week = Week::default();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step = match step {
            None => 1,
            Some(s) => digits(s)
                .filter(|n| *n > 0)
                .ok_or_else(|| CronError::BadStep {
                    field,
                    step: s.to_owned(),
                })?,
        };
        let stepped = item.len() != range.len();
        let no_step = || CronError::StepNotAllowed {
            field,
            item: item.to_owned(),
        };
        match range {
            "" => return Err(CronError::EmptyItem { field }),
            "*" => week.star(step, stepped),
            "L" if field == CronField::DayOfMonth => {
                if stepped {
                    return Err(no_step());
                }
            }
            r if field == CronField::DayOfWeek && r.contains('#') => {
                let (d, n) = r.split_once('#').unwrap_or_default();
                let d = value(field, d)?;
                if !digits(n).is_some_and(|n| (1..=5).contains(&n)) {
                    return Err(CronError::WeekNumber { item: r.to_owned() });
                }
                if stepped {
                    return Err(no_step());
                }
                week.nth |= Week::bit(d);
            }
            r => {
                if let Some((a, b)) = r.split_once('-') {
                    let (a, b) = (value(field, a)?, value(field, b)?);
                    if a > b {
                        return Err(CronError::Backwards {
                            field,
                            range: r.to_owned(),
                        });
                    }
                    week.range(a, b, step);
                } else {
                    let v = value(field, r)?;
                    week.start(v, step, stepped);
                }
            }
        }
    }
    if field == CronField::DayOfWeek && !week.can_mix() {
        return Err(CronError::MixedNthWeekday {
            field: text.to_owned(),
        });
    }
    Ok(())
}

/// The days of the week a field's items cover, as croniter expands them (bit d for day d, 7
/// being 0), to apply its rule that plain days may be listed with `d#n` items only when they
/// are among those days, or when the field covers the whole week.
#[derive(Default)]
struct Week {
    plain: u8,
    nth: u8,
    /// A `*` item, which croniter keeps as an element of its own.
    star: bool,
}

impl Week {
    fn bit(day: u32) -> u8 {
        1 << (day % 7)
    }

    /// `lo`, `lo + step`, ... up to `hi`, 7 read as 0.
    fn progression(&mut self, lo: u32, hi: u32, step: u32) {
        let mut d = lo;
        while d <= hi {
            self.plain |= Week::bit(d);
            d = d.saturating_add(step);
        }
    }

    fn star(&mut self, step: u32, stepped: bool) {
        if stepped {
            self.progression(0, 6, step);
        } else {
            self.star = true;
        }
    }

    /// `d` or `d/step`: croniter reads the latter as `d-6/step` (7 being 0).
    fn start(&mut self, d: u32, step: u32, stepped: bool) {
        if stepped {
            self.progression(d % 7, 6, step);
        } else {
            self.plain |= Week::bit(d);
        }
    }

    /// `a-b[/step]` with `a <= b`: croniter widens a range whose ends are the same day
    /// (`5-5`, `0-7`) to the whole week, and wraps one that ends on 7 (`5-7` is 5, 6, 0).
    fn range(&mut self, a: u32, b: u32, step: u32) {
        if a % 7 == b % 7 {
            self.progression(0, 6, step);
        } else {
            self.progression(a, b, step);
        }
    }

    fn can_mix(&self) -> bool {
        let covered = (self.plain | self.nth).count_ones() + u32::from(self.star);
        self.nth == 0 || self.plain & !self.nth == 0 || covered == 7
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    include!("cron_cases.rs");

    fn verdict(expression: &str) -> String {
        check_cron(expression).map_or_else(|e| e.to_string(), |()| String::new())
    }

    #[test]
    fn the_rule_refuses_what_airflow_refuses_and_says_why() {
        for (expression, airflow, ours) in AGREED {
            assert_eq!(verdict(expression), *ours, "{expression:?}");
            assert_eq!(*airflow, ours.is_empty(), "{expression:?} must agree");
        }
        for (expression, ours, why) in NARROWER {
            assert_eq!(verdict(expression), *ours, "{expression:?} ({why})");
        }
        assert!(AGREED.len() > 100 && NARROWER.len() > 10);
    }

    #[test]
    fn mixing_nth_weekdays_follows_croniters_expansion() {
        // croniter accepts plain days among `d#n` items when they are those days (7 is 0), or
        // when the list covers the week; its ranges `0-7` and `5-5` mean the whole week.
        for ok in [
            "5#3,5", "7#1,0", "*,5#3", "0-6,5#3", "0-7,5#3", "1-7,5#3", "*/1,5#3",
        ] {
            assert_eq!(verdict(&format!("0 0 * * {ok}")), "", "{ok}");
        }
        for bad in ["5#3,1", "6-7,5#3", "*/2,5#3", "5-7/2,6#1"] {
            assert_eq!(
                check_cron(&format!("0 0 * * {bad}")),
                Err(CronError::MixedNthWeekday {
                    field: (*bad).to_owned()
                }),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_text_gets_a_verdict(s in any::<String>()) {
            let _ = check_cron(&s);
        }

        #[test]
        fn cron_like_text_gets_a_verdict(s in "[0-9*/,#?LlWjanmo@ -]{0,40}") {
            let _ = check_cron(&s);
        }
    }
}
