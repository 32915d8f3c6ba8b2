//! The engine under [`Pool`](super::Pool): pgready's own slots over sqlx `PgConnection`s.
//!
//! `max_connections` slots, taken by a connection open (idle or in use) or being opened. One
//! lock guards the idle connections (a stack: the most recently used first, so it is inside
//! the validation bypass and the others can go idle and be reaped) and the acquires waiting
//! (a queue: first come, first served). A release hands its connection straight to the oldest
//! waiter, or stacks it; a connection closed for good hands its slot to the oldest waiter,
//! which opens a new one. Waiters all wait `acquire_timeout`, so the queue is in deadline
//! order, and one task per pool ends those past it: no timer per acquire. A waiter's answer
//! is left in a cell of the slots, reused from one wait to the next: waiting allocates
//! nothing, and the waiter is woken after the lock is let go.
//!
//! Per connection, pgready supplies the session batch on connect, validation only for
//! connections idle longer than `validation_bypass`, `max_lifetime`, `idle_timeout` reaping
//! and `min_connections` kept open (a maintenance task), and a count of every connection
//! discarded and why.

use std::collections::VecDeque;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use pgready_core::config;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, SqlSafeStr, SqlStr};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};

use super::query_counts::QueryCounts;

/// One physical connection and what the pool knows about it.
pub(crate) struct Conn {
    pub(crate) raw: PgConnection,
    /// One of `max_connections`, held until the connection is closed, not only until it
    /// leaves its slot: a connection being closed still counts.
    _open: OwnedSemaphorePermit,
    created: Instant,
    /// When it last went back to the pool clean: the validation bypass and idle reaping count
    /// from here.
    pub(crate) released: Instant,
    /// Behind a transaction pooler (`[database] pgbouncer = true`): its statements are
    /// unnamed, and its transactions begin by removing sqlx's named statements that an earlier
    /// client left on the server connection.
    pub(crate) unnamed: bool,
    /// Queries run since it was handed out, added to `counts` when it goes back.
    pub(crate) queries: u64,
    /// The pool's counts of queries and failures.
    pub(crate) counts: Arc<QueryCounts>,
    /// `#[pgready::test]`'s transaction mode: the connection runs inside the test's
    /// transaction, which going back to the pool leaves open (transaction depth 1 is clean).
    pub(crate) test: Option<Arc<TestTransaction>>,
}

/// `#[pgready::test]`'s transaction mode (`isolation = "transaction"`): the pool's only
/// connection begins the test's transaction when it opens, and every acquire hands it out.
#[derive(Default)]
pub(crate) struct TestTransaction {
    /// A user holds the connection: another acquire fails at once instead of waiting for ever.
    pub(crate) held: AtomicBool,
}

/// Marks the test's transaction: a setting local to it, gone once it ends, so the end of the
/// test can tell whether SQL it ran (`COMMIT`, `ROLLBACK`) ended it.
pub(crate) const TEST_TRANSACTION_MARK: &str = "pgready.test_transaction";

impl Conn {
    /// The transaction depth a connection goes back to the pool with: 1 inside a test's
    /// transaction, else 0.
    pub(crate) fn base_depth(&self) -> usize {
        usize::from(self.test.is_some())
    }
}

/// Why the pool closed a connection; a label of `pgready_pool_connections_discarded_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Discard {
    /// Older than `max_lifetime`.
    Lifetime,
    /// Idle longer than `idle_timeout`, above `min_connections`.
    Idle,
    /// Failed validation or an I/O error: the server or the network dropped it.
    Broken,
    /// Could not be made clean (rolled back, drained) after its user left it mid-operation.
    Dirty,
}

impl Discard {
    pub(crate) const ALL: [Discard; 4] = [
        Discard::Lifetime,
        Discard::Idle,
        Discard::Broken,
        Discard::Dirty,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Discard::Lifetime => "max_lifetime",
            Discard::Idle => "idle_timeout",
            Discard::Broken => "broken",
            Discard::Dirty => "dirty",
        }
    }
}

