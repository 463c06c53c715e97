//! The log lines' format: tracing-subscriber's own, made cheaper where every call pays
//! (issue 14; BENCHMARKS.md, "Log lines and header names").
//!
//! - [`Rfc3339Micros`]: the timestamp, written by humantime in one go. The default timer
//!   writes the same text through `core::fmt` part by part: 1.6 % of a unary call's CPU.
//! - [`Lines`]: the access line (target [`ACCESS`], one per call) written with exactly the
//!   text of the default `Full` format, without the ANSI styling calls that format makes
//!   for every field name even when colours are off (2.7 %). Any other line, a line in
//!   colour, and one inside a span are the default format's.
//! - [`Fields`]: the same for fields with no message and no error, which are a span's
//!   (each call's span formats its two fields when it starts); the others are the default
//!   field formatter's, which escapes messages and lists an error's sources.
//!
//! Written by hand because tracing-subscriber has neither: its timers all format part by
//! part, and its field formatters style every name. Tests pin every line to the default
//! format's text.

use std::{fmt, time::SystemTime};

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    field::RecordFields,
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{DefaultFields, Format, Full, Writer},
        time::FormatTime,
    },
    registry::LookupSpan,
};

/// The access log's target (`layers::access_log`).
pub const ACCESS: &str = "access";

/// UTC, RFC 3339 with microseconds (`2026-12-03T12:22:01.743724Z`), as the default timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rfc3339Micros;

impl FormatTime for Rfc3339Micros {
    fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
        write!(
            writer,
            "{}",
            humantime::format_rfc3339_micros(SystemTime::now())
        )
    }
}

/// The human log format: the default `Full` format, with the access line written directly.
#[derive(Debug)]
pub struct Lines<T> {
    full: Format<Full, T>,
    timer: T,
}

impl<T: FormatTime + Clone> Lines<T> {
    pub fn new(timer: T) -> Self {
        Self {
            full: Format::default().with_timer(timer.clone()),
            timer,
        }
    }
}

impl<S, N, T> FormatEvent<S, N> for Lines<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let plain = metadata.target() == ACCESS
            && *metadata.level() == Level::INFO
            && !writer.has_ansi_escapes()
            && context.event_scope().is_none();
        if !plain {
            return self.full.format_event(context, writer, event);
        }
        // As `Full` lays it out: time, level (padded to five), target, fields.
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_str("  INFO access: ")?;
        let mut fields = PlainFields {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writeln!(writer)
    }
}

/// Fields as the default formatter writes them; without its styling calls when they have
/// no message and no error and colours are off.
#[derive(Debug, Default)]
pub struct Fields(DefaultFields);

impl<'w> FormatFields<'w> for Fields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut styled = NeedsDefault(false);
        fields.record(&mut styled);
        if styled.0 || writer.has_ansi_escapes() {
            return self.0.format_fields(writer, fields);
        }
        let mut plain = PlainFields {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut plain);
        plain.result
    }
}

/// Whether fields have what only the default formatter writes right: a message (which it
/// escapes) or an error (whose sources it lists).
struct NeedsDefault(bool);

impl Visit for NeedsDefault {
    fn record_debug(&mut self, field: &Field, _: &dyn fmt::Debug) {
        self.0 |= field.name() == "message";
    }

