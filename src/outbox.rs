//! What Keeper posts in channels on its own (welcomes, answers to text commands,
//! level-up announcements, mod-log notes), queued per channel, bounded.
//!
//! Discord lets a bot post about five messages per five seconds in one channel.
//! Members can make Keeper want to post faster than that (a join raid, a crowd
//! typing `!rank`, a burst of level-ups); a task per message waiting on Discord
//! would grow without bound. So each channel has one queue of at most
//! [`MAX_WAITING`] messages and one sender working through it:
//!
//! * a full queue drops its **oldest** message (a reply that would arrive a
//!   minute late helps nobody), logged at warn and counted ([`OutboxStats`]);
//! * level-up announcements that wait together are sent as one message (one line
//!   each, as many as fit in 2,000 characters and 100 pinged members); a lone one
//!   is sent exactly as rendered;
//! * the sender paces itself by the rate-limit headers of Discord's answers
//!   (`X-RateLimit-Remaining` 0: wait `X-RateLimit-Reset-After`). twilight 0.18
//!   reads a bucket's headers only from answers that carry `X-RateLimit-Scope`,
//!   which Discord sends with a 429 alone, so on its own it learns a channel's
//!   limit from one 429 per window: each would count toward Discord's ban of
//!   10,000 invalid requests per 10 minutes;
//! * every sender takes its turn from one pace for the whole process
//!   ([`GlobalPace`]): Discord allows a bot 50 requests a second in all, and
//!   level-ups in a hundred busy channels want twice that. twilight's limiter
//!   lets 50 go at the start of each of its own seconds, which are not
//!   Discord's: the burst at the start of one lands partly in Discord's last
//!   second, is answered 429 (an invalid request) and retried at once. So the
//!   outbox spaces its posts evenly at [`GLOBAL_POSTS_PER_SECOND`], leaving
//!   the rest of the 50 to role grants, DMs and moderation, and a process
//!   running a slice of the shards takes its slice of that
//!   ([`Outbox::share_global_limit`]): the limit is the bot's, across processes;
//! * a channel Discord refuses (403: Keeper may not see it or post there, or it
//!   is gone) is reported once (a warn line, and a note in the guild's mod-log
//!   when that is another channel), its queue is dropped, and nothing is tried
//!   there for [`REFUSED_PAUSE`]: a join raid into an unwritable welcome channel
//!   is one report and a few refused requests, not a 403 per member. A post that
//!   gets through again ends the pause and re-arms the report.

use std::{
    collections::{HashMap, HashSet, VecDeque, hash_map::Entry},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use twilight_http::{Client, error::ErrorType};
use twilight_model::{
    channel::message::{AllowedMentions, Embed},
    http::attachment::Attachment,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, MessageMarker, UserMarker},
    },
};

use crate::{
    guilds::Guilds,
    metrics::{Metrics, status_of},
    template::MAX_MESSAGE_CHARS,
};

/// Messages kept waiting per channel; beyond this the oldest is dropped. At
/// Discord's five per five seconds this is half a minute of backlog.
pub const MAX_WAITING: usize = 32;

/// How long Keeper stays away from a channel Discord refused it.
pub const REFUSED_PAUSE: Duration = Duration::from_secs(600);

/// The longest Keeper waits on a bucket's reset, whatever the header says.
const MAX_PACE: Duration = Duration::from_secs(60);

/// The outbox's share of Discord's global limit of 50 requests a second per
/// bot: the other 10 are for what Keeper asks outside it (role grants, DMs,
/// moderation, mod-log embeds, which are few and come in bursts).
pub const GLOBAL_POSTS_PER_SECOND: f64 = 40.0;

/// One post every `interval` at most, whichever channel asks: posts spaced
/// evenly stay under a limit counted over any second, where a burst at the
/// start of Keeper's second may fall in Discord's previous one.
#[derive(Debug)]
pub struct GlobalPace {
    /// Nanoseconds between two posts.
    interval_ns: AtomicU64,
    /// The earliest moment the next post may go.
    next: Mutex<Instant>,
}