/// Creates, validates and counts connections for the engine.
pub(crate) struct Manager {
    options: PgConnectOptions,
    /// The `[session]` batch, run once on every new connection.
    settings: SqlStr,
    limits: config::Pool,
    /// Behind a transaction pooler: see [`Conn::unnamed`].
    unnamed: bool,
    /// `max_connections` permits, one per open connection.
    open: Arc<Semaphore>,
    pub(crate) spares: Arc<Spares>,
    discarded: [AtomicU64; Discard::ALL.len()],
    /// Transactions dropped without `commit` or `rollback`.
    dropped_transactions: AtomicU64,
    /// Queries run and failed, per class; each connection holds it too.
    pub(crate) counts: Arc<QueryCounts>,
    /// `#[pgready::test]`'s transaction mode.
    pub(crate) test: Option<Arc<TestTransaction>>,
}

impl Manager {
    pub(crate) fn new(
        options: PgConnectOptions,
        settings: SqlStr,
        limits: config::Pool,
        unnamed: bool,
        test: Option<Arc<TestTransaction>>,
    ) -> Self {
        Manager {
            options,
            settings,
            unnamed,
            open: Arc::new(Semaphore::new(limits.max_connections as usize)),
            spares: Arc::default(),
            limits,
            discarded: Default::default(),
            dropped_transactions: AtomicU64::new(0),
            counts: Arc::default(),
            test,
        }
    }

    /// The `[session]` batch every new connection runs.
    pub(crate) fn settings(&self) -> &SqlStr {
        &self.settings
    }

    pub(crate) fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    pub(crate) fn limits(&self) -> &config::Pool {
        &self.limits
    }

    pub(crate) fn count_discard(&self, why: Discard) {
        self.discarded[why as usize].fetch_add(1, Ordering::Relaxed);
        tracing::debug!(reason = why.as_str(), "discarded a pooled connection");
    }

    pub(crate) fn count_dropped_transaction(&self) {
        self.dropped_transactions.fetch_add(1, Ordering::Relaxed);
    }

    /// Transactions dropped without `commit` or `rollback` so far.
    pub(crate) fn dropped_transactions(&self) -> u64 {
        self.dropped_transactions.load(Ordering::Relaxed)
    }

    /// Connections discarded so far, per reason.
    pub(crate) fn discarded(&self) -> [(Discard, u64); Discard::ALL.len()] {
        Discard::ALL.map(|why| (why, self.discarded[why as usize].load(Ordering::Relaxed)))
    }

    /// With `test_before_acquire`, a connection idle longer than `validation_bypass` is pinged
    /// before it is handed out (HikariCP's rule: one used within the last 500 ms is alive).
    fn needs_validation(&self, conn: &Conn, now: Instant) -> bool {
        self.limits.test_before_acquire
            && now.saturating_duration_since(conn.released) > self.limits.validation_bypass
    }

    fn expired(&self, conn: &Conn, now: Instant) -> bool {
        self.limits
            .max_lifetime
            .is_some_and(|max| now.saturating_duration_since(conn.created) >= max)
    }
}

impl Manager {
    /// Opens a connection in a task of its own: if the acquire that asked for it gives up
    /// (dropped, or `acquire_timeout`), the connection is still opened and kept as a spare for
    /// the next one, so a pool under load with impatient callers still grows.
    async fn create(&self) -> Result<Conn, sqlx::Error> {
        loop {
            if let Some(mut conn) = self.spares.take(self) {
                if self.needs_validation(&conn, Instant::now()) && conn.raw.ping().await.is_err() {
                    self.count_discard(Discard::Broken);
                    continue;
                }
                return Ok(conn);
            }
            tokio::select! {
                // Waits only while a discarded connection is still being closed, or while
                // spares hold the places.
                open = Arc::clone(&self.open).acquire_owned() => {
                    let open = open.map_err(|_| sqlx::Error::PoolClosed)?;
                    let (sender, receiver) = oneshot::channel();
                    let (options, settings) = (self.options.clone(), self.settings.clone());
                    let spares = Arc::clone(&self.spares);
                    let unnamed = self.unnamed;
                    let counts = Arc::clone(&self.counts);
                    let test = self.test.clone();
                    tokio::spawn(async move {
                        let result = connect(&options, settings, open, unnamed, counts, test).await;
                        if let Err(Ok(conn)) = sender.send(result) {
                            spares.put(conn);
                        }
                    });
                    return receiver
                        .await
                        .unwrap_or(Err(sqlx::Error::WorkerCrashed));
                }
                () = self.spares.added.notified() => {}
            }
        }
    }

