//! The line of rank cards waiting to be drawn: how many draw at once, how
//! many may wait, for how long.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a card waits in line to be drawn before its facts go alone, as
/// text: a longer wait means `/rank` is asked faster than cards can be drawn
/// (a few milliseconds each), and a line that only grows would hold every
/// answer for seconds. A prompt answer matters more than its picture.
pub const CARD_QUEUE_WAIT: Duration = Duration::from_millis(100);

/// Cards that may wait in line per card drawn at once; one more is answered
/// as text at once rather than after waiting out [`CARD_QUEUE_WAIT`] (eight
/// cards are 25-50 ms of drawing).
const WAITING_PER_PERMIT: usize = 8;

/// The cards being drawn and those waiting their turn: a few draw at once
/// (a card is milliseconds of CPU; unbounded, a burst of `/rank` competed with
/// the gateway's flood and the database for every core), a few more wait, and
/// the rest are answered as text.
#[derive(Debug)]
pub struct DrawingLine {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    most_waiting: usize,
}

impl DrawingLine {
    /// A line where `at_once` cards are drawn at a time.
    pub fn new(at_once: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(at_once)),
            waiting: AtomicUsize::new(0),
            most_waiting: at_once * WAITING_PER_PERMIT,
        }
    }

    /// A turn to draw: at once if one is free, else after waiting in line at
    /// most `wait`; `None` when the line is full or the wait runs out.
    pub async fn enter(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Some(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.most_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let _left = LeavesLine(&self.waiting);
        // The semaphore is never closed.
        tokio::time::timeout(wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// Counts a card out of the line however its wait ends (a turn, the wait run
/// out, the command dropped).
struct LeavesLine<'a>(&'a AtomicUsize);

impl Drop for LeavesLine<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_card_waits_in_line_only_so_long() {
        let line = DrawingLine::new(1);
        let drawing = line.enter(CARD_QUEUE_WAIT).await.expect("a free turn");
        let started = tokio::time::Instant::now();
        assert!(line.enter(CARD_QUEUE_WAIT).await.is_none());
        assert_eq!(started.elapsed(), CARD_QUEUE_WAIT);
        assert_eq!(line.waiting.load(Ordering::Acquire), 0, "left the line");
        // Freed while one waits: that one draws.
        let line = Arc::new(line);
        let waiting = tokio::spawn({
            let line = Arc::clone(&line);
            async move { line.enter(CARD_QUEUE_WAIT).await.is_some() }
        });
        tokio::time::sleep(CARD_QUEUE_WAIT / 2).await;
        drop(drawing);
        assert!(waiting.await.expect("task"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_line_answers_as_text_at_once() {
        let line = Arc::new(DrawingLine::new(1));
        let drawing = line.enter(CARD_QUEUE_WAIT).await.expect("a free turn");
        let waiting: Vec<_> = (0..WAITING_PER_PERMIT)
            .map(|_| {
                let line = Arc::clone(&line);
                tokio::spawn(async move { line.enter(CARD_QUEUE_WAIT).await.is_some() })
            })
            .collect();
        tokio::task::yield_now().await;
        while line.waiting.load(Ordering::Acquire) < WAITING_PER_PERMIT {
            tokio::task::yield_now().await;
        }
        let started = tokio::time::Instant::now();
        assert!(line.enter(CARD_QUEUE_WAIT).await.is_none());
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "turned away without waiting"
        );
        // The line moves: those waiting draw in turn as each card is done.
        drop(drawing);
        for w in waiting {
            assert!(w.await.expect("task"));
        }
    }
}
