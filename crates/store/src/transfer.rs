//! Every table as plain rows, for moving a whole database: `keeper restore` of
//! a SQLite backup into any backend, `keeper copy` between two backends, and
//! exports. [`crate::TransferStore`] reads and writes these; no SQL here.
//!
//! A row holds what its table stores, in the domain's types (ids as [`Id`],
//! times as UTC instants), so that rows read from one backend write unchanged
//! into another. Times are kept to the millisecond, what SQLite stores:
//! PostgreSQL's microseconds are cut when read, so a copy compares equal row
//! for row whichever way it goes. What the store derives (a member's level and
//! leaderboard bucket, from their XP) is not carried: the writer derives it again.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use twilight_model::id::{
    Id,
    marker::{
        ChannelMarker, GuildMarker, InteractionMarker, MessageMarker, RoleMarker, UserMarker,
    },
};

use crate::{StoreResult, TransferStore, id_to_db};

/// A table Keeper keeps. [`Table::ALL`] is in the order a copy writes them
/// (and the order of the variants, so `Ord` agrees).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    GuildSettings,
    Guilds,
    GuildRoles,
    MemberXp,
    MemberProfiles,
    LevelRewards,
    CaseCounters,
    ModCases,
    CaseAmendments,
    EscalationRules,
    WelcomedMembers,
    GatewaySessions,
    AppliedInteractions,
}

impl Table {
    pub const ALL: [Table; 13] = [
        Table::GuildSettings,
        Table::Guilds,
        Table::GuildRoles,
        Table::MemberXp,
        Table::MemberProfiles,
        Table::LevelRewards,
        Table::CaseCounters,
        Table::ModCases,
        Table::CaseAmendments,
        Table::EscalationRules,
        Table::WelcomedMembers,
        Table::GatewaySessions,
        Table::AppliedInteractions,
    ];

    /// The table's name in both databases.
    pub fn name(self) -> &'static str {
        match self {
            Table::GuildSettings => "guild_settings",
            Table::Guilds => "guilds",
            Table::GuildRoles => "guild_roles",
            Table::MemberXp => "member_xp",
            Table::MemberProfiles => "member_profiles",
            Table::LevelRewards => "level_rewards",
            Table::CaseCounters => "case_counters",
            Table::ModCases => "mod_cases",
            Table::CaseAmendments => "case_amendments",
            Table::EscalationRules => "escalation_rules",
            Table::WelcomedMembers => "welcomed_members",
            Table::GatewaySessions => "gateway_sessions",
            Table::AppliedInteractions => "applied_interactions",
        }
    }

    /// The table named `name`, if Keeper has one.
    pub fn named(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// No rows of this table.
    pub fn empty(self) -> Rows {
        match self {
            Table::GuildSettings => Rows::GuildSettings(Vec::new()),
            Table::Guilds => Rows::Guilds(Vec::new()),
            Table::GuildRoles => Rows::GuildRoles(Vec::new()),
            Table::MemberXp => Rows::MemberXp(Vec::new()),
            Table::MemberProfiles => Rows::MemberProfiles(Vec::new()),
            Table::LevelRewards => Rows::LevelRewards(Vec::new()),
            Table::CaseCounters => Rows::CaseCounters(Vec::new()),
            Table::ModCases => Rows::ModCases(Vec::new()),
            Table::CaseAmendments => Rows::CaseAmendments(Vec::new()),
            Table::EscalationRules => Rows::EscalationRules(Vec::new()),
            Table::WelcomedMembers => Rows::WelcomedMembers(Vec::new()),
            Table::GatewaySessions => Rows::GatewaySessions(Vec::new()),
            Table::AppliedInteractions => Rows::AppliedInteractions(Vec::new()),
        }
    }
}

/// Where a page of rows ends: the primary key of its last row as stored (ids
/// as their signed 64-bit form), padded with zeros. Pages are read in this
/// order, each after the previous one's key.
pub type RowKey = [i64; 3];

