//! Load mode: N guilds × M members with skewed activity at a target message
//! rate, slash commands interleaved, and a report of what was delivered.
//!
//! Activity follows a Zipf-like law: member `k` (1-based rank) speaks with
//! weight `1 / k^s`, so a few members are very active and most are quiet,
//! as in real guilds. The report lists how many messages each member sent,
//! so a run can compute the XP the bot should have awarded under its own
//! rules and compare it with what the bot stored.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use hdrhistogram::Histogram;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::SimConfig;
use crate::permissions::bits;
use crate::scenario::{Channel, Guild, Member, OptionValue, Sim};
use crate::state::InteractionState;

/// What to play.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub guilds: usize,
    /// Members of every guild; with `largest_guild`, of the smallest.
    pub members_per_guild: usize,
    /// A realistic spread of guild sizes: the `k`-th guild (1-based) gets
    /// `largest_guild / k` members, but never fewer than `members_per_guild`
    /// (a few big servers, a long tail of small ones), and a guild's share of
    /// the messages follows its size. `None`: every guild the same size, and
    /// activity skewed across guilds by rank.
    pub largest_guild: Option<usize>,
    /// Target messages per second across all guilds.
    pub rate: u64,
    /// How long to play.
    pub duration: Duration,
    /// Run this slash command every `command_every` messages (0 = never);
    /// the bot must have registered it.
    pub command: Option<String>,
    pub command_every: u64,
    /// The guild's owner runs `command` on the member whose turn it is
    /// (options `user` and `reason`): a moderator acting on a member, as
    /// `/warn`. Otherwise the member runs it, without options.
    pub moderate: bool,
    /// Zipf exponent of member activity.
    pub zipf_s: f64,
    /// RNG seed, so runs are repeatable.
    pub seed: u64,
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            guilds: 10,
            members_per_guild: 100,
            largest_guild: None,
            rate: 1_000,
            duration: Duration::from_secs(10),
            command: None,
            command_every: 100,
            moderate: false,
            zipf_s: 1.1,
            seed: 42,
        }
    }
}

/// The outcome of a load run.
#[derive(Debug)]
pub struct LoadReport {
    pub messages_sent: u64,
    pub commands_sent: u64,
    pub commands_answered: u64,
    pub commands_failed: u64,
    pub elapsed: Duration,
    /// Dispatches written to sessions per second (all event types).
    pub events_per_sec: f64,
    /// Interaction round trip (INTERACTION_CREATE to callback), µs.
    pub rtt_p50_us: u64,
    pub rtt_p99_us: u64,
    pub rtt_max_us: u64,
    /// `(guild_id, user_id) -> messages sent`.
    pub messages_per_member: BTreeMap<(u64, u64), u64>,
    /// `(guild_id, user_id) -> timestamps of the messages sent`, in order, as the
    /// bot read them: what [`LoadReport::expected_xp`] applies cooldowns to.
    pub message_times: BTreeMap<(u64, u64), Vec<DateTime<Utc>>>,
}

/// A bot's XP rules, MEE6 style: a message earns a random amount in
/// `[min, max]`, at most once per `cooldown` per member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XpRules {
    pub min: i64,
    pub max: i64,
    pub cooldown: Duration,
}

impl Default for XpRules {
    /// Keeper's (and MEE6's) defaults: 15 to 25 XP once a minute.
    fn default() -> Self {
        Self {
            min: 15,
            max: 25,
            cooldown: Duration::from_secs(60),
        }
    }
}

/// What one member should have been awarded under some [`XpRules`]. With a
/// random amount per award the total is only known to lie in `[min_xp, max_xp]`;
/// with `min == max` it is exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpectedXp {
    pub messages: u64,
    /// Messages that earned XP (the others fell inside a cooldown).
    pub awards: u64,
    pub min_xp: i64,
    pub max_xp: i64,
}

impl ExpectedXp {
    pub fn allows(&self, xp: i64) -> bool {
        (self.min_xp..=self.max_xp).contains(&xp)
    }
}

/// Which of a member's messages (timestamps in sending order) earn XP: the first,
/// then each one at least `cooldown` after the last that earned.
pub fn awarded_messages(times: &[DateTime<Utc>], cooldown: Duration) -> u64 {
    let cooldown = chrono::Duration::from_std(cooldown).unwrap_or(chrono::Duration::MAX);
    let mut last: Option<DateTime<Utc>> = None;
    let mut awards = 0;
    for &t in times {
        if last.is_none_or(|l| t >= l + cooldown) {
            awards += 1;
            last = Some(t);
        }
    }
    awards
}

impl LoadReport {
    /// The XP every member who was part of the run should have been awarded
    /// under `rules` (members who never spoke included, at 0), so a run can check
    /// that nothing was lost or counted twice.
    pub fn expected_xp(&self, rules: &XpRules) -> BTreeMap<(u64, u64), ExpectedXp> {
        self.messages_per_member
            .iter()
            .map(|(&key, &messages)| {
                let times = self.message_times.get(&key).map_or(&[][..], Vec::as_slice);
                let awards = awarded_messages(times, rules.cooldown);
                let n = awards as i64;
                let expected = ExpectedXp {
                    messages,
                    awards,
                    min_xp: n * rules.min,
                    max_xp: n * rules.max.max(rules.min),
                };
                (key, expected)
            })
            .collect()
    }