    /// Runs on every hand-out of an idle connection, so it costs no round trip unless the
    /// connection needs validation. `now`: when the acquire started (no clock read of its own;
    /// a connection released since then counts as used just now).
    async fn recycle(&self, conn: &mut Conn, now: Instant) -> Result<(), Discard> {
        if self.expired(conn, now) {
            return Err(Discard::Lifetime);
        }
        if self.needs_validation(conn, now) && conn.raw.ping().await.is_err() {
            return Err(Discard::Broken);
        }
        Ok(())
    }
}

/// The slots of one pool; cheap to clone.
#[derive(Clone)]
pub(crate) struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    manager: Manager,
    max: usize,
    slots: Mutex<Slots>,
    /// Wakes the deadline keeper: a first waiter queued, or the pool dropped or closed.
    keeper: Arc<Notify>,
}

#[derive(Default)]
struct Slots {
    /// Open connections waiting to be handed out, the most recently released last.
    idle: Vec<Conn>,
    /// Acquires waiting, oldest first; all wait the same `acquire_timeout`, so this is also
    /// deadline order. One that gives up leaves the queue.
    waiters: VecDeque<Waiter>,
    /// Where each waiting acquire finds its answer, reused: a cell is the waiter's from
    /// [`take_or_queue`](Engine::take_or_queue) until it reads its answer or gives up.
    cells: Vec<Cell>,
    /// Cells no waiter holds.
    free: Vec<usize>,
    /// Slots taken: idle, in use, or being opened.
    size: usize,
    closed: bool,
}

struct Waiter {
    deadline: Instant,
    /// Its cell.
    cell: usize,
}

/// A waiting acquire's cell: how to wake it, and its answer once it has one.
#[derive(Default)]
struct Cell {
    waker: Option<Waker>,
    answer: Option<Answer>,
}

impl Cell {
    /// Leaves the waiter its answer; returns its waker, to wake once the lock is let go.
    fn answer(&mut self, answer: Answer) -> Option<Waker> {
        self.answer = Some(answer);
        self.waker.take()
    }
}

/// How a wait ends.
enum Answer {
    Granted(Grant),
    TimedOut,
    Closed,
}

impl Slots {
    /// A cell for a new waiter.
    fn cell(&mut self) -> usize {
        self.free.pop().unwrap_or_else(|| {
            self.cells.push(Cell::default());
            self.cells.len() - 1
        })
    }

    /// Takes the oldest waiter out of the queue: its cell, to leave its answer in.
    fn oldest(&mut self) -> Option<&mut Cell> {
        let waiter = self.waiters.pop_front()?;
        Some(&mut self.cells[waiter.cell])
    }

    /// Ends the waits of the oldest waiters while `ends` holds for the oldest, with `answer`;
    /// returns their wakers, to wake once the lock is let go.
    fn end_waits(&mut self, ends: impl Fn(&Waiter) -> bool, answer: fn() -> Answer) -> Vec<Waker> {
        let mut woken = Vec::new();
        while self.waiters.front().is_some_and(&ends) {
            woken.extend(self.oldest().and_then(|cell| cell.answer(answer())));
        }
        woken
    }

    /// Frees the cell of a waiter that read its answer or gave up; returns the answer it
    /// held, if any.
    fn release(&mut self, cell: usize) -> Option<Answer> {
        self.free.push(cell);
        let cell = std::mem::take(&mut self.cells[cell]);
        cell.answer
    }
}

/// What a waiter is handed: a connection, or a slot to open one in. Left unread by a waiter
/// that gave up, either goes back: the connection to the pool, the slot to the next waiter.
enum Grant {
    Conn(Object),
    Open(Slot),
}

/// An acquire's turn: now, or once a release or a closed connection grants it one (its cell).
enum Turn {
    Now(Grant),
    Queued(usize),
}

/// An acquire in the queue, until its cell holds an answer. Dropped before it reads it, it
/// leaves the queue, or passes on the grant it was just given.
struct Queued<'a> {
    engine: &'a Engine,
    /// `None` once the answer is read.
    cell: Option<usize>,
}

