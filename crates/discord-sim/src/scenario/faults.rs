//! Fault injection on a [`Sim`]: what a flaky Discord does to a bot's
//! gateway connections and REST calls, and a restart of the whole server.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Sim;
use crate::faults::FaultRule;
use crate::frame;
use crate::gateway::close;
use crate::session::Out;

impl Sim {
    fn each_connection(&self, out: impl Fn() -> Out) {
        let mut w = self.core().world.lock();
        for s in w.sessions.by_id.values_mut() {
            s.send(out());
        }
    }

    /// Drop every gateway connection without a close frame.
    pub fn disconnect_all(&self) {
        self.each_connection(|| Out::Drop);
    }

    /// Send RECONNECT (op 7) on every connection.
    pub fn send_reconnect(&self) {
        self.each_connection(|| Out::Frame(frame::reconnect().into()));
    }

    /// Send INVALID_SESSION (op 9). When not `resumable`, the sessions are
    /// forgotten, so the clients must identify again.
    pub fn send_invalid_session(&self, resumable: bool) {
        let mut w = self.core().world.lock();
        for s in w.sessions.by_id.values_mut() {
            s.send(Out::Frame(frame::invalid_session(resumable).into()));
        }
        if !resumable {
            // Keep the connections (the client closes them), forget the
            // sessions so a RESUME gets op 9 too.
            for (_, mut s) in w.sessions.by_id.drain() {
                s.conn.take();
            }
        }
    }

    /// Close every connection with `code` (e.g. 4000 to force a resume).
    /// Codes that end the session on Discord (4007, 4009) end it here too:
    /// a RESUME of it gets INVALID_SESSION.
    pub fn close_all(&self, code: u16) {
        self.each_connection(|| Out::Close(code, "Closed by the simulator."));
    }

    /// Time every session out as Discord does (close 4009, "Session timed
    /// out"): each connection is closed with 4009 and every session, connected
    /// or not, is gone at once, so the clients must identify again (a RESUME
    /// gets INVALID_SESSION). What happens in the guilds until they have
    /// identified again reaches no one, as on Discord.
    pub fn time_out_sessions(&self) {
        let mut w = self.core().world.lock();
        for (_, mut s) in w.sessions.by_id.drain() {
            s.send(Out::Close(close::SESSION_TIMED_OUT, "Session timed out."));
        }
    }

    /// Delay HEARTBEAT_ACKs by `delay` (zero restores prompt ACKs).
    pub fn delay_heartbeat_acks(&self, delay: Duration) {
        self.core()
            .ack_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// Delay every answer of the CDN by `delay` (zero: prompt again).
    pub fn delay_cdn(&self, delay: Duration) {
        self.core()
            .cdn_delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// Requests the CDN was sent so far.
    pub fn cdn_requests(&self) -> u64 {
        self.core().cdn_requests.load(Ordering::Relaxed)
    }

    /// Fail the next request whose method is `method` and whose path (after
    /// `/api/v10`) contains `path_contains` with `status` (429 or 5xx).
    pub fn fail_next(&self, method: &str, path_contains: &str, status: u16) {
        self.fail_times(method, path_contains, status, 1);
    }

    /// Like [`fail_next`](Self::fail_next), `times` times.
    pub fn fail_times(&self, method: &str, path_contains: &str, status: u16, times: u32) {
        self.core().faults.lock().rules.push(FaultRule {
            method: Some(method.to_owned()),
            path_contains: path_contains.to_owned(),
            status,
            remaining: times,
            retry_after: 0.05,
            global: false,
        });
    }

    /// Never answer the next request whose method is `method` and whose path
    /// contains `path_contains`, nor carry it out: it hangs until its client
    /// goes away (a process killed while waiting on Discord).
    pub fn never_answer_next(&self, method: &str, path_contains: &str) {
        self.fail_next(method, path_contains, crate::faults::NO_ANSWER);
    }

    /// Whether every scripted fault has been met (a request never answered
    /// has arrived, say).
    pub fn faults_met(&self) -> bool {
        self.core().faults.lock().rules.is_empty()
    }

    /// Add a fully specified fault rule.
    pub fn add_fault(&self, rule: FaultRule) {
        self.core().faults.lock().rules.push(rule);
    }

    /// Stop and start again on the same port keeping all state and sessions;
    /// connections drop without a close frame, clients reconnect and RESUME.
    pub async fn restart(&self) {
        self.server
            .restart()
            .await
            .expect("rebind the simulator's port");
    }
}
