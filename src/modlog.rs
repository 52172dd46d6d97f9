//! Cases in the mod-log: each case is one message, an embed, posted when the
//! case is made and edited whenever it changes (reason amended, revoked, a
//! temporary ban lifted), so the channel reads as the cases stand.
//!
//! Posted directly rather than through the outbox: the message id is stored
//! with the case (the next change edits that message), and the moderator's
//! answer says when the mod-log could not be written.

use chrono::{DateTime, Utc};
use keeper_store::{ActionStatus, Case, CaseKind, CaseSource, LiftStatus};
use twilight_model::{
    channel::message::{AllowedMentions, Embed},
    id::{Id, marker::ChannelMarker},
};
use twilight_util::builder::embed::{EmbedBuilder, EmbedFieldBuilder, EmbedFooterBuilder};

use crate::{context::Context, duration};

/// What became of a case's mod-log message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logged {
    /// Posted, or edited in place.
    Written,
    /// The guild has no mod-log channel.
    NoChannel,
    /// Discord refused or failed: the sentence to add to the moderator's answer.
    Failed(String),
}

impl Logged {
    /// What the moderator's answer adds: nothing unless it failed.
    pub fn note(&self) -> Option<&str> {
        match self {
            Logged::Failed(why) => Some(why),
            _ => None,
        }
    }
}

/// Write `case` to the guild's mod-log: edit its message when it has one
/// (posting anew if that message is gone), else post it and keep the id.
pub async fn write(ctx: &Context, case: &Case) -> Logged {
    let embed = embed(case);
    if let (Some(channel), Some(message)) = (case.log_channel_id, case.log_message_id) {
        let edited = ctx
            .http
            .update_message(channel, message)
            .embeds(Some(std::slice::from_ref(&embed)))
            .await;
        match edited {
            Ok(_) => return Logged::Written,
            // Deleted by someone: post the case again below.
            Err(err) if is_unknown_message(&err) => {}
            Err(err) => {
                tracing::warn!(guild = %case.guild_id, case = case.number, error = %err,
                    "could not edit a case in the mod-log");
                return failed(channel);
            }
        }
    }
    let Some(channel) = ctx.guilds.settings(case.guild_id).modlog_channel else {
        return Logged::NoChannel;
    };
    let posted = ctx
        .http
        .create_message(channel)
        .embeds(std::slice::from_ref(&embed))
        .allowed_mentions(Some(&AllowedMentions::default()))
        .await;
    let message = match posted {
        Ok(response) => match response.model().await {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(guild = %case.guild_id, case = case.number, error = %err,
                    "posted a case to the mod-log but could not read Discord's answer");
                return Logged::Written;
            }
        },
        Err(err) => {
            tracing::warn!(guild = %case.guild_id, case = case.number, error = %err,
                "could not post a case to the mod-log");
            return failed(channel);
        }
    };
    if let Err(err) = ctx
        .store
        .set_log_message(case.guild_id, case.number, channel, message.id)
        .await
    {
        // The next change of this case posts a new message instead of
        // editing this one; nothing else is lost.
        tracing::warn!(guild = %case.guild_id, case = case.number, error = %err,
            "could not remember the case's mod-log message");
    }
    Logged::Written
}

fn failed(channel: Id<ChannelMarker>) -> Logged {
    Logged::Failed(format!(
        "I couldn't write it to the mod-log <#{channel}>: give me **View Channel**, \
         **Send Messages** and **Embed Links** there."
    ))
}

fn is_unknown_message(err: &twilight_http::Error) -> bool {
    matches!(err.kind(), twilight_http::error::ErrorType::Response { error: twilight_http::api_error::ApiError::General(e), .. } if e.code == 10008)
}

/// The case as the mod-log shows it. Pure: what it shows follows from the
/// case alone.
pub fn embed(case: &Case) -> Embed {
    let mut title = format!("Case #{} · {}", case.number, action(case.kind));
    if case.revoked_at.is_some() {
        title.push_str(" (revoked)");
    }
    let mut embed = EmbedBuilder::new()
        .title(title)
        .color(colour(case))
        .field(EmbedFieldBuilder::new("Member", format!("<@{0}> ({0})", case.target_id)).inline())
        .field(EmbedFieldBuilder::new("Moderator", moderator(case)).inline());
    let reason = case.reason.as_deref().unwrap_or("No reason given.");
    embed = embed.field(EmbedFieldBuilder::new("Reason", reason));
    if let Some(secs) = case.duration_secs.and_then(|s| u64::try_from(s).ok()) {
        let length = duration::describe(std::time::Duration::from_secs(secs));
        embed = embed.field(EmbedFieldBuilder::new("Duration", length).inline());
    }
    if let Some(expires) = case.expires_at {
        let name = match case.kind {
            CaseKind::Warn => "Expires",
            _ => "Ends",
        };
        embed = embed.field(EmbedFieldBuilder::new(name, timestamp(expires)).inline());
    }
    if let (Some(by), Some(at)) = (case.revoked_by, case.revoked_at) {
        let text = format!("by <@{by}>, {}", timestamp(at));
        embed = embed.field(EmbedFieldBuilder::new("Revoked", text));
    }
    if let Some(status) = status(case) {
        embed = embed.field(EmbedFieldBuilder::new("Status", status));
    }
    embed
        .footer(EmbedFooterBuilder::new(format!(
            "{} · {}",
            case.source.as_str(),
            case.created_at.format("%Y-%m-%d %H:%M UTC")
        )))
        .build()
}