impl Future for Queued<'_> {
    type Output = Result<Grant, GetError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(cell) = self.cell else {
            return Poll::Ready(Err(GetError::Closed));
        };
        let mut slots = self.engine.lock();
        let waiting = &mut slots.cells[cell];
        let Some(answer) = waiting.answer.take() else {
            match &mut waiting.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                waker => *waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        };
        slots.release(cell);
        drop(slots);
        self.cell = None;
        Poll::Ready(match answer {
            Answer::Granted(grant) => Ok(grant),
            Answer::TimedOut => Err(GetError::Timeout),
            Answer::Closed => Err(GetError::Closed),
        })
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let Some(cell) = self.cell.take() else { return };
        let mut slots = self.engine.lock();
        match slots.release(cell) {
            None => slots.waiters.retain(|w| w.cell != cell),
            // Given to this waiter as it gave up: to the next one.
            Some(Answer::Granted(grant)) => hand_over(slots, grant),
            Some(Answer::TimedOut | Answer::Closed) => {}
        }
    }
}

/// A slot taken to open a connection in; given back (to the next waiter, or freed) if the
/// opening fails or is dropped.
struct Slot(Option<Engine>);

impl Slot {
    /// The slot, kept by a connection now open in it.
    fn keep(mut self) -> Engine {
        self.0
            .take()
            .expect("a slot holds its engine until kept or dropped")
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(engine) = self.0.take() {
            engine.free_slot();
        }
    }
}

/// Why an acquire got no connection.
pub(crate) enum GetError {
    /// `acquire_timeout` passed.
    Timeout,
    Closed,
    /// Opening a connection failed.
    Backend(sqlx::Error),
}

impl GetError {
    pub(crate) fn into_sqlx(self) -> sqlx::Error {
        match self {
            GetError::Timeout => sqlx::Error::PoolTimedOut,
            GetError::Closed => sqlx::Error::PoolClosed,
            GetError::Backend(e) => e,
        }
    }
}

/// A point-in-time count of the slots.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Status {
    /// Slots taken: open connections, idle or in use, and those being opened.
    pub(crate) size: usize,
    /// Idle connections.
    pub(crate) available: usize,
    /// Acquires waiting.
    pub(crate) waiting: usize,
}

/// A handle that does not keep the pool alive, for its maintenance task.
pub(crate) struct WeakEngine(Weak<Inner>);

impl WeakEngine {
    pub(crate) fn upgrade(&self) -> Option<Engine> {
        self.0.upgrade().map(|inner| Engine { inner })
    }
}

impl Engine {
    pub(crate) fn new(manager: Manager) -> Engine {
        let max = manager.limits.max_connections as usize;
        let keeper = Arc::new(Notify::new());
        let engine = Engine {
            inner: Arc::new(Inner {
                manager,
                max,
                slots: Mutex::default(),
                keeper: Arc::clone(&keeper),
            }),
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(keep_deadlines(engine.weak(), keeper));
        }
        engine
    }

    pub(crate) fn manager(&self) -> &Manager {
        &self.inner.manager
    }

