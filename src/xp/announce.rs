//! Level-up announcements, queued per channel.
//!
//! Discord lets a bot post about five messages per five seconds in one channel and
//! make 50 requests a second in all. A busy server can level members up faster than
//! that; one request per announcement would queue up without bound and arrive
//! minutes late. So each channel has one sender: announcements that arrive while it
//! waits on Discord are sent together in its next message (one line each, as many
//! as fit in 2,000 characters and 100 pinged members). A lone level-up is sent
//! exactly as rendered.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    sync::{Arc, Mutex},
};

use tokio_util::task::TaskTracker;
use twilight_http::Client;
use twilight_model::{
    channel::message::AllowedMentions,
    id::{
        Id,
        marker::{ChannelMarker, UserMarker},
    },
};

use crate::{discord, template::MAX_MESSAGE_CHARS};

/// Discord pings at most 100 users listed in `allowed_mentions.users`.
pub const MAX_PINGED_USERS: usize = 100;

/// Announcements kept waiting per channel; beyond this the oldest are dropped (and
/// counted in the log), so a flood can't grow memory without bound. At one combined
/// message a second this is under a minute of backlog.
pub const MAX_WAITING: usize = 1_000;

/// One rendered level-up message and the member it may ping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub text: String,
    pub user: Id<UserMarker>,
}

#[derive(Default)]
struct Waiting {
    queue: VecDeque<Announcement>,
    /// Dropped since the last message, for the log.
    dropped: u64,
}

/// The per-channel queues; a channel has an entry exactly while its sender runs.
type Queues = Mutex<HashMap<Id<ChannelMarker>, Waiting>>;

pub struct Announcer {
    http: Arc<Client>,
    queues: Arc<Queues>,
    senders: TaskTracker,
}

impl Announcer {
    pub fn new(http: Arc<Client>) -> Self {
        Self {
            http,
            queues: Arc::default(),
            senders: TaskTracker::new(),
        }
    }

    /// Queue `announcement` for `channel`, starting the channel's sender if none runs.
    pub fn announce(&self, channel: Id<ChannelMarker>, announcement: Announcement) {
        let start = {
            let mut queues = self.queues.lock().expect("announcer lock");
            let entry = queues.entry(channel);
            let start = matches!(entry, Entry::Vacant(_));
            let waiting = entry.or_default();
            if waiting.queue.len() >= MAX_WAITING {
                waiting.queue.pop_front();
                waiting.dropped += 1;
            }
            waiting.queue.push_back(announcement);
            start
        };
        if start {
            let (http, queues) = (Arc::clone(&self.http), Arc::clone(&self.queues));
            self.senders.spawn(send_all(http, queues, channel));
        }
    }

    /// At shutdown: no new senders; wait for the running ones until `deadline`.
    pub async fn finish(&self, deadline: tokio::time::Instant) {
        self.senders.close();
        let _ = tokio::time::timeout_at(deadline, self.senders.wait()).await;
        let left: usize = self
            .queues
            .lock()
            .expect("announcer lock")
            .values()
            .map(|w| w.queue.len())
            .sum();
        if left > 0 {
            tracing::warn!(
                announcements = left,
                "shutting down with level-up announcements unsent (Discord's rate limits held them back)"
            );
        }
    }
}

/// A channel's sender: send what waits, combined, until nothing does.
async fn send_all(http: Arc<Client>, queues: Arc<Queues>, channel: Id<ChannelMarker>) {
    loop {
        let (text, users, dropped) = {
            let mut queues = queues.lock().expect("announcer lock");
            let Some(waiting) = queues.get_mut(&channel) else {
                return;
            };
            if waiting.queue.is_empty() {
                // Under the lock: the next announcement for this channel starts a
                // new sender.
                queues.remove(&channel);
                return;
            }
            let (text, users) = combine(&mut waiting.queue, MAX_MESSAGE_CHARS, MAX_PINGED_USERS);
            (text, users, std::mem::take(&mut waiting.dropped))
        };
        if dropped > 0 {
            tracing::warn!(%channel, dropped, "level-up announcements dropped: more than {MAX_WAITING} waited for Discord in this channel");
        }
        // Only the members announced may be pinged, whatever the template says.
        let mentions = AllowedMentions {
            users,
            ..Default::default()
        };
        if let Err(err) = discord::post(&http, channel, &text, &mentions).await {
            tracing::warn!(%channel, error = %err, "could not announce a level-up");
        }
    }
}

