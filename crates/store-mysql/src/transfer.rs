//! [`TransferStore`]: every table read and written whole, for `keeper restore`,
//! `keeper copy` and exports.
//!
//! Reads walk each table's primary key: the first page from its start, each
//! later one after the previous page's last key. The key comparison is spelled
//! out (`a > ? OR (a = ? AND b > ?)`) rather than as a row value: MariaDB
//! scans the whole index for `(a, b) > (?, ?)` (measured on 10.11), while both
//! it and MySQL turn the spelled-out form into a range of the primary key. So
//! a page costs its own rows wherever it falls, and a copy of a million members
//! stays linear (an OFFSET would walk every row before the page again).
//!
//! Writes are plain INSERTs in one transaction: a key already there fails the
//! whole batch, nothing is merged. The tables that grow with members
//! (`guild_roles`, `member_xp`, `member_profiles`, `mod_cases`,
//! `welcomed_members`, `applied_interactions`) are written with one statement
//! per batch over `JSON_TABLE`, as awards are; the small ones row by row. A
//! batch is run again whole if InnoDB rolls it back (a deadlock with a running
//! bot's award flush on `member_xp_buckets`, kept by `member_xp`'s triggers).

use async_trait::async_trait;
use keeper_store::{
    StoreError, StoreResult, TransferStore, id_from_db, id_to_db,
    levels::{level_for_xp, xp_bucket},
    profiles::fold_name,
    transfer::{
        AppliedInteractionRow, CaseAmendmentRow, CaseCounterRow, EscalationRuleRow,
        GatewaySessionRow, GuildRoleRow, GuildRow, GuildSettingsRow, LevelRewardRow,
        MemberProfileRow, MemberXpRow, ModCaseRow, RowKey, Rows, Table, WelcomedMemberRow,
    },
};
use sqlx::{MySqlConnection, MySqlPool};

use crate::{
    MySqlStore,
    cases::CaseRow,
    convert::{from_ms, from_ms_opt, from_rows, to_ms},
    error::{Stop, db_error, retrying},
};

