//! [`EscalationStore`](crate::EscalationStore).

use super::{Fixture, guild};
use crate::{EscalationAction, EscalationRule, StoreError};

/// Guild 1's rule at `warnings`.
fn rule(warnings: i32, action: EscalationAction, duration_secs: Option<i64>) -> EscalationRule {
    EscalationRule {
        guild_id: guild(1),
        warnings,
        action,
        duration_secs,
    }
}

pub async fn escalation_rules_crud<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    store
        .set_escalation(&rule(5, EscalationAction::Ban, None))
        .await
        .unwrap();
    store
        .set_escalation(&rule(3, EscalationAction::Timeout, Some(3_600)))
        .await
        .unwrap();
    store
        .set_escalation(&rule(4, EscalationAction::Kick, None))
        .await
        .unwrap();
    store
        .set_escalation(&rule(3, EscalationAction::Timeout, Some(600)))
        .await
        .unwrap();
    assert_eq!(
        store.escalations(g).await.unwrap(),
        vec![
            rule(3, EscalationAction::Timeout, Some(600)),
            rule(4, EscalationAction::Kick, None),
            rule(5, EscalationAction::Ban, None)
        ]
    );
    assert!(store.remove_escalation(g, 4).await.unwrap());
    assert!(!store.remove_escalation(g, 4).await.unwrap());
    assert_eq!(store.escalations(g).await.unwrap().len(), 2);
}

/// Rules that can't be carried out are refused with the reason, and nothing is
/// stored.
pub async fn escalation_rules_are_validated<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    for bad in [
        rule(3, EscalationAction::Timeout, None),
        rule(3, EscalationAction::Timeout, Some(28 * 86_400 + 1)),
        rule(3, EscalationAction::Kick, Some(60)),
        rule(0, EscalationAction::Ban, None),
        rule(3, EscalationAction::Ban, Some(0)),
    ] {
        let err = store.set_escalation(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
    assert!(store.escalations(g).await.unwrap().is_empty());
    let temp_ban = rule(4, EscalationAction::Ban, Some(7 * 86_400));
    store.set_escalation(&temp_ban).await.unwrap();
    let longest = rule(3, EscalationAction::Timeout, Some(28 * 86_400));
    store.set_escalation(&longest).await.unwrap();
    assert_eq!(store.escalations(g).await.unwrap(), vec![longest, temp_ban]);
}
