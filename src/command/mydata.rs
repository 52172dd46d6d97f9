//! `/mydata show` and `/mydata delete`: what Keeper keeps about the person
//! asking, and deleting their XP and their names and avatars (after a
//! confirmation button). Cases about
//! them stay: they are each server's moderation record, not theirs to erase.

use chrono::Utc;
use futures_util::FutureExt as _;
use keeper_store::Applied;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    channel::message::component::ButtonStyle,
    http::attachment::Attachment,
};
use twilight_util::builder::command::{CommandBuilder, SubCommandBuilder};

use super::{ALREADY_DONE, Click, Invocation, Reply, Spec, custom_id};
use crate::{
    context::Context,
    error::{BotError, BotResult},
};

pub const NAME: &str = "mydata";

pub const SPEC: Spec = Spec {
    // Personal: only the person asking sees the answers.
    private: true,
    ..Spec::everyone(NAME, command, |ctx, inv| run(ctx, inv).boxed())
}
.with_button(|ctx, click| clicked(ctx, click).boxed());

pub fn command() -> Command {
    CommandBuilder::new(
        NAME,
        "See or delete what Keeper keeps about you",
        CommandType::ChatInput,
    )
    .contexts([InteractionContextType::Guild])
    .option(SubCommandBuilder::new(
        "show",
        "What Keeper keeps about you, in every server, with a JSON file",
    ))
    .option(SubCommandBuilder::new(
        "delete",
        "Delete your XP, levels, message counts and saved names in every server",
    ))
    .build()
}

/// What the cases about someone are, in every answer that deletes.
const CASES_KEPT: &str = "Cases about you are kept: they are each server's moderation record.";

pub async fn run(ctx: &Context, inv: &Invocation<'_>) -> BotResult<Reply> {
    let (sub, _) = inv.subcommand()?;
    let export = ctx.store.export_user(inv.user.id).await?;
    let servers = export.xp.len();
    let named = export.profiles.len();
    match sub {
        "show" => {
            let here = export.xp.iter().find(|m| m.guild_id == inv.guild_id);
            let here = here.map_or_else(
                || "no XP in this server".to_owned(),
                |m| {
                    format!(
                        "level {}, {} XP and {} messages in this server",
                        m.level, m.xp, m.messages
                    )
                },
            );
            let json = serde_json::to_vec_pretty(&export).map_err(|e| {
                BotError::Store(keeper_store::StoreError::Internal(
                    format!("writing /mydata's file: {e}").into(),
                ))
            })?;
            Ok(Reply {
                attachments: vec![Attachment::from_bytes(
                    format!("keeper-data-{}.json", inv.user.id),
                    json,
                    0,
                )],
                ..Reply::ephemeral(format!(
                    "Keeper keeps, about you: XP in {servers} server(s) ({here}); your name \
                     and avatar as last seen in {named} server(s), for the web leaderboard; \
                     {} case(s) about you; {} case(s) you made as a moderator. The attached \
                     file holds all of it. `/mydata delete` deletes your XP, names and \
                     avatars; {CASES_KEPT}",
                    export.cases.len(),
                    export.moderated.len(),
                ))
            })
        }
        "delete" if servers == 0 && named == 0 => Ok(Reply::ephemeral(format!(
            "Keeper keeps no XP and no name for you in any server: nothing to delete. \
             {CASES_KEPT}"
        ))),
        "delete" => {
            let now = Utc::now();
            Ok(Reply::ephemeral(format!(
                "This deletes your XP, levels and message counts in all {servers} server(s) \
                 where you have some, and your name and avatar as Keeper saw them in \
                 {named}; it can't be undone. {CASES_KEPT}"
            ))
            .buttons(&[
                (
                    &custom_id(NAME, "delete", now),
                    "Delete my XP everywhere",
                    ButtonStyle::Danger,
                ),
                (
                    &custom_id(NAME, "cancel", now),
                    "Cancel",
                    ButtonStyle::Secondary,
                ),
            ]))
        }
        other => Err(BotError::user(format!("Unknown subcommand `{other}`."))),
    }
}

/// The confirmation's buttons. The message is ephemeral, so only the person
/// who asked can click: the clicker is whose data goes.
async fn clicked(ctx: &Context, click: &Click<'_>) -> BotResult<Reply> {
    match click.action {
        "delete" => {
            let deleted = ctx
                .store
                .delete_user_xp(
                    click.user.id,
                    click.guild_id,
                    Some(click.interaction_id),
                    Utc::now(),
                )
                .await?;
            // So that their next message takes their profile again at once.
            ctx.xp.profiles.forget_user(click.user.id);
            Ok(Reply::ephemeral(match deleted {
                Applied::Now(rows) => format!(
                    "Deleted your XP, levels and message counts ({rows} server(s)) and the \
                     names and avatars Keeper saw. XP you earn from now on counts again, and \
                     your name shows again when you next speak. {CASES_KEPT}"
                ),
                Applied::Before => ALREADY_DONE.to_owned(),
            }))
        }
        _ => Ok(Reply::ephemeral("Nothing was deleted.")),
    }
}