    fn record_error(&mut self, _: &Field, _: &(dyn std::error::Error + 'static)) {
        self.0 = true;
    }
}

/// The default field visitor's text without its styling: the message as it is, then
/// `name=value` with values in their `Debug` form, separated by spaces. The default
/// escapes only messages; the one message written here unescaped is the access line's,
/// a fixed word (`Fields` hands every other message to the default formatter).
struct PlainFields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Visit for PlainFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        if !self.first {
            self.result = self.writer.write_char(' ');
        }
        self.first = false;
        self.result = self.result.and_then(|()| {
            if name != "message" {
                self.writer
                    .write_str(name.strip_prefix("r#").unwrap_or(name))?;
                self.writer.write_char('=')?;
            }
            write!(self.writer, "{value:?}")
        });
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex, PoisonError},
    };

    use super::*;

    /// A fixed time, so two formats' lines compare whole.
    #[derive(Debug, Clone, Copy)]
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, writer: &mut Writer<'_>) -> fmt::Result {
            writer.write_str("2026-12-03T12:22:01.743724Z")
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            buffer.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            let buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            String::from_utf8(buffer.clone()).expect("log lines are UTF-8")
        }
    }

    /// Lines like the access log's (every kind of field it has), another target's, and
    /// one inside a span.
    fn log_lines() {
        let peer: std::net::SocketAddr = "127.0.0.1:34180".parse().expect("an address");
        let none: Option<u64> = None;
        tracing::info!(
            target: "access",
            method = %"/demo.MyService/Predict",
            code = %"OK",
            duration_ms = 0.194065,
            peer = Some(tracing::field::display(peer)),
            request_id = %"37377679-9062-40c1-947e-9967a02e7962",
            agent = %"h2load nghttp2/1.52.0",
            timeout_ms = Some(250u64),
            trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736"),
            missing = none,
            "call"
        );
        tracing::info!(target: "access", method = %"/x", "call");
        tracing::warn!(reason = "other", "not an access line");
        tracing::info_span!("call", request_id = %"abc").in_scope(|| {
            tracing::info!(target: "access", code = %"OK", "call");
        });
        let error = std::io::Error::other("disk full");
        tracing::info_span!(
            "store",
            path = "/tmp/x",
            rows = 3u64,
            ok = true,
            r#type = "t",
            empty = tracing::field::Empty,
        )
        .in_scope(|| {
            tracing::warn!(error = &error as &dyn std::error::Error, "write failed");
            tracing::info!("a message with \x1b[31m an escape");
            tracing::info!(count = 2, "plain fields");
        });
        tracing::info_span!("failing", error = &error as &dyn std::error::Error).in_scope(|| {
            tracing::info!("inside a span with an error");
        });
    }

    fn lines_of<E, N>(format: E, fields: N) -> String
    where
        E: FormatEvent<tracing_subscriber::Registry, N> + Send + Sync + 'static,
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(fields)
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, log_lines);
        buffer.text()
    }

    #[test]
    fn every_line_is_the_default_format_s_text() {
        let ours = lines_of(Lines::new(Fixed), Fields::default());
        let default = lines_of(Format::default().with_timer(Fixed), DefaultFields::new());
        assert_eq!(ours, default);
        assert!(ours.contains("\\x1b[31m"), "the message is escaped: {ours}");
        assert!(
            ours.contains("store{path=\"/tmp/x\" rows=3 ok=true type=\"t\"}"),
            "{ours}"
        );
        assert!(
            ours.starts_with(
                "2026-12-03T12:22:01.743724Z  INFO access: call \
                 method=/demo.MyService/Predict code=OK duration_ms=0.194065 \
                 peer=127.0.0.1:34180 request_id=37377679-9062-40c1-947e-9967a02e7962 \
                 agent=h2load nghttp2/1.52.0 timeout_ms=250 \
                 trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"\n"
            ),
            "{ours}"
        );
        assert_eq!(ours.lines().count(), 8, "{ours}");
    }

    #[test]
    fn the_timestamp_is_the_default_timer_s_text() {
        let mut ours = String::new();
        Rfc3339Micros
            .format_time(&mut Writer::new(&mut ours))
            .expect("formats");
        let mut default = String::new();
        tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut Writer::new(&mut default))
            .expect("formats");
        // Same shape; the same second (taken microseconds apart, they differ within it
        // only across a second's edge, which this allows).
        assert_eq!(ours.len(), "2026-12-03T12:22:01.743724Z".len(), "{ours}");
        assert_eq!(ours.len(), default.len(), "{default}");
        assert_eq!(&ours[10..11], "T");
        assert!(ours.ends_with('Z'));
        let seconds = |text: &str| humantime::parse_rfc3339(text).expect("RFC 3339");
        let apart = seconds(&default)
            .duration_since(seconds(&ours))
            .expect("taken after");
        assert!(
            apart < std::time::Duration::from_secs(1),
            "{ours} {default}"
        );
    }
}
