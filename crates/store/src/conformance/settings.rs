//! [`SettingsStore`](crate::SettingsStore): defaults, partial patches, validation
//! and concurrent patches.

use super::{Fixture, channel, guild, t};
use crate::{GuildSettings, LevelUpTarget, SettingsPatch, StoreError};

pub async fn settings_default_when_never_set<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let settings = store.settings(guild(42)).await.unwrap();
    assert_eq!(settings, GuildSettings::defaults(guild(42)));
    assert_eq!(settings.prefix, "!");
    assert_eq!(
        (settings.xp_min, settings.xp_max, settings.xp_cooldown_secs),
        (15, 25, 60)
    );
    assert!(settings.dm_on_warn);
    assert!(settings.rank_card);
    assert_eq!(settings.rank_card_accent, None);
    assert!(!settings.web_public, "a guild's leaderboard starts private");
    assert_eq!(settings.warn_expiry_secs, None);
    assert_eq!(settings.levelup, LevelUpTarget::Here);
}

pub async fn settings_patch_is_partial_and_validated<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(7);
    let patch = SettingsPatch {
        prefix: Some("?".into()),
        welcome_channel: Some(Some(channel(100))),
        welcome_message: Some(Some("Hi {user}, welcome to {server}".into())),
        modlog_channel: Some(Some(channel(101))),
        levelup: Some(LevelUpTarget::Channel(channel(102))),
        levelup_message: Some(Some("{user} is level {level}".into())),
        xp_min: Some(1),
        xp_max: Some(2),
        xp_cooldown_secs: Some(0),
        warn_expiry_secs: Some(Some(86_400)),
        dm_on_warn: Some(false),
        rank_card: Some(false),
        rank_card_accent: Some(Some(0xFF_88_00)),
        web_public: Some(true),
    };
    let stored = store.update_settings(g, &patch, t(10)).await.unwrap();
    let mut expected = GuildSettings::defaults(g);
    expected.apply(&patch).unwrap();
    expected.created_at = stored.created_at;
    expected.updated_at = stored.updated_at;
    assert_eq!(stored, expected);
    assert_eq!(stored.updated_at, Some(t(10)));
    assert_eq!(store.settings(g).await.unwrap(), stored);

    // A second patch touches only what it names; clearing optional fields works.
    let stored = store
        .update_settings(
            g,
            &SettingsPatch {
                welcome_channel: Some(None),
                welcome_message: Some(None),
                levelup: Some(LevelUpTarget::Off),
                ..Default::default()
            },
            t(20),
        )
        .await
        .unwrap();
    assert_eq!(stored.prefix, "?");
    assert_eq!(stored.welcome_channel, None);
    assert_eq!(stored.welcome_message, None);
    assert_eq!(stored.modlog_channel, Some(channel(101)));
    assert_eq!(stored.levelup, LevelUpTarget::Off);
    assert_eq!(
        stored.levelup_message.as_deref(),
        Some("{user} is level {level}")
    );
    assert_eq!(stored.created_at, Some(t(10)));
    assert_eq!(stored.updated_at, Some(t(20)));
    assert!(!stored.rank_card);
    assert_eq!(stored.rank_card_accent, Some(0xFF_88_00));
    assert!(stored.web_public);
    let stored = store
        .update_settings(
            g,
            &SettingsPatch {
                rank_card: Some(true),
                rank_card_accent: Some(None),
                web_public: Some(false),
                ..Default::default()
            },
            t(25),
        )
        .await
        .unwrap();
    assert_eq!(
        (stored.rank_card, stored.rank_card_accent, stored.web_public),
        (true, None, false)
    );
    assert_eq!(store.settings(g).await.unwrap(), stored);

    // Refused patches change nothing.
    let err = store
        .update_settings(
            g,
            &SettingsPatch {
                xp_min: Some(50),
                prefix: Some("$".into()),
                ..Default::default()
            },
            t(30),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let after = store.settings(g).await.unwrap();
    assert_eq!(after, stored);
    let err = store
        .update_settings(
            g,
            &SettingsPatch {
                rank_card_accent: Some(Some(0x100_0000)),
                ..Default::default()
            },
            t(31),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.settings(g).await.unwrap(), stored);
}

pub async fn settings_concurrent_patches_keep_every_field<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    let g = guild(8);
    // Each task changes a different field at the same time; none may undo another.
    let patches = vec![
        SettingsPatch {
            prefix: Some("%".into()),
            ..Default::default()
        },
        SettingsPatch {
            welcome_channel: Some(Some(channel(5))),
            ..Default::default()
        },
        SettingsPatch {
            modlog_channel: Some(Some(channel(6))),
            ..Default::default()
        },
        SettingsPatch {
            xp_cooldown_secs: Some(5),
            ..Default::default()
        },
        SettingsPatch {
            dm_on_warn: Some(false),
            ..Default::default()
        },
        SettingsPatch {
            warn_expiry_secs: Some(Some(60)),
            ..Default::default()
        },
        SettingsPatch {
            rank_card_accent: Some(Some(0x12_34_56)),
            ..Default::default()
        },
        SettingsPatch {
            web_public: Some(true),
            ..Default::default()
        },
    ];
    let tasks: Vec<_> = patches
        .into_iter()
        .map(|p| {
            let store = store.clone();
            tokio::spawn(async move { store.update_settings(g, &p, t(1)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let s = store.settings(g).await.unwrap();
    assert_eq!(s.prefix, "%");
    assert_eq!(s.welcome_channel, Some(channel(5)));
    assert_eq!(s.modlog_channel, Some(channel(6)));
    assert_eq!(s.xp_cooldown_secs, 5);
    assert!(!s.dm_on_warn);
    assert_eq!(s.warn_expiry_secs, Some(60));
    assert_eq!(s.rank_card_accent, Some(0x12_34_56));
    assert!(s.web_public);
}

/// Every stored guild, with what was stored; guilds without a row are absent
/// (they use the defaults).
pub async fn all_settings_lists_every_stored_guild<F: Fixture>(fixture: &F) {
    let store = fixture.store();
    assert!(store.all_settings().await.unwrap().is_empty());
    let prefix = |p: &str| SettingsPatch {
        prefix: Some(p.into()),
        ..SettingsPatch::default()
    };
    let a = store
        .update_settings(guild(3), &prefix("?"), t(1))
        .await
        .unwrap();
    let cooldown = SettingsPatch {
        xp_cooldown_secs: Some(5),
        ..SettingsPatch::default()
    };
    let b = store
        .update_settings(guild(u64::MAX >> 1), &cooldown, t(2))
        .await
        .unwrap();
    let _ = store.settings(guild(9)).await.unwrap(); // read, never stored
    let mut all = store.all_settings().await.unwrap();
    all.sort_by_key(|s| s.guild_id);
    assert_eq!(all, vec![a, b]);
}