/// `guild_settings`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GuildSettingsRow {
    pub guild_id: Id<GuildMarker>,
    pub prefix: String,
    pub welcome_channel_id: Option<Id<ChannelMarker>>,
    pub welcome_message: Option<String>,
    pub modlog_channel_id: Option<Id<ChannelMarker>>,
    pub levelup_mode: String,
    pub levelup_channel_id: Option<Id<ChannelMarker>>,
    pub levelup_message: Option<String>,
    pub xp_min: i32,
    pub xp_max: i32,
    pub xp_cooldown_secs: i32,
    pub warn_expiry_secs: Option<i64>,
    pub dm_on_warn: bool,
    /// Exports written before 0017 have none of the next three: their
    /// defaults (a card, Keeper's accent, private).
    #[serde(default = "on")]
    pub rank_card: bool,
    #[serde(default)]
    pub rank_card_accent: Option<i64>,
    #[serde(default)]
    pub web_public: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn on() -> bool {
    true
}

/// `guilds`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GuildRow {
    pub guild_id: Id<GuildMarker>,
    pub name: String,
    /// Exports written before 0018 have none: the next GUILD_CREATE brings it.
    #[serde(default)]
    pub icon: Option<String>,
    pub owner_id: Option<Id<UserMarker>>,
    pub member_count: i64,
    pub joined_at: Option<DateTime<Utc>>,
    pub left_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// `guild_roles`. Permissions are Discord's bits, bit for bit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GuildRoleRow {
    pub guild_id: Id<GuildMarker>,
    pub role_id: Id<RoleMarker>,
    pub name: String,
    pub position: i64,
    pub permissions: i64,
    pub managed: bool,
    pub held_by_bot: bool,
}

/// `member_xp`, without the level and bucket the store derives from `xp`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberXpRow {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub xp: i64,
    pub messages: i64,
    pub last_award_at: Option<DateTime<Utc>>,
}

/// `member_profiles`, without the folded name the store derives from the
/// display name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberProfileRow {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub display_name: String,
    pub avatar: Option<String>,
    pub seen_at: DateTime<Utc>,
}

/// `level_rewards`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LevelRewardRow {
    pub guild_id: Id<GuildMarker>,
    pub level: i32,
    pub role_id: Id<RoleMarker>,
}

/// `case_counters`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaseCounterRow {
    pub guild_id: Id<GuildMarker>,
    pub last_case: i64,
}

/// `mod_cases`, every column as stored (kinds and statuses as their words).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModCaseRow {
    pub guild_id: Id<GuildMarker>,
    pub case_number: i64,
    pub target_id: Id<UserMarker>,
    pub moderator_id: Option<Id<UserMarker>>,
    pub kind: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<Id<UserMarker>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub source: String,
    pub escalated_from: Option<i64>,
    pub duration_secs: Option<i64>,
    pub action_status: String,
    pub action_error: Option<String>,
    pub lift_status: Option<String>,
    pub lift_error: Option<String>,
    pub lift_claimed_by: Option<String>,
    pub lift_claimed_until: Option<DateTime<Utc>>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub log_channel_id: Option<Id<ChannelMarker>>,
    pub log_message_id: Option<Id<MessageMarker>>,
    pub dm_status: Option<String>,
}

/// `case_amendments`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaseAmendmentRow {
    pub guild_id: Id<GuildMarker>,
    pub case_number: i64,
    pub amendment: i32,
    pub amended_at: DateTime<Utc>,
    pub amended_by: Id<UserMarker>,
    pub old_reason: Option<String>,
    pub new_reason: String,
}

/// `escalation_rules`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EscalationRuleRow {
    pub guild_id: Id<GuildMarker>,
    pub warnings: i32,
    pub action: String,
    pub duration_secs: Option<i64>,
}