/// The act, as a moderator would name it.
pub fn action(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Warn => "Warning",
        CaseKind::Timeout => "Timeout",
        CaseKind::Untimeout => "Timeout removed",
        CaseKind::Kick => "Kick",
        CaseKind::Ban => "Ban",
        CaseKind::Unban => "Unban",
        CaseKind::Unwarn => "Warning revoked",
        CaseKind::Note => "Note",
    }
}

fn moderator(case: &Case) -> String {
    // Unknown only for an act made in Discord's menus whose audit log entry
    // Keeper could not read, or an imported warning whose file named nobody.
    let who = case
        .moderator_id
        .map_or_else(|| "unknown".to_owned(), |id| format!("<@{id}>"));
    match (case.source, case.escalated_from) {
        (CaseSource::Escalation, Some(warning)) => {
            format!("Keeper, automatically (case #{warning} by {who})")
        }
        (CaseSource::Discord, _) => format!("{who}, in Discord's menus"),
        (CaseSource::Import, _) => format!("{who}, imported from another bot's data"),
        _ => who,
    }
}

/// Whether Discord did it, and a temporary ban's lift.
fn status(case: &Case) -> Option<String> {
    let act = match case.action_status {
        ActionStatus::Pending => Some("Waiting for Discord.".to_owned()),
        ActionStatus::Failed => Some(format!(
            "Discord refused: {}",
            case.action_error.as_deref().unwrap_or("no reason given")
        )),
        ActionStatus::Done => None,
    };
    let lift = match case.lift_status {
        Some(LiftStatus::Lifted) => case
            .lifted_at
            .map(|at| format!("Lifted {}.", timestamp(at))),
        Some(LiftStatus::Failed) => Some(format!(
            "Could not be lifted: {}",
            case.lift_error.as_deref().unwrap_or("no reason given")
        )),
        _ => None,
    };
    match (act, lift) {
        (None, None) => None,
        (a, l) => Some([a, l].into_iter().flatten().collect::<Vec<_>>().join(" ")),
    }
}

fn colour(case: &Case) -> u32 {
    if case.revoked_at.is_some() || case.lift_status == Some(LiftStatus::Lifted) {
        return 0x95_a5_a6;
    }
    match case.kind {
        CaseKind::Warn => 0xf1_c4_0f,
        CaseKind::Timeout => 0xe6_7e_22,
        CaseKind::Kick => 0xe7_4c_3c,
        CaseKind::Ban => 0x99_2d_22,
        CaseKind::Note => 0x34_98_db,
        CaseKind::Unwarn | CaseKind::Untimeout | CaseKind::Unban => 0x2e_cc_71,
    }
}

/// A time every reader sees in their own zone (`<t:…:f>`), and how far off.
pub fn timestamp(at: DateTime<Utc>) -> String {
    format!("<t:{0}:f> (<t:{0}:R>)", at.timestamp())
}

#[cfg(test)]
mod tests {
    use keeper_store::NewCase;

    use super::*;

    fn case(kind: CaseKind) -> Case {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut case = Case::recorded(
            NewCase::new(Id::new(1), Id::new(20), Id::new(30), kind, at),
            7,
        );
        case.action_status = ActionStatus::Done;
        case
    }

    fn field<'a>(embed: &'a Embed, name: &str) -> Option<&'a str> {
        embed
            .fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_str())
    }

    #[test]
    fn a_warning_shows_who_why_and_until_when() {
        let mut warning = case(CaseKind::Warn);
        warning.reason = Some("spam".into());
        warning.expires_at = DateTime::from_timestamp(1_800_086_400, 0);
        let embed = embed(&warning);
        assert_eq!(embed.title.as_deref(), Some("Case #7 · Warning"));
        assert_eq!(field(&embed, "Member"), Some("<@20> (20)"));
        assert_eq!(field(&embed, "Moderator"), Some("<@30>"));
        assert_eq!(field(&embed, "Reason"), Some("spam"));
        assert_eq!(
            field(&embed, "Expires"),
            Some("<t:1800086400:f> (<t:1800086400:R>)")
        );
        assert_eq!(field(&embed, "Status"), None);
    }

    #[test]
    fn revoked_and_failed_cases_say_so() {
        let mut warning = case(CaseKind::Warn);
        warning.revoked_by = Some(Id::new(31));
        warning.revoked_at = DateTime::from_timestamp(1_800_000_060, 0);
        let shown = embed(&warning);
        assert_eq!(shown.title.as_deref(), Some("Case #7 · Warning (revoked)"));
        assert!(field(&shown, "Revoked").unwrap().starts_with("by <@31>"));
        assert_eq!(field(&shown, "Reason"), Some("No reason given."));

        let mut ban = case(CaseKind::Ban);
        ban.duration_secs = Some(86_400 + 3_600);
        ban.action_status = ActionStatus::Failed;
        ban.action_error = Some("Missing Permissions".into());
        let shown = embed(&ban);
        assert_eq!(field(&shown, "Duration"), Some("1 day 1 hour"));
        assert_eq!(
            field(&shown, "Status"),
            Some("Discord refused: Missing Permissions")
        );
    }

    #[test]
    fn an_escalation_names_its_warning() {
        let mut timeout = case(CaseKind::Timeout);
        timeout.source = CaseSource::Escalation;
        timeout.escalated_from = Some(6);
        let shown = embed(&timeout);
        assert_eq!(
            field(&shown, "Moderator"),
            Some("Keeper, automatically (case #6 by <@30>)")
        );
        assert!(shown.footer.unwrap().text.starts_with("escalation"));
    }
}
