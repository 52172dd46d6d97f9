//! `/rank [user]` and `!rank [@member]`: a member's level, progress, total XP
//! and place in the guild, as a card image (unless the guild turned cards
//! off) over the same facts in text, for screen readers and for clients that
//! hide images.

use bytes::Bytes;
use futures_util::FutureExt as _;
use keeper_store::{MemberRank, levels};
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    channel::message::Embed,
    http::attachment::Attachment,
    id::{
        Id,
        marker::{GuildMarker, UserMarker},
    },
    util::ImageHash,
};
use twilight_util::builder::{
    command::{CommandBuilder, UserBuilder},
    embed::{EmbedBuilder, EmbedFieldBuilder, ImageSource},
};

use super::{Invocation, Reply, Spec, Text, TextInvocation, text::Named};
use crate::{
    card::{Accent, Avatar, CARD_QUEUE_WAIT, RankCard},
    context::Context,
    error::BotResult,
    metrics::CardOutcome,
};

/// The card's file name, which the embed shows as its image.
const CARD_FILE: &str = "rank.png";

pub const NAME: &str = "rank";

pub const SPEC: Spec =
    Spec::everyone(NAME, command, |ctx, inv| run(ctx, inv).boxed()).with_text(Text {
        name: NAME,
        aliases: &[],
        usage: "[@member]",
        example: "@alice",
        help: "level, XP and place",
        run: |ctx, inv| run_text(ctx, inv).boxed(),
    });

pub fn command() -> Command {
    CommandBuilder::new(
        NAME,
        "Show a member's level, XP and place on the leaderboard",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(UserBuilder::new(
        "user",
        "Whose rank to show (yourself if empty)",
    ))
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let user = inv.options().user("user").unwrap_or(inv.user.id);
    let who = inv.resolved_user(user).unwrap_or(inv.user);
    reply(ctx, inv.guild_id, user, &who.name, who.avatar).await
}

pub async fn run_text(ctx: &Context, inv: &TextInvocation<'_>) -> BotResult<Reply> {
    let Named {
        id, name, avatar, ..
    } = text_target(inv);
    reply(ctx, inv.guild_id, id, name, avatar).await
}

/// Whose rank `!rank` asks for: the first member mentioned, or the author.
fn text_target<'a>(inv: &TextInvocation<'a>) -> Named<'a> {
    inv.mentions.first().copied().unwrap_or(inv.author)
}

/// The rank card, for either form of the command.
async fn reply(
    ctx: &Context,
    guild: Id<GuildMarker>,
    user: Id<UserMarker>,
    name: &str,
    avatar: Option<ImageHash>,
) -> BotResult<Reply> {
    let reading = std::time::Instant::now();
    let rank = ctx.store.member_rank(guild, user).await?;
    tracing::debug!(read_ms = reading.elapsed().as_secs_f64() * 1e3, "rank read");
    match rank {
        Some(rank) => {
            let facts = card(name, rank.member.xp, rank.position, rank.out_of);
            let settings = ctx.guilds.settings(guild);
            if !settings.rank_card {
                return Ok(Reply::embed(facts));
            }
            let picture = match avatar {
                Some(hash) => ctx.avatars.get(user, &hash.to_string()).await,
                None => None,
            };
            let accent = settings
                .rank_card_accent
                .map_or(Accent::DEFAULT, |c| Accent(rgb(c)));
            Ok(match draw(ctx, name, &rank, accent, picture).await {
                Some(png) => with_card(facts, png),
                // Logged in `draw`: the facts still go.
                None => Reply::embed(facts),
            })
        }
        None if user == ctx.bot_id => Ok(Reply::text("I don't earn XP; I only count it.")),
        None => Ok(Reply::text(format!(
            "**{}** hasn't earned any XP here yet.",
            escape(name)
        ))),
    }
}

