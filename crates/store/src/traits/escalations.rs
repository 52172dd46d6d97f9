use async_trait::async_trait;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{EscalationRule, StoreResult};

/// Escalation rules: what to do when a member reaches a number of active warnings.
#[async_trait]
pub trait EscalationStore: Send + Sync {
    /// At `warnings` active warnings, take `action` (replacing any rule at that
    /// count). A rule [`EscalationRule::validate`] refuses (a timeout without a
    /// duration or longer than 28 days, a kick with one, no warnings) is refused
    /// as `Invalid`, with its message.
    async fn set_escalation(&self, rule: &EscalationRule) -> StoreResult<()>;

    /// Remove the rule at `warnings`; whether there was one.
    async fn remove_escalation(&self, guild: Id<GuildMarker>, warnings: i32) -> StoreResult<bool>;

    /// The guild's rules, lowest warning count first.
    async fn escalations(&self, guild: Id<GuildMarker>) -> StoreResult<Vec<EscalationRule>>;
}
