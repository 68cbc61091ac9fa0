//! A worker's consumer-group membership over the commands topics.
//!
//! One consumer per worker, polled by a dedicated thread (the dispatcher),
//! which serves the rebalance callbacks and the tasks' requests. Records
//! reach each partition's task through its own bounded queue, so one
//! stalled partition never slows another, nor the callbacks ([`Reading`]):
//! - command partitions: the dispatcher routes them and **pauses** a
//!   partition whose task is behind (its handler down), keeping what was
//!   already fetched aside in order and resuming once the task drained it;
//! - downstream groups: once a partition's task restored, a thread of its
//!   own (a [`Pump`]) reads the partition's own librdkafka queue into the
//!   task's, blocking while it is full; librdkafka then stops fetching the
//!   partition by itself and fetches again as soon as there is room.
//!
//! The callbacks:
//! - **assign**: the partition is paused (so nothing is fetched while its task
//!   restores), a route and a [`KafkaPartition`] are created and handed to the
//!   worker; the task resumes the partition once restored;
//! - **revoke**: the worker is told, and the callback waits until the task
//!   has finished (committed or abandoned) its open batch before the
//!   partition moves — so the next owner starts exactly after our last commit.
//!
//! Assignment is cooperative-sticky: a rebalance moves only the partitions
//! that change owner; the others keep their tasks and their in-memory state.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::OwnedMessage;
use rdkafka::{ClientContext, Message as _, Offset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot};

use super::txn::GroupMeta;
use super::{KafkaConfig, client};
use crate::log::{Assignment, Membership};
use crate::record::PartitionId;
use crate::{LogError, Result};

/// Records buffered per partition between the dispatcher and its task.
pub const ROUTE_CAPACITY: usize = 4096;

/// What a task asks of the dispatcher thread.
pub enum Control {
    /// Start fetching a restored partition.
    Resume(String, i32),
    /// Seek a partition to `Offset` (its group's committed offset, read by
    /// the task) after a failed commit or a restart; records from now on go
    /// to the new route.
    Rewind(String, i32, Offset, mpsc::Sender<OwnedMessage>),
    /// Leave the group and stop.
    Leave,
}

/// Everything a partition handle gets when its partition is assigned.
pub struct Handed {
    /// Which partition.
    pub id: PartitionId,
    /// Its records, in order.
    pub records: mpsc::Receiver<OwnedMessage>,
    /// Requests to the dispatcher.
    pub control: std::sync::mpsc::Sender<Control>,
    /// The group member, for offsets committed in transactions.
    pub group: Arc<dyn GroupMeta>,
    /// The consumer group's id, to read its committed offsets.
    pub group_id: String,
}

/// Builds a role's partition handle.
pub type Factory<P> = Arc<dyn Fn(Handed) -> Box<P> + Send + Sync>;

pub(super) type GroupConsumer<P> = BaseConsumer<GroupContext<P>>;

#[derive(Default)]
struct Routes {
    by_partition: HashMap<(String, i32), Route>,
    /// Partitions read from their own librdkafka queue by their own thread.
    pumps: HashMap<(String, i32), Pump>,
    leaving: bool,
}

