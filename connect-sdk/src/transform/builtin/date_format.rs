//! Java `SimpleDateFormat` patterns (what Kafka's timestamp transforms take), translated to
//! chrono format strings. Times are in UTC, as in Kafka.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Why a pattern or a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateFormatError {
    /// A `'` opens a literal that no `'` closes.
    #[error("unterminated quote in date format \"{pattern}\"")]
    UnterminatedQuote {
        /// The pattern.
        pattern: String,
    },
    /// A pattern letter (run) with no translation.
    #[error("unsupported letter '{letters}' in date format \"{pattern}\"")]
    UnsupportedLetter {
        /// The run of letters, as written.
        letters: String,
        /// The pattern.
        pattern: String,
    },
    /// The text is not a date in the pattern.
    #[error("\"{text}\" does not match the date format \"{pattern}\"")]
    NoMatch {
        /// The text.
        text: String,
        /// The pattern.
        pattern: String,
    },
}

/// A `SimpleDateFormat` pattern, translated once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JavaDateFormat {
    pattern: String,
    chrono: String,
}

impl JavaDateFormat {
    /// Translates `pattern` (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`); unsupported letters are errors.
    pub fn new(pattern: &str) -> Result<JavaDateFormat, DateFormatError> {
        let mut out = String::new();
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                let end = chars[i + 1..].iter().position(|&x| x == '\'').map(|p| i + 1 + p);
                match end {
                    Some(e) if e == i + 1 => out.push('\''),
                    Some(e) => out.extend(chars[i + 1..e].iter().copied().flat_map(escape)),
                    None => return Err(DateFormatError::UnterminatedQuote { pattern: pattern.to_owned() }),
                }
                i = end.unwrap_or(chars.len()) + 1;
                continue;
            }
            if !c.is_ascii_alphabetic() {
                out.extend(escape(c));
                i += 1;
                continue;
            }
            let run = chars[i..].iter().take_while(|&&x| x == c).count();
            let item = match (c, run) {
                ('y', 2) => "%y",
                ('y', _) => "%Y",
                ('M', 1) => "%-m",
                ('M', 2) => "%m",
                ('M', 3) => "%b",
                ('M', _) => "%B",
                ('d', 1) => "%-d",
                ('d', _) => "%d",
                ('D', _) => "%j",
                ('H', 1) => "%-H",
                ('H', _) => "%H",
                ('h', 1) => "%-I",
                ('h', _) => "%I",
                ('m', 1) => "%-M",
                ('m', _) => "%M",
                ('s', 1) => "%-S",
                ('s', _) => "%S",
                ('S', 1) => "%1f",
                ('S', 2) => "%2f",
                ('S', 3) => "%3f",
                ('S', 6) => "%6f",
                ('S', 9) => "%9f",
                ('a', _) => "%p",
                ('E', 1..=3) => "%a",
                ('E', _) => "%A",
                ('Z', _) => "%z",
                ('X', 1 | 2) => "%z",
                ('X', _) => "%:z",
                ('z', _) => "%Z",
                _ => return Err(DateFormatError::UnsupportedLetter { letters: c.to_string().repeat(run), pattern: pattern.to_owned() }),
            };
            out.push_str(item);
            i += run;
        }
        Ok(JavaDateFormat { pattern: pattern.to_owned(), chrono: out })
    }

    /// Formats milliseconds since the epoch.
    pub fn format(&self, millis: i64) -> String {
        match Utc.timestamp_millis_opt(millis).single() {
            Some(t) => t.format(&self.chrono).to_string(),
            None => millis.to_string(),
        }
    }

    /// Parses text into milliseconds since the epoch.
    pub fn parse(&self, text: &str) -> Result<i64, DateFormatError> {
        let f = self.chrono.replace("%3f", "%.3f").replace(".%.3f", "%.3f");
        let formats = [self.chrono.as_str(), f.as_str()];
        for format in formats {
            if let Ok(t) = DateTime::parse_from_str(text, format) {
                return Ok(t.timestamp_millis());
            }
            if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
                return Ok(t.and_utc().timestamp_millis());
            }
            if let Ok(d) = NaiveDate::parse_from_str(text, format) {
                return Ok(d.and_time(NaiveTime::MIN).and_utc().timestamp_millis());
            }
            if let Ok(t) = NaiveTime::parse_from_str(text, format) {
                return Ok(NaiveDate::default().and_time(t).and_utc().timestamp_millis()
                    - NaiveDate::default().and_time(NaiveTime::MIN).and_utc().timestamp_millis());
            }
        }
        Err(DateFormatError::NoMatch { text: text.to_owned(), pattern: self.pattern.clone() })
    }
}

fn escape(c: char) -> Vec<char> {
    if c == '%' { vec!['%', '%'] } else { vec![c] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_format_and_parse_in_utc() {
        let iso = JavaDateFormat::new("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").unwrap();
        assert_eq!(iso.format(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso.parse("2023-11-14T22:13:20.123Z").unwrap(), 1_700_000_000_123);
        let day = JavaDateFormat::new("yyyyMMdd").unwrap();
        assert_eq!(day.format(0), "19700101");
        assert_eq!(day.parse("19700102").unwrap(), 86_400_000);
        assert!(JavaDateFormat::new("yyyy-QQ").is_err());
    }
}