    pub(crate) fn weak(&self) -> WeakEngine {
        WeakEngine(Arc::downgrade(&self.inner))
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        // Nothing panics while holding this lock; if something did, the slots are still whole.
        self.inner
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection: an idle one (checked by [`Manager::recycle`]), a new one if a slot is
    /// free, else the next one released, waiting until `started + acquire_timeout` at most.
    pub(crate) async fn get(&self, started: Instant) -> Result<Object, GetError> {
        let grant = match self.take_or_queue(started)? {
            Turn::Now(grant) => grant,
            Turn::Queued(cell) => {
                Queued {
                    engine: self,
                    cell: Some(cell),
                }
                .await?
            }
        };
        match self.ready_now(grant, started) {
            Ok(object) => Ok(object),
            // Rare, and boxed: in line, opening or pinging a connection would make every
            // acquire's future (and the boxed future of each query through `&Pool`) about a
            // kilobyte bigger.
            Err(grant) => Box::pin(self.ready(grant, started)).await,
        }
    }

    /// The common case, with nothing to await: a connection that needs neither validation
    /// nor replacing. Anything else goes back, for [`ready`](Self::ready).
    fn ready_now(&self, grant: Grant, started: Instant) -> Result<Object, Grant> {
        let manager = &self.inner.manager;
        match grant {
            Grant::Conn(object)
                if !manager.expired(&object, started)
                    && !manager.needs_validation(&object, started) =>
            {
                Ok(object)
            }
            grant => Err(grant),
        }
    }

    /// An idle connection or a free slot, else a place in the queue.
    fn take_or_queue(&self, started: Instant) -> Result<Turn, GetError> {
        let mut slots = self.lock();
        if slots.closed {
            return Err(GetError::Closed);
        }
        if let Some(conn) = slots.idle.pop() {
            drop(slots);
            return Ok(Turn::Now(Grant::Conn(self.object(conn))));
        }
        if slots.size < self.inner.max {
            slots.size += 1;
            drop(slots);
            return Ok(Turn::Now(Grant::Open(Slot(Some(self.clone())))));
        }
        let cell = slots.cell();
        let deadline = deadline(started, self.inner.manager.limits.acquire_timeout);
        slots.waiters.push_back(Waiter { deadline, cell });
        if slots.waiters.len() == 1 {
            self.inner.keeper.notify_one();
        }
        Ok(Turn::Queued(cell))
    }

    /// Turns a grant into a connection ready to hand out: recycles a connection (and, if it
    /// must go, opens another in its slot), or opens one.
    ///
    /// A connection is out of the pool while it is validated: if this is dropped mid-ping, the
    /// connection (its answer still in flight) is closed and only its slot goes back.
    async fn ready(&self, mut grant: Grant, started: Instant) -> Result<Object, GetError> {
        loop {
            match grant {
                Grant::Conn(object) => {
                    let manager = &self.inner.manager;
                    let (mut conn, engine) = object.into_parts();
                    let slot = Slot(Some(engine));
                    match manager.recycle(&mut conn, started).await {
                        Ok(()) => {
                            return Ok(Object {
                                conn: Some(conn),
                                engine: slot.keep(),
                            });
                        }
                        Err(why) => {
                            manager.count_discard(why);
                            drop(conn);
                            grant = Grant::Open(slot);
                        }
                    }
                }
                Grant::Open(slot) => {
                    let conn = self
                        .inner
                        .manager
                        .create()
                        .await
                        .map_err(GetError::Backend)?;
                    return Ok(Object {
                        conn: Some(conn),
                        engine: slot.keep(),
                    });
                }
            }
        }
    }

    fn object(&self, conn: Conn) -> Object {
        Object {
            conn: Some(conn),
            engine: self.clone(),
        }
    }

    /// A connection back from use: to the oldest waiter, or onto the idle stack; closed if
    /// the pool is.
    fn put(&self, conn: Conn) {
        let mut slots = self.lock();
        if slots.closed {
            slots.size -= 1;
            drop(slots);
            close_later(conn);
            return;
        }
        if slots.waiters.is_empty() {
            slots.idle.push(conn);
            return;
        }
        let grant = Grant::Conn(self.object(conn));
        hand_over(slots, grant);
    }

    /// A slot whose connection closed for good (or never opened): to the oldest waiter, to
    /// open a new one in, or freed.
    fn free_slot(&self) {
        let mut slots = self.lock();
        if slots.closed || slots.waiters.is_empty() {
            slots.size -= 1;
            return;
        }
        let grant = Grant::Open(Slot(Some(self.clone())));
        hand_over(slots, grant);
    }

    pub(crate) fn status(&self) -> Status {
        let slots = self.lock();
        Status {
            size: slots.size,
            available: slots.idle.len(),
            waiting: slots.waiters.len(),
        }
    }

    /// Takes out the idle connections `keep` says no to, freeing their slots.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&Conn) -> bool) -> Vec<Conn> {
        let mut slots = self.lock();
        let (kept, removed): (Vec<Conn>, Vec<Conn>) = std::mem::take(&mut slots.idle)
            .into_iter()
            .partition(|conn| keep(conn));
        slots.idle = kept;
        slots.size -= removed.len();
        removed
    }

    /// Closes the slots: acquires waiting and later ones fail, connections in use are closed
    /// when they come back. Returns the idle connections, to close.
    pub(crate) fn close(&self) -> Vec<Conn> {
        let mut slots = self.lock();
        slots.closed = true;
        let idle = std::mem::take(&mut slots.idle);
        slots.size -= idle.len();
        let woken = slots.end_waits(|_| true, || Answer::Closed);
        drop(slots);
        woken.into_iter().for_each(Waker::wake);
        self.inner.manager.open.close();
        self.inner.keeper.notify_one();
        idle
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The keeper holds no strong handle; this lets it see the pool is gone.
        self.keeper.notify_one();
    }
}

