//! Date and time detection for text columns: ISO-like values only, parsed on the
//! dictionary of distinct values (cheap), the same way at training and prediction.

/// Milliseconds since the Unix epoch for `YYYY-MM-DD` or `YYYY/MM/DD`, optionally followed
/// by `T` or a space and `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff`, and an optional `Z`.
pub fn parse_datetime(text: &str) -> Option<i64> {
    let s = text.trim();
    let b = s.as_bytes();
    if b.len() < 10 || !(b[4] == b'-' || b[4] == b'/') || b[7] != b[4] {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let rest = s[10..].trim_end_matches('Z');
    if !rest.is_empty() {
        let time = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
        let tb = time.as_bytes();
        if tb.len() < 5 || tb[2] != b':' {
            return None;
        }
        let (h, m) = (num(11, 2)?, num(14, 2)?);
        let mut sec_ms = 0i64;
        if tb.len() > 5 {
            if tb[5] != b':' || tb.len() < 8 {
                return None;
            }
            sec_ms = num(17, 2)? * 1000;
            if tb.len() > 8 {
                let frac = time.get(9..)?;
                if tb[8] != b'.' || frac.is_empty() || !frac.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let digits = &frac[..frac.len().min(3)];
                sec_ms += digits.parse::<i64>().ok()? * 10i64.pow(3 - digits.len() as u32);
            }
        }
        if h > 23 || m > 59 || sec_ms >= 61_000 {
            return None;
        }
        ms += h * 3_600_000 + m * 60_000 + sec_ms;
    }
    Some(ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso_dates_and_times() {
        assert_eq!(parse_datetime("1970-01-01"), Some(0));
        assert_eq!(parse_datetime("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_datetime("2000-03-01"), Some(951_868_800_000));
        assert_eq!(parse_datetime("2024/02/29"), Some(1_709_164_800_000));
        assert_eq!(parse_datetime("1970-01-01T01:02:03.5Z"), Some(3_723_500));
        assert_eq!(parse_datetime("1970-01-01 00:01"), Some(60_000));
        assert_eq!(parse_datetime("1969-12-31"), Some(-86_400_000));
        for bad in ["2023-02-29", "2024-13-01", "2024-1-01", "20240101", "2024-01-01x", "abc", "2024-01-01 25:00", "[75.000-"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