    /// The XP awarded across all members under `rules`: `(min, max)`.
    pub fn expected_total_xp(&self, rules: &XpRules) -> (i64, i64) {
        self.expected_xp(rules)
            .values()
            .fold((0, 0), |(lo, hi), e| (lo + e.min_xp, hi + e.max_xp))
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "messages sent:       {}", self.messages_sent)?;
        writeln!(
            f,
            "commands:            {} sent, {} answered, {} failed",
            self.commands_sent, self.commands_answered, self.commands_failed
        )?;
        writeln!(f, "elapsed:             {:.2?}", self.elapsed)?;
        writeln!(f, "events delivered/s:  {:.0}", self.events_per_sec)?;
        writeln!(
            f,
            "interaction RTT:     p50 {} µs, p99 {} µs, max {} µs",
            self.rtt_p50_us, self.rtt_p99_us, self.rtt_max_us
        )?;
        let active = self
            .messages_per_member
            .values()
            .filter(|n| **n > 0)
            .count();
        let top = self
            .messages_per_member
            .values()
            .max()
            .copied()
            .unwrap_or(0);
        write!(
            f,
            "members who spoke:   {active} of {} (most active: {top} messages)",
            self.messages_per_member.len()
        )
    }
}

/// The world a load run plays in.
pub struct LoadWorld {
    pub guilds: Vec<(Guild, Channel, Vec<Member>)>,
}

/// Build the guilds, channels and members (before the bot connects).
pub async fn build(sim: &Sim, config: &LoadConfig) -> LoadWorld {
    // All guilds first: consecutive IDs, so `(guild_id >> 22) % shards` spreads
    // them evenly over the shards (as Discord's effectively random IDs do).
    let mut made = Vec::with_capacity(config.guilds);
    for g in 0..config.guilds {
        made.push(sim.guild(&format!("load-{g}")).await);
    }
    let mut guilds = Vec::with_capacity(config.guilds);
    for (g, guild) in made.into_iter().enumerate() {
        let channel = guild.text_channel("general");
        let members = (0..guild_size(config, g))
            .map(|m| guild.member(&format!("g{g}m{m}")))
            .collect();
        guilds.push((guild, channel, members));
    }
    LoadWorld { guilds }
}

/// Members of the `g`-th guild (0-based) under `config`'s spread.
pub fn guild_size(config: &LoadConfig, g: usize) -> usize {
    match config.largest_guild {
        Some(largest) => (largest / (g + 1)).max(config.members_per_guild),
        None => config.members_per_guild,
    }
}

/// Cumulative weights of the guilds a message falls in: by size when the
/// sizes are spread, else Zipf by rank (exponent 0.8).
fn guild_cdf(world: &LoadWorld, config: &LoadConfig) -> Vec<f64> {
    if config.largest_guild.is_none() {
        return zipf_cdf(world.guilds.len().max(1), 0.8);
    }
    let total: usize = world.guilds.iter().map(|(_, _, m)| m.len()).sum();
    let mut acc = 0.0;
    world
        .guilds
        .iter()
        .map(|(_, _, members)| {
            acc += members.len() as f64 / total.max(1) as f64;
            acc
        })
        .collect()
}

/// Cumulative Zipf weights for ranks 1..=n.
fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|k| {
            acc += 1.0 / (k as f64).powf(s);
            acc
        })
        .collect();
    for c in &mut cdf {
        *c /= acc;
    }
    cdf
}

