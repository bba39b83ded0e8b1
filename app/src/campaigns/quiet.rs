//! Quiet hours for texts: no SMS or WhatsApp message before 08:00 or after 21:00 in the
//! recipient's local time (the TCPA's calling hours, 47 CFR 64.1200(c)(1), which Starling
//! applies in every country). The recipient's zone comes from the number: its country, and
//! where a country spans several zones, its area code; where the number still allows more
//! than one zone, the message waits for a moment that is inside the hours in all of them.

use crate::campaigns::eligibility::{next_in_window, SendWindow};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The hours texts may arrive in (start inclusive, end exclusive).
pub const QUIET_HOURS: SendWindow = SendWindow { start_hour: 8, end_hour: 21 };

/// Prefix → zones (see `zones.txt`).
fn table() -> &'static HashMap<&'static str, Vec<Tz>> {
    static TABLE: OnceLock<HashMap<&'static str, Vec<Tz>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        include_str!("zones.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('|'))
            .map(|(prefix, zones)| (prefix, zones.split('&').filter_map(|z| z.parse::<Tz>().ok()).collect::<Vec<_>>()))
            .filter(|(_, zones)| !zones.is_empty())
            .collect()
    })
}

/// Every zone a number in E.164 (`+12125550100`) may be in: the longest prefix the table
/// knows. Empty for a number whose country the table does not know.
pub fn zones_of(e164: &str) -> Vec<Tz> {
    let digits = e164.trim().trim_start_matches('+');
    let table = table();
    (1..=digits.len().min(7)).rev().find_map(|n| digits.get(..n).and_then(|p| table.get(p))).cloned().unwrap_or_default()
}

/// The first moment at or after `at` inside both the campaign's send window and the quiet
/// hours, in every one of `zones` (UTC when none is known). `None` when no hour of the day
/// is inside them in all zones at once (a window too narrow for zones too far apart).
pub fn next_allowed(at: i64, window: SendWindow, zones: &[Tz]) -> Option<i64> {
    let allowed =
        SendWindow { start_hour: window.start_hour.max(QUIET_HOURS.start_hour), end_hour: window.end_hour.min(QUIET_HOURS.end_hour) };
    if allowed.start_hour >= allowed.end_hour {
        return None;
    }
    let utc = [Tz::UTC];
    let zones = if zones.is_empty() { &utc[..] } else { zones };
    let mut candidate = at;
    // Each step moves to the next opening in the zone that is closed; when all are open at
    // once the candidate stands. Zones whose hours never meet keep moving it: give up after
    // two weeks of steps.
    for _ in 0..(zones.len() * 16).max(16) {
        let next = zones.iter().map(|&tz| next_in_window(candidate, allowed, tz)).max().unwrap_or(candidate);
        if next == candidate {
            return Some(candidate);
        }
        candidate = next;
    }
    None
}