/// A `guild_settings` row as stored (flags as the TINYINT(1) BOOLEAN is).
struct StoredSettings {
    guild_id: i64,
    prefix: String,
    welcome_channel_id: Option<i64>,
    welcome_message: Option<String>,
    modlog_channel_id: Option<i64>,
    levelup_mode: String,
    levelup_channel_id: Option<i64>,
    levelup_message: Option<String>,
    xp_min: i32,
    xp_max: i32,
    xp_cooldown_secs: i32,
    warn_expiry_secs: Option<i64>,
    dm_on_warn: i8,
    rank_card: i8,
    rank_card_accent: Option<i32>,
    web_public: i8,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<StoredSettings> for GuildSettingsRow {
    type Error = StoreError;

    fn try_from(r: StoredSettings) -> StoreResult<Self> {
        Ok(GuildSettingsRow {
            guild_id: id_from_db(r.guild_id)?,
            prefix: r.prefix,
            welcome_channel_id: r.welcome_channel_id.map(id_from_db).transpose()?,
            welcome_message: r.welcome_message,
            modlog_channel_id: r.modlog_channel_id.map(id_from_db).transpose()?,
            levelup_mode: r.levelup_mode,
            levelup_channel_id: r.levelup_channel_id.map(id_from_db).transpose()?,
            levelup_message: r.levelup_message,
            xp_min: r.xp_min,
            xp_max: r.xp_max,
            xp_cooldown_secs: r.xp_cooldown_secs,
            warn_expiry_secs: r.warn_expiry_secs,
            dm_on_warn: r.dm_on_warn != 0,
            rank_card: r.rank_card != 0,
            rank_card_accent: r.rank_card_accent.map(i64::from),
            web_public: r.web_public != 0,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

/// A `guilds` row as stored.
struct StoredGuild {
    guild_id: i64,
    name: String,
    icon: Option<String>,
    owner_id: Option<i64>,
    member_count: i64,
    joined_at: Option<i64>,
    left_at: Option<i64>,
    updated_at: i64,
}

impl TryFrom<StoredGuild> for GuildRow {
    type Error = StoreError;

    fn try_from(r: StoredGuild) -> StoreResult<Self> {
        Ok(GuildRow {
            guild_id: id_from_db(r.guild_id)?,
            name: r.name,
            icon: r.icon,
            owner_id: r.owner_id.map(id_from_db).transpose()?,
            member_count: r.member_count,
            joined_at: from_ms_opt(r.joined_at)?,
            left_at: from_ms_opt(r.left_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

/// A `member_profiles` row as stored (without the folded name).
struct StoredProfile {
    guild_id: i64,
    user_id: i64,
    display_name: String,
    avatar: Option<String>,
    seen_at: i64,
}

impl TryFrom<StoredProfile> for MemberProfileRow {
    type Error = StoreError;

    fn try_from(r: StoredProfile) -> StoreResult<Self> {
        Ok(MemberProfileRow {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            display_name: r.display_name,
            avatar: r.avatar,
            seen_at: from_ms(r.seen_at)?,
        })
    }
}

/// A `guild_roles` row as stored (flags as the TINYINT(1) BOOLEAN is).
struct StoredRole {
    guild_id: i64,
    role_id: i64,
    name: String,
    position: i64,
    permissions: i64,
    managed: i8,
    held_by_bot: i8,
}

impl TryFrom<StoredRole> for GuildRoleRow {
    type Error = StoreError;

    fn try_from(r: StoredRole) -> StoreResult<Self> {
        Ok(GuildRoleRow {
            guild_id: id_from_db(r.guild_id)?,
            role_id: id_from_db(r.role_id)?,
            name: r.name,
            position: r.position,
            permissions: r.permissions,
            managed: r.managed != 0,
            held_by_bot: r.held_by_bot != 0,
        })
    }
}

/// A `member_xp` row as stored, without the level and bucket (derived from `xp`).
struct StoredMemberXp {
    guild_id: i64,
    user_id: i64,
    xp: i64,
    messages: i64,
    last_award_at: Option<i64>,
}

impl TryFrom<StoredMemberXp> for MemberXpRow {
    type Error = StoreError;

    fn try_from(r: StoredMemberXp) -> StoreResult<Self> {
        Ok(MemberXpRow {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            xp: r.xp,
            messages: r.messages,
            last_award_at: from_ms_opt(r.last_award_at)?,
        })
    }
}

/// A `level_rewards` row as stored.
struct StoredReward {
    guild_id: i64,
    level: i32,
    role_id: i64,
}

impl TryFrom<StoredReward> for LevelRewardRow {
    type Error = StoreError;

    fn try_from(r: StoredReward) -> StoreResult<Self> {
        Ok(LevelRewardRow {
            guild_id: id_from_db(r.guild_id)?,
            level: r.level,
            role_id: id_from_db(r.role_id)?,
        })
    }
}

/// A `case_counters` row as stored.
struct StoredCounter {
    guild_id: i64,
    last_case: i64,
}

impl TryFrom<StoredCounter> for CaseCounterRow {
    type Error = StoreError;

    fn try_from(r: StoredCounter) -> StoreResult<Self> {
        Ok(CaseCounterRow {
            guild_id: id_from_db(r.guild_id)?,
            last_case: r.last_case,
        })
    }
}

/// Every column as stored: kinds and statuses stay words, not parsed.
impl TryFrom<CaseRow> for ModCaseRow {
    type Error = StoreError;

    fn try_from(r: CaseRow) -> StoreResult<Self> {
        Ok(ModCaseRow {
            guild_id: id_from_db(r.guild_id)?,
            case_number: r.case_number,
            target_id: id_from_db(r.target_id)?,
            moderator_id: r.moderator_id.map(id_from_db).transpose()?,
            kind: r.kind,
            reason: r.reason,
            created_at: from_ms(r.created_at)?,
            expires_at: from_ms_opt(r.expires_at)?,
            revoked_by: r.revoked_by.map(id_from_db).transpose()?,
            revoked_at: from_ms_opt(r.revoked_at)?,
            source: r.source,
            escalated_from: r.escalated_from,
            duration_secs: r.duration_secs,
            action_status: r.action_status,
            action_error: r.action_error,
            lift_status: r.lift_status,
            lift_error: r.lift_error,
            lift_claimed_by: r.lift_claimed_by,
            lift_claimed_until: from_ms_opt(r.lift_claimed_until)?,
            lifted_at: from_ms_opt(r.lifted_at)?,
            log_channel_id: r.log_channel_id.map(id_from_db).transpose()?,
            log_message_id: r.log_message_id.map(id_from_db).transpose()?,
            dm_status: r.dm_status,
        })
    }
}

/// A `case_amendments` row as stored.
struct StoredAmendment {
    guild_id: i64,
    case_number: i64,
    amendment: i32,
    amended_at: i64,
    amended_by: i64,
    old_reason: Option<String>,
    new_reason: String,
}

impl TryFrom<StoredAmendment> for CaseAmendmentRow {
    type Error = StoreError;

    fn try_from(r: StoredAmendment) -> StoreResult<Self> {
        Ok(CaseAmendmentRow {
            guild_id: id_from_db(r.guild_id)?,
            case_number: r.case_number,
            amendment: r.amendment,
            amended_at: from_ms(r.amended_at)?,
            amended_by: id_from_db(r.amended_by)?,
            old_reason: r.old_reason,
            new_reason: r.new_reason,
        })
    }
}

/// An `escalation_rules` row as stored.
struct StoredRule {
    guild_id: i64,
    warnings: i32,
    action: String,
    duration_secs: Option<i64>,
}

impl TryFrom<StoredRule> for EscalationRuleRow {
    type Error = StoreError;

    fn try_from(r: StoredRule) -> StoreResult<Self> {
        Ok(EscalationRuleRow {
            guild_id: id_from_db(r.guild_id)?,
            warnings: r.warnings,
            action: r.action,
            duration_secs: r.duration_secs,
        })
    }
}

/// A `welcomed_members` row as stored.
struct StoredWelcome {
    guild_id: i64,
    user_id: i64,
    joined_at: i64,
    left_at: Option<i64>,
    session_id: Option<String>,
    sequence: Option<i64>,
}

impl TryFrom<StoredWelcome> for WelcomedMemberRow {
    type Error = StoreError;

    fn try_from(r: StoredWelcome) -> StoreResult<Self> {
        Ok(WelcomedMemberRow {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            joined_at: from_ms(r.joined_at)?,
            left_at: from_ms_opt(r.left_at)?,
            session_id: r.session_id,
            sequence: r.sequence,
        })
    }
}

/// A `gateway_sessions` row as stored.
struct StoredSession {
    shard_id: i32,
    shard_total: i32,
    session_id: String,
    resume_url: String,
    sequence: i64,
    updated_at: i64,
}

impl TryFrom<StoredSession> for GatewaySessionRow {
    type Error = StoreError;

    fn try_from(r: StoredSession) -> StoreResult<Self> {
        Ok(GatewaySessionRow {
            shard_id: r.shard_id,
            shard_total: r.shard_total,
            session_id: r.session_id,
            resume_url: r.resume_url,
            sequence: r.sequence,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

/// An `applied_interactions` row as stored.
struct StoredApplied {
    interaction_id: i64,
    guild_id: i64,
    applied_at: i64,
}

impl TryFrom<StoredApplied> for AppliedInteractionRow {
    type Error = StoreError;

    fn try_from(r: StoredApplied) -> StoreResult<Self> {
        Ok(AppliedInteractionRow {
            interaction_id: id_from_db(r.interaction_id)?,
            guild_id: id_from_db(r.guild_id)?,
            applied_at: from_ms(r.applied_at)?,
        })
    }
}

#[async_trait]
impl TransferStore for MySqlStore {
    async fn read_rows(
        &self,
        table: Table,
        after: Option<RowKey>,
        limit: u32,
    ) -> StoreResult<Rows> {
        let (pool, limit) = (&self.pool, i64::from(limit));
        Ok(match table {
            Table::GuildSettings => Rows::GuildSettings(read_settings(pool, after, limit).await?),
            Table::Guilds => Rows::Guilds(read_guilds(pool, after, limit).await?),
            Table::GuildRoles => Rows::GuildRoles(read_roles(pool, after, limit).await?),
            Table::MemberXp => Rows::MemberXp(read_member_xp(pool, after, limit).await?),
            Table::MemberProfiles => Rows::MemberProfiles(read_profiles(pool, after, limit).await?),
            Table::LevelRewards => Rows::LevelRewards(read_rewards(pool, after, limit).await?),
            Table::CaseCounters => Rows::CaseCounters(read_counters(pool, after, limit).await?),
            Table::ModCases => Rows::ModCases(read_cases(pool, after, limit).await?),
            Table::CaseAmendments => {
                Rows::CaseAmendments(read_amendments(pool, after, limit).await?)
            }
            Table::EscalationRules => Rows::EscalationRules(read_rules(pool, after, limit).await?),
            Table::WelcomedMembers => {
                Rows::WelcomedMembers(read_welcomed(pool, after, limit).await?)
            }
            Table::GatewaySessions => {
                Rows::GatewaySessions(read_sessions(pool, after, limit).await?)
            }
            Table::AppliedInteractions => {
                Rows::AppliedInteractions(read_applied(pool, after, limit).await?)
            }
        })
    }

    async fn write_rows(&self, rows: &Rows) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            match rows {
                Rows::GuildSettings(rows) => write_settings(&mut tx, rows).await?,
                Rows::Guilds(rows) => write_guilds(&mut tx, rows).await?,
                Rows::GuildRoles(rows) => write_roles(&mut tx, rows).await?,
                Rows::MemberXp(rows) => write_member_xp(&mut tx, rows).await?,
                Rows::MemberProfiles(rows) => write_profiles(&mut tx, rows).await?,
                Rows::LevelRewards(rows) => write_rewards(&mut tx, rows).await?,
                Rows::CaseCounters(rows) => write_counters(&mut tx, rows).await?,
                Rows::ModCases(rows) => write_cases(&mut tx, rows).await?,
                Rows::CaseAmendments(rows) => write_amendments(&mut tx, rows).await?,
                Rows::EscalationRules(rows) => write_rules(&mut tx, rows).await?,
                Rows::WelcomedMembers(rows) => write_welcomed(&mut tx, rows).await?,
                Rows::GatewaySessions(rows) => write_sessions(&mut tx, rows).await?,
                Rows::AppliedInteractions(rows) => write_applied(&mut tx, rows).await?,
            }
            // Dropped uncommitted on any error above: the batch is rolled back whole.
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// DELETE in one transaction, not TRUNCATE. On MySQL and MariaDB TRUNCATE
    /// is DDL: each one commits by itself (so the tables would not be emptied
    /// all or none, as the trait promises, and a failure half way would leave
    /// some full), it fires no triggers (so `member_xp_buckets` would need its
    /// own), and it waits for a metadata lock that any open transaction on the
    /// table holds. DELETE costs a row at a time, but the restore or copy that
    /// follows writes every row again, which costs more.
    ///
    /// No foreign keys between the tables, so any order will do;
    /// `member_xp_buckets` goes first so that `member_xp`'s delete trigger
    /// finds no count to decrement on each of its rows, and so that it ends
    /// empty even if the counts had ever drifted from the members.
    async fn clear_all(&self) -> StoreResult<()> {
        retrying(|| async move {
            let mut tx = self.begin_write().await?;
            sqlx::query!("DELETE FROM guild_settings")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM guilds").execute(&mut *tx).await?;
            sqlx::query!("DELETE FROM guild_roles")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM member_xp_buckets")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM member_xp")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM member_profiles")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM level_rewards")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM case_counters")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM mod_cases")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM case_amendments")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM escalation_rules")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM welcomed_members")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM gateway_sessions")
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM applied_interactions")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

// Reads: one query for the first page, one for the pages after a key. Each
// orders by the primary key and starts at a range of it, so a page never reads
// the rows before it. Placeholders can't be reused, so a key part compared
// twice is bound twice.

async fn read_settings(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildSettingsRow>> {
    let rows =
        match after {
            None => sqlx::query_as!(
                StoredSettings,
                r#"SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                  levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                  xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                  web_public, created_at, updated_at
           FROM guild_settings ORDER BY guild_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await,
            Some([guild_id, ..]) => sqlx::query_as!(
                StoredSettings,
                r#"SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                  levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                  xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                  web_public, created_at, updated_at
           FROM guild_settings WHERE guild_id > ? ORDER BY guild_id LIMIT ?"#,
                guild_id,
                limit
            )
            .fetch_all(pool)
            .await,
        };
    from_rows(rows.map_err(db_error)?)
}

async fn read_guilds(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildRow>> {
    let rows = match after {
        None => sqlx::query_as!(
            StoredGuild,
            r#"SELECT guild_id, name, icon, owner_id, member_count, joined_at, left_at, updated_at
           FROM guilds ORDER BY guild_id LIMIT ?"#,
            limit
        )
        .fetch_all(pool)
        .await,
        Some([guild_id, ..]) => sqlx::query_as!(
            StoredGuild,
            r#"SELECT guild_id, name, icon, owner_id, member_count, joined_at, left_at, updated_at
           FROM guilds WHERE guild_id > ? ORDER BY guild_id LIMIT ?"#,
            guild_id,
            limit
        )
        .fetch_all(pool)
        .await,
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_roles(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildRoleRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredRole,
                r#"SELECT guild_id, role_id, name, position, permissions, managed, held_by_bot
           FROM guild_roles ORDER BY guild_id, role_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, role_id, _]) => {
            sqlx::query_as!(
                StoredRole,
                r#"SELECT guild_id, role_id, name, position, permissions, managed, held_by_bot
           FROM guild_roles WHERE guild_id > ? OR (guild_id = ? AND role_id > ?)
           ORDER BY guild_id, role_id LIMIT ?"#,
                guild_id,
                guild_id,
                role_id,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_member_xp(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<MemberXpRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredMemberXp,
                r#"SELECT guild_id, user_id, xp, messages, last_award_at
           FROM member_xp ORDER BY guild_id, user_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredMemberXp,
                r#"SELECT guild_id, user_id, xp, messages, last_award_at
           FROM member_xp WHERE guild_id > ? OR (guild_id = ? AND user_id > ?)
           ORDER BY guild_id, user_id LIMIT ?"#,
                guild_id,
                guild_id,
                user_id,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_profiles(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<MemberProfileRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredProfile,
                r#"SELECT guild_id, user_id, display_name, avatar, seen_at
           FROM member_profiles ORDER BY guild_id, user_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredProfile,
                r#"SELECT guild_id, user_id, display_name, avatar, seen_at
           FROM member_profiles WHERE guild_id > ? OR (guild_id = ? AND user_id > ?)
           ORDER BY guild_id, user_id LIMIT ?"#,
                guild_id,
                guild_id,
                user_id,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_rewards(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<LevelRewardRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredReward,
                r#"SELECT guild_id, level, role_id
           FROM level_rewards ORDER BY guild_id, level LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, level, _]) => {
            sqlx::query_as!(
                StoredReward,
                r#"SELECT guild_id, level, role_id
           FROM level_rewards WHERE guild_id > ? OR (guild_id = ? AND level > ?)
           ORDER BY guild_id, level LIMIT ?"#,
                guild_id,
                guild_id,
                level,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_counters(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<CaseCounterRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredCounter,
                r#"SELECT guild_id, last_case FROM case_counters ORDER BY guild_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, ..]) => {
            sqlx::query_as!(
                StoredCounter,
                r#"SELECT guild_id, last_case FROM case_counters
           WHERE guild_id > ? ORDER BY guild_id LIMIT ?"#,
                guild_id,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_cases(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<ModCaseRow>> {
    let rows =
        match after {
            None => sqlx::query_as!(
                CaseRow,
                r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                  action_status, action_error, lift_status, lift_error, lift_claimed_by,
                  lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
           FROM mod_cases ORDER BY guild_id, case_number LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await,
            Some([guild_id, case_number, _]) => sqlx::query_as!(
                CaseRow,
                r#"SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                  expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                  action_status, action_error, lift_status, lift_error, lift_claimed_by,
                  lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
           FROM mod_cases WHERE guild_id > ? OR (guild_id = ? AND case_number > ?)
           ORDER BY guild_id, case_number LIMIT ?"#,
                guild_id,
                guild_id,
                case_number,
                limit
            )
            .fetch_all(pool)
            .await,
        };
    from_rows(rows.map_err(db_error)?)
}

async fn read_amendments(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<CaseAmendmentRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredAmendment,
                r#"SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason,
                  new_reason
           FROM case_amendments ORDER BY guild_id, case_number, amendment LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, case_number, amendment]) => {
            sqlx::query_as!(
                StoredAmendment,
                r#"SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason,
                  new_reason
           FROM case_amendments
           WHERE guild_id > ?
              OR (guild_id = ? AND (case_number > ? OR (case_number = ? AND amendment > ?)))
           ORDER BY guild_id, case_number, amendment LIMIT ?"#,
                guild_id,
                guild_id,
                case_number,
                case_number,
                amendment,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_rules(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<EscalationRuleRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredRule,
                r#"SELECT guild_id, warnings, action, duration_secs
           FROM escalation_rules ORDER BY guild_id, warnings LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, warnings, _]) => {
            sqlx::query_as!(
                StoredRule,
                r#"SELECT guild_id, warnings, action, duration_secs
           FROM escalation_rules WHERE guild_id > ? OR (guild_id = ? AND warnings > ?)
           ORDER BY guild_id, warnings LIMIT ?"#,
                guild_id,
                guild_id,
                warnings,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_welcomed(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<WelcomedMemberRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredWelcome,
                r#"SELECT guild_id, user_id, joined_at, left_at, session_id, sequence
           FROM welcomed_members ORDER BY guild_id, user_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredWelcome,
                r#"SELECT guild_id, user_id, joined_at, left_at, session_id, sequence
           FROM welcomed_members WHERE guild_id > ? OR (guild_id = ? AND user_id > ?)
           ORDER BY guild_id, user_id LIMIT ?"#,
                guild_id,
                guild_id,
                user_id,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_sessions(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GatewaySessionRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredSession,
                r#"SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
           FROM gateway_sessions ORDER BY shard_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([shard_id, ..]) => {
            sqlx::query_as!(
                StoredSession,
                r#"SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
           FROM gateway_sessions WHERE shard_id > ? ORDER BY shard_id LIMIT ?"#,
                shard_id,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_applied(
    pool: &MySqlPool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<AppliedInteractionRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredApplied,
                r#"SELECT interaction_id, guild_id, applied_at
           FROM applied_interactions ORDER BY interaction_id LIMIT ?"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([interaction_id, ..]) => {
            sqlx::query_as!(
                StoredApplied,
                r#"SELECT interaction_id, guild_id, applied_at
           FROM applied_interactions WHERE interaction_id > ?
           ORDER BY interaction_id LIMIT ?"#,
                interaction_id,
                limit
            )
            .fetch_all(pool)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

// Writes, in the caller's transaction. Plain INSERTs: a key already present is
// an error that fails the batch. They return `Stop` so that a deadlock reaches
// `retrying` as the sqlx error it is.

// The batched tables are bound as JSON arrays of arrays, one per row, for
// `JSON_TABLE`: serde_json escapes the strings, ids and times go in as the
// integers stored, flags as 0 and 1.

/// The most JSON one statement binds. The server refuses a packet over
/// `max_allowed_packet` (16 MiB by default on MariaDB 10.11, 64 MiB on MySQL 8).
/// The pages `keeper copy` and `keeper restore` write are 5,000 rows: about
/// 0.5 MB of members' XP and 2 MB of profiles at most, but cases carry reasons
/// (512 characters, 3 KB once escaped) and errors, so a page of them can pass
/// 16 MiB, as can an imported export's page (a line of up to 64 MiB). A batch
/// is cut into statements of at most this much, in its one transaction; most
/// batches are one.
const STATEMENT_JSON: usize = 4 * 1024 * 1024;

/// The bytes a TEXT column holds.
const TEXT_BYTES: usize = 65_535;

/// The rows' JSON (`rows` yields each row's array) as documents of at most
/// [`STATEMENT_JSON`] bytes, each a JSON array of rows; none for no rows.
fn json_batches(rows: impl IntoIterator<Item = StoreResult<String>>) -> StoreResult<Vec<String>> {
    let mut batches = Vec::new();
    let mut json = String::from("[");
    for row in rows {
        let row = row?;
        if json.len() > 1 && json.len() + row.len() + 2 > STATEMENT_JSON {
            json.push(']');
            batches.push(std::mem::replace(&mut json, String::from("[")));
        }
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&row);
    }
    if json.len() > 1 {
        json.push(']');
        batches.push(json);
    }
    Ok(batches)
}

/// One row's JSON array.
fn row_json(row: serde_json::Value) -> StoreResult<String> {
    serde_json::to_string(&row).map_err(StoreError::internal)
}

/// `value` for a TEXT column, refused if longer than it holds. JSON_TABLE cuts
/// a longer string to fit without a word (MariaDB 10.11; a MEDIUMTEXT column
/// in it even wraps the length), where an INSERT of the value itself refuses it
/// in strict mode, so the batched writes check first.
fn text<'a>(value: &'a str, what: &str) -> StoreResult<&'a str> {
    if value.len() > TEXT_BYTES {
        return Err(StoreError::Invalid(format!(
            "{what} is longer than the {TEXT_BYTES} bytes a MySQL TEXT column holds."
        )));
    }
    Ok(value)
}

/// [`text`] for a nullable column.
fn text_opt<'a>(value: Option<&'a str>, what: &str) -> StoreResult<Option<&'a str>> {
    value.map(|v| text(v, what)).transpose()
}

async fn write_settings(tx: &mut MySqlConnection, rows: &[GuildSettingsRow]) -> Result<(), Stop> {
    for r in rows {
        let guild_id = id_to_db(r.guild_id);
        let welcome_channel_id = r.welcome_channel_id.map(id_to_db);
        let modlog_channel_id = r.modlog_channel_id.map(id_to_db);
        let levelup_channel_id = r.levelup_channel_id.map(id_to_db);
        let (created_ms, updated_ms) = (to_ms(r.created_at), to_ms(r.updated_at));
        sqlx::query!(
            "INSERT INTO guild_settings (guild_id, prefix, welcome_channel_id, welcome_message,
                 modlog_channel_id, levelup_mode, levelup_channel_id, levelup_message, xp_min,
                 xp_max, xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card,
                 rank_card_accent, web_public, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            guild_id,
            r.prefix,
            welcome_channel_id,
            r.welcome_message,
            modlog_channel_id,
            r.levelup_mode,
            levelup_channel_id,
            r.levelup_message,
            r.xp_min,
            r.xp_max,
            r.xp_cooldown_secs,
            r.warn_expiry_secs,
            r.dm_on_warn,
            r.rank_card,
            r.rank_card_accent,
            r.web_public,
            created_ms,
            updated_ms
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn write_guilds(tx: &mut MySqlConnection, rows: &[GuildRow]) -> Result<(), Stop> {
    for r in rows {
        let (guild_id, owner_id) = (id_to_db(r.guild_id), r.owner_id.map(id_to_db));
        let (joined_ms, left_ms) = (r.joined_at.map(to_ms), r.left_at.map(to_ms));
        let updated_ms = to_ms(r.updated_at);
        sqlx::query!(
            "INSERT INTO guilds (guild_id, name, icon, owner_id, member_count, joined_at, left_at,
                 updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            guild_id,
            r.name,
            r.icon,
            owner_id,
            r.member_count,
            joined_ms,
            left_ms,
            updated_ms
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// One statement per [`STATEMENT_JSON`]: a guild can have hundreds of roles.
async fn write_roles(tx: &mut MySqlConnection, rows: &[GuildRoleRow]) -> Result<(), Stop> {
    let batches = json_batches(rows.iter().map(|r| {
        row_json(serde_json::json!([
            id_to_db(r.guild_id),
            id_to_db(r.role_id),
            text(&r.name, "A role's name")?,
            r.position,
            r.permissions,
            i64::from(r.managed),
            i64::from(r.held_by_bot),
        ]))
    }))?;
    for json in batches {
        sqlx::query!(
            "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed,
                 held_by_bot)
             SELECT j.guild_id, j.role_id, j.name, j.position, j.permissions, j.managed,
                    j.held_by_bot
             FROM JSON_TABLE(?, '$[*]' COLUMNS (
                      guild_id BIGINT PATH '$[0]', role_id BIGINT PATH '$[1]',
                      name TEXT PATH '$[2]', position BIGINT PATH '$[3]',
                      permissions BIGINT PATH '$[4]', managed BOOLEAN PATH '$[5]',
                      held_by_bot BOOLEAN PATH '$[6]')) AS j",
            json
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// One statement per [`STATEMENT_JSON`]; the level and bucket are derived here,
/// as awards derive them (`xp.rs`), so they agree with the XP whatever wrote
/// the rows. The insert trigger counts each member into `member_xp_buckets`.
async fn write_member_xp(tx: &mut MySqlConnection, rows: &[MemberXpRow]) -> Result<(), Stop> {
    let batches = json_batches(rows.iter().map(|r| {
        serde_json::to_string(&(
            id_to_db(r.guild_id),
            id_to_db(r.user_id),
            r.xp,
            level_for_xp(r.xp),
            xp_bucket(r.xp),
            r.messages,
            r.last_award_at.map(to_ms),
        ))
        .map_err(StoreError::internal)
    }))?;
    for json in batches {
        sqlx::query!(
            "INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages,
                 last_award_at)
             SELECT j.guild_id, j.user_id, j.xp, j.level, j.xp_bucket, j.messages,
                    j.last_award_at
             FROM JSON_TABLE(?, '$[*]' COLUMNS (
                      guild_id BIGINT PATH '$[0]', user_id BIGINT PATH '$[1]',
                      xp BIGINT PATH '$[2]', level INT PATH '$[3]',
                      xp_bucket BIGINT PATH '$[4]', messages BIGINT PATH '$[5]',
                      last_award_at BIGINT PATH '$[6]')) AS j",
            json
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// One statement per [`STATEMENT_JSON`]; the folded name is derived here, as
/// every profile write does (`profiles.rs`).
async fn write_profiles(tx: &mut MySqlConnection, rows: &[MemberProfileRow]) -> Result<(), Stop> {
    let batches = json_batches(rows.iter().map(|r| {
        let search_name = fold_name(&r.display_name);
        row_json(serde_json::json!([
            id_to_db(r.guild_id),
            id_to_db(r.user_id),
            text(&r.display_name, "A member's name")?,
            text(&search_name, "A member's folded name")?,
            text_opt(r.avatar.as_deref(), "A member's avatar")?,
            to_ms(r.seen_at),
        ]))
    }))?;
    for json in batches {
        sqlx::query!(
            "INSERT INTO member_profiles (guild_id, user_id, display_name, search_name, avatar,
                 seen_at)
             SELECT j.guild_id, j.user_id, j.display_name, j.search_name, j.avatar, j.seen_at
             FROM JSON_TABLE(?, '$[*]' COLUMNS (
                      guild_id BIGINT PATH '$[0]', user_id BIGINT PATH '$[1]',
                      display_name TEXT PATH '$[2]', search_name TEXT PATH '$[3]',
                      avatar TEXT PATH '$[4]', seen_at BIGINT PATH '$[5]')) AS j",
            json
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn write_rewards(tx: &mut MySqlConnection, rows: &[LevelRewardRow]) -> Result<(), Stop> {
    for r in rows {
        let (guild_id, role_id) = (id_to_db(r.guild_id), id_to_db(r.role_id));
        sqlx::query!(
            "INSERT INTO level_rewards (guild_id, level, role_id) VALUES (?, ?, ?)",
            guild_id,
            r.level,
            role_id
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn write_counters(tx: &mut MySqlConnection, rows: &[CaseCounterRow]) -> Result<(), Stop> {
    for r in rows {
        let guild_id = id_to_db(r.guild_id);
        sqlx::query!(
            "INSERT INTO case_counters (guild_id, last_case) VALUES (?, ?)",
            guild_id,
            r.last_case
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// One statement per [`STATEMENT_JSON`]. A case has more columns than serde has
/// tuples for, so each is a `json!` array. The words (kind, source, statuses)
/// go through TEXT into their VARCHAR(16) columns, which strict mode refuses
/// to cut, and their CHECKs.
async fn write_cases(tx: &mut MySqlConnection, rows: &[ModCaseRow]) -> Result<(), Stop> {
    let batches = json_batches(rows.iter().map(|r| {
        row_json(serde_json::json!([
            id_to_db(r.guild_id),
            r.case_number,
            id_to_db(r.target_id),
            r.moderator_id.map(id_to_db),
            r.kind,
            text_opt(r.reason.as_deref(), "A case's reason")?,
            to_ms(r.created_at),
            r.expires_at.map(to_ms),
            r.revoked_by.map(id_to_db),
            r.revoked_at.map(to_ms),
            r.source,
            r.escalated_from,
            r.duration_secs,
            r.action_status,
            text_opt(r.action_error.as_deref(), "A case's action error")?,
            r.lift_status,
            text_opt(r.lift_error.as_deref(), "A case's lift error")?,
            text_opt(r.lift_claimed_by.as_deref(), "A case's lift claim")?,
            r.lift_claimed_until.map(to_ms),
            r.lifted_at.map(to_ms),
            r.log_channel_id.map(id_to_db),
            r.log_message_id.map(id_to_db),
            r.dm_status,
        ]))
    }))?;
    for json in batches {
        sqlx::query!(
            "INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
                 created_at, expires_at, revoked_by, revoked_at, source, escalated_from,
                 duration_secs, action_status, action_error, lift_status, lift_error,
                 lift_claimed_by, lift_claimed_until, lifted_at, log_channel_id, log_message_id,
                 dm_status)
             SELECT j.guild_id, j.case_number, j.target_id, j.moderator_id, j.kind, j.reason,
                    j.created_at, j.expires_at, j.revoked_by, j.revoked_at, j.source,
                    j.escalated_from, j.duration_secs, j.action_status, j.action_error,
                    j.lift_status, j.lift_error, j.lift_claimed_by, j.lift_claimed_until,
                    j.lifted_at, j.log_channel_id, j.log_message_id, j.dm_status
             FROM JSON_TABLE(?, '$[*]' COLUMNS (
                      guild_id BIGINT PATH '$[0]', case_number BIGINT PATH '$[1]',
                      target_id BIGINT PATH '$[2]', moderator_id BIGINT PATH '$[3]',
                      kind TEXT PATH '$[4]', reason TEXT PATH '$[5]',
                      created_at BIGINT PATH '$[6]', expires_at BIGINT PATH '$[7]',
                      revoked_by BIGINT PATH '$[8]', revoked_at BIGINT PATH '$[9]',
                      source TEXT PATH '$[10]', escalated_from BIGINT PATH '$[11]',
                      duration_secs BIGINT PATH '$[12]', action_status TEXT PATH '$[13]',
                      action_error TEXT PATH '$[14]', lift_status TEXT PATH '$[15]',
                      lift_error TEXT PATH '$[16]', lift_claimed_by TEXT PATH '$[17]',
                      lift_claimed_until BIGINT PATH '$[18]', lifted_at BIGINT PATH '$[19]',
                      log_channel_id BIGINT PATH '$[20]', log_message_id BIGINT PATH '$[21]',
                      dm_status TEXT PATH '$[22]')) AS j",
            json
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn write_amendments(tx: &mut MySqlConnection, rows: &[CaseAmendmentRow]) -> Result<(), Stop> {
    for r in rows {
        let (guild_id, amended_by) = (id_to_db(r.guild_id), id_to_db(r.amended_by));
        let amended_ms = to_ms(r.amended_at);
        sqlx::query!(
            "INSERT INTO case_amendments (guild_id, case_number, amendment, amended_at, amended_by,
                 old_reason, new_reason)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            guild_id,
            r.case_number,
            r.amendment,
            amended_ms,
            amended_by,
            r.old_reason,
            r.new_reason
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn write_rules(tx: &mut MySqlConnection, rows: &[EscalationRuleRow]) -> Result<(), Stop> {
    for r in rows {
        let guild_id = id_to_db(r.guild_id);
        sqlx::query!(
            "INSERT INTO escalation_rules (guild_id, warnings, action, duration_secs)
             VALUES (?, ?, ?, ?)",
            guild_id,
            r.warnings,
            r.action,
            r.duration_secs
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// One statement per [`STATEMENT_JSON`].
async fn write_welcomed(tx: &mut MySqlConnection, rows: &[WelcomedMemberRow]) -> Result<(), Stop> {
    let batches = json_batches(rows.iter().map(|r| {
        row_json(serde_json::json!([
            id_to_db(r.guild_id),
            id_to_db(r.user_id),
            to_ms(r.joined_at),
            r.left_at.map(to_ms),
            text_opt(r.session_id.as_deref(), "A gateway session id")?,
            r.sequence,
        ]))
    }))?;
    for json in batches {
        sqlx::query!(
            "INSERT INTO welcomed_members (guild_id, user_id, joined_at, left_at, session_id,
                 sequence)
             SELECT j.guild_id, j.user_id, j.joined_at, j.left_at, j.session_id, j.sequence
             FROM JSON_TABLE(?, '$[*]' COLUMNS (
                      guild_id BIGINT PATH '$[0]', user_id BIGINT PATH '$[1]',
                      joined_at BIGINT PATH '$[2]', left_at BIGINT PATH '$[3]',
                      session_id TEXT PATH '$[4]', sequence BIGINT PATH '$[5]')) AS j",
            json
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn write_sessions(tx: &mut MySqlConnection, rows: &[GatewaySessionRow]) -> Result<(), Stop> {
    for r in rows {
        let updated_ms = to_ms(r.updated_at);
        sqlx::query!(
            "INSERT INTO gateway_sessions (shard_id, shard_total, session_id, resume_url, sequence,
                 updated_at)
             VALUES (?, ?, ?, ?, ?, ?)",
            r.shard_id,
            r.shard_total,
            r.session_id,
            r.resume_url,
            r.sequence,
            updated_ms
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// One statement per [`STATEMENT_JSON`].
async fn write_applied(
    tx: &mut MySqlConnection,
    rows: &[AppliedInteractionRow],
) -> Result<(), Stop> {
    let batches = json_batches(rows.iter().map(|r| {
        serde_json::to_string(&(
            id_to_db(r.interaction_id),
            id_to_db(r.guild_id),
            to_ms(r.applied_at),
        ))
        .map_err(StoreError::internal)
    }))?;
    for json in batches {
        sqlx::query!(
            "INSERT INTO applied_interactions (interaction_id, guild_id, applied_at)
             SELECT j.interaction_id, j.guild_id, j.applied_at
             FROM JSON_TABLE(?, '$[*]' COLUMNS (
                      interaction_id BIGINT PATH '$[0]', guild_id BIGINT PATH '$[1]',
                      applied_at BIGINT PATH '$[2]')) AS j",
            json
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rows, each its number and a string of `width` bytes.
    fn rows(n: usize, width: usize) -> Vec<StoreResult<String>> {
        (0..n)
            .map(|i| Ok(format!("[{i},\"{}\"]", "x".repeat(width))))
            .collect()
    }

    #[test]
    fn batches_are_json_arrays_under_the_statement_limit() {
        assert!(json_batches(Vec::new()).unwrap().is_empty());
        let one = json_batches(rows(2, 1)).unwrap();
        assert_eq!(one, [r#"[[0,"x"],[1,"x"]]"#]);

        // Rows of 100 KB: 41 fit in 4 MiB, so 100 make three statements.
        let batches = json_batches(rows(100, 100_000)).unwrap();
        assert_eq!(batches.len(), 3);
        let mut seen = 0;
        for json in &batches {
            assert!(json.len() <= STATEMENT_JSON);
            let parsed: Vec<(usize, String)> = serde_json::from_str(json).unwrap();
            for (number, _) in parsed {
                assert_eq!(number, seen);
                seen += 1;
            }
        }
        assert_eq!(seen, 100);
    }

    #[test]
    fn text_longer_than_a_column_holds_is_refused() {
        assert_eq!(text("é", "A name").unwrap(), "é");
        assert!(text(&"x".repeat(TEXT_BYTES), "A name").is_ok());
        assert!(matches!(
            text(&"é".repeat(TEXT_BYTES / 2 + 1), "A name"),
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(text_opt(None, "A name").unwrap(), None);
    }
}
