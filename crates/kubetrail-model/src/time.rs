use jiff::{SignedDuration, Timestamp};

use crate::{Error, Result};

/// Parses a duration such as `90s`, `15m`, `2h`, `7d`, `1w` or a sum such as `1h30m`.
pub fn parse_duration(text: &str) -> Result<SignedDuration> {
    let s = text.trim();
    if s.is_empty() {
        return Err(Error::InvalidDuration(text.to_string()));
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next().unwrap_or('s'));
        }
        let n: i64 = digits
            .parse()
            .map_err(|_| Error::InvalidDuration(text.to_string()))?;
        digits.clear();
        let millis = match unit.as_str() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(Error::InvalidDuration(text.to_string())),
        };
        total = n
            .checked_mul(millis)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| Error::InvalidDuration(text.to_string()))?;
    }
    if !digits.is_empty() {
        return Err(Error::InvalidDuration(text.to_string()));
    }
    Ok(SignedDuration::from_millis(total))
}

/// Parses a time bound: RFC 3339, or a duration meaning that long before `now`.
pub fn parse_time_bound(text: &str, now: Timestamp) -> Result<Timestamp> {
    if let Ok(t) = text.trim().parse::<Timestamp>() {
        return Ok(t);
    }
    let d = parse_duration(text).map_err(|_| Error::InvalidTime(text.to_string()))?;
    now.checked_sub(d)
        .map_err(|_| Error::InvalidTime(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_sums() {
        assert_eq!(parse_duration("2h").unwrap(), SignedDuration::from_hours(2));
        assert_eq!(
            parse_duration("1h30m").unwrap(),
            SignedDuration::from_mins(90)
        );
        assert_eq!(
            parse_duration("7d").unwrap(),
            SignedDuration::from_hours(168)
        );
        assert_eq!(
            parse_duration("250ms").unwrap(),
            SignedDuration::from_millis(250)
        );
        for bad in ["", "h", "5", "5x", "-5m", "99999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn time_bounds_are_rfc3339_or_a_duration_before_now() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_time_bound("2h", now).unwrap(),
            "2024-05-01T10:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_time_bound("2024-01-02T03:04:05+01:00", now).unwrap(),
            "2024-01-02T02:04:05Z".parse::<Timestamp>().unwrap()
        );
        assert!(matches!(
            parse_time_bound("yesterday", now),
            Err(Error::InvalidTime(_))
        ));
    }
}
