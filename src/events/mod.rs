//! The gateway events Keeper acts on, one file each, and the one table,
//! [`EVENTS`], from which follow the intents Keeper asks Discord for
//! ([`intents`]), the events its shards parse ([`filter`]; the rest are skipped
//! unparsed) and where each is routed ([`handle`]).

pub mod ban_add;
pub mod ban_remove;
pub mod guild_create;
pub mod guild_delete;
pub mod guild_update;
pub mod interaction_create;
pub mod member_add;
pub mod member_remove;
pub mod member_update;
pub mod message_create;
pub mod ready;
pub mod role_create;
pub mod role_delete;
pub mod role_update;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use keeper_store::Delivery;
use twilight_gateway::{Event, EventType, EventTypeFlags, Intents, Session};

use crate::{config::DiscordConfig, context::Context};

/// Every event Keeper handles: what Discord sends it under, and how it runs.
pub const EVENTS: &[Route] = &[
    Route::new(
        EventType::Ready,
        Intents::empty(),
        Run::Inline(ready::handle),
    ),
    Route::new(
        EventType::GuildCreate,
        Intents::GUILDS,
        Run::Inline(guild_create::handle),
    ),
    Route::new(
        EventType::GuildUpdate,
        Intents::GUILDS,
        Run::Inline(guild_update::handle),
    ),
    Route::new(
        EventType::GuildDelete,
        Intents::GUILDS,
        Run::Inline(guild_delete::handle),
    ),
    Route::new(
        EventType::RoleCreate,
        Intents::GUILDS,
        Run::Inline(role_create::handle),
    ),
    Route::new(
        EventType::RoleUpdate,
        Intents::GUILDS,
        Run::Inline(role_update::handle),
    ),
    Route::new(
        EventType::RoleDelete,
        Intents::GUILDS,
        Run::Inline(role_delete::handle),
    ),
    Route::new(
        EventType::MessageCreate,
        Intents::GUILD_MESSAGES,
        Run::Inline(message_create::handle),
    )
    // Without it Discord sends a message's text only when it mentions the bot:
    // `@Keeper rank` still works, `!rank` does not.
    .with(Intents::MESSAGE_CONTENT, Feature::PrefixCommands),
    Route::new(
        EventType::MemberAdd,
        Intents::GUILD_MEMBERS,
        Run::Sequenced(member_add::handle),
    )
    .only_with(Feature::MemberEvents),
    Route::new(
        EventType::MemberRemove,
        Intents::GUILD_MEMBERS,
        Run::Sequenced(member_remove::handle),
    )
    .only_with(Feature::MemberEvents),
    // Keeper's own roles (without the intent they are known from
    // GUILD_CREATE), and timeouts set or lifted in Discord's menus.
    Route::new(
        EventType::MemberUpdate,
        Intents::GUILD_MEMBERS,
        Run::Inline(member_update::handle),
    )
    .only_with(Feature::MemberEvents),
    // Bans and unbans, Keeper's own and those made in Discord's menus.
    Route::new(
        EventType::BanAdd,
        Intents::GUILD_MODERATION,
        Run::Inline(ban_add::handle),
    )
    .only_with(Feature::DiscordModeration),
    Route::new(
        EventType::BanRemove,
        Intents::GUILD_MODERATION,
        Run::Inline(ban_remove::handle),
    )
    .only_with(Feature::DiscordModeration),
    Route::new(
        EventType::InteractionCreate,
        Intents::empty(),
        Run::Spawned(interaction_create::handle),
    ),
];

/// One row of [`EVENTS`].
pub struct Route {
    pub event: EventType,
    /// The intent Discord sends the event under (empty: every bot gets it).
    pub intents: Intents,
    /// The event is wanted only with this feature on (the intent is asked for
    /// only then).
    pub needs: Feature,
    /// An intent that fills in more of the event, asked for with its feature.
    pub extra: Option<(Intents, Feature)>,
    pub run: Run,
}

/// How a handler runs. Inline handlers run in the shard loop, before the next
/// event is read, so their effects follow gateway order (the XP checkpoint taken
/// after an event covers what its handler recorded); they never wait, on the
/// database or anything else: a shard loop that waits stops heartbeating, and
/// Discord drops the connection. Anything that talks to Discord or the database
/// runs as a task.
pub enum Run {
    /// Synchronous and cheap: memory only (it may spawn tasks of its own).
    Inline(fn(&Arc<Context>, Event)),
    /// A task of [`Context::tasks`], which the shutdown waits for.
    Spawned(fn(Arc<Context>, Event) -> BoxFuture<'static, ()>),
    /// Inline, and told where the event was delivered (its session and sequence
    /// number): what a resumed session replays comes again with the same, so
    /// an effect that must happen once per event is told from its replay.
    Sequenced(fn(&Arc<Context>, Event, Option<Delivery>)),
}

/// A part of Keeper an operator can switch off, with the privileged intent it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Always,
    /// Prefix commands (`!rank`): `KEEPER_MESSAGE_CONTENT`.
    PrefixCommands,
    /// Welcome messages and member counts: `KEEPER_MEMBER_EVENTS`.
    MemberEvents,
    /// Bans and timeouts made in Discord's menus recorded as cases:
    /// `KEEPER_RECORD_DISCORD_MODERATION`.
    DiscordModeration,
}