impl GlobalPace {
    pub fn new(per_second: f64) -> Self {
        let pace = Self {
            interval_ns: AtomicU64::new(0),
            next: Mutex::new(Instant::now()),
        };
        pace.set_rate(per_second);
        pace
    }

    /// Posts per second from now on (at least one a minute).
    pub fn set_rate(&self, per_second: f64) {
        let per_second = per_second.max(1.0 / 60.0);
        self.interval_ns
            .store((1e9 / per_second) as u64, Ordering::Relaxed);
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns.load(Ordering::Relaxed))
    }

    /// Wait for this post's turn; how long that was.
    pub async fn turn(&self) -> Duration {
        let now = Instant::now();
        let at = {
            let mut next = self.next.lock().expect("pace lock");
            let (at, after) = next_turn(*next, now, self.interval());
            *next = after;
            at
        };
        tokio::time::sleep_until(at).await;
        at - now
    }
}

/// Posts a second for a process running `owned` of the bot's `total` shards.
pub fn global_share(owned: u32, total: u32) -> f64 {
    GLOBAL_POSTS_PER_SECOND * f64::from(owned.min(total)) / f64::from(total.max(1))
}

/// When a post asked for at `now` may go, given the earliest free moment
/// `next`, and the earliest free moment after it: a turn unused in the past is
/// not saved up, so an idle outbox never bursts.
pub fn next_turn(next: Instant, now: Instant, interval: Duration) -> (Instant, Instant) {
    let at = next.max(now);
    (at, at + interval)
}

/// Discord pings at most 100 users listed in `allowed_mentions.users`.
pub const MAX_PINGED_USERS: usize = 100;

/// One rendered level-up message and the member it may ping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub text: String,
    pub user: Id<UserMarker>,
}

/// What a post is, for the log and the report of a refused channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Welcome,
    CommandAnswer,
    LevelUp,
    ModLog,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Kind::Welcome => "welcome messages",
            Kind::CommandAnswer => "answers to text commands",
            Kind::LevelUp => "level-up announcements",
            Kind::ModLog => "mod-log notes",
        }
    }
}

/// One message to post.
#[derive(Clone, Debug)]
pub struct Post {
    pub kind: Kind,
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
    /// Who may be pinged, whatever the text says (templates are written by
    /// admins, answers quote members).
    pub mentions: AllowedMentions,
    /// The message this one answers.
    pub reply_to: Option<Id<MessageMarker>>,
    /// Files sent with it (`!rank`'s card).
    pub attachments: Vec<Attachment>,
}

impl Post {
    /// Plain text pinging no more than `mentions` allows.
    pub fn text(kind: Kind, text: String, mentions: AllowedMentions) -> Self {
        Self {
            kind,
            content: Some(text),
            embeds: Vec::new(),
            mentions,
            reply_to: None,
            attachments: Vec::new(),
        }
    }
}

/// A queued message: a post, or level-ups sharing one message.
#[derive(Debug)]
enum Queued {
    Post(Post),
    Announcements(Vec<Announcement>),
}

impl Queued {
    fn kind(&self) -> Kind {
        match self {
            Queued::Post(p) => p.kind,
            Queued::Announcements(_) => Kind::LevelUp,
        }
    }
}

/// What the outbox did that a test (or an operator's metrics) may look at.
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Messages dropped because their channel's queue was full.
    pub dropped: AtomicU64,
    /// Messages not sent because Discord had refused their channel.
    pub refused: AtomicU64,
    /// Refused channels reported (once each until a post gets through).
    pub reported: AtomicU64,
}

#[derive(Debug)]
struct Queue {
    guild: Option<Id<GuildMarker>>,
    waiting: VecDeque<Queued>,
    /// Dropped since the sender last logged it.
    dropped: u64,
}

#[derive(Default)]
struct State {
    /// A channel has an entry exactly while its sender runs.
    queues: HashMap<Id<ChannelMarker>, Queue>,
    /// Channels Discord refused, and until when Keeper stays away.
    refused: HashMap<Id<ChannelMarker>, Instant>,
    /// Refused channels already reported.
    reported: HashSet<Id<ChannelMarker>>,
}

