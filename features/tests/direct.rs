//! `player.feature` against the Rust player handler in-process. The world
//! plays the coordinator's part: it records events and checks sequences.

mod support;

use angzarr_client::Aggregate;
use angzarr_proto::angzarr::{
    CommandBook, CommandPage, ContextualCommand, Cover, EventBook, EventPage, PageHeader, business_response,
    command_page,
};
use angzarr_proto::examples::PlayerState;
use prost_types::Any;
use tonic::Status;

#[derive(Debug)]
struct Direct {
    pages: Vec<EventPage>,
}

impl std::fmt::Debug for Aggregated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("player aggregate")
    }
}
struct Aggregated(Aggregate<PlayerState>);

fn aggregate() -> &'static Aggregated {
    static A: std::sync::OnceLock<Aggregated> = std::sync::OnceLock::new();
    A.get_or_init(|| Aggregated(poker::player::aggregate()))
}

#[async_trait::async_trait]
impl support::Backend for Direct {
    async fn reset(&mut self) {
        self.pages.clear();
    }

    async fn send(&mut self, command: Any, expected: u32) -> Result<Vec<Any>, Status> {
        let next = self.pages.len() as u32;
        if expected != next {
            return Err(Status::failed_precondition(format!(
                "sequence mismatch: the command expects sequence {expected}, the aggregate's next sequence is {next}"
            )));
        }
        let cover = Cover { domain: "player".into(), ..Default::default() };
        let request = ContextualCommand {
            events: Some(EventBook {
                cover: Some(cover.clone()),
                pages: self.pages.clone(),
                next_sequence: next,
                snapshot: None,
            }),
            command: Some(CommandBook {
                cover: Some(cover),
                pages: vec![CommandPage {
                    header: Some(PageHeader::sequence(expected)),
                    payload: Some(command_page::Payload::Command(command)),
                    ..Default::default()
                }],
            }),
        };
        match aggregate().0.execute(&request)?.result {
            Some(business_response::Result::Events(book)) => {
                let events = book.pages.iter().filter_map(|p| p.event().cloned()).collect();
                self.pages.extend(book.pages);
                Ok(events)
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn recorded(&mut self) -> u32 {
        self.pages.len() as u32
    }

    async fn state(&mut self) -> PlayerState {
        aggregate().0.rebuild(None, &self.pages).expect("recorded events apply")
    }
}

#[tokio::main]
async fn main() {
    support::run(|| Box::new(Direct { pages: Vec::new() })).await;
}