impl Feature {
    pub fn on(self, discord: &DiscordConfig) -> bool {
        match self {
            Feature::Always => true,
            Feature::PrefixCommands => discord.message_content,
            Feature::MemberEvents => discord.member_events,
            Feature::DiscordModeration => discord.record_discord_moderation,
        }
    }
}

impl Route {
    const fn new(event: EventType, intents: Intents, run: Run) -> Self {
        Self {
            event,
            intents,
            needs: Feature::Always,
            extra: None,
            run,
        }
    }

    const fn only_with(self, feature: Feature) -> Self {
        Self {
            needs: feature,
            ..self
        }
    }

    const fn with(self, intents: Intents, feature: Feature) -> Self {
        Self {
            extra: Some((intents, feature)),
            ..self
        }
    }

    fn wanted(&self, discord: &DiscordConfig) -> bool {
        self.needs.on(discord)
    }
}

/// The intents the enabled features need, and no more.
pub fn intents(discord: &DiscordConfig) -> Intents {
    let mut intents = Intents::empty();
    for route in EVENTS.iter().filter(|r| r.wanted(discord)) {
        intents |= route.intents;
        if let Some((extra, feature)) = route.extra
            && feature.on(discord)
        {
            intents |= extra;
        }
    }
    intents
}

/// The events the shards parse; everything else is skipped before parsing
/// (close frames always come through).
pub fn filter(discord: &DiscordConfig) -> EventTypeFlags {
    EVENTS
        .iter()
        .filter(|r| r.wanted(discord))
        .fold(EventTypeFlags::empty(), |flags, r| {
            flags | EventTypeFlags::from(r.event)
        })
}

/// Route one event to its handler; `session` is the shard's, as it stands
/// after receiving the event.
pub fn handle(ctx: &Arc<Context>, event: Event, session: Option<&Session>) {
    let kind = event.kind();
    let Some(route) = EVENTS.iter().find(|r| r.event == kind) else {
        return;
    };
    match route.run {
        Run::Inline(handle) => handle(ctx, event),
        Run::Spawned(handle) => {
            ctx.tasks.spawn(handle(Arc::clone(ctx), event));
        }
        Run::Sequenced(handle) => {
            let seen = session.map(|s| Delivery {
                session_id: s.id().to_owned(),
                sequence: s.sequence(),
            });
            handle(ctx, event, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn discord(args: &[&str]) -> DiscordConfig {
        let args = std::iter::once("keeper").chain(args.iter().copied());
        crate::config::Config::try_parse_from(args).unwrap().discord
    }

    #[test]
    fn intents_follow_the_features() {
        let base = Intents::GUILDS | Intents::GUILD_MESSAGES;
        assert_eq!(
            intents(&discord(&[])),
            base | Intents::MESSAGE_CONTENT | Intents::GUILD_MEMBERS | Intents::GUILD_MODERATION
        );
        let off = discord(&[
            "--message-content=false",
            "--member-events=false",
            "--record-discord-moderation=false",
        ]);
        assert_eq!(intents(&off), base);
        assert!(!filter(&off).contains(EventTypeFlags::MEMBER_ADD));
        assert!(!filter(&off).contains(EventTypeFlags::BAN_ADD));
        assert!(filter(&off).contains(EventTypeFlags::MESSAGE_CREATE));
        assert_eq!(
            intents(&discord(&["--member-events=false"])),
            base | Intents::MESSAGE_CONTENT | Intents::GUILD_MODERATION
        );
        assert_eq!(
            intents(&discord(&["--record-discord-moderation=false"])),
            base | Intents::MESSAGE_CONTENT | Intents::GUILD_MEMBERS
        );
    }

    #[test]
    fn every_event_is_routed_once_and_parsed() {
        let all = filter(&discord(&[]));
        for (i, route) in EVENTS.iter().enumerate() {
            assert!(all.contains(EventTypeFlags::from(route.event)));
            assert!(
                EVENTS[i + 1..].iter().all(|r| r.event != route.event),
                "{:?} is routed twice",
                route.event
            );
        }
        assert_eq!(all.iter().count(), EVENTS.len());
    }
}