pub struct Outbox {
    http: Arc<Client>,
    pace: GlobalPace,
    guilds: Arc<Guilds>,
    state: Arc<Mutex<State>>,
    senders: TaskTracker,
    stats: Arc<OutboxStats>,
    metrics: Arc<Metrics>,
}

impl Outbox {
    pub fn new(
        http: Arc<Client>,
        guilds: Arc<Guilds>,
        stats: Arc<OutboxStats>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            http,
            pace: GlobalPace::new(GLOBAL_POSTS_PER_SECOND),
            guilds,
            state: Arc::default(),
            senders: TaskTracker::new(),
            stats,
            metrics,
        }
    }

    pub fn stats(&self) -> &OutboxStats {
        &self.stats
    }

    /// This process runs `owned` of the bot's `total` shards: its posts get
    /// that share of [`GLOBAL_POSTS_PER_SECOND`], as the processes of one bot
    /// share Discord's global limit (their guilds, and so their posts, are
    /// spread over the shards alike).
    pub fn share_global_limit(&self, owned: u32, total: u32) {
        self.pace.set_rate(global_share(owned, total));
    }

    /// Queue `post` for `channel` (of `guild`).
    pub fn post(
        self: &Arc<Self>,
        guild: Option<Id<GuildMarker>>,
        channel: Id<ChannelMarker>,
        post: Post,
    ) {
        self.queue(guild, channel, Queued::Post(post));
    }

    /// Queue a level-up announcement, in the message waiting last in `channel`
    /// when it fits there.
    pub fn announce(
        self: &Arc<Self>,
        guild: Id<GuildMarker>,
        channel: Id<ChannelMarker>,
        a: Announcement,
    ) {
        self.queue(Some(guild), channel, Queued::Announcements(vec![a]));
    }

    fn queue(
        self: &Arc<Self>,
        guild: Option<Id<GuildMarker>>,
        channel: Id<ChannelMarker>,
        item: Queued,
    ) {
        let start = {
            let mut state = self.lock();
            if state
                .refused
                .get(&channel)
                .is_some_and(|until| Instant::now() < *until)
            {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%channel, "not posting: Discord refused this channel recently");
                return;
            }
            let entry = state.queues.entry(channel);
            let start = matches!(entry, Entry::Vacant(_));
            let queue = entry.or_insert_with(|| Queue {
                guild,
                waiting: VecDeque::new(),
                dropped: 0,
            });
            if let (Queued::Announcements(new), Some(Queued::Announcements(last))) =
                (&item, queue.waiting.back_mut())
                && let [a] = new.as_slice()
                && fits(last, a, MAX_MESSAGE_CHARS, MAX_PINGED_USERS)
            {
                last.push(a.clone());
            } else {
                if queue.waiting.len() >= MAX_WAITING {
                    queue.waiting.pop_front();
                    queue.dropped += 1;
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                queue.waiting.push_back(item);
            }
            start
        };
        if start {
            let outbox = Arc::clone(self);
            self.senders
                .spawn(async move { outbox.send_all(channel).await });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("outbox lock")
    }

    /// A channel's sender: post what waits, in order, until nothing does.
    async fn send_all(self: Arc<Self>, channel: Id<ChannelMarker>) {
        loop {
            let (guild, item, dropped) = {
                let mut state = self.lock();
                let Some(queue) = state.queues.get_mut(&channel) else {
                    return;
                };
                let Some(item) = queue.waiting.pop_front() else {
                    // Under the lock: the next post for this channel starts a new sender.
                    state.queues.remove(&channel);
                    return;
                };
                (queue.guild, item, std::mem::take(&mut queue.dropped))
            };
            if dropped > 0 {
                tracing::warn!(%channel, dropped, "dropped the oldest waiting messages: more than {MAX_WAITING} waited for Discord in this channel");
            }
            let kind = item.kind();
            let waited = self.pace.turn().await;
            if !waited.is_zero() {
                self.metrics.rate_limited(waited);
            }
            match self.send(channel, item).await {
                Ok(pace) => {
                    let was_refused = {
                        let mut state = self.lock();
                        state.refused.remove(&channel);
                        state.reported.remove(&channel)
                    };
                    if was_refused {
                        tracing::info!(%channel, "posting in this channel works again");
                    }
                    if let Some(wait) = pace {
                        self.metrics.rate_limited(wait);
                        tokio::time::sleep(wait).await;
                    }
                }
                Err(err) if is_refusal(&err) => {
                    self.refused(guild, channel, kind, &err);
                    return;
                }
                Err(err) => {
                    tracing::warn!(?guild, %channel, error = %err, "could not post {}", kind.plural());
                }
            }
        }
    }

    /// Post one message; how long to wait before the next in this channel.
    async fn send(
        &self,
        channel: Id<ChannelMarker>,
        item: Queued,
    ) -> Result<Option<Duration>, twilight_http::Error> {
        let response = match item {
            Queued::Post(post) => {
                let mut request = self
                    .http
                    .create_message(channel)
                    .embeds(&post.embeds)
                    .attachments(&post.attachments)
                    .allowed_mentions(Some(&post.mentions));
                if let Some(content) = &post.content {
                    request = request.content(content);
                }
                if let Some(id) = post.reply_to {
                    request = request.reply(id);
                }
                self.counted(request.await)?
            }
            Queued::Announcements(list) => {
                let (text, users) = combine(&list);
                // Only the members announced may be pinged, whatever the template says.
                let mentions = AllowedMentions {
                    users,
                    ..Default::default()
                };
                let sent = self
                    .http
                    .create_message(channel)
                    .content(&text)
                    .allowed_mentions(Some(&mentions))
                    .await;
                self.counted(sent)?
            }
        };
        Ok(pace(response.headers()))
    }

    /// Count a post in `keeper_rest_requests_total`.
    fn counted<T>(
        &self,
        result: Result<twilight_http::Response<T>, twilight_http::Error>,
    ) -> Result<twilight_http::Response<T>, twilight_http::Error> {
        self.metrics.rest("create_message", status_of(&result));
        result
    }

    /// Discord refused `channel`: stop posting there for a while, drop what
    /// waits, and say so once.
    fn refused(
        self: &Arc<Self>,
        guild: Option<Id<GuildMarker>>,
        channel: Id<ChannelMarker>,
        kind: Kind,
        err: &twilight_http::Error,
    ) {
        let (first, discarded) = {
            let mut state = self.lock();
            state
                .refused
                .insert(channel, Instant::now() + REFUSED_PAUSE);
            let discarded = state.queues.remove(&channel).map_or(0, |q| q.waiting.len());
            (state.reported.insert(channel), discarded)
        };
        self.stats
            .refused
            .fetch_add(1 + discarded as u64, Ordering::Relaxed);
        if !first {
            tracing::debug!(%channel, error = %err, "Discord still refuses this channel");
            return;
        }
        self.stats.reported.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(?guild, %channel, error = %err,
            "Discord refused Keeper's {} in this channel: give Keeper View Channel and Send Messages there; nothing is posted there for the next {} minutes",
            kind.plural(), REFUSED_PAUSE.as_secs() / 60);
        let Some(guild) = guild else {
            return;
        };
        let Some(modlog) = self.guilds.settings(guild).modlog_channel else {
            return;
        };
        if modlog == channel {
            return;
        }
        let text = format!(
            "I can't post in <#{channel}>: Discord refused my {} there. Give me **View Channel** \
             and **Send Messages** in that channel. I'll try again in {} minutes and won't \
             repeat this until it works.",
            kind.plural(),
            REFUSED_PAUSE.as_secs() / 60
        );
        self.post(
            Some(guild),
            modlog,
            Post::text(Kind::ModLog, text, AllowedMentions::default()),
        );
    }

    /// At shutdown: no new senders; wait for the running ones until `deadline`.
    pub async fn finish(&self, deadline: Instant) {
        self.senders.close();
        let _ = tokio::time::timeout_at(deadline, self.senders.wait()).await;
        let left: usize = self.lock().queues.values().map(|q| q.waiting.len()).sum();
        if left > 0 {
            tracing::warn!(
                messages = left,
                "shutting down with messages unsent (Discord's rate limits held them back)"
            );
        }
    }
}