/// Whether `at` is inside the quiet hours' allowed time in every zone of the number.
pub fn allowed_now(at: i64, zones: &[Tz]) -> bool {
    next_allowed(at, SendWindow { start_hour: 0, end_hour: 24 }, zones) == Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis()
    }

    fn local_hour(at: i64, tz: Tz) -> u32 {
        chrono::DateTime::from_timestamp_millis(at).unwrap().with_timezone(&tz).hour()
    }

    #[test]
    fn the_area_code_decides_where_a_country_spans_zones() {
        assert_eq!(zones_of("+12125550100"), vec![chrono_tz::America::New_York]);
        assert_eq!(zones_of("+13105550100"), vec![chrono_tz::America::Los_Angeles]);
        assert_eq!(zones_of("+4915112345678"), vec![chrono_tz::Europe::Berlin]);
        let idaho = zones_of("+12085550100");
        assert!(idaho.contains(&chrono_tz::America::Denver) && idaho.contains(&chrono_tz::America::Los_Angeles), "{idaho:?}");
        assert!(zones_of("+61412345678").iter().all(|z| z.name().starts_with("Australia/")));
        assert!(zones_of("+999").is_empty());
    }

    #[test]
    fn a_text_due_at_night_waits_for_eight_in_the_morning_local_time() {
        let ny = zones_of("+12125550100");
        // 03:00 in New York (08:00 UTC, winter) → 08:00 New York = 13:00 UTC.
        assert_eq!(next_allowed(utc(2026, 1, 15, 8, 0), SendWindow { start_hour: 0, end_hour: 24 }, &ny), Some(utc(2026, 1, 15, 13, 0)));
        // 21:30 in New York → 08:00 the next day.
        assert_eq!(next_allowed(utc(2026, 1, 16, 2, 30), SendWindow { start_hour: 0, end_hour: 24 }, &ny), Some(utc(2026, 1, 16, 13, 0)));
        // Inside the hours: at once.
        assert_eq!(next_allowed(utc(2026, 1, 15, 15, 0), SendWindow::default(), &ny), Some(utc(2026, 1, 15, 15, 0)));
    }

    #[test]
    fn daylight_saving_time_moves_the_morning_in_utc() {
        let berlin = zones_of("+4915112345678");
        let all_day = SendWindow { start_hour: 0, end_hour: 24 };
        // The night Berlin springs forward (29 March 2026): 08:00 CEST is 06:00 UTC.
        assert_eq!(next_allowed(utc(2026, 3, 29, 1, 0), all_day, &berlin), Some(utc(2026, 3, 29, 6, 0)));
        // A week before, 08:00 CET is 07:00 UTC.
        assert_eq!(next_allowed(utc(2026, 3, 22, 1, 0), all_day, &berlin), Some(utc(2026, 3, 22, 7, 0)));
        // The US springs forward on 8 March 2026: 08:00 EDT is 12:00 UTC.
        assert_eq!(next_allowed(utc(2026, 3, 8, 6, 30), all_day, &zones_of("+12125550100")), Some(utc(2026, 3, 8, 12, 0)));
    }

    #[test]
    fn a_number_in_two_zones_waits_until_both_are_awake() {
        let idaho = [chrono_tz::America::Denver, chrono_tz::America::Los_Angeles];
        // 07:30 in Denver is 06:30 in Los Angeles: wait until 08:00 in Los Angeles.
        let at = next_allowed(utc(2026, 6, 10, 13, 30), SendWindow { start_hour: 0, end_hour: 24 }, &idaho).unwrap();
        assert_eq!(at, utc(2026, 6, 10, 15, 0));
        // 20:30 in Denver is fine in both; 21:10 in Denver is too late there.
        assert!(allowed_now(utc(2026, 6, 11, 2, 30), &idaho));
        assert!(!allowed_now(utc(2026, 6, 11, 3, 10), &idaho));
    }

    #[test]
    fn the_campaign_window_narrows_the_quiet_hours_and_never_widens_them() {
        let ny = zones_of("+12125550100");
        let early = SendWindow { start_hour: 6, end_hour: 23 };
        assert_eq!(local_hour(next_allowed(utc(2026, 1, 15, 10, 0), early, &ny).unwrap(), chrono_tz::America::New_York), 8);
        let late = SendWindow { start_hour: 18, end_hour: 20 };
        assert_eq!(local_hour(next_allowed(utc(2026, 1, 15, 15, 0), late, &ny).unwrap(), chrono_tz::America::New_York), 18);
        assert_eq!(next_allowed(0, SendWindow { start_hour: 22, end_hour: 23 }, &ny), None, "no allowed hour");
        // Zones twelve hours apart share no hour of a short window.
        assert_eq!(
            next_allowed(0, SendWindow { start_hour: 9, end_hour: 11 }, &[chrono_tz::Asia::Tokyo, chrono_tz::America::New_York]),
            None
        );
    }

    proptest! {
        #[test]
        fn no_text_is_timed_outside_eight_to_twenty_one_in_any_zone_of_its_number(
            at in 1_700_000_000_000i64..1_900_000_000_000i64,
            prefix in prop::sample::select(vec!["+1212", "+1208", "+1907", "+1808", "+49151", "+61412", "+5511", "+7495", "+52155", "+8190", "+44"]),
            start in 0u32..24,
            length in 1u32..24,
        ) {
            let zones = zones_of(&format!("{prefix}5550100"));
            prop_assume!(!zones.is_empty());
            let window = SendWindow { start_hour: start, end_hour: (start + length).min(24) };
            if let Some(sent) = next_allowed(at, window, &zones) {
                prop_assert!(sent >= at);
                for tz in &zones {
                    let hour = local_hour(sent, *tz);
                    prop_assert!((8..21).contains(&hour), "{} at {} local", tz.name(), hour);
                    prop_assert!(hour >= window.start_hour && hour < window.end_hour);
                }
                // Nothing earlier would do: one minute before is not allowed in some zone
                // (unless it is `at` itself).
                if sent > at {
                    prop_assert!(next_allowed(sent - 60_000, window, &zones) != Some(sent - 60_000));
                }
            }
        }
    }
}