/// A partition's own reader: a thread polling the partition's librdkafka
/// queue (split from the consumer's) into its task's bounded queue,
/// blocking while that queue is full. librdkafka then stops fetching the
/// partition by itself once its prefetch is full and fetches again as soon
/// as there is room — no pause/resume, which purged the prefetch and, on
/// resume, left the partition unfetched until the broker thread's next
/// wake-up (~1 s: a projector replay ran 5k events/s against 130k+ for a
/// bare consumer, measured). Seeks of a rewind run on this thread too,
/// between two records, so no record read before the seek reaches the new
/// route and none read after it reaches the old one.
struct Pump {
    rewinds: std::sync::mpsc::Sender<(Offset, mpsc::Sender<OwnedMessage>)>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Pump {
    fn start<C: ConsumerContext + 'static>(
        consumer: &Arc<BaseConsumer<C>>,
        topic: &str,
        partition: i32,
        tx: mpsc::Sender<OwnedMessage>,
    ) -> Option<Pump> {
        let queue = consumer.split_partition_queue(topic, partition)?;
        let (rewinds, requests) = std::sync::mpsc::channel::<(Offset, mpsc::Sender<OwnedMessage>)>();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (consumer, name, flag) = (consumer.clone(), topic.to_string(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("angzarr-p{partition}"))
            .spawn(move || {
                let mut tx = tx;
                // When it last said the partition is held (at most once a second).
                let mut said_held: Option<std::time::Instant> = None;
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    while let Ok((offset, to)) = requests.try_recv() {
                        if let Err(e) = consumer.seek(&name, partition, offset, Duration::from_secs(10)) {
                            // Its task will be revoked, or fail and rewind again.
                            tracing::error!(topic = name, partition, error = %e, "rewind");
                        }
                        tx = to;
                    }
                    match queue.poll(Duration::from_millis(50)) {
                        // A closed queue: its task is rewinding (a request
                        // follows) or gone (a stop follows); the record was
                        // read before the seek, so it is dropped.
                        Some(Ok(msg)) => {
                            let mut msg = msg.detach();
                            // Wait for room, but never past a stop (a task
                            // that is gone without closing its queue).
                            loop {
                                match tx.try_send(msg) {
                                    Err(mpsc::error::TrySendError::Full(m))
                                        if !flag.load(std::sync::atomic::Ordering::Relaxed) =>
                                    {
                                        msg = m;
                                        if said_held.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
                                            tracing::info!(topic = name, partition,
                                                "partition held: its task is behind (librdkafka stops fetching it once its prefetch is full)");
                                            metrics::counter!("angzarr.partition.paused", "topic" => name.clone()).increment(1);
                                            said_held = Some(std::time::Instant::now());
                                        }
                                        std::thread::sleep(Duration::from_millis(1));
                                    }
                                    _ => break,
                                }
                            }
                        }
                        Some(Err(e)) => tracing::warn!(topic = name, partition, error = %e, "partition queue"),
                        None => {}
                    }
                }
            })
            .map_err(|e| tracing::error!(topic, partition, error = %e, "starting a partition reader"))
            .ok()?;
        Some(Pump { rewinds, stop, thread })
    }

    /// Stops the thread (within one poll: 50 ms).
    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Where one partition's records go, and what waits for room there.
struct Route {
    tx: mpsc::Sender<OwnedMessage>,
    /// Fetched records its queue had no room for, in order.
    overflow: std::collections::VecDeque<OwnedMessage>,
    /// Paused until its task restored (resumed by [`Control::Resume`]).
    restoring: bool,
    /// Paused because its queue is full.
    backpressured: bool,
}

impl Route {
    fn new(tx: mpsc::Sender<OwnedMessage>, restoring: bool) -> Self {
        Route { tx, overflow: Default::default(), restoring, backpressured: false }
    }

    /// Moves what fits from the overflow to the task's queue; `true` when
    /// the overflow is empty.
    fn drain(&mut self) -> bool {
        while let Some(msg) = self.overflow.pop_front() {
            match self.tx.try_send(msg) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(msg)) => {
                    self.overflow.push_front(msg);
                    return false;
                }
                // The task is gone; revocation or a rewind replaces the route.
                Err(mpsc::error::TrySendError::Closed(_)) => self.overflow.clear(),
            }
        }
        true
    }
}

fn pause_or_resume<C: Consumer<X>, X: ConsumerContext>(consumer: &C, topic: &str, p: i32, pause: bool) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, p);
    let result = if pause { consumer.pause(&tpl) } else { consumer.resume(&tpl) };
    if let Err(e) = result {
        tracing::error!(topic, partition = p, pause, error = %e, "pause/resume");
    }
}

/// Stops a partition's reader when dropped: after its task acknowledged a
/// revocation, so nothing it reads reaches a task that still runs.
struct StopOnDrop(Option<Pump>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            p.stop();
        }
    }
}

