//! What a command answers, and how the answer reaches Discord: at once, or as
//! the edit of a deferral when the command took longer than Discord waits.

use twilight_model::{
    application::interaction::Interaction,
    channel::message::{
        AllowedMentions, Component, Embed, MessageFlags,
        component::{ActionRow, Button, ButtonStyle},
    },
    http::{
        attachment::Attachment,
        interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
    },
};

use crate::context::Context;

/// What a command answers.
#[derive(Debug, Default, Clone)]
pub struct Reply {
    pub content: Option<String>,
    pub embeds: Vec<Embed>,
    /// Only the person who ran the command sees it.
    pub ephemeral: bool,
    /// Buttons under the answer (a confirmation); a click's answer replaces
    /// the message it was on, and its buttons go unless it names new ones.
    pub components: Vec<Component>,
    /// Files attached to the answer (`/mydata show`'s JSON).
    pub attachments: Vec<Attachment>,
}

impl Reply {
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            ..Self::default()
        }
    }

    pub fn ephemeral(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            ephemeral: true,
            ..Self::default()
        }
    }

    pub fn embed(embed: Embed) -> Self {
        Self {
            embeds: vec![embed],
            ..Self::default()
        }
    }

    /// Add a row of buttons: `(custom_id, label, style)`.
    pub fn buttons(mut self, buttons: &[(&str, &str, ButtonStyle)]) -> Self {
        let row = buttons
            .iter()
            .map(|&(custom_id, label, style)| {
                Component::Button(Button {
                    custom_id: Some(custom_id.to_owned()),
                    disabled: false,
                    emoji: None,
                    id: None,
                    label: Some(label.to_owned()),
                    sku_id: None,
                    style,
                    url: None,
                })
            })
            .collect();
        self.components.push(Component::ActionRow(ActionRow {
            components: row,
            id: None,
        }));
        self
    }

    fn data(self) -> InteractionResponseData {
        InteractionResponseData {
            content: self.content,
            embeds: Some(self.embeds),
            components: (!self.components.is_empty()).then_some(self.components),
            attachments: (!self.attachments.is_empty()).then_some(self.attachments),
            // Replies never ping: a command's answer names people, it doesn't call them.
            allowed_mentions: Some(AllowedMentions::default()),
            flags: self.ephemeral.then_some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }
    }
}

/// Send `reply`: as the response, or, when the interaction was `deferred`
/// (privately or not), in place of the deferral.
pub(super) async fn answer(
    ctx: &Context,
    interaction: &Interaction,
    reply: Reply,
    deferred: bool,
    deferred_privately: bool,
) {
    if deferred && reply.ephemeral && !deferred_privately {
        // A public deferral can't become private: remove it, answer privately.
        replace_deferred(ctx, interaction, reply).await;
    } else if deferred {
        edit_deferred(ctx, interaction, reply).await;
    } else {
        respond(ctx, interaction, reply).await;
    }
}

pub(super) async fn respond(ctx: &Context, interaction: &Interaction, reply: Reply) {
    let response = InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(reply.data()),
    };
    acknowledge(
        ctx,
        interaction,
        &response,
        "could not answer an interaction",
    )
    .await;
}

pub(super) async fn defer(ctx: &Context, interaction: &Interaction, ephemeral: bool) {
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: ephemeral.then(|| InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    };
    acknowledge(
        ctx,
        interaction,
        &response,
        "could not defer an interaction",
    )
    .await;
}

/// The first answer to an interaction; a failure is logged as `failed`.
async fn acknowledge(
    ctx: &Context,
    interaction: &Interaction,
    response: &InteractionResponse,
    failed: &str,
) {
    let client = ctx.interactions.interaction(ctx.application_id);
    let sent = client
        .create_response(interaction.id, &interaction.token, response)
        .await;
    ctx.metrics
        .rest("interaction_callback", crate::metrics::status_of(&sent));
    if let Err(err) = sent {
        tracing::warn!(interaction = %interaction.id, error = %err, "{failed}");
    }
}

/// Put `reply` in place of the deferral (or, for a click, of the message the
/// button was on), buttons and files included.
async fn edit_deferred(ctx: &Context, interaction: &Interaction, reply: Reply) {
    let client = ctx.interactions.interaction(ctx.application_id);
    let none = AllowedMentions::default();
    let result = client
        .update_response(&interaction.token)
        .content(reply.content.as_deref())
        .embeds(Some(&reply.embeds))
        .components(Some(&reply.components))
        .attachments(&reply.attachments)
        .allowed_mentions(Some(&none))
        .await;
    ctx.metrics
        .rest("interaction_edit", crate::metrics::status_of(&result));
    if let Err(err) = result {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not edit a deferred answer");
    }
}

/// Delete the public "thinking..." of a deferral and answer in a private follow-up
/// (an error must not be shown to the whole channel).
async fn replace_deferred(ctx: &Context, interaction: &Interaction, reply: Reply) {
    let client = ctx.interactions.interaction(ctx.application_id);
    if let Err(err) = client.delete_response(&interaction.token).await {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not remove a deferred answer");
    }
    let none = AllowedMentions::default();
    let result = client
        .create_followup(&interaction.token)
        .content(reply.content.as_deref().unwrap_or_default())
        .embeds(&reply.embeds)
        .components(&reply.components)
        .attachments(&reply.attachments)
        .flags(MessageFlags::EPHEMERAL)
        .allowed_mentions(Some(&none))
        .await;
    if let Err(err) = result {
        tracing::warn!(interaction = %interaction.id, error = %err, "could not answer a deferred interaction");
    }
}

/// Answer a button's click by replacing the message it was on (its buttons
/// go unless the reply has new ones); when the work was deferred, by editing
/// that message.
pub(super) async fn update(ctx: &Context, interaction: &Interaction, reply: Reply, deferred: bool) {
    if deferred {
        return edit_deferred(ctx, interaction, reply).await;
    }
    let mut data = reply.data();
    data.components.get_or_insert_with(Vec::new);
    let response = InteractionResponse {
        kind: InteractionResponseType::UpdateMessage,
        data: Some(data),
    };
    acknowledge(ctx, interaction, &response, "could not answer a click").await;
}

/// Acknowledge a click whose work takes longer than Discord waits; the
/// message is edited when done ([`update`]).
pub(super) async fn defer_update(ctx: &Context, interaction: &Interaction) {
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredUpdateMessage,
        data: None,
    };
    acknowledge(ctx, interaction, &response, "could not defer a click").await;
}