/// The card as PNG, drawn off the async threads (a few milliseconds of CPU)
/// in its turn in [`Context::drawing`]'s line, so a burst of `/rank` waits
/// instead of taking every core from the shards; `None` when the line is full
/// or too slow ([`crate::card::DrawingLine::enter`]) or, logged, if it could
/// not be drawn.
async fn draw(
    ctx: &Context,
    name: &str,
    rank: &MemberRank,
    accent: Accent,
    picture: Option<Bytes>,
) -> Option<Vec<u8>> {
    let renderer = ctx.cards.clone();
    let name = name.to_owned();
    let xp = rank.member.xp;
    let (position, out_of) = (rank.position, rank.out_of);
    let queued = std::time::Instant::now();
    let Some(permit) = ctx.drawing.enter(CARD_QUEUE_WAIT).await else {
        ctx.metrics.rank_card(CardOutcome::Busy);
        tracing::debug!("rank card skipped: too many waiting to be drawn");
        return None;
    };
    let waited = queued.elapsed();
    let drawn = beside_the_runtime(move || {
        let _permit = permit;
        let (into, needed) = levels::progress(xp);
        let started = std::time::Instant::now();
        let card = renderer.render(&RankCard {
            name: &name,
            level: i64::from(levels::level_for_xp(xp)),
            rank: position,
            out_of,
            xp_into_level: into,
            xp_for_level: needed,
            total_xp: xp,
            accent,
            avatar: picture.as_deref().map_or(Avatar::Initials, Avatar::Png),
        });
        (card, started, started.elapsed())
    })
    .await;
    // Where a slow card's time went: its turn, reaching a thread, the drawing,
    // coming back.
    let drawn = drawn.map(|(card, started, drawing)| {
        tracing::debug!(
            line_ms = waited.as_secs_f64() * 1e3,
            to_thread_ms = (started - queued).saturating_sub(waited).as_secs_f64() * 1e3,
            drawing_ms = drawing.as_secs_f64() * 1e3,
            back_ms = started.elapsed().saturating_sub(drawing).as_secs_f64() * 1e3,
            "rank card"
        );
        card
    });
    let png = match drawn {
        Ok(Ok(png)) => Some(png),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a rank card could not be drawn");
            None
        }
        Err(Stopped) => {
            tracing::error!("the rank card's drawing panicked");
            None
        }
    };
    ctx.metrics.rank_card(if png.is_some() {
        CardOutcome::Drawn
    } else {
        CardOutcome::Failed
    });
    png
}

/// A drawing that panicked (a bug; the facts still go, as text).
#[derive(Debug, PartialEq, Eq)]
struct Stopped;

/// Run `work`, milliseconds of CPU, without holding up the runtime's other
/// tasks. On the multi-threaded runtime Keeper runs on, on this very thread,
/// whose other tasks go to another (`block_in_place`): handed to the blocking
/// pool instead, a card waited for a thread to wake and then for a worker to
/// take the answer back, which on a machine busy with the gateway's flood cost
/// up to 13 and 8 ms at p99. Elsewhere (a current-thread runtime, as in some
/// tests) there is no other thread to take the tasks, so the blocking pool.
async fn beside_the_runtime<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, Stopped> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|_| Stopped)
        })
    } else {
        tokio::task::spawn_blocking(work).await.map_err(|_| Stopped)
    }
}

/// The facts with the card attached and shown as their image.
fn with_card(mut facts: Embed, png: Vec<u8>) -> Reply {
    facts.image = ImageSource::attachment(CARD_FILE)
        .ok()
        .and_then(|source| EmbedBuilder::new().image(source).build().image);
    Reply {
        attachments: vec![Attachment::from_bytes(CARD_FILE.to_owned(), png, 0)],
        ..Reply::embed(facts)
    }
}

/// A colour stored as 0xRRGGBB.
fn rgb(colour: u32) -> [u8; 3] {
    let [_, r, g, b] = colour.to_be_bytes();
    [r, g, b]
}