/// `grant` to the oldest waiter, woken once the lock is let go; if none is waiting, back into
/// `slots`: a connection onto the idle stack, a slot freed.
fn hand_over(mut slots: MutexGuard<'_, Slots>, grant: Grant) {
    if let Some(oldest) = slots.oldest() {
        let woken = oldest.answer(Answer::Granted(grant));
        drop(slots);
        if let Some(waker) = woken {
            waker.wake();
        }
        return;
    }
    match grant {
        Grant::Conn(object) => slots.idle.push(object.into_parts().0),
        Grant::Open(slot) => {
            // Kept, not dropped: dropping would free it through this same lock.
            drop(slot.keep());
            slots.size -= 1;
        }
    }
}

/// Ends the waits past their deadline: the queue is in deadline order, so this sleeps until
/// the oldest waiter's, and wakes when a first waiter is queued. Ends with the pool.
async fn keep_deadlines(weak: WeakEngine, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(engine) = weak.upgrade() else { return };
            let mut slots = engine.lock();
            if slots.closed {
                return;
            }
            let now = Instant::now();
            let woken = slots.end_waits(|w| w.deadline <= now, || Answer::TimedOut);
            let next = slots.waiters.front().map(|w| w.deadline);
            drop(slots);
            woken.into_iter().for_each(Waker::wake);
            next
        };
        match next {
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline.into()) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// A connection on loan from the engine; goes back when dropped.
pub(crate) struct Object {
    /// `Some` until it goes back.
    conn: Option<Conn>,
    engine: Engine,
}

impl Object {
    /// The pool it belongs to.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Takes the connection out of the pool for good; its slot goes to a waiter or is freed.
    pub(crate) fn take(self) -> Conn {
        let (conn, engine) = self.into_parts();
        drop(Slot(Some(engine)));
        conn
    }

    /// The connection, and the engine whose slot it holds, without giving anything back.
    fn into_parts(mut self) -> (Conn, Engine) {
        let conn = self
            .conn
            .take()
            .expect("an object holds its connection until it goes back");
        (conn, self.engine.clone())
    }
}

impl Deref for Object {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("an object holds its connection until it goes back")
    }
}

impl DerefMut for Object {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("an object holds its connection until it goes back")
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.engine.put(conn);
        }
    }
}

/// `started + timeout`, or a year from `started` for a timeout too long to add.
fn deadline(started: Instant, timeout: Duration) -> Instant {
    started
        .checked_add(timeout)
        .or_else(|| started.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(started)
}

/// Closes a connection in the background when there is a runtime to do it in; else drops it.
fn close_later(conn: Conn) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(close(conn));
    }
}

async fn connect(
    options: &PgConnectOptions,
    settings: SqlStr,
    open: OwnedSemaphorePermit,
    unnamed: bool,
    counts: Arc<QueryCounts>,
    test: Option<Arc<TestTransaction>>,
) -> Result<Conn, sqlx::Error> {
    let mut raw = PgConnection::connect_with(options).await?;
    if test.is_some() {
        // One round trip: the session batch, `BEGIN` (through sqlx, which then counts the
        // transaction, so `begin()` opens savepoints) and the mark.
        let batch = format!(
            "{}; BEGIN; SELECT set_config('{TEST_TRANSACTION_MARK}', 'on', true)",
            settings.as_str()
        );
        <sqlx::Postgres as sqlx::Database>::TransactionManager::begin(
            &mut raw,
            Some(sqlx::AssertSqlSafe(batch).into_sql_str()),
        )
        .await?;
    } else if !settings.as_str().is_empty() {
        raw.execute(settings).await?;
    }
    let now = Instant::now();
    Ok(Conn {
        raw,
        _open: open,
        created: now,
        released: now,
        unnamed,
        queries: 0,
        counts,
        test,
    })
}

/// Connections opened ahead of need: to keep `min_connections` open, or for an acquire that
/// gave up before its connection was ready. When the pool needs a new connection (none idle),
/// it takes one from here before it opens one.
#[derive(Default)]
pub(crate) struct Spares {
    conns: Mutex<Vec<Conn>>,
    added: Notify,
}

impl Spares {
    fn put(&self, conn: Conn) {
        self.lock().push(conn);
        self.added.notify_one();
    }