/// `welcomed_members`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WelcomedMemberRow {
    pub guild_id: Id<GuildMarker>,
    pub user_id: Id<UserMarker>,
    pub joined_at: DateTime<Utc>,
    pub left_at: Option<DateTime<Utc>>,
    pub session_id: Option<String>,
    pub sequence: Option<i64>,
}

/// `gateway_sessions`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GatewaySessionRow {
    pub shard_id: i32,
    pub shard_total: i32,
    pub session_id: String,
    pub resume_url: String,
    pub sequence: i64,
    pub updated_at: DateTime<Utc>,
}

/// `applied_interactions`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppliedInteractionRow {
    pub interaction_id: Id<InteractionMarker>,
    pub guild_id: Id<GuildMarker>,
    pub applied_at: DateTime<Utc>,
}

/// A page of one table's rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "table", content = "rows", rename_all = "snake_case")]
pub enum Rows {
    GuildSettings(Vec<GuildSettingsRow>),
    Guilds(Vec<GuildRow>),
    GuildRoles(Vec<GuildRoleRow>),
    MemberXp(Vec<MemberXpRow>),
    MemberProfiles(Vec<MemberProfileRow>),
    LevelRewards(Vec<LevelRewardRow>),
    CaseCounters(Vec<CaseCounterRow>),
    ModCases(Vec<ModCaseRow>),
    CaseAmendments(Vec<CaseAmendmentRow>),
    EscalationRules(Vec<EscalationRuleRow>),
    WelcomedMembers(Vec<WelcomedMemberRow>),
    GatewaySessions(Vec<GatewaySessionRow>),
    AppliedInteractions(Vec<AppliedInteractionRow>),
}

/// Apply `$body` to the vector of rows whatever the table (`$rows` bound to it).
macro_rules! each_table {
    ($value:expr, $rows:ident => $body:expr) => {
        match $value {
            Rows::GuildSettings($rows) => $body,
            Rows::Guilds($rows) => $body,
            Rows::GuildRoles($rows) => $body,
            Rows::MemberXp($rows) => $body,
            Rows::MemberProfiles($rows) => $body,
            Rows::LevelRewards($rows) => $body,
            Rows::CaseCounters($rows) => $body,
            Rows::ModCases($rows) => $body,
            Rows::CaseAmendments($rows) => $body,
            Rows::EscalationRules($rows) => $body,
            Rows::WelcomedMembers($rows) => $body,
            Rows::GatewaySessions($rows) => $body,
            Rows::AppliedInteractions($rows) => $body,
        }
    };
}

impl Rows {
    /// The table these rows belong to.
    pub fn table(&self) -> Table {
        match self {
            Rows::GuildSettings(_) => Table::GuildSettings,
            Rows::Guilds(_) => Table::Guilds,
            Rows::GuildRoles(_) => Table::GuildRoles,
            Rows::MemberXp(_) => Table::MemberXp,
            Rows::MemberProfiles(_) => Table::MemberProfiles,
            Rows::LevelRewards(_) => Table::LevelRewards,
            Rows::CaseCounters(_) => Table::CaseCounters,
            Rows::ModCases(_) => Table::ModCases,
            Rows::CaseAmendments(_) => Table::CaseAmendments,
            Rows::EscalationRules(_) => Table::EscalationRules,
            Rows::WelcomedMembers(_) => Table::WelcomedMembers,
            Rows::GatewaySessions(_) => Table::GatewaySessions,
            Rows::AppliedInteractions(_) => Table::AppliedInteractions,
        }
    }