/// Play the load against whatever bot is connected to `sim`.
pub async fn run(sim: &Sim, world: &LoadWorld, config: &LoadConfig) -> LoadReport {
    let mut rng = StdRng::seed_from_u64(config.seed);
    // Member activity within a guild, one table per guild size.
    let mut member_cdfs: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for (_, _, members) in &world.guilds {
        member_cdfs
            .entry(members.len())
            .or_insert_with(|| zipf_cdf(members.len().max(1), config.zipf_s));
    }
    let guild_cdf = guild_cdf(world, config);
    let pick = |cdf: &[f64], rng: &mut StdRng| -> usize {
        let x: f64 = rng.random();
        cdf.partition_point(|c| *c < x).min(cdf.len() - 1)
    };
    let mut per_member = BTreeMap::new();
    let mut message_times: BTreeMap<(u64, u64), Vec<DateTime<Utc>>> = BTreeMap::new();
    for (g, _, members) in &world.guilds {
        for m in members {
            per_member.insert((g.id(), m.id()), 0u64);
        }
    }
    let mut interactions = Vec::new();
    let start = Instant::now();
    let dispatched_before = sim.dispatched();
    let mut sent = 0u64;
    // Pace in 1 ms ticks: send what the target rate owes so far.
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while start.elapsed() < config.duration && !world.guilds.is_empty() {
        tick.tick().await;
        let owed = (start.elapsed().as_secs_f64() * config.rate as f64) as u64;
        while sent < owed {
            let (guild, channel, members) = &world.guilds[pick(&guild_cdf, &mut rng)];
            if members.is_empty() {
                break;
            }
            let member = &members[pick(&member_cdfs[&members.len()], &mut rng)];
            sent += 1;
            let is_command = config.command_every > 0 && sent.is_multiple_of(config.command_every);
            match (&config.command, is_command) {
                (Some(cmd), true) if config.moderate => {
                    let options = [
                        ("user", OptionValue::User(member.id())),
                        ("reason", OptionValue::String(format!("load {sent}"))),
                    ];
                    interactions.push(guild.owner().runs(channel, cmd, options).await);
                }
                (Some(cmd), true) => interactions.push(member.runs(channel, cmd, []).await),
                _ => {
                    let key = (guild.id(), member.id());
                    let (_, at) = member.says_timed(channel, format!("message {sent}")).await;
                    *per_member.entry(key).or_default() += 1;
                    message_times.entry(key).or_default().push(at);
                }
            }
        }
    }
    let elapsed = start.elapsed();
    let events = sim.dispatched() - dispatched_before;

    // Let the last interactions settle (answered or failed).
    for i in &interactions {
        let _ = i.response(Duration::from_secs(5)).await;
    }
    let mut hist = Histogram::<u64>::new(3).expect("histogram");
    let (mut answered, mut failed) = (0, 0);
    let rtts = sim.interaction_round_trips();
    for i in &interactions {
        match i.state() {
            InteractionState::Responded => answered += 1,
            InteractionState::Failed => failed += 1,
            InteractionState::Pending => {}
        }
        if let Some(rtt) = rtts.get(&i.id()) {
            let _ = hist.record(rtt.as_micros() as u64);
        }
    }
    LoadReport {
        messages_sent: per_member.values().sum(),
        commands_sent: interactions.len() as u64,
        commands_answered: answered,
        commands_failed: failed,
        elapsed,
        events_per_sec: events as f64 / elapsed.as_secs_f64(),
        rtt_p50_us: hist.value_at_quantile(0.5),
        rtt_p99_us: hist.value_at_quantile(0.99),
        rtt_max_us: hist.max(),
        messages_per_member: per_member,
        message_times,
    }
}

/// A simulator configured for load: Discord-like heartbeats, no replay log
/// growth beyond what a resume needs.
pub fn sim_config(token: String, shards: u32) -> SimConfig {
    SimConfig {
        token,
        shards,
        max_concurrency: 16,
        identify_interval: Duration::ZERO,
        replay_limit: 10_000,
        ..SimConfig::default()
    }
}

/// Bot permissions in load guilds.
pub const LOAD_BOT_PERMISSIONS: u64 = bits::VIEW_CHANNEL | bits::SEND_MESSAGES | bits::EMBED_LINKS;

/// Zipf sampling sanity: rank 1 is the most likely.
pub fn zipf_sample_counts(n: usize, s: f64, samples: usize, seed: u64) -> Vec<u64> {
    let cdf = zipf_cdf(n, s);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut counts = vec![0; n];
    for _ in 0..samples {
        let x: f64 = rng.random();
        counts[cdf.partition_point(|c| *c < x).min(n - 1)] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, TimeZone, Utc};

    use super::awarded_messages;

    fn at(secs: i64, micros: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, micros * 1_000)
            .unwrap()
    }

    #[test]
    fn cooldown_counts_from_the_last_message_that_earned() {
        let minute = Duration::from_secs(60);
        // 0 earns; 30 and 59.999999 are inside its cooldown; 60 earns; 61 and 119
        // are inside the new one (counted from 60, not from 30); 120 earns.
        let times = [
            at(0, 0),
            at(30, 0),
            at(59, 999_999),
            at(60, 0),
            at(61, 0),
            at(119, 0),
            at(120, 0),
        ];
        assert_eq!(awarded_messages(&times, minute), 3);
        assert_eq!(awarded_messages(&times, Duration::ZERO), 7);
        assert_eq!(awarded_messages(&[], minute), 0);
    }

    #[test]
    fn guild_sizes_spread_from_the_largest_down_to_the_floor() {
        let config = super::LoadConfig {
            guilds: 10_000,
            members_per_guild: 5,
            largest_guild: Some(20_000),
            ..Default::default()
        };
        let size = |g| super::guild_size(&config, g);
        assert_eq!((size(0), size(1), size(99)), (20_000, 10_000, 200));
        assert_eq!(size(3_999), 5, "never under the floor");
        assert_eq!(size(9_999), 5);
        let even = super::LoadConfig {
            largest_guild: None,
            ..config
        };
        assert_eq!(super::guild_size(&even, 0), 5);
    }

    #[test]
    fn activity_is_skewed() {
        let c = super::zipf_sample_counts(100, 1.1, 100_000, 1);
        assert!(c[0] > c[9] && c[9] > c[99]);
        assert!(c[0] > 10 * c[99]);
    }
}