/// Take announcements from the front of `queue` into one message: their lines in
/// order, at most `max_chars` characters and `max_users` distinct members. The first
/// is always taken (a rendered template is already within `max_chars`).
pub fn combine(
    queue: &mut VecDeque<Announcement>,
    max_chars: usize,
    max_users: usize,
) -> (String, Vec<Id<UserMarker>>) {
    let mut text = String::new();
    let mut chars = 0;
    let mut users: Vec<Id<UserMarker>> = Vec::new();
    while let Some(next) = queue.front() {
        let len = next.text.chars().count();
        let new_user = !users.contains(&next.user);
        if !users.is_empty() {
            let too_long = chars + 1 + len > max_chars;
            let too_many = new_user && users.len() >= max_users;
            if too_long || too_many {
                break;
            }
            text.push('\n');
            chars += 1;
        }
        let next = queue.pop_front().expect("front exists");
        text.push_str(&next.text);
        chars += len;
        if new_user {
            users.push(next.user);
        }
    }
    (text, users)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(user: u64, text: &str) -> Announcement {
        Announcement {
            text: text.to_owned(),
            user: Id::new(user),
        }
    }

    #[test]
    fn a_lone_announcement_is_sent_as_rendered() {
        let mut q = VecDeque::from([a(1, "<@1> reached level 2!")]);
        let (text, users) = combine(&mut q, 2_000, 100);
        assert_eq!(text, "<@1> reached level 2!");
        assert_eq!(users, vec![Id::new(1)]);
        assert!(q.is_empty());
    }

    #[test]
    fn waiting_announcements_share_a_message_in_order() {
        let mut q = VecDeque::from([a(1, "one"), a(2, "two"), a(1, "three")]);
        let (text, users) = combine(&mut q, 2_000, 100);
        assert_eq!(text, "one\ntwo\nthree");
        assert_eq!(
            users,
            vec![Id::new(1), Id::new(2)],
            "each member listed once"
        );
        assert!(q.is_empty());
    }

    #[test]
    fn a_message_stops_at_the_character_limit() {
        // "aaaa\nbbbb" is 9 characters; a third line would make 14.
        let mut q = VecDeque::from([a(1, "aaaa"), a(2, "bbbb"), a(3, "cccc")]);
        let (text, _) = combine(&mut q, 13, 100);
        assert_eq!(text, "aaaa\nbbbb");
        assert_eq!(q.len(), 1);
        let (text, users) = combine(&mut q, 13, 100);
        assert_eq!((text.as_str(), users), ("cccc", vec![Id::new(3)]));
    }

    #[test]
    fn counts_characters_not_bytes() {
        // Four characters of four bytes each: fits 9 characters, not 9 bytes.
        let mut q = VecDeque::from([a(1, "🎉🎉🎉🎉"), a(2, "🎉🎉🎉🎉")]);
        let (text, _) = combine(&mut q, 9, 100);
        assert_eq!(text.chars().count(), 9);
        assert!(q.is_empty());
    }

    #[test]
    fn a_message_pings_at_most_max_users() {
        let mut q: VecDeque<_> = (1..=5).map(|u| a(u, "x")).collect();
        let (_, users) = combine(&mut q, 2_000, 2);
        assert_eq!(users, vec![Id::new(1), Id::new(2)]);
        assert_eq!(q.len(), 3);
        // A member already pinged in the message still fits.
        let mut q = VecDeque::from([a(1, "x"), a(2, "y"), a(1, "z"), a(3, "w")]);
        let (text, users) = combine(&mut q, 2_000, 2);
        assert_eq!(text, "x\ny\nz");
        assert_eq!(users.len(), 2);
    }

    #[test]
    fn a_full_length_line_goes_alone() {
        let long = "x".repeat(2_000);
        let mut q = VecDeque::from([a(1, "short"), a(2, &long), a(3, "short")]);
        assert_eq!(combine(&mut q, 2_000, 100).0, "short");
        assert_eq!(combine(&mut q, 2_000, 100).0, long);
        assert_eq!(combine(&mut q, 2_000, 100).0, "short");
    }
}