/// Whether Discord refused the channel itself (not this one message): 403
/// Missing Access (50001) or Missing Permissions (50013), or the channel is
/// gone (10003).
fn is_refusal(err: &twilight_http::Error) -> bool {
    use twilight_http::api_error::ApiError;
    match err.kind() {
        ErrorType::Response { error, status, .. } => match error {
            ApiError::General(general) => matches!(general.code, 50001 | 50013 | 10003),
            _ => status.get() == 403,
        },
        _ => false,
    }
}

/// How long to wait before the next request in a bucket whose answer said
/// `X-RateLimit-Remaining: 0`: its `X-RateLimit-Reset-After` (capped).
pub fn pace<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Option<Duration> {
    let (mut remaining, mut reset_after) = (None, None);
    for (name, value) in headers {
        let value = std::str::from_utf8(value).ok();
        if name.eq_ignore_ascii_case("x-ratelimit-remaining") {
            remaining = value.and_then(|v| v.trim().parse::<u64>().ok());
        } else if name.eq_ignore_ascii_case("x-ratelimit-reset-after") {
            reset_after = value.and_then(|v| v.trim().parse::<f64>().ok());
        }
    }
    match (remaining, reset_after) {
        (Some(0), Some(secs)) if secs.is_finite() && secs > 0.0 => {
            Some(Duration::from_secs_f64(secs).min(MAX_PACE))
        }
        _ => None,
    }
}

