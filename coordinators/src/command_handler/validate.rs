//! Step 1: refuse, before anything is written, what can never succeed.

use angzarr_proto::angzarr::{CommandBook, CommandRequest};
use angzarr_proto::{TYPE_URL_PREFIX, type_name};
use prost::Message;
use uuid::Uuid;

use crate::CoordinatorError;

/// Limits and knowledge the gateway checks against.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest encoded `CommandBook` accepted.
    pub max_command_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_command_bytes: 1 << 20 }
    }
}

/// A request that passed validation: what the gateway needs to route it.
#[derive(Debug)]
pub struct Valid {
    /// The command book, with its correlation id filled in.
    pub book: CommandBook,
    /// Target domain.
    pub domain: String,
    /// Aggregate root.
    pub root: Uuid,
    /// Correlation id (generated if the caller sent none).
    pub correlation_id: String,
}

fn invalid(msg: impl Into<String>) -> CoordinatorError {
    CoordinatorError::InvalidArgument(msg.into())
}

/// Checks a request. `known_domain` says whether a domain is served;
/// `pool`, when it knows the command's type, is used to prove the payload decodes.
pub fn validate(
    req: &CommandRequest,
    limits: &Limits,
    known_domain: impl Fn(&str) -> bool,
    pool: Option<&prost_reflect::DescriptorPool>,
) -> Result<Valid, CoordinatorError> {
    let book = req.command.as_ref().ok_or_else(|| invalid("request has no command book"))?;
    let size = book.encoded_len();
    if size > limits.max_command_bytes {
        return Err(CoordinatorError::TooLarge { size, limit: limits.max_command_bytes });
    }
    let cover = book.cover.as_ref().ok_or_else(|| invalid("command book has no cover"))?;
    if cover.domain.is_empty() {
        return Err(invalid("cover.domain is empty"));
    }
    if !known_domain(&cover.domain) {
        return Err(CoordinatorError::UnknownDomain(cover.domain.clone()));
    }
    let root = cover.root.as_ref().ok_or_else(|| invalid("cover.root is missing"))?;
    let root = Uuid::try_from(root)
        .map_err(|_| invalid(format!("cover.root must be 16 bytes (a UUID), got {}", root.value.len())))?;
    if root.is_nil() {
        return Err(invalid("cover.root is the nil UUID"));
    }
    if cover.edition.as_ref().is_some_and(|e| !e.name.is_empty()) {
        return Err(CoordinatorError::Unimplemented(
            "editions are not supported yet: leave cover.edition empty".into(),
        ));
    }
    let page = match book.pages.as_slice() {
        [page] => page,
        [] => return Err(invalid("command book has no pages")),
        _ => return Err(invalid("a command book carries exactly one command page")),
    };
    if page.header.as_ref().and_then(|h| h.explicit_sequence()).is_none() {
        return Err(invalid("command page has no sequence: set header.sequence to the aggregate's next sequence"));
    }
    let any = page.command().ok_or_else(|| invalid("command page has no inline command payload"))?;
    if !any.type_url.starts_with(TYPE_URL_PREFIX) || type_name(&any.type_url).is_empty() {
        return Err(invalid(format!(
            "command type URL `{}` must be `{TYPE_URL_PREFIX}<full proto name>`",
            any.type_url
        )));
    }
    if let Some(desc) = pool.and_then(|p| p.get_message_by_name(type_name(&any.type_url))) {
        prost_reflect::DynamicMessage::decode(desc, any.value.as_slice())
            .map_err(|e| invalid(format!("command payload is not a valid {}: {e}", type_name(&any.type_url))))?;
    }
    let correlation_id =
        if cover.correlation_id.is_empty() { Uuid::new_v4().to_string() } else { cover.correlation_id.clone() };
    let mut book = book.clone();
    if let Some(c) = book.cover.as_mut() {
        c.correlation_id = correlation_id.clone();
    }
    Ok(Valid { book, domain: cover.domain.clone(), root, correlation_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use angzarr_proto::angzarr::{CommandPage, Cover, PageHeader, command_page};

    fn request(f: impl FnOnce(&mut CommandBook)) -> CommandRequest {
        let mut book = CommandBook {
            cover: Some(Cover { root: Some(Uuid::new_v4().into()), domain: "player".into(), ..Default::default() }),
            pages: vec![CommandPage {
                header: Some(PageHeader::sequence(0)),
                payload: Some(command_page::Payload::Command(prost_types::Any {
                    type_url: "type.googleapis.com/examples.DepositFunds".into(),
                    value: vec![],
                })),
                ..Default::default()
            }],
        };
        f(&mut book);
        CommandRequest { command: Some(book), ..Default::default() }
    }

    fn check(req: CommandRequest) -> Result<Valid, CoordinatorError> {
        validate(&req, &Limits { max_command_bytes: 1000 }, |d| d == "player", Some(angzarr_proto::descriptor_pool()))
    }

    #[test]
    fn a_good_command_passes_and_gets_a_correlation_id() {
        let v = check(request(|_| {})).unwrap();
        assert_eq!(v.domain, "player");
        assert!(!v.correlation_id.is_empty());
        assert_eq!(v.book.cover.unwrap().correlation_id, v.correlation_id);
    }

    #[test]
    fn each_defect_is_named() {
        let cases: Vec<(CommandRequest, &str)> = vec![
            (CommandRequest::default(), "no command book"),
            (request(|b| b.cover = None), "no cover"),
            (request(|b| b.cover.as_mut().unwrap().root = None), "root is missing"),
            (
                request(|b| b.cover.as_mut().unwrap().root = Some(angzarr_proto::angzarr::Uuid { value: vec![1, 2] })),
                "16 bytes",
            ),
            (request(|b| b.cover.as_mut().unwrap().domain = "nope".into()), "unknown domain `nope`"),
            (request(|b| b.pages.clear()), "no pages"),
            (request(|b| b.pages[0].header = None), "no sequence"),
            (request(|b| b.pages[0].payload = None), "no inline command"),
            (
                request(|b| {
                    b.pages[0].payload = Some(command_page::Payload::Command(prost_types::Any {
                        type_url: "examples.DepositFunds".into(),
                        value: vec![],
                    }))
                }),
                "type URL",
            ),
            (
                request(|b| {
                    b.pages[0].payload = Some(command_page::Payload::Command(prost_types::Any {
                        type_url: "type.googleapis.com/examples.DepositFunds".into(),
                        value: vec![0xff, 0xff, 0xff],
                    }))
                }),
                "not a valid examples.DepositFunds",
            ),
            (
                request(|b| {
                    b.pages[0].payload = Some(command_page::Payload::Command(prost_types::Any {
                        type_url: "type.googleapis.com/examples.DepositFunds".into(),
                        value: vec![0; 2000],
                    }))
                }),
                "the limit is 1000",
            ),
        ];
        for (req, want) in cases {
            let err = check(req).unwrap_err().to_string();
            assert!(err.contains(want), "`{err}` should mention `{want}`");
        }
    }
}