/// The callbacks' view of the worker.
pub struct GroupContext<P: ?Sized> {
    /// The consumer group's id.
    group_id: String,
    /// Subscribed topic → domain.
    domains: HashMap<String, String>,
    routes: Arc<Mutex<Routes>>,
    assignments: mpsc::Sender<Assignment<P>>,
    control: std::sync::mpsc::Sender<Control>,
    consumer: Arc<Mutex<Option<Arc<dyn GroupMeta>>>>,
    factory: Factory<P>,
}

impl<P: ?Sized + Send + 'static> ClientContext for GroupContext<P> {
    /// librdkafka's errors, naming the group (a process has several clients).
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        tracing::error!(group = %self.group_id, %error, reason, "librdkafka (group member)");
    }
}

impl<P: ?Sized + Send + 'static> ConsumerContext for GroupContext<P> {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else {
            if let Rebalance::Error(e) = rebalance {
                tracing::error!(error = %e, "rebalance error");
            }
            return;
        };
        let leaving = self.routes.lock().unwrap().leaving;
        for el in tpl.elements() {
            let key = (el.topic().to_string(), el.partition());
            let (removed, pump) = {
                let mut routes = self.routes.lock().unwrap();
                (routes.by_partition.remove(&key), routes.pumps.remove(&key))
            };
            // Its reader stops once the task let go of the partition.
            let _stop_reader = StopOnDrop(pump);
            let Some(domain) = self.domains.get(el.topic()) else { continue };
            if removed.is_none() || leaving {
                continue;
            }
            let id = PartitionId::new(domain, el.partition() as u32);
            let (ack, acked) = oneshot::channel();
            tracing::info!(partition = %id, topic = el.topic(), "partition revoked; stopping its task");
            if self.assignments.blocking_send(Assignment::Revoked(id.clone(), ack)).is_ok() {
                // Hold the partition until its task finished its open batch.
                let _ = acked.blocking_recv();
            }
            tracing::info!(partition = %id, topic = el.topic(), "partition handed over");
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else { return };
        if tpl.count() == 0 {
            let _ = self.assignments.blocking_send(Assignment::Settled);
            return;
        }
        if let Err(e) = consumer.pause(tpl) {
            tracing::error!(error = %e, "pausing newly assigned partitions");
        }
        let Some(group) = self.consumer.lock().unwrap().clone() else { return };
        for el in tpl.elements() {
            let Some(domain) = self.domains.get(el.topic()) else { continue };
            let (tx, rx) = mpsc::channel(ROUTE_CAPACITY);
            self.routes
                .lock()
                .unwrap()
                .by_partition
                .insert((el.topic().to_string(), el.partition()), Route::new(tx, true));
            let id = PartitionId::new(domain, el.partition() as u32);
            tracing::info!(partition = %id, topic = el.topic(), "partition assigned");
            let handle = (self.factory)(Handed {
                id,
                records: rx,
                control: self.control.clone(),
                group: group.clone(),
                group_id: self.group_id.clone(),
            });
            let _ = self.assignments.blocking_send(Assignment::Assigned(handle));
        }
        let _ = self.assignments.blocking_send(Assignment::Settled);
    }
}

/// How a group's records reach its partitions' tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// All through the dispatcher thread, which pauses a partition whose
    /// task is behind (command partitions: their throughput is bounded by
    /// decisions, not by fetching).
    Dispatcher,
    /// Each partition from its own librdkafka queue by its own [`Pump`]
    /// (downstream groups: a replay reads as fast as the broker serves).
    PerPartition,
}

