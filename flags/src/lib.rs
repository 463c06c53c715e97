//! Parsers for the command-line values that the server and the CLI both take, so that one
//! value is accepted (and refused, with the same message) by both: `HOST:PORT`, durations,
//! `http(s)://` base URLs and bearer tokens.
//!
//! Each is a clap value parser. Their errors say what was expected; clap adds the value and
//! the flag, except for tokens, which are never repeated (an error may end up in a log).

use std::{ops::RangeInclusive, time::Duration};

/// `HOST:PORT`, with a non-empty host and a port from 1 to 65535.
pub fn host_port(value: &str) -> Result<String, String> {
    let value = value.trim();
    match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(value.to_owned())
        }
        _ => Err("expected HOST:PORT, e.g. `replica-1:50051`".into()),
    }
}

/// An `http://` or `https://` base URL, without its trailing slashes.
pub fn http_url(value: &str) -> Result<String, String> {
    let url = value.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(url.to_owned()),
        _ => Err(
            "expected an http:// or https:// base URL, e.g. `http://HOST:PORT`, \
                  `http://127.0.0.1:2379` or `https://api.open-meteo.com`"
                .into(),
        ),
    }
}

/// A duration in humantime's syntax: `500ms`, `2s`, `1m`, `1h 30m`.
pub fn duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value.trim())
        .map_err(|error| format!("{error}; expected e.g. `500ms`, `2s` or `1m`"))
}

/// A duration within `range`, e.g. `duration_in(Duration::from_secs(1)..=Duration::from_secs(3600))`.
pub fn duration_in(
    range: RangeInclusive<Duration>,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |value| {
        let parsed = duration(value)?;
        if range.contains(&parsed) {
            Ok(parsed)
        } else {
            Err(format!(
                "expected a duration from {} to {}",
                humantime::format_duration(*range.start()),
                humantime::format_duration(*range.end())
            ))
        }
    }
}

/// A bearer token: 1 to 256 visible ASCII characters. A refused value is not repeated in
/// the error, unlike clap's other parsers.
#[derive(Debug, Clone, Copy)]
pub struct Token;

impl clap::builder::TypedValueParser for Token {
    type Value = String;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        match value.to_str() {
            Some(value)
                if (1..=256).contains(&value.len())
                    && value.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(value.to_owned())
            }
            _ => {
                let name = arg.map_or_else(|| "the token".to_owned(), ToString::to_string);
                Err(clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!(
                        "invalid value for '{name}': expected 1 to 256 visible ASCII \
                         characters (no spaces), e.g. the output of `openssl rand -hex 32`\n"
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[arg(long, value_parser = host_port)]
        address: Option<String>,
        #[arg(long, value_parser = http_url)]
        url: Option<String>,
        #[arg(long, value_parser = duration_in(Duration::from_millis(100)..=Duration::from_secs(3600)))]
        every: Option<Duration>,
        #[arg(long, value_parser = Token)]
        token: Option<String>,
    }

    fn error(args: &[&str]) -> String {
        Flags::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn good_values_parse() {
        let flags = Flags::try_parse_from([
            "test",
            "--address",
            "replica-1:50051",
            "--url",
            "http://127.0.0.1:2379/",
            "--every",
            "2s",
            "--token",
            "s3cret",
        ])
        .expect("valid");
        assert_eq!(flags.address.as_deref(), Some("replica-1:50051"));
        assert_eq!(flags.url.as_deref(), Some("http://127.0.0.1:2379"));
        assert_eq!(flags.every, Some(Duration::from_secs(2)));
        assert_eq!(flags.token.as_deref(), Some("s3cret"));
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        for bad in ["replica-1", ":80", "host:0", "host:99999"] {
            assert!(error(&["--address", bad]).contains("HOST:PORT"), "{bad}");
        }
        for bad in ["localhost:2379", "ftp://x", "http://", "http://a?b"] {
            assert!(error(&["--url", bad]).contains("http://"), "{bad}");
        }
        assert!(error(&["--every", "5ms"]).contains("100ms to 1h"));
        assert!(error(&["--every", "soon"]).contains("expected e.g."));
    }

    #[test]
    fn a_refused_token_is_not_repeated() {
        for bad in ["has space", ""] {
            let message = error(&["--token", bad]);
            assert!(message.contains("visible ASCII"), "{message}");
            assert!(bad.is_empty() || !message.contains(bad), "{message}");
        }
        assert!(error(&["--token", &"x".repeat(257)]).contains("1 to 256"));
    }
}