    /// The newest spare within `max_lifetime`; older ones are dropped (closed).
    fn take(&self, manager: &Manager) -> Option<Conn> {
        let mut conns = self.lock();
        let now = Instant::now();
        while let Some(conn) = conns.pop() {
            if !manager.expired(&conn, now) {
                return Some(conn);
            }
            manager.count_discard(Discard::Lifetime);
        }
        None
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Every spare, to close.
    pub(crate) fn drain(&self) -> Vec<Conn> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        // A panic while holding this lock leaves the list intact.
        self.conns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// With `first`, opens one connection, so a bad DSN fails here and not on the first query;
/// then opens the rest of `min_connections` and keeps the pool in shape in the background
/// until it is dropped or closed. Without `first` (a replica that is down at start-up) the
/// pool opens its connections once the server answers.
pub(crate) async fn start(engine: &Engine, first: bool) -> Result<(), sqlx::Error> {
    if first {
        top_up(engine, 1).await?;
    }
    let weak = engine.weak();
    let tick = maintenance_interval(&engine.manager().limits);
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Said once when it starts failing and once when it works again, not every tick.
        let mut failing = false;
        loop {
            // The first tick is at once: the rest of `min_connections`.
            interval.tick().await;
            let Some(engine) = weak.upgrade() else { return };
            if engine.is_closed() {
                return;
            }
            reap(&engine).await;
            let min = engine.manager().limits.min_connections as usize;
            match top_up(&engine, min).await {
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(
                        "could not reopen pool connections up to min_connections: {e}; \
                         retrying every {tick:?}"
                    );
                }
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("pool connections reopened up to min_connections");
                }
                _ => {}
            }
        }
    });
    Ok(())
}

/// Often enough that `idle_timeout` and `max_lifetime` are kept to within half their length,
/// at most once a second.
fn maintenance_interval(limits: &config::Pool) -> Duration {
    [limits.idle_timeout, limits.max_lifetime]
        .into_iter()
        .flatten()
        .map(|d| d / 2)
        .fold(Duration::from_secs(1), Duration::min)
        .max(Duration::from_millis(10))
}

/// Closes idle connections past `max_lifetime`, and those idle longer than `idle_timeout` while
/// the pool holds more than `min_connections`.
async fn reap(engine: &Engine) {
    let manager = engine.manager();
    let min = manager.limits.min_connections as usize;
    let mut size = engine.status().size + manager.spares.len();
    let idle_too_long = |conn: &Conn| {
        manager
            .limits
            .idle_timeout
            .is_some_and(|idle| conn.released.elapsed() >= idle)
    };
    let now = Instant::now();
    let mut reasons = Vec::new();
    let removed = engine.retain(|conn| {
        let why = if manager.expired(conn, now) {
            Discard::Lifetime
        } else if size > min && idle_too_long(conn) {
            Discard::Idle
        } else {
            return true;
        };
        size -= 1;
        reasons.push(why);
        false
    });
    let mut closing: Vec<_> = removed.into_iter().zip(reasons).collect();
    for conn in manager.spares.drain() {
        let why = if manager.expired(&conn, now) {
            Discard::Lifetime
        } else if size > min && idle_too_long(&conn) {
            Discard::Idle
        } else {
            manager.spares.put(conn);
            continue;
        };
        size -= 1;
        closing.push((conn, why));
    }
    for (conn, why) in closing {
        manager.count_discard(why);
        close(conn).await;
    }
}

/// Opens connections, as spares, until the pool holds `min`; never past `max_connections`.
async fn top_up(engine: &Engine, min: usize) -> Result<(), sqlx::Error> {
    let manager = engine.manager();
    let missing = min.saturating_sub(engine.status().size + manager.spares.len());
    for _ in 0..missing {
        let Ok(open) = Arc::clone(&manager.open).try_acquire_owned() else {
            return Ok(());
        };
        let conn = connect(
            &manager.options,
            manager.settings.clone(),
            open,
            manager.unnamed,
            Arc::clone(&manager.counts),
            manager.test.clone(),
        )
        .await?;
        manager.spares.put(conn);
    }
    Ok(())
}

/// Closes a connection politely (a Terminate message), ignoring a peer that is already gone;
/// its place under `max_connections` is free once it is closed.
pub(crate) async fn close(conn: Conn) {
    if let Err(e) = conn.raw.close().await {
        tracing::debug!("closing a pooled connection: {e}");
    }
}
