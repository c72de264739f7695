//! Units of scenario values: durations ("90s", "2h", "500ms"), sizes ("500MiB") and
//! rates ("200/s", "5/m").

use std::time::Duration;

/// Parses "500ms", "90s", "30m", "2h", "1d", "1.5s"; a bare number is seconds.
pub fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 500ms, 90s, 30m, 2h)"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        u => {
            return Err(format!(
                "unknown duration unit {u:?} in {s:?} (use ms, s, m, h or d)"
            ))
        }
    };
    if !secs.is_finite() || secs > 1e12 {
        return Err(format!("duration {s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses "500MiB", "1GiB", "64KB", "1000"; a bare number is bytes.
pub fn size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 500MiB, 2GiB)"))?;
    let mult: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        u => {
            return Err(format!(
                "unknown size unit {u:?} in {s:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
            ))
        }
    };
    Ok((n * mult) as u64)
}

/// Parses "200/s", "5/m", "1/h" into events per second.
pub fn rate(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let Some((num, per)) = s.split_once('/') else {
        return Err(format!("{s:?} is not a rate (e.g. 200/s, 5/m)"));
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a rate (e.g. 200/s, 5/m)"))?;
    let per_secs = match per.trim() {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => duration(other)
            .map_err(|_| format!("unknown rate unit {other:?} in {s:?} (use /s, /m or /h)"))?
            .as_secs_f64(),
    };
    if !(n >= 0.0 && n.is_finite()) || per_secs <= 0.0 {
        return Err(format!("rate {s:?} is out of range"));
    }
    Ok(n / per_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        assert_eq!(duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(duration("5 parsecs")
            .unwrap_err()
            .contains("unknown duration unit"));
        assert_eq!(size("500MiB").unwrap(), 500 * 1024 * 1024);
        assert_eq!(size("2KB").unwrap(), 2000);
        assert!(size("3 furlongs").is_err());
        assert_eq!(rate("200/s").unwrap(), 200.0);
        assert_eq!(rate("6/m").unwrap(), 0.1);
        assert!(rate("200").is_err());
    }
}