/// A worker's membership: assignment changes arrive on `assignments`.
pub struct KafkaMembership<P: ?Sized> {
    assignments: mpsc::Receiver<Assignment<P>>,
    control: std::sync::mpsc::Sender<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Joins consumer group `group_id` over `topics` (topic → domain), building
/// each assigned partition's handle with `factory`.
pub fn join<P: ?Sized + Send + 'static>(
    config: &KafkaConfig,
    group_id: &str,
    topics: HashMap<String, String>,
    factory: Factory<P>,
    reading: Reading,
) -> Result<KafkaMembership<P>> {
    let (assign_tx, assign_rx) = mpsc::channel(1024);
    let (control_tx, control_rx) = std::sync::mpsc::channel();
    let routes = Arc::new(Mutex::new(Routes::default()));
    let shared: Arc<Mutex<Option<Arc<dyn GroupMeta>>>> = Arc::new(Mutex::new(None));
    let context = GroupContext {
        group_id: group_id.to_string(),
        domains: topics.clone(),
        routes: routes.clone(),
        assignments: assign_tx,
        control: control_tx.clone(),
        consumer: shared.clone(),
        factory,
    };
    let consumer: GroupConsumer<P> = client::group_member(config, group_id)
        .create_with_context(context)
        .map_err(|e| LogError::Config(format!("creating the group consumer: {e}")))?;
    let consumer = Arc::new(consumer);
    *shared.lock().unwrap() = Some(consumer.clone());
    let names: Vec<&str> = topics.keys().map(String::as_str).collect();
    consumer.subscribe(&names).map_err(|e| LogError::Config(format!("subscribing to {names:?}: {e}")))?;
    tracing::info!(group = group_id, topics = ?names, "joining consumer group");

    let thread = std::thread::Builder::new()
        .name(format!("angzarr-{group_id}"))
        .spawn(move || dispatch(consumer, routes, control_rx, shared, reading))
        .map_err(|e| LogError::Config(format!("starting the dispatcher: {e}")))?;
    Ok(KafkaMembership { assignments: assign_rx, control: control_tx, thread: Some(thread) })
}

/// The dispatcher thread: polls the group consumer, routes records, serves controls.
fn dispatch<P: ?Sized + Send + 'static>(
    consumer: Arc<GroupConsumer<P>>,
    routes: Arc<Mutex<Routes>>,
    control: std::sync::mpsc::Receiver<Control>,
    shared: Arc<Mutex<Option<Arc<dyn GroupMeta>>>>,
    reading: Reading,
) {
    loop {
        while let Ok(c) = control.try_recv() {
            match c {
                Control::Resume(topic, p) => {
                    let key = (topic.clone(), p);
                    let mut routes = routes.lock().unwrap();
                    if let Some(route) = routes.by_partition.get_mut(&key) {
                        route.restoring = false;
                        if route.backpressured {
                            continue;
                        }
                        // Still paused since its assignment: nothing of it
                        // is in the consumer's queue, all goes to the reader.
                        let tx = route.tx.clone();
                        if reading == Reading::PerPartition
                            && !routes.pumps.contains_key(&key)
                            && let Some(pump) = Pump::start(&consumer, &topic, p, tx)
                        {
                            routes.pumps.insert(key, pump);
                        }
                    }
                    pause_or_resume(consumer.as_ref(), &topic, p, false);
                }
                Control::Rewind(topic, p, committed, tx) => {
                    let key = (topic.clone(), p);
                    let forwarded = {
                        let routes = routes.lock().unwrap();
                        routes.pumps.get(&key).is_some_and(|pump| pump.rewinds.send((committed, tx.clone())).is_ok())
                    };
                    if !forwarded && let Err(e) = consumer.seek(&topic, p, committed, Duration::from_secs(10)) {
                        // Its task will be revoked, or fail and rewind again.
                        tracing::error!(topic, partition = p, error = %e, "rewind");
                    }
                    let mut routes = routes.lock().unwrap();
                    let old = routes.by_partition.insert((topic.clone(), p), Route::new(tx, false));
                    if old.is_some_and(|r| r.backpressured || r.restoring) {
                        pause_or_resume(consumer.as_ref(), &topic, p, false);
                    }
                }
                Control::Leave => {
                    routes.lock().unwrap().leaving = true;
                    consumer.unsubscribe();
                    // Serve the revocation callbacks, then drop the consumer (leaving the group).
                    for _ in 0..10 {
                        let _ = consumer.poll(Duration::from_millis(50));
                    }
                    let pumps: Vec<Pump> = routes.lock().unwrap().pumps.drain().map(|(_, p)| p).collect();
                    for p in pumps {
                        p.stop();
                    }
                    shared.lock().unwrap().take();
                    return;
                }
            }
        }
        // Partitions whose tasks caught up take their kept records, and
        // fetch again once nothing is kept.
        {
            let mut routes = routes.lock().unwrap();
            for ((topic, p), route) in routes.by_partition.iter_mut().filter(|(_, r)| r.backpressured) {
                if route.drain() {
                    route.backpressured = false;
                    tracing::info!(topic, partition = p, "partition resumed: its task caught up");
                    if !route.restoring {
                        pause_or_resume(consumer.as_ref(), topic, *p, false);
                    }
                }
            }
        }
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(msg)) => {
                let key = (msg.topic().to_string(), msg.partition());
                let mut routes = routes.lock().unwrap();
                match routes.by_partition.get_mut(&key) {
                    Some(route) => {
                        route.overflow.push_back(msg.detach());
                        if !route.drain() && !route.backpressured {
                            // Backpressure for this partition only.
                            route.backpressured = true;
                            tracing::info!(topic = key.0, partition = key.1, "partition paused: its task is behind");
                            pause_or_resume(consumer.as_ref(), &key.0, key.1, true);
                            metrics::counter!("angzarr.partition.paused", "topic" => key.0.clone()).increment(1);
                        }
                    }
                    None => tracing::warn!(
                        topic = key.0,
                        partition = key.1,
                        offset = msg.offset(),
                        "record for a partition without a task"
                    ),
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "group consumer"),
            None => {}
        }
    }
}