    pub fn len(&self) -> usize {
        each_table!(self, rows => rows.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of the last row, where the next page starts.
    pub fn last_key(&self) -> Option<RowKey> {
        let g = |id: Id<GuildMarker>| id_to_db(id);
        Some(match self {
            Rows::GuildSettings(r) => [g(r.last()?.guild_id), 0, 0],
            Rows::Guilds(r) => [g(r.last()?.guild_id), 0, 0],
            Rows::GuildRoles(r) => {
                let r = r.last()?;
                [g(r.guild_id), id_to_db(r.role_id), 0]
            }
            Rows::MemberXp(r) => {
                let r = r.last()?;
                [g(r.guild_id), id_to_db(r.user_id), 0]
            }
            Rows::MemberProfiles(r) => {
                let r = r.last()?;
                [g(r.guild_id), id_to_db(r.user_id), 0]
            }
            Rows::LevelRewards(r) => {
                let r = r.last()?;
                [g(r.guild_id), i64::from(r.level), 0]
            }
            Rows::CaseCounters(r) => [g(r.last()?.guild_id), 0, 0],
            Rows::ModCases(r) => {
                let r = r.last()?;
                [g(r.guild_id), r.case_number, 0]
            }
            Rows::CaseAmendments(r) => {
                let r = r.last()?;
                [g(r.guild_id), r.case_number, i64::from(r.amendment)]
            }
            Rows::EscalationRules(r) => {
                let r = r.last()?;
                [g(r.guild_id), i64::from(r.warnings), 0]
            }
            Rows::WelcomedMembers(r) => {
                let r = r.last()?;
                [g(r.guild_id), id_to_db(r.user_id), 0]
            }
            Rows::GatewaySessions(r) => [i64::from(r.last()?.shard_id), 0, 0],
            Rows::AppliedInteractions(r) => [id_to_db(r.last()?.interaction_id), 0, 0],
        })
    }
}

/// A running count and digest of one table's rows, page after page: what
/// `keeper copy` and `keeper restore` compare between source and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDigest {
    pub table: Table,
    pub rows: u64,
    pub digest: u64,
}

impl TableDigest {
    pub fn new(table: Table) -> Self {
        Self {
            table,
            rows: 0,
            digest: 0,
        }
    }

    /// Add a page. Each row is chained onto the digest so far, so the digest
    /// depends on the rows and their order, not on where the pages were cut.
    pub fn add(&mut self, rows: &Rows) {
        each_table!(rows, rows => {
            for row in rows {
                // FNV-1a seeded by the digest so far: stable across processes and
                // builds of the same Keeper, unlike a randomly keyed hasher.
                let mut hasher = Fnv(self.digest ^ 0xcbf2_9ce4_8422_2325);
                row.hash(&mut hasher);
                self.digest = hasher.finish();
            }
        });
        self.rows += rows.len() as u64;
    }
}

/// 64-bit FNV-1a.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// One table read page by page in key order: each page starts after the
/// last key of the one before, and a short page is the last.
pub struct Pages<'a> {
    store: &'a dyn TransferStore,
    table: Table,
    page: u32,
    after: Option<RowKey>,
    done: bool,
}

impl<'a> Pages<'a> {
    pub fn new(store: &'a dyn TransferStore, table: Table, page: u32) -> Self {
        Self {
            store,
            table,
            page: page.max(1),
            after: None,
            done: false,
        }
    }

    /// The next page, or `None` once the table is read.
    pub async fn next(&mut self) -> StoreResult<Option<Rows>> {
        if self.done {
            return Ok(None);
        }
        let rows = self
            .store
            .read_rows(self.table, self.after, self.page)
            .await?;
        self.done = rows.len() < self.page as usize;
        self.after = rows.last_key();
        Ok((!rows.is_empty()).then_some(rows))
    }
}

/// Copy `table` from `from` into `to`, `page` rows at a time, each page one
/// transaction on `to`; `progress` hears the rows copied so far after each page.
/// Returns the digest of what was read (the source's rows, in key order).
pub async fn copy_table(
    from: &dyn TransferStore,
    to: &dyn TransferStore,
    table: Table,
    page: u32,
    mut progress: impl FnMut(u64) + Send,
) -> StoreResult<TableDigest> {
    let mut digest = TableDigest::new(table);
    let mut pages = Pages::new(from, table, page);
    while let Some(rows) = pages.next().await? {
        to.write_rows(&rows).await?;
        digest.add(&rows);
        progress(digest.rows);
    }
    Ok(digest)
}

