//! One time zone for everything ykt writes: Beijing time (+08:00), in logs, records, stage
//! manifests and reports, as the provincial notice and the county offices read time.

use chrono::{DateTime, FixedOffset, Utc};

/// Beijing time, +08:00 (China has no daylight saving time).
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Now, in Beijing time.
pub fn beijing_now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&beijing())
}

/// Now as records store it: `2020-11-20T10:00:00+08:00` (RFC 3339, seconds).
pub fn beijing_stamp() -> String {
    beijing_now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_are_beijing_time() {
        let stamp = super::beijing_stamp();
        assert!(stamp.ends_with("+08:00"), "{stamp}");
        assert!(
            chrono::DateTime::parse_from_rfc3339(&stamp).is_ok(),
            "{stamp}"
        );
    }
}