/// Takes a partition back to its group's committed offset, on a fresh
/// route (what was buffered is dropped). The offset is read here, by a
/// consumer of the task's own — never "keep the position" on a failure to
/// read it, which would skip what the old route had buffered — and only then
/// handed to the dispatcher, which must never block.
pub(super) async fn rewind(
    config: &KafkaConfig,
    group_id: &str,
    topic: &str,
    partition: i32,
    control: &std::sync::mpsc::Sender<Control>,
) -> Result<mpsc::Receiver<OwnedMessage>> {
    let (cfg, group_id, t) = (config.clone(), group_id.to_string(), topic.to_string());
    let committed = tokio::task::spawn_blocking(move || -> Result<Offset> {
        let reader: BaseConsumer = client::group_member(&cfg, &group_id)
            .create()
            .map_err(|e| LogError::Config(format!("offset reader: {e}")))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&t, partition);
        let found = reader
            .committed_offsets(tpl, Duration::from_secs(10))
            .map_err(|e| LogError::Unavailable(format!("reading the committed offset of {t}[{partition}]: {e}")))?;
        Ok(match found.find_partition(&t, partition).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => Offset::Offset(o),
            // Nothing committed yet: from the beginning, as `auto.offset.reset`.
            _ => Offset::Beginning,
        })
    })
    .await
    .map_err(|e| LogError::Unavailable(e.to_string()))??;
    let (tx, rx) = mpsc::channel(ROUTE_CAPACITY);
    control
        .send(Control::Rewind(topic.to_string(), partition, committed, tx))
        .map_err(|_| LogError::Unavailable("the group's dispatcher has stopped".into()))?;
    Ok(rx)
}

