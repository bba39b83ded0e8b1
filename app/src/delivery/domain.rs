//! The brand's DNS check: what SPF, DKIM and DMARC records DNS publishes now, read with
//! hickory's resolver (through mail-auth, which also parses SPF and DMARC records), judged
//! against what Starling signs and sends with, and whether the From domain aligns.
//!
//! A fresh resolver per check, so the page shows what DNS says now, not a cached answer.

use super::{DomainCheck, RecordCheck, SendingSettings};
use crate::error::AppError;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Alignment, Dmarc, Policy};
use mail_auth::hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use mail_auth::spf::Spf;
use mail_auth::MessageAuthenticator;
use std::net::SocketAddr;
use std::time::Duration;

/// A resolver asking `server` (host:port), or the system's resolvers when `None`.
pub fn resolver(server: Option<SocketAddr>) -> Result<MessageAuthenticator, AppError> {
    let mut options = ResolverOpts::default();
    options.timeout = Duration::from_secs(3);
    options.attempts = 2;
    options.cache_size = 0;
    let made = match server {
        Some(addr) => {
            let servers = NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
            MessageAuthenticator::new(ResolverConfig::from_parts(None, vec![], servers), options)
        }
        None => MessageAuthenticator::new_system_conf(),
    };
    made.map_err(|e| AppError::caused("setting up the DNS resolver", e))
}

/// The TXT records at `name`, each one string; none when the name or the records don't
/// exist. `Err` says why DNS could not answer.
async fn txt(resolver: &MessageAuthenticator, name: &str) -> Result<Vec<String>, String> {
    match resolver.resolver().txt_lookup(format!("{name}.")).await {
        Ok(lookup) => Ok(lookup
            .as_lookup()
            .record_iter()
            .filter_map(|r| r.data().as_txt())
            .map(|t| t.txt_data().iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
            .collect()),
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(format!("DNS did not answer for {name}: {e}")),
    }
}

/// The tags of a `k=v; k=v` record (DKIM), values with whitespace removed.
fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.split_whitespace().collect::<String>()))
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The organizational domain (RFC 7489 §3.2): the registrable domain by the Public Suffix
/// List.
fn organizational(domain: &str) -> String {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&domain).unwrap_or(&domain).to_string()
}

fn check(record: &str, name: &str, found: &str, level: &str, verdict: String, publish: &str) -> RecordCheck {
    RecordCheck { record: record.into(), name: name.into(), found: found.into(), level: level.into(), verdict, publish: publish.into() }
}

