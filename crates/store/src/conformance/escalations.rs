//! [`EscalationStore`](crate::EscalationStore).

use super::{Fixture, guild};
use crate::{EscalationAction, EscalationRule};

pub async fn escalation_rules_crud<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(1);
    let rule = |warnings, action, duration_secs| EscalationRule {
        guild_id: g,
        warnings,
        action,
        duration_secs,
    };
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
