//! `/warnings [user] [page]`: a member's cases, active warnings first counted,
//! newest first, ten a page. Anyone may see their own; moderators (Moderate
//! Members) anyone's. Always private.

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::{Case, CaseKind};
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    guild::Permissions,
    id::{
        Id,
        marker::{GuildMarker, UserMarker},
    },
};
use twilight_util::builder::command::{CommandBuilder, IntegerBuilder, UserBuilder};

use super::{Invocation, Reply, Spec, Text, TextInvocation};
use crate::{
    context::Context,
    error::{BotError, BotResult},
    modlog,
};

pub const NAME: &str = "warnings";

/// Open to everyone (their own); the moderator check for others' is in `run`.
pub const SPEC: Spec = Spec {
    private: true,
    ..Spec::everyone(NAME, command, |ctx, inv| run(ctx, inv).boxed())
}
.with_text(Text {
    name: NAME,
    aliases: &[],
    usage: "[@member] [page]",
    example: "@alice 2",
    help: "warnings and cases (others' for moderators)",
    run: |ctx, inv| run_text(ctx, inv).boxed(),
});

const PER_PAGE: u32 = 10;

pub fn command() -> Command {
    CommandBuilder::new(
        NAME,
        "A member's warnings and other cases",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(UserBuilder::new(
        "user",
        "Whose (default: yours; others' need Timeout Members)",
    ))
    .option(IntegerBuilder::new("page", "Which page").min_value(1))
    .build()
}

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let opts = inv.options();
    let user = opts.user("user").unwrap_or(inv.user.id);
    let page = opts.integer("page").unwrap_or(1);
    list(ctx, inv.guild_id, inv.user.id, inv.permissions, user, page)
        .await
        .map(Reply::ephemeral)
}

/// `warnings [@member] [page]`: the same, typed.
pub async fn run_text(ctx: &Context, inv: &TextInvocation<'_>) -> BotResult<Reply> {
    let user = inv.mentions.first().map_or(inv.author.id, |m| m.id);
    let page = match inv.args.split_whitespace().find(|a| !a.starts_with("<@")) {
        Some(page) => page.parse().map_err(|_| inv.usage_error())?,
        None => 1,
    };
    list(
        ctx,
        inv.guild_id,
        inv.author.id,
        inv.permissions,
        user,
        page,
    )
    .await
    .map(Reply::text)
}

/// `user`'s cases as `asker` may see them: their own, or anyone's with Timeout
/// Members.
async fn list(
    ctx: &Context,
    guild: Id<GuildMarker>,
    asker: Id<UserMarker>,
    permissions: Permissions,
    user: Id<UserMarker>,
    page: i64,
) -> BotResult<String> {
    let moderator = permissions.contains(Permissions::MODERATE_MEMBERS)
        || permissions.contains(Permissions::ADMINISTRATOR);
    if user != asker && !moderator {
        return Err(BotError::Forbidden("Timeout Members"));
    }
    let page = page.max(1);
    let offset = u64::try_from(page - 1).unwrap_or(0) * u64::from(PER_PAGE);
    let now = Utc::now();
    let found = ctx
        .store
        .member_cases(guild, user, now, offset, PER_PAGE)
        .await?;
    let pages = found.total.div_ceil(u64::from(PER_PAGE)).max(1);
    let whose = if user == asker {
        "You have".to_owned()
    } else {
        format!("<@{user}> has")
    };
    let mut text = format!(
        "{whose} {} active warning{} and {} case{} on record.",
        found.active_warnings,
        if found.active_warnings == 1 { "" } else { "s" },
        found.total,
        if found.total == 1 { "" } else { "s" }
    );
    if found.cases.is_empty() && found.total > 0 {
        text.push_str(&format!(" There is no page {page}: there are {pages}."));
    }
    for case in &found.cases {
        text.push('\n');
        text.push_str(&line(case, now));
    }
    if pages > 1 {
        text.push_str(&format!("\nPage {page} of {pages}."));
    }
    Ok(text)
}

/// One case, one line: number, act, state, reason, when.
fn line(case: &Case, now: chrono::DateTime<Utc>) -> String {
    let state = match (case.kind, case.revoked_at, case.expires_at) {
        (_, Some(_), _) => " (revoked)",
        (CaseKind::Warn, None, Some(end)) if end <= now => " (expired)",
        (CaseKind::Warn, None, _) => " (active)",
        _ => "",
    };
    format!(
        "**#{}** {}{state}: {} · <t:{}:d>",
        case.number,
        modlog::action(case.kind),
        case.reason.as_deref().unwrap_or("no reason given"),
        case.created_at.timestamp()
    )
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration};
    use keeper_store::NewCase;

    use super::*;

    /// A warning stops counting at its expiry, to the second, as the store
    /// counts it (`expires_at > now`).
    #[test]
    fn a_warning_is_active_until_its_expiry_to_the_second() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let end = at + Duration::hours(1);
        let warning = Case::recorded(
            NewCase {
                reason: Some("spam".into()),
                expires_at: Some(end),
                ..NewCase::new(Id::new(1), Id::new(2), Id::new(3), CaseKind::Warn, at)
            },
            4,
        );
        let shown = |now| line(&warning, now);
        assert_eq!(
            shown(end - Duration::seconds(1)),
            "**#4** Warning (active): spam · <t:1800000000:d>"
        );
        assert_eq!(
            shown(end),
            "**#4** Warning (expired): spam · <t:1800000000:d>"
        );
        let mut revoked = warning.clone();
        revoked.revoked_at = Some(at);
        assert!(line(&revoked, at).contains("(revoked)"));
    }
}