/// Whether announcement `next` may join the message made of `batch`: at most
/// `max_chars` characters (lines joined by newlines) and `max_users` distinct
/// members.
pub fn fits(
    batch: &[Announcement],
    next: &Announcement,
    max_chars: usize,
    max_users: usize,
) -> bool {
    let chars: usize = batch
        .iter()
        .map(|a| a.text.chars().count() + 1)
        .sum::<usize>()
        + next.text.chars().count();
    let mut users: Vec<Id<UserMarker>> = batch.iter().map(|a| a.user).collect();
    users.sort_unstable();
    users.dedup();
    let users = users.len() + usize::from(!users.contains(&next.user));
    chars <= max_chars && users <= max_users
}

/// The message made of `batch`: their lines in order, and the members it pings
/// (each once).
pub fn combine(batch: &[Announcement]) -> (String, Vec<Id<UserMarker>>) {
    let text = batch
        .iter()
        .map(|a| a.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut users: Vec<Id<UserMarker>> = Vec::new();
    for a in batch {
        if !users.contains(&a.user) {
            users.push(a.user);
        }
    }
    (text, users)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asked all at once, turns are spaced by the interval; asked after a
    /// pause, the next goes at once and no unused turn is saved up.
    #[test]
    fn turns_are_spaced_and_never_saved_up() {
        let t0 = Instant::now();
        let gap = Duration::from_millis(25);
        let mut next = t0;
        let mut turns = Vec::new();
        for _ in 0..4 {
            let (at, after) = next_turn(next, t0, gap);
            turns.push(at - t0);
            next = after;
        }
        assert_eq!(turns, [0, 25, 50, 75].map(Duration::from_millis));
        // A second later: the four turns missed meanwhile are gone.
        let later = t0 + Duration::from_secs(1);
        let (at, after) = next_turn(next, later, gap);
        assert_eq!((at, after), (later, later + gap));
        // Any second holds at most rate turns.
        let per_second = (Duration::from_secs(1).as_nanos() / gap.as_nanos()) as u32;
        assert_eq!(f64::from(per_second), GLOBAL_POSTS_PER_SECOND);
    }

    /// A process with 2 of 8 shards posts at a quarter of the outbox's rate;
    /// one with them all at the whole of it.
    #[test]
    fn a_slice_of_the_shards_gets_its_slice_of_the_limit() {
        let pace = GlobalPace::new(GLOBAL_POSTS_PER_SECOND);
        assert_eq!(pace.interval(), Duration::from_millis(25));
        let share = |owned, total| {
            pace.set_rate(global_share(owned, total));
            pace.interval()
        };
        assert_eq!(share(2, 8), Duration::from_millis(100));
        assert_eq!(share(8, 8), Duration::from_millis(25));
        assert_eq!(share(1, 1), Duration::from_millis(25));
        // Never stopped altogether, however small the slice.
        assert_eq!(GlobalPace::new(0.0).interval(), Duration::from_secs(60));
    }

    fn a(user: u64, text: &str) -> Announcement {
        Announcement {
            text: text.to_owned(),
            user: Id::new(user),
        }
    }

    /// Announcements in the order they come, batched as the queue batches them.
    fn batches(
        list: &[Announcement],
        max_chars: usize,
        max_users: usize,
    ) -> Vec<Vec<Announcement>> {
        let mut out: Vec<Vec<Announcement>> = Vec::new();
        for next in list {
            match out.last_mut() {
                Some(last) if fits(last, next, max_chars, max_users) => last.push(next.clone()),
                _ => out.push(vec![next.clone()]),
            }
        }
        out
    }

    #[test]
    fn a_lone_announcement_is_sent_as_rendered() {
        let (text, users) = combine(&[a(1, "<@1> reached level 2!")]);
        assert_eq!(text, "<@1> reached level 2!");
        assert_eq!(users, vec![Id::new(1)]);
    }

    #[test]
    fn waiting_announcements_share_a_message_in_order() {
        let list = [a(1, "one"), a(2, "two"), a(1, "three")];
        let b = batches(&list, 2_000, 100);
        assert_eq!(b.len(), 1);
        let (text, users) = combine(&b[0]);
        assert_eq!(text, "one\ntwo\nthree");
        assert_eq!(
            users,
            vec![Id::new(1), Id::new(2)],
            "each member listed once"
        );
    }

    #[test]
    fn a_message_stops_at_the_character_limit() {
        // "aaaa\nbbbb" is 9 characters; a third line would make 14.
        let b = batches(&[a(1, "aaaa"), a(2, "bbbb"), a(3, "cccc")], 13, 100);
        let texts: Vec<String> = b.iter().map(|b| combine(b).0).collect();
        assert_eq!(texts, ["aaaa\nbbbb", "cccc"]);
    }

    #[test]
    fn counts_characters_not_bytes() {
        // Four characters of four bytes each: fits 9 characters, not 9 bytes.
        let b = batches(&[a(1, "🎉🎉🎉🎉"), a(2, "🎉🎉🎉🎉")], 9, 100);
        assert_eq!(b.len(), 1);
        assert_eq!(combine(&b[0]).0.chars().count(), 9);
    }

    #[test]
    fn a_message_pings_at_most_max_users() {
        let list: Vec<_> = (1..=5).map(|u| a(u, "x")).collect();
        let b = batches(&list, 2_000, 2);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
        // A member already pinged in the message still fits.
        let b = batches(&[a(1, "x"), a(2, "y"), a(1, "z"), a(3, "w")], 2_000, 2);
        assert_eq!(combine(&b[0]).0, "x\ny\nz");
        assert_eq!(combine(&b[0]).1.len(), 2);
    }

    #[test]
    fn a_full_length_line_goes_alone() {
        let long = "x".repeat(2_000);
        let b = batches(&[a(1, "short"), a(2, &long), a(3, "short")], 2_000, 100);
        let texts: Vec<String> = b.iter().map(|b| combine(b).0).collect();
        assert_eq!(texts, ["short".to_owned(), long, "short".to_owned()]);
    }

    #[test]
    fn pace_waits_out_an_empty_bucket_only() {
        let h = |remaining: &'static str, after: &'static str| {
            vec![
                ("x-ratelimit-remaining", remaining.as_bytes()),
                ("X-RateLimit-Reset-After", after.as_bytes()),
            ]
        };
        assert_eq!(
            pace(h("0", "4.250").into_iter()),
            Some(Duration::from_millis(4_250))
        );
        assert_eq!(pace(h("1", "4.250").into_iter()), None);
        assert_eq!(pace(h("0", "9999").into_iter()), Some(MAX_PACE));
        assert_eq!(pace(h("0", "junk").into_iter()), None);
        assert_eq!(pace(std::iter::empty()), None);
    }
}