/// The digest of `table` as `store` holds it, read `page` rows at a time.
pub async fn digest_table(
    store: &dyn TransferStore,
    table: Table,
    page: u32,
) -> StoreResult<TableDigest> {
    let mut digest = TableDigest::new(table);
    let mut pages = Pages::new(store, table, page);
    while let Some(rows) = pages.next().await? {
        digest.add(&rows);
    }
    Ok(digest)
}

/// Cut a time to the millisecond, as SQLite stores it (see the module docs).
pub fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_listed_once_and_named_back() {
        for table in Table::ALL {
            assert_eq!(Table::named(table.name()), Some(table));
            assert_eq!(table.empty().table(), table);
            assert_eq!(
                Table::ALL.iter().filter(|t| **t == table).count(),
                1,
                "{table:?}"
            );
        }
        assert_eq!(Table::named("users"), None);
    }

    fn counters(pairs: &[(u64, i64)]) -> Rows {
        Rows::CaseCounters(
            pairs
                .iter()
                .map(|&(g, n)| CaseCounterRow {
                    guild_id: Id::new(g),
                    last_case: n,
                })
                .collect(),
        )
    }

    #[test]
    fn digests_tell_a_changed_missing_or_reordered_row() {
        let digest = |pages: &[Rows]| {
            let mut d = TableDigest::new(Table::CaseCounters);
            pages.iter().for_each(|p| d.add(p));
            d
        };
        let same = digest(&[counters(&[(1, 3), (2, 5)])]);
        assert_eq!(same, digest(&[counters(&[(1, 3), (2, 5)])]));
        assert_eq!(
            same,
            digest(&[counters(&[(1, 3)]), counters(&[(2, 5)])]),
            "pages cut elsewhere"
        );
        assert_ne!(same, digest(&[counters(&[(1, 3), (2, 6)])]));
        assert_ne!(same.digest, digest(&[counters(&[(2, 5), (1, 3)])]).digest);
        assert_eq!(digest(&[counters(&[(1, 3)])]).rows, 1);
        assert_ne!(same.digest, digest(&[counters(&[(1, 3)])]).digest);
    }

    #[test]
    fn a_page_ends_at_its_last_rows_key() {
        assert_eq!(counters(&[]).last_key(), None);
        assert_eq!(counters(&[(1, 3), (9, 5)]).last_key(), Some([9, 0, 0]));
        let huge = u64::MAX - 1;
        assert_eq!(
            counters(&[(huge, 1)]).last_key(),
            Some([huge as i64, 0, 0]),
            "ids above i64::MAX key as stored, negative"
        );
    }

    #[test]
    fn rows_name_their_table_in_json_and_ids_are_strings() {
        let json = serde_json::to_string(&counters(&[(7, 2)])).expect("serialize");
        assert_eq!(
            json,
            r#"{"table":"case_counters","rows":[{"guild_id":"7","last_case":2}]}"#
        );
        let back: Rows = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, counters(&[(7, 2)]));
    }

    #[test]
    fn times_are_cut_to_the_millisecond() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("time");
        assert_eq!(to_millis(at).timestamp_subsec_nanos(), 123_000_000);
    }

    #[test]
    fn settings_exported_before_0017_read_with_their_defaults() {
        let old = r#"{"guild_id":"7","prefix":"!","welcome_channel_id":null,
            "welcome_message":null,"modlog_channel_id":null,"levelup_mode":"here",
            "levelup_channel_id":null,"levelup_message":null,"xp_min":15,"xp_max":25,
            "xp_cooldown_secs":60,"warn_expiry_secs":null,"dm_on_warn":true,
            "created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#;
        let row: GuildSettingsRow = serde_json::from_str(old).expect("an older row");
        assert!(row.rank_card, "cards on, as for a guild never configured");
        assert_eq!(row.rank_card_accent, None);
        assert!(!row.web_public, "private, as for a guild never configured");
    }
}
