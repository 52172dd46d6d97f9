//! What `keeper import-json` brings in from another bot's data, and the pure
//! rules for merging it with what Keeper already holds
//! ([`crate::ImportStore::import_guilds`] applies them in one transaction).
//!
//! The rules make an import safe to run twice: XP is the larger of the two
//! totals (never added, so a second run changes nothing), a setting Keeper
//! already has is kept, and a member's imported warnings are counted so that
//! only those not imported before are added.

use chrono::{DateTime, Utc};
use serde::Serialize;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, UserMarker},
};

use crate::{CaseKind, CaseSource, DEFAULT_PREFIX, GuildSettings, NewCase, SettingsPatch};

/// One guild's data from another bot, checked (ids are snowflakes, numbers in
/// range, settings valid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportGuild {
    pub guild_id: Id<GuildMarker>,
    pub settings: ImportSettings,
    /// At most one per user.
    pub members: Vec<ImportMember>,
}

/// The settings another bot kept; `None`: the file did not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSettings {
    pub prefix: Option<String>,
    pub welcome_channel: Option<Id<ChannelMarker>>,
    pub welcome_message: Option<String>,
    pub modlog_channel: Option<Id<ChannelMarker>>,
}

impl ImportSettings {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One member's XP and warnings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportMember {
    pub user_id: Id<UserMarker>,
    /// At least 0 (the level follows from it, by Keeper's curve).
    pub xp: i64,
    /// At least 0; 0 when the file did not say.
    pub messages: i64,
    /// In the file's order: a second import skips as many as were imported.
    pub warnings: Vec<ImportWarning>,
}

/// A warning from another bot: what it knew of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportWarning {
    pub reason: Option<String>,
    pub moderator_id: Option<Id<UserMarker>>,
    /// `None`: the time of the import.
    pub created_at: Option<DateTime<Utc>>,
}

impl ImportWarning {
    /// The case it becomes: a warning of source [`CaseSource::Import`] that
    /// never expires (the other bot's expiry, if it had one, is not known).
    pub fn case(
        &self,
        guild_id: Id<GuildMarker>,
        target_id: Id<UserMarker>,
        at: DateTime<Utc>,
    ) -> NewCase {
        NewCase {
            guild_id,
            target_id,
            moderator_id: self.moderator_id,
            kind: CaseKind::Warn,
            reason: self.reason.clone(),
            created_at: self.created_at.unwrap_or(at),
            expires_at: None,
            source: CaseSource::Import,
            escalated_from: None,
            duration_secs: None,
        }
    }
}

/// What happened to one setting of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum SettingMerge {
    /// Keeper had the default: the file's value is set.
    Set { setting: &'static str },
    /// Keeper already had the same value.
    Same { setting: &'static str },
    /// Keeper had another value, set by the guild's admins: it is kept.
    Kept {
        setting: &'static str,
        keeper: String,
    },
}

/// Which of the file's settings to apply: those Keeper holds at their default
/// (never configured), as a patch, and what became of each.
pub fn merge_settings(
    current: &GuildSettings,
    file: &ImportSettings,
) -> (SettingsPatch, Vec<SettingMerge>) {
    let mut patch = SettingsPatch::default();
    let mut merges = Vec::new();
    fn decide<T: PartialEq + ToString>(
        setting: &'static str,
        current: Option<&T>,
        file: Option<&T>,
        merges: &mut Vec<SettingMerge>,
    ) -> bool {
        let Some(file) = file else { return false };
        match current {
            None => {
                merges.push(SettingMerge::Set { setting });
                true
            }
            Some(current) if current == file => {
                merges.push(SettingMerge::Same { setting });
                false
            }
            Some(current) => {
                merges.push(SettingMerge::Kept {
                    setting,
                    keeper: current.to_string(),
                });
                false
            }
        }
    }
    let prefix = (current.prefix != DEFAULT_PREFIX).then_some(&current.prefix);
    if decide("prefix", prefix, file.prefix.as_ref(), &mut merges) {
        patch.prefix.clone_from(&file.prefix);
    }
    let welcome = current.welcome_channel.map(Mention);
    if decide(
        "welcome channel",
        welcome.as_ref(),
        file.welcome_channel.map(Mention).as_ref(),
        &mut merges,
    ) {
        patch.welcome_channel = Some(file.welcome_channel);
    }
    if decide(
        "welcome message",
        current.welcome_message.as_ref(),
        file.welcome_message.as_ref(),
        &mut merges,
    ) {
        patch.welcome_message = Some(file.welcome_message.clone());
    }
    let modlog = current.modlog_channel.map(Mention);
    if decide(
        "mod-log channel",
        modlog.as_ref(),
        file.modlog_channel.map(Mention).as_ref(),
        &mut merges,
    ) {
        patch.modlog_channel = Some(file.modlog_channel);
    }
    (patch, merges)
}

/// A channel as a report shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Mention(Id<ChannelMarker>);

impl std::fmt::Display for Mention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "channel {}", self.0)
    }
}

/// The warnings of `guild`'s members not imported before, as the cases they
/// become, in the file's order; and how many were imported before.
/// `imported_before(user)` is how many imported warnings Keeper holds for them:
/// that many of theirs in the file are taken as those.
pub fn warnings_to_add(
    guild: &ImportGuild,
    imported_before: impl Fn(Id<UserMarker>) -> u64,
    at: DateTime<Utc>,
) -> (Vec<NewCase>, u64) {
    let mut cases = Vec::new();
    let mut present = 0;
    for member in &guild.members {
        let before = usize::try_from(imported_before(member.user_id)).unwrap_or(usize::MAX);
        present += member.warnings.len().min(before) as u64;
        cases.extend(
            member
                .warnings
                .iter()
                .skip(before)
                .map(|w| w.case(guild.guild_id, member.user_id, at)),
        );
    }
    (cases, present)
}