/// Looks up and judges the brand's records. `spf_include` is the relay's SPF domain when
/// configured (the SPF record must include it).
pub async fn check_domain(resolver: &MessageAuthenticator, s: &SendingSettings, spf_include: &str, now: i64) -> DomainCheck {
    let publish = |name: &str| s.records.iter().find(|(n, _, _)| n == name).map(|(_, _, v)| v.clone()).unwrap_or_default();
    let mut checks = Vec::new();

    // SPF, at the sending domain (the envelope sender's, which SPF checks).
    let domain = s.domain.trim().to_ascii_lowercase();
    let spf_publish = publish(&domain);
    checks.push(match txt(resolver, &domain).await {
        Err(why) => check("SPF", &domain, "", "error", why, &spf_publish),
        Ok(records) => {
            let spf: Vec<&String> = records.iter().filter(|r| r.to_ascii_lowercase().starts_with("v=spf1")).collect();
            match spf.as_slice() {
                [] => check(
                    "SPF",
                    &domain,
                    "",
                    "error",
                    format!("No SPF record at {domain}: receivers can't tell the relay may send for it."),
                    &spf_publish,
                ),
                [one] => {
                    let lower = one.to_ascii_lowercase();
                    let (level, verdict) = if Spf::parse(one.as_bytes()).is_err() {
                        ("error", "The SPF record can't be parsed (RFC 7208): receivers treat it as a permanent error.".to_string())
                    } else if lower.split_whitespace().any(|t| t == "+all" || t == "all") {
                        ("error", "The record ends in +all: it lets anyone send as this domain.".to_string())
                    } else if !spf_include.is_empty()
                        && !lower.split_whitespace().any(|t| t == format!("include:{}", spf_include.to_ascii_lowercase()))
                    {
                        ("warning", format!("The record does not include the relay (include:{spf_include}): its mail will fail SPF."))
                    } else {
                        ("ok", "One valid SPF record.".to_string())
                    };
                    check("SPF", &domain, one, level, verdict, &spf_publish)
                }
                many => check(
                    "SPF",
                    &domain,
                    &many.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("\n"),
                    "error",
                    format!("{} SPF records: receivers treat more than one as a permanent error (RFC 7208 §4.5). Keep one.", many.len()),
                    &spf_publish,
                ),
            }
        }
    });

    // DKIM, at the active key's selector.
    match &s.dkim {
        None => checks.push(check("DKIM", "", "", "error", "No DKIM key yet: generate one above and publish its record.".into(), "")),
        Some(key) => {
            let ours = tags(&key.record);
            checks.push(match txt(resolver, &key.record_name).await {
                Err(why) => check("DKIM", &key.record_name, "", "error", why, &key.record),
                Ok(records) => match records.iter().find(|r| tags(r).iter().any(|(k, _)| k == "p")) {
                    None => check(
                        "DKIM",
                        &key.record_name,
                        "",
                        "error",
                        format!("No DKIM record at {}: signed mail fails DKIM until it is published.", key.record_name),
                        &key.record,
                    ),
                    Some(found) if tag(&tags(found), "p") == tag(&ours, "p") => {
                        check("DKIM", &key.record_name, found, "ok", "The published key is the brand's signing key.".into(), &key.record)
                    }
                    Some(found) => check(
                        "DKIM",
                        &key.record_name,
                        found,
                        "error",
                        "The published key is not the brand's current signing key: publish the record shown.".into(),
                        &key.record,
                    ),
                },
            });
        }
    }

    // DMARC, at the From domain, else its organizational domain (RFC 7489 §6.6.3).
    let from_domain = s.sender_email.rsplit_once('@').map(|(_, d)| d.trim().to_ascii_lowercase()).unwrap_or_default();
    let org = organizational(&from_domain);
    let mut dmarc_name = format!("_dmarc.{from_domain}");
    let mut dmarc = txt(resolver, &dmarc_name).await;
    if matches!(&dmarc, Ok(r) if !r.iter().any(|r| r.starts_with("v=DMARC1"))) && org != from_domain {
        dmarc_name = format!("_dmarc.{org}");
        dmarc = txt(resolver, &dmarc_name).await;
    }
    let dmarc_publish = publish(&format!("_dmarc.{domain}"));
    let mut policy = None;
    checks.push(match dmarc {
        Err(why) => check("DMARC", &dmarc_name, "", "error", why, &dmarc_publish),
        Ok(records) => match records.iter().find(|r| r.starts_with("v=DMARC1")) {
            None => check(
                "DMARC",
                &format!("_dmarc.{from_domain}"),
                "",
                "error",
                format!("No DMARC record for {from_domain}: mailbox providers expect one from bulk senders."),
                &dmarc_publish,
            ),
            Some(found) => match Dmarc::parse(found.as_bytes()) {
                Err(_) => {
                    check("DMARC", &dmarc_name, found, "error", "The DMARC record can't be parsed (RFC 7489).".into(), &dmarc_publish)
                }
                Ok(parsed) => {
                    let (level, verdict) = match parsed.p {
                        Policy::None | Policy::Unspecified => {
                            ("warning", "Policy p=none: receivers only report; consider quarantine once reports are clean.".to_string())
                        }
                        Policy::Quarantine => ("ok", "Policy p=quarantine.".to_string()),
                        Policy::Reject => ("ok", "Policy p=reject.".to_string()),
                    };
                    policy = Some(parsed.adkim);
                    check("DMARC", &dmarc_name, found, level, verdict, &dmarc_publish)
                }
            },
        },
    });

    // Alignment: the DKIM signing domain (d=) against the From domain.
    let signing = s.dkim.as_ref().map(|k| k.domain.to_ascii_lowercase()).unwrap_or(domain.clone());
    let strict = policy == Some(Alignment::Strict);
    let aligned = if strict { signing == from_domain } else { organizational(&signing) == org && !org.is_empty() };
    let mode = if strict { "strict (adkim=s)" } else { "relaxed" };
    checks.push(check(
        "Alignment",
        &from_domain,
        &format!("From {} · DKIM d={signing}", s.sender_email),
        if aligned { "ok" } else { "error" },
        if aligned {
            format!("The From domain aligns with the DKIM signing domain ({mode}).")
        } else {
            format!("The From domain {from_domain} does not align with the DKIM signing domain {signing} ({mode}): DMARC fails.")
        },
        "",
    ));
    DomainCheck { checked_at: now, aligned, checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organizational_domains_follow_the_public_suffix_list() {
        assert_eq!(organizational("mail.brand.example.com"), "example.com");
        assert_eq!(organizational("news.shop.co.uk"), "shop.co.uk");
        assert_eq!(organizational("Brand.DE."), "brand.de");
    }

    #[test]
    fn record_tags_ignore_spacing_and_case_of_names() {
        let t = tags("v=DKIM1; K=rsa; p=MIIB AAA\n BBB");
        assert_eq!(tag(&t, "k"), Some("rsa"));
        assert_eq!(tag(&t, "p"), Some("MIIBAAABBB"));
    }
}