#[async_trait]
impl<P: ?Sized + Send + 'static> Membership<P> for KafkaMembership<P> {
    async fn next(&mut self) -> Option<Assignment<P>> {
        self.assignments.recv().await
    }

    async fn leave(mut self: Box<Self>) {
        let _ = self.control.send(Control::Leave);
        // Revocations during leave are not forwarded: the worker already stopped its tasks.
        self.assignments.close();
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// The committed positions of `group_id` on every partition of `topics`
/// (domain, topic, partition count), beside each partition's watermarks.
/// Reads with a consumer that carries the group id but never joins, so the
/// group itself is not disturbed.
pub(super) fn lag(
    config: &KafkaConfig,
    group_id: &str,
    topics: &[(String, String, u32)],
) -> Result<Vec<crate::log::PartitionLag>> {
    let reader: BaseConsumer =
        client::group_member(config, group_id).create().map_err(|e| LogError::Config(format!("lag reader: {e}")))?;
    let mut tpl = TopicPartitionList::new();
    for (_, topic, n) in topics {
        for p in 0..*n as i32 {
            tpl.add_partition(topic, p);
        }
    }
    let committed = reader
        .committed_offsets(tpl, Duration::from_secs(10))
        .map_err(|e| LogError::Unavailable(format!("committed offsets of {group_id}: {e}")))?;
    let mut rows = Vec::new();
    for (domain, topic, n) in topics {
        for p in 0..*n as i32 {
            let (start, end) = reader
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_err(|e| LogError::Unavailable(format!("watermarks of {topic}[{p}]: {e}")))?;
            let position = committed.find_partition(topic, p).and_then(|e| e.offset().to_raw()).filter(|o| *o >= 0);
            let lag = crate::log::PartitionLag {
                domain: domain.clone(),
                partition: p as u32,
                committed: position,
                start,
                end,
                drained: false,
            };
            rows.push((topic.as_str(), lag));
        }
    }
    // Only a few offsets behind can be nothing but markers (one per
    // transaction; a caught-up group is behind by its last one): probe those.
    let behind: Vec<(String, i32, i64)> = rows
        .iter()
        .filter(|(_, l)| l.lag() > 0 && l.lag() <= MARKERS_PROBED)
        .map(|(topic, l)| (topic.to_string(), l.partition as i32, l.committed.unwrap_or(l.start)))
        .collect();
    let drained = drained(config, &behind)?;
    Ok(rows
        .into_iter()
        .map(|(topic, mut l)| {
            l.drained = drained.contains(&(topic.to_string(), l.partition as i32));
            l
        })
        .collect())
}

/// A group at most this many offsets behind is probed for readable records.
const MARKERS_PROBED: i64 = 16;

/// Of `behind` (topic, partition, position), the partitions where a
/// `read_committed` reader starting at the position meets the end before
/// any record: what lies there are transaction markers or aborted records,
/// which the group will never be handed. A partition the probe could not
/// settle within its time counts as not drained (lag is then over-, never
/// under-reported).
fn drained(config: &KafkaConfig, behind: &[(String, i32, i64)]) -> Result<HashSet<(String, i32)>> {
    let mut out = HashSet::new();
    if behind.is_empty() {
        return Ok(out);
    }
    let reader: BaseConsumer =
        client::committed_reader(config).create().map_err(|e| LogError::Config(format!("lag probe: {e}")))?;
    let mut topics: Vec<&str> = behind.iter().map(|(t, _, _)| t.as_str()).collect();
    topics.dedup();
    // One topic at a time: librdkafka's end-of-partition event names the
    // partition but not its topic.
    for topic in topics {
        let mut tpl = TopicPartitionList::new();
        let mut open = HashSet::new();
        for (_, p, from) in behind.iter().filter(|(t, _, _)| t == topic) {
            tpl.add_partition_offset(topic, *p, Offset::Offset(*from))
                .map_err(|e| LogError::Config(format!("lag probe {topic}[{p}]: {e}")))?;
            open.insert(*p);
        }
        reader.assign(&tpl).map_err(|e| LogError::Unavailable(format!("lag probe: {e}")))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !open.is_empty() && std::time::Instant::now() < deadline {
            match reader.poll(Duration::from_millis(100)) {
                None => {}
                // A readable record: really behind.
                Some(Ok(m)) => {
                    open.remove(&m.partition());
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) if open.remove(&p) => {
                    out.insert((topic.to_string(), p));
                }
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) => return Err(LogError::Unavailable(format!("lag probe {topic}: {e}"))),
            }
        }
    }
    Ok(out)
}