/// What happens to one member's XP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberMerge {
    /// Keeper had no row: one is made with the file's XP and messages.
    New,
    /// The file has more XP than Keeper: Keeper's total is raised to it.
    Raised,
    /// Keeper has at least as much XP: its row is left as it is.
    Kept,
    /// The file has neither XP nor messages for them (only warnings): no XP row
    /// is made, so they stay off the leaderboard.
    NoXp,
}

/// The rule for a member Keeper may already know: the larger total wins, so
/// nobody loses XP and a second import changes nothing.
pub fn merge_member(keeper_xp: Option<i64>, file: &ImportMember) -> MemberMerge {
    let file_xp = file.xp;
    if file_xp == 0 && file.messages == 0 {
        return MemberMerge::NoXp;
    }
    match keeper_xp {
        None => MemberMerge::New,
        Some(xp) if xp < file_xp => MemberMerge::Raised,
        Some(_) => MemberMerge::Kept,
    }
}

/// What an import did (or, in a dry run, would do) in one guild.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GuildImported {
    pub guild_id: Id<GuildMarker>,
    pub settings: Vec<SettingMerge>,
    /// Members Keeper did not know.
    pub members_new: u64,
    /// Members whose XP was raised to the file's.
    pub members_raised: u64,
    /// Members Keeper already had at least as much XP for.
    pub members_kept: u64,
    /// Warnings added as imported cases.
    pub warnings_added: u64,
    /// Warnings an earlier import already added.
    pub warnings_present: u64,
}

impl GuildImported {
    pub fn new(guild_id: Id<GuildMarker>) -> Self {
        Self {
            guild_id,
            settings: Vec::new(),
            members_new: 0,
            members_raised: 0,
            members_kept: 0,
            warnings_added: 0,
            warnings_present: 0,
        }
    }

    /// Count one member's outcome.
    pub fn count(&mut self, merge: MemberMerge) {
        match merge {
            MemberMerge::New => self.members_new += 1,
            MemberMerge::Raised => self.members_raised += 1,
            MemberMerge::Kept => self.members_kept += 1,
            MemberMerge::NoXp => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guild() -> Id<GuildMarker> {
        Id::new(7)
    }

    #[test]
    fn a_setting_keeper_never_had_is_set_and_one_it_has_is_kept() {
        let mut current = GuildSettings::defaults(guild());
        current.modlog_channel = Some(Id::new(5));
        let file = ImportSettings {
            prefix: Some("?".into()),
            welcome_channel: Some(Id::new(9)),
            welcome_message: None,
            modlog_channel: Some(Id::new(6)),
        };
        let (patch, merges) = merge_settings(&current, &file);
        assert_eq!(patch.prefix.as_deref(), Some("?"));
        assert_eq!(patch.welcome_channel, Some(Some(Id::new(9))));
        assert_eq!(patch.welcome_message, None, "the file did not say");
        assert_eq!(patch.modlog_channel, None, "Keeper's own is kept");
        assert_eq!(
            merges,
            vec![
                SettingMerge::Set { setting: "prefix" },
                SettingMerge::Set {
                    setting: "welcome channel"
                },
                SettingMerge::Kept {
                    setting: "mod-log channel",
                    keeper: "channel 5".into()
                },
            ]
        );
    }

    #[test]
    fn settings_merged_once_merge_to_nothing_the_second_time() {
        let mut current = GuildSettings::defaults(guild());
        let file = ImportSettings {
            prefix: Some("$".into()),
            welcome_message: Some("Hi {user}".into()),
            ..Default::default()
        };
        let (patch, _) = merge_settings(&current, &file);
        current.apply(&patch).unwrap();
        let (again, merges) = merge_settings(&current, &file);
        assert_eq!(again, SettingsPatch::default());
        assert!(
            merges
                .iter()
                .all(|m| matches!(m, SettingMerge::Same { .. }))
        );
    }

    fn member(xp: i64, messages: i64) -> ImportMember {
        ImportMember {
            user_id: Id::new(1),
            xp,
            messages,
            warnings: vec![ImportWarning::default()],
        }
    }

    #[test]
    fn the_larger_total_wins() {
        assert_eq!(merge_member(None, &member(0, 1)), MemberMerge::New);
        assert_eq!(merge_member(Some(10), &member(11, 0)), MemberMerge::Raised);
        assert_eq!(merge_member(Some(11), &member(11, 0)), MemberMerge::Kept);
        assert_eq!(merge_member(Some(12), &member(11, 0)), MemberMerge::Kept);
    }

    #[test]
    fn only_warnings_not_imported_before_are_added() {
        let at: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let mut two = member(0, 0);
        two.user_id = Id::new(2);
        two.warnings.push(ImportWarning {
            reason: Some("second".into()),
            ..Default::default()
        });
        let guild = ImportGuild {
            guild_id: guild(),
            settings: ImportSettings::default(),
            members: vec![member(0, 0), two],
        };
        let (cases, present) = warnings_to_add(&guild, |user| u64::from(user.get() == 2), at);
        assert_eq!(present, 1);
        let added: Vec<_> = cases
            .iter()
            .map(|c| (c.target_id.get(), c.reason.clone(), c.source))
            .collect();
        assert_eq!(
            added,
            vec![
                (1, None, CaseSource::Import),
                (2, Some("second".into()), CaseSource::Import)
            ]
        );
    }

    #[test]
    fn a_member_with_only_warnings_gets_no_xp_row() {
        assert_eq!(merge_member(None, &member(0, 0)), MemberMerge::NoXp);
        assert_eq!(merge_member(Some(5), &member(0, 0)), MemberMerge::NoXp);
    }
}
