//! Step definitions shared by every backend: the meanings written down in
//! `features/README.md`.

use angzarr_proto::examples::{
    Currency, DepositFunds, PlayerState, RegisterPlayer, ReleaseFunds, ReserveFunds, TransferFunds, WithdrawFunds,
};
use angzarr_proto::{pack, type_name};
use cucumber::{World, given, then, when};
use prost_types::Any;
use tonic::{Code, Status};

/// A place commands go: the handler in-process, or a real coordinator.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Starts a fresh aggregate.
    async fn reset(&mut self);
    /// Sends one command with an expected sequence; the accepted events or the status.
    async fn send(&mut self, command: Any, expected: u32) -> Result<Vec<Any>, Status>;
    /// Number of events recorded for the aggregate.
    async fn recorded(&mut self) -> u32;
    /// The aggregate's state, rebuilt from what is recorded.
    async fn state(&mut self) -> PlayerState;
}

#[derive(Debug, World)]
#[world(init = Self::new)]
pub struct PlayerWorld {
    backend: Box<dyn Backend>,
    last: Option<Result<Vec<Any>, Status>>,
    recorded_before: u32,
    /// The running scenario's name, for the conformance dumps.
    scenario: String,
    /// Commands sent so far in this scenario.
    sent: usize,
}

/// Builds the backend of this test binary.
pub type MakeBackend = fn() -> Box<dyn Backend>;
pub static BACKEND: std::sync::OnceLock<MakeBackend> = std::sync::OnceLock::new();

impl PlayerWorld {
    fn new() -> Self {
        let make = BACKEND.get().expect("the test binary sets its backend");
        PlayerWorld { backend: make(), last: None, recorded_before: 0, scenario: String::new(), sent: 0 }
    }

    async fn send_expecting(&mut self, command: Any, expected: Option<u32>) {
        self.recorded_before = self.backend.recorded().await;
        let expected = expected.unwrap_or(self.recorded_before);
        let result = self.backend.send(command, expected).await;
        self.sent += 1;
        dump_events(&self.scenario, self.sent, &result);
        self.last = Some(result);
    }

    async fn send(&mut self, command: Any) {
        self.send_expecting(command, None).await
    }

    fn accepted(&self) -> &[Any] {
        match &self.last {
            Some(Ok(events)) => events,
            Some(Err(s)) => panic!("the command was refused: {:?} {}", s.code(), s.message()),
            None => panic!("no command was sent"),
        }
    }

    fn refusal(&self) -> &Status {
        match &self.last {
            Some(Err(s)) => s,
            Some(Ok(events)) => panic!("expected a refusal, the command was accepted with {} events", events.len()),
            None => panic!("no command was sent"),
        }
    }
}

fn usd(amount: i64) -> Option<Currency> {
    Some(Currency { amount, currency_code: "USD".into() })
}

/// `$N`.
fn dollars(s: &str) -> i64 {
    s.trim_start_matches('$').parse().expect("an amount like $100")
}

#[given("a new player aggregate")]
async fn new_aggregate(w: &mut PlayerWorld) {
    w.backend.reset().await;
}

#[given(regex = r"^a registered player with (\$\d+) balance$")]
async fn registered(w: &mut PlayerWorld, balance: String) {
    w.send(pack(&RegisterPlayer { display_name: "Ada".into(), email: "ada@example.com".into(), ..Default::default() }))
        .await;
    w.accepted();
    let n = dollars(&balance);
    if n > 0 {
        w.send(pack(&DepositFunds { amount: usd(n) })).await;
        w.accepted();
    }
}

#[when(regex = r#"^a player registers as "([^"]*)" with email "([^"]*)"$"#)]
async fn registers(w: &mut PlayerWorld, name: String, email: String) {
    w.send(pack(&RegisterPlayer { display_name: name, email, ..Default::default() })).await;
}

#[when(regex = r"^they deposit (\$\d+)$")]
async fn deposit(w: &mut PlayerWorld, amount: String) {
    w.send(pack(&DepositFunds { amount: usd(dollars(&amount)) })).await;
}

#[when(regex = r"^they deposit (\$\d+) expecting sequence (\d+)$")]
async fn deposit_at(w: &mut PlayerWorld, amount: String, seq: u32) {
    w.send_expecting(pack(&DepositFunds { amount: usd(dollars(&amount)) }), Some(seq)).await;
}

#[when(regex = r"^they withdraw (\$\d+)$")]
async fn withdraw(w: &mut PlayerWorld, amount: String) {
    w.send(pack(&WithdrawFunds { amount: usd(dollars(&amount)) })).await;
}