fn card(name: &str, xp: i64, position: u64, out_of: u64) -> Embed {
    let level = levels::level_for_xp(xp);
    let (into, needed) = levels::progress(xp);
    EmbedBuilder::new()
        .title(format!("{}'s rank", escape(name)))
        .description(progress_bar(into, needed))
        .field(EmbedFieldBuilder::new("Level", level.to_string()).inline())
        .field(EmbedFieldBuilder::new("XP", format!("{into} / {needed}")).inline())
        .field(EmbedFieldBuilder::new("Total XP", xp.to_string()).inline())
        .field(EmbedFieldBuilder::new("Rank", format!("#{position} of {out_of}")).inline())
        .build()
}

/// `▰▰▰▱▱▱▱▱▱▱ 31%`: progress through the current level.
pub fn progress_bar(into: i64, needed: i64) -> String {
    let pct = if needed > 0 {
        (into.clamp(0, needed) * 100 / needed) as usize
    } else {
        0
    };
    let filled = pct / 10;
    format!("{}{} {pct}%", "▰".repeat(filled), "▱".repeat(10 - filled))
}

/// Names are shown in bold; markdown in them must not break the formatting.
pub fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '_' | '~' | '`' | '|' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work's result comes back on either kind of runtime, and a panic in
    /// it is an error for the command, not the end of its task or thread.
    async fn runs_work_and_survives_its_panic() {
        assert_eq!(beside_the_runtime(|| 6 * 7).await, Ok(42));
        assert_eq!(
            beside_the_runtime(|| -> u8 { panic!("a drawing bug") }).await,
            Err(Stopped)
        );
        assert_eq!(
            beside_the_runtime(|| "still drawing").await,
            Ok("still drawing")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_the_multi_threaded_runtime_work_runs_on_the_callers_thread() {
        runs_work_and_survives_its_panic().await;
        let thread = std::thread::current().id();
        let here = beside_the_runtime(move || std::thread::current().id() == thread).await;
        assert_eq!(here, Ok(true), "no hand-off to another thread");
    }

    #[tokio::test]
    async fn on_a_current_thread_runtime_work_goes_to_the_blocking_pool() {
        runs_work_and_survives_its_panic().await;
        let thread = std::thread::current().id();
        let here = beside_the_runtime(move || std::thread::current().id() == thread).await;
        assert_eq!(here, Ok(false), "the runtime's one thread is not blocked");
    }

    #[test]
    fn progress_bar_fills_by_tenths() {
        assert_eq!(progress_bar(0, 100), "▱▱▱▱▱▱▱▱▱▱ 0%");
        assert_eq!(progress_bar(31, 100), "▰▰▰▱▱▱▱▱▱▱ 31%");
        assert_eq!(progress_bar(155, 155), "▰▰▰▰▰▰▰▰▰▰ 100%");
    }

    #[test]
    fn markdown_in_names_is_escaped() {
        assert_eq!(escape("a*b_c"), "a\\*b\\_c");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn card_shows_level_progress_and_place() {
        let embed = card("alice", 300, 2, 40);
        let fields: Vec<_> = embed
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("Level", "2"),
                ("XP", "45 / 220"),
                ("Total XP", "300"),
                ("Rank", "#2 of 40")
            ]
        );
    }

    #[test]
    fn the_text_form_shows_the_first_mention_or_the_author() {
        let named = |id, name| Named {
            id: twilight_model::id::Id::new(id),
            name,
            bot: false,
            avatar: None,
            roles: None,
        };
        let mut inv = TextInvocation {
            guild_id: twilight_model::id::Id::new(1),
            channel_id: twilight_model::id::Id::new(2),
            message_id: twilight_model::id::Id::new(6),
            permissions: twilight_model::guild::Permissions::empty(),
            author: named(3, "alice"),
            mentions: Vec::new(),
            args: "",
            prefix: "!",
            spec: SPEC.text.as_ref().unwrap(),
        };
        assert_eq!(text_target(&inv), named(3, "alice"));
        inv.mentions = vec![named(4, "bob"), named(5, "carol")];
        assert_eq!(text_target(&inv), named(4, "bob"));
    }
}
