//! How the CLI prints what the gateway answered: for a person at a
//! terminal, a sentence or a table; for a program, JSON — proto3 JSON with
//! UUIDs as their text (`json`), or exact proto3 JSON (`proto-json`).

use std::io::IsTerminal as _;

use angzarr_coordinators::json_form::Form;
use angzarr_proto::angzarr::{EventBook, EventPage, event_page};

/// `--output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Sentences and tables (the default on a terminal).
    Human,
    /// proto3 JSON with UUIDs as their text (the default when piped).
    Json,
    /// Exact proto3 JSON (UUIDs as `{"value": base64}`), for programs that
    /// parse it by descriptor.
    ProtoJson,
}

impl Output {
    /// The chosen form, or by where stdout goes.
    pub fn or_default(chosen: Option<Output>) -> Output {
        chosen.unwrap_or(if std::io::stdout().is_terminal() { Output::Human } else { Output::Json })
    }

    /// `msg` as pretty JSON in this form (`human` falls back to `json`).
    pub fn json<M: prost::Message + prost::Name>(self, msg: &M) -> String {
        let value = self.form().apply(angzarr_coordinators::http::to_json(msg));
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }

    /// `msg` as one line of JSON in this form.
    pub fn json_line<M: prost::Message + prost::Name>(self, msg: &M) -> String {
        serde_json::to_string(&self.form().apply(angzarr_coordinators::http::to_json(msg))).unwrap_or_default()
    }

    fn form(self) -> Form {
        match self {
            Output::ProtoJson => Form::Proto,
            _ => Form::Readable,
        }
    }
}

/// The root of `book`'s cover, as text.
pub fn root_of(book: &EventBook) -> String {
    book.cover
        .as_ref()
        .and_then(|c| c.root.as_ref())
        .and_then(|r| uuid::Uuid::from_slice(&r.value).ok())
        .map_or_else(|| "(no root)".into(), |u| u.to_string())
}

/// The short type name of a page's event (`FundsDeposited`).
pub fn event_type(page: &EventPage) -> String {
    match &page.payload {
        Some(event_page::Payload::Event(any)) => {
            let full = angzarr_proto::type_name(&any.type_url);
            full.rsplit('.').next().unwrap_or(full).to_string()
        }
        Some(event_page::Payload::External(_)) => "(external)".into(),
        None => "(empty)".into(),
    }
}

/// A page's event body as one line of JSON, UUIDs as text.
pub fn event_body(page: &EventPage) -> String {
    let value = match &page.payload {
        Some(event_page::Payload::Event(any)) => {
            let json = angzarr_coordinators::http::to_json(any);
            let mut json = angzarr_coordinators::json_form::uuids_readable(json);
            if let Some(map) = json.as_object_mut() {
                map.remove("@type");
            }
            json
        }
        Some(event_page::Payload::External(r)) => {
            angzarr_coordinators::json_form::uuids_readable(angzarr_coordinators::http::to_json(r))
        }
        None => serde_json::Value::Null,
    };
    serde_json::to_string(&value).unwrap_or_default()
}

/// When a page was written, to the second.
pub fn created(page: &EventPage) -> String {
    page.created_at.as_ref().map_or_else(String::new, |t| {
        let at = std::time::UNIX_EPOCH + std::time::Duration::new(t.seconds.max(0) as u64, t.nanos.max(0) as u32);
        humantime::format_rfc3339_seconds(at).to_string()
    })
}

/// `book` as a table: one line per event.
pub fn book_table(domain: &str, book: &EventBook) -> String {
    let mut out = format!("{domain} {}  next sequence {}\n", root_of(book), book.next_sequence);
    if let Some(s) = &book.snapshot {
        out.push_str(&format!("snapshot at sequence {}\n", s.sequence));
    }
    if book.pages.is_empty() {
        out.push_str("(no events)\n");
        return out;
    }
    let rows: Vec<[String; 4]> = book
        .pages
        .iter()
        .map(|p| [p.seq().map_or_else(|| "?".into(), |s| s.to_string()), event_type(p), created(p), event_body(p)])
        .collect();
    let header = ["SEQ", "TYPE", "CREATED", "EVENT"];
    let widths: Vec<usize> =
        (0..3).map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 4]| {
        format!(
            "{:>w0$}  {:<w1$}  {:<w2$}  {}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    };
    out.push_str(&line(header));
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out
}