#[given(regex = r#"^they reserve (\$\d+) for table "([^"]*)"$"#)]
async fn reserve_given(w: &mut PlayerWorld, amount: String, table: String) {
    reserve(w, amount, table).await;
    w.accepted();
}

#[when(regex = r#"^they reserve (\$\d+) for table "([^"]*)"$"#)]
async fn reserve(w: &mut PlayerWorld, amount: String, table: String) {
    w.send(pack(&ReserveFunds { amount: usd(dollars(&amount)), table_root: table.into_bytes() })).await;
}

#[when(regex = r#"^they release the reservation for table "([^"]*)"$"#)]
async fn release(w: &mut PlayerWorld, table: String) {
    w.send(pack(&ReleaseFunds { table_root: table.into_bytes() })).await;
}

#[when(regex = r"^they receive a transfer of (\$\d+)$")]
async fn transfer(w: &mut PlayerWorld, amount: String) {
    let from = uuid::Uuid::from_u128(1).as_bytes().to_vec();
    w.send(pack(&TransferFunds {
        from_player_root: from,
        amount: usd(dollars(&amount)),
        hand_root: vec![],
        reason: "pot".into(),
    }))
    .await;
}

#[then(regex = r"^their balance is (\$\d+)$")]
async fn balance(w: &mut PlayerWorld, amount: String) {
    let state = w.backend.state().await;
    assert_eq!(state.bankroll.as_ref().map_or(0, |c| c.amount), dollars(&amount), "bankroll of {state:?}");
}

#[then(regex = r"^an? (\w+) event is recorded$")]
async fn recorded(w: &mut PlayerWorld, event: String) {
    let last = w.accepted().last().unwrap_or_else(|| panic!("the command produced no events"));
    assert_eq!(type_name(&last.type_url), format!("examples.{event}"));
}

#[then(regex = r#"^the command is rejected with "([^"]*)"$"#)]
async fn rejected_with(w: &mut PlayerWorld, text: String) {
    let s = w.refusal();
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    assert!(s.message().contains(&text), "`{}` should contain `{text}`", s.message());
}

#[then("the command is rejected as a sequence mismatch")]
async fn sequence_mismatch(w: &mut PlayerWorld) {
    let s = w.refusal();
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    assert!(s.message().contains("sequence"), "{}", s.message());
}

#[then("no new event is recorded")]
async fn nothing_new(w: &mut PlayerWorld) {
    assert_eq!(w.backend.recorded().await, w.recorded_before);
}

/// Appends what a command produced to `$ANGZARR_EVENTS_DUMP`, one line per
/// event (`scenario, command #, type, hex of the encoded event`) or refusal,
/// so `scripts/conformance` can compare languages byte for byte.
fn dump_events(scenario: &str, n: usize, result: &Result<Vec<Any>, Status>) {
    let Ok(path) = std::env::var("ANGZARR_EVENTS_DUMP") else {
        return;
    };
    let mut lines = String::new();
    match result {
        Ok(events) => {
            for e in events {
                let hex: String = e.value.iter().map(|b| format!("{b:02x}")).collect();
                lines.push_str(&format!("{scenario}\t{n}\t{}\t{hex}\n", type_name(&e.type_url)));
            }
        }
        Err(s) => lines.push_str(&format!("{scenario}\t{n}\trefused\t{:?}\n", s.code())),
    }
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("events dump file");
    f.write_all(lines.as_bytes()).expect("writing the events dump");
}

/// Appends `scenario\tpassed|failed` to `$ANGZARR_RESULTS` when set.
fn record_result(scenario: &str, passed: bool) {
    let Ok(path) = std::env::var("ANGZARR_RESULTS") else {
        return;
    };
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).expect("results file");
    writeln!(f, "{scenario}\t{}", if passed { "passed" } else { "failed" }).expect("writing results");
}

/// Runs `features/player.feature`, failing the process on any failed or skipped step.
pub async fn run(make: MakeBackend) {
    BACKEND.set(make).ok();
    let features = concat!(env!("CARGO_MANIFEST_DIR"), "/player.feature");
    PlayerWorld::cucumber()
        .before(|_, _, scenario, world| {
            world.scenario = scenario.name.clone();
            Box::pin(async {})
        })
        .after(|_, _, scenario, finished, _| {
            let passed = matches!(finished, cucumber::event::ScenarioFinished::StepPassed);
            record_result(&scenario.name, passed);
            Box::pin(async {})
        })
        .fail_on_skipped()
        .run_and_exit(features)
        .await;
}
