//! [`TransferStore`]: every table read and written whole, page by page, for
//! `keeper restore`, `keeper copy` and exports.
//!
//! Pages are read in primary-key order, each after the last key of the one
//! before (`WHERE (a, b) > ($1, $2)`), so every page is a range scan of the
//! primary key index: a copy stays linear in the rows, where an OFFSET would
//! read every page before it again. Times are cut to the millisecond when read
//! ([`to_millis`]), what SQLite keeps, so a copy either way compares equal.
//!
//! Writes are plain INSERTs in one transaction: a key already there fails the
//! whole batch. The tables that grow with members (and `guild_roles`, with
//! guilds) take a batch in one statement over `UNNEST`ed arrays; the others a
//! statement per row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use keeper_store::{
    StoreError, StoreResult, TransferStore, id_from_db, id_to_db,
    levels::{level_for_xp, xp_bucket},
    profiles::fold_name,
    transfer::{
        AppliedInteractionRow, CaseAmendmentRow, CaseCounterRow, EscalationRuleRow,
        GatewaySessionRow, GuildRoleRow, GuildRow, GuildSettingsRow, LevelRewardRow,
        MemberProfileRow, MemberXpRow, ModCaseRow, RowKey, Rows, Table, WelcomedMemberRow,
        to_millis,
    },
};
use sqlx::PgConnection;

use crate::{
    PgStore,
    cases::CaseRow,
    convert::from_rows,
    error::{db_error, out_of_range},
};

/// A `guild_settings` row as stored.
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
    dm_on_warn: bool,
    rank_card: bool,
    rank_card_accent: Option<i32>,
    web_public: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
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
            dm_on_warn: r.dm_on_warn,
            rank_card: r.rank_card,
            rank_card_accent: r.rank_card_accent.map(i64::from),
            web_public: r.web_public,
            created_at: to_millis(r.created_at),
            updated_at: to_millis(r.updated_at),
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
    joined_at: Option<DateTime<Utc>>,
    left_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
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
            joined_at: r.joined_at.map(to_millis),
            left_at: r.left_at.map(to_millis),
            updated_at: to_millis(r.updated_at),
        })
    }
}

/// A `member_profiles` row as stored (without the folded name).
struct StoredProfile {
    guild_id: i64,
    user_id: i64,
    display_name: String,
    avatar: Option<String>,
    seen_at: DateTime<Utc>,
}

impl TryFrom<StoredProfile> for MemberProfileRow {
    type Error = StoreError;

    fn try_from(r: StoredProfile) -> StoreResult<Self> {
        Ok(MemberProfileRow {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            display_name: r.display_name,
            avatar: r.avatar,
            seen_at: to_millis(r.seen_at),
        })
    }
}

/// A `guild_roles` row as stored.
struct StoredRole {
    guild_id: i64,
    role_id: i64,
    name: String,
    position: i64,
    permissions: i64,
    managed: bool,
    held_by_bot: bool,
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
            managed: r.managed,
            held_by_bot: r.held_by_bot,
        })
    }
}

/// A `member_xp` row as stored, without the level and bucket (derived from `xp`).
struct StoredMemberXp {
    guild_id: i64,
    user_id: i64,
    xp: i64,
    messages: i64,
    last_award_at: Option<DateTime<Utc>>,
}

impl TryFrom<StoredMemberXp> for MemberXpRow {
    type Error = StoreError;

    fn try_from(r: StoredMemberXp) -> StoreResult<Self> {
        Ok(MemberXpRow {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            xp: r.xp,
            messages: r.messages,
            last_award_at: r.last_award_at.map(to_millis),
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

/// `mod_cases` rows are read as [`CaseRow`], every column, the kinds and
/// statuses kept as their words.
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
            created_at: to_millis(r.created_at),
            expires_at: r.expires_at.map(to_millis),
            revoked_by: r.revoked_by.map(id_from_db).transpose()?,
            revoked_at: r.revoked_at.map(to_millis),
            source: r.source,
            escalated_from: r.escalated_from,
            duration_secs: r.duration_secs,
            action_status: r.action_status,
            action_error: r.action_error,
            lift_status: r.lift_status,
            lift_error: r.lift_error,
            lift_claimed_by: r.lift_claimed_by,
            lift_claimed_until: r.lift_claimed_until.map(to_millis),
            lifted_at: r.lifted_at.map(to_millis),
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
    amended_at: DateTime<Utc>,
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
            amended_at: to_millis(r.amended_at),
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
    joined_at: DateTime<Utc>,
    left_at: Option<DateTime<Utc>>,
    session_id: Option<String>,
    sequence: Option<i64>,
}

impl TryFrom<StoredWelcome> for WelcomedMemberRow {
    type Error = StoreError;

    fn try_from(r: StoredWelcome) -> StoreResult<Self> {
        Ok(WelcomedMemberRow {
            guild_id: id_from_db(r.guild_id)?,
            user_id: id_from_db(r.user_id)?,
            joined_at: to_millis(r.joined_at),
            left_at: r.left_at.map(to_millis),
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
    updated_at: DateTime<Utc>,
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
            updated_at: to_millis(r.updated_at),
        })
    }
}

/// An `applied_interactions` row as stored.
struct StoredApplied {
    interaction_id: i64,
    guild_id: i64,
    applied_at: DateTime<Utc>,
}

impl TryFrom<StoredApplied> for AppliedInteractionRow {
    type Error = StoreError;

    fn try_from(r: StoredApplied) -> StoreResult<Self> {
        Ok(AppliedInteractionRow {
            interaction_id: id_from_db(r.interaction_id)?,
            guild_id: id_from_db(r.guild_id)?,
            applied_at: to_millis(r.applied_at),
        })
    }
}

/// A key part of an INTEGER column, as the column's type: keys come from a page
/// of the same table, so one that doesn't fit was never read from it.
fn key_part(part: i64) -> StoreResult<i32> {
    i32::try_from(part).map_err(|_| out_of_range("The page's last key"))
}

/// One column of `rows`, for binding as an array to `UNNEST`.
fn column<R, T>(rows: &[R], value: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

#[async_trait]
impl TransferStore for PgStore {
    async fn read_rows(
        &self,
        table: Table,
        after: Option<RowKey>,
        limit: u32,
    ) -> StoreResult<Rows> {
        let limit = i64::from(limit);
        let mut work = self.work().await?;
        let conn = &mut *work;
        let rows = match table {
            Table::GuildSettings => Rows::GuildSettings(read_settings(conn, after, limit).await?),
            Table::Guilds => Rows::Guilds(read_guilds(conn, after, limit).await?),
            Table::GuildRoles => Rows::GuildRoles(read_roles(conn, after, limit).await?),
            Table::MemberXp => Rows::MemberXp(read_member_xp(conn, after, limit).await?),
            Table::MemberProfiles => Rows::MemberProfiles(read_profiles(conn, after, limit).await?),
            Table::LevelRewards => Rows::LevelRewards(read_rewards(conn, after, limit).await?),
            Table::CaseCounters => Rows::CaseCounters(read_counters(conn, after, limit).await?),
            Table::ModCases => Rows::ModCases(read_cases(conn, after, limit).await?),
            Table::CaseAmendments => {
                Rows::CaseAmendments(read_amendments(conn, after, limit).await?)
            }
            Table::EscalationRules => Rows::EscalationRules(read_rules(conn, after, limit).await?),
            Table::WelcomedMembers => {
                Rows::WelcomedMembers(read_welcomed(conn, after, limit).await?)
            }
            Table::GatewaySessions => {
                Rows::GatewaySessions(read_sessions(conn, after, limit).await?)
            }
            Table::AppliedInteractions => {
                Rows::AppliedInteractions(read_applied(conn, after, limit).await?)
            }
        };
        work.done().await?;
        Ok(rows)
    }

    async fn write_rows(&self, rows: &Rows) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
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
        tx.commit().await.map_err(db_error)
    }

    /// One statement, so one transaction: every table is emptied or none.
    /// TRUNCATE rather than DELETE: it frees the space at once, and leaves no
    /// dead rows for VACUUM before the restore that usually follows.
    async fn clear_all(&self) -> StoreResult<()> {
        let mut work = self.work().await?;
        sqlx::query!(
            "TRUNCATE guild_settings, guilds, guild_roles, member_xp, member_profiles, level_rewards,
             case_counters, mod_cases, case_amendments, escalation_rules, welcomed_members,
             gateway_sessions, applied_interactions"
        )
        .execute(&mut *work)
        .await
        .map_err(db_error)?;
        work.done().await?;
        Ok(())
    }
}

// Reads: each table's first page, and a page after a key, by the primary key.

async fn read_settings(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildSettingsRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredSettings,
                "SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                    levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                    xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                    web_public, created_at, updated_at
             FROM guild_settings ORDER BY guild_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, ..]) => {
            sqlx::query_as!(
                StoredSettings,
                "SELECT guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                    levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                    xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                    web_public, created_at, updated_at
             FROM guild_settings WHERE guild_id > $1 ORDER BY guild_id LIMIT $2",
                guild_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_guilds(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredGuild,
                "SELECT guild_id, name, icon, owner_id, member_count, joined_at, left_at, updated_at
             FROM guilds ORDER BY guild_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, ..]) => {
            sqlx::query_as!(
                StoredGuild,
                "SELECT guild_id, name, icon, owner_id, member_count, joined_at, left_at, updated_at
             FROM guilds WHERE guild_id > $1 ORDER BY guild_id LIMIT $2",
                guild_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_roles(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildRoleRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredRole,
                "SELECT guild_id, role_id, name, position, permissions, managed, held_by_bot
             FROM guild_roles ORDER BY guild_id, role_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, role_id, _]) => {
            sqlx::query_as!(
                StoredRole,
                "SELECT guild_id, role_id, name, position, permissions, managed, held_by_bot
             FROM guild_roles WHERE (guild_id, role_id) > ($1, $2)
             ORDER BY guild_id, role_id LIMIT $3",
                guild_id,
                role_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_member_xp(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<MemberXpRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredMemberXp,
                "SELECT guild_id, user_id, xp, messages, last_award_at
             FROM member_xp ORDER BY guild_id, user_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredMemberXp,
                "SELECT guild_id, user_id, xp, messages, last_award_at
             FROM member_xp WHERE (guild_id, user_id) > ($1, $2)
             ORDER BY guild_id, user_id LIMIT $3",
                guild_id,
                user_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_profiles(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<MemberProfileRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredProfile,
                "SELECT guild_id, user_id, display_name, avatar, seen_at
             FROM member_profiles ORDER BY guild_id, user_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredProfile,
                "SELECT guild_id, user_id, display_name, avatar, seen_at
             FROM member_profiles WHERE (guild_id, user_id) > ($1, $2)
             ORDER BY guild_id, user_id LIMIT $3",
                guild_id,
                user_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_rewards(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<LevelRewardRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredReward,
                "SELECT guild_id, level, role_id
             FROM level_rewards ORDER BY guild_id, level LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, level, _]) => {
            sqlx::query_as!(
                StoredReward,
                "SELECT guild_id, level, role_id
             FROM level_rewards WHERE (guild_id, level) > ($1, $2)
             ORDER BY guild_id, level LIMIT $3",
                guild_id,
                key_part(level)?,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_counters(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<CaseCounterRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredCounter,
                "SELECT guild_id, last_case FROM case_counters ORDER BY guild_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, ..]) => {
            sqlx::query_as!(
                StoredCounter,
                "SELECT guild_id, last_case FROM case_counters
             WHERE guild_id > $1 ORDER BY guild_id LIMIT $2",
                guild_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_cases(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<ModCaseRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                CaseRow,
                "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                    action_status, action_error, lift_status, lift_error, lift_claimed_by,
                    lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
             FROM mod_cases ORDER BY guild_id, case_number LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, case_number, _]) => {
            sqlx::query_as!(
                CaseRow,
                "SELECT guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
                    expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
                    action_status, action_error, lift_status, lift_error, lift_claimed_by,
                    lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status
             FROM mod_cases WHERE (guild_id, case_number) > ($1, $2)
             ORDER BY guild_id, case_number LIMIT $3",
                guild_id,
                case_number,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_amendments(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<CaseAmendmentRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredAmendment,
                "SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason,
                    new_reason
             FROM case_amendments ORDER BY guild_id, case_number, amendment LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, case_number, amendment]) => {
            sqlx::query_as!(
                StoredAmendment,
                "SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason,
                    new_reason
             FROM case_amendments WHERE (guild_id, case_number, amendment) > ($1, $2, $3)
             ORDER BY guild_id, case_number, amendment LIMIT $4",
                guild_id,
                case_number,
                key_part(amendment)?,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_rules(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<EscalationRuleRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredRule,
                "SELECT guild_id, warnings, action, duration_secs
             FROM escalation_rules ORDER BY guild_id, warnings LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, warnings, _]) => {
            sqlx::query_as!(
                StoredRule,
                "SELECT guild_id, warnings, action, duration_secs
             FROM escalation_rules WHERE (guild_id, warnings) > ($1, $2)
             ORDER BY guild_id, warnings LIMIT $3",
                guild_id,
                key_part(warnings)?,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_welcomed(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<WelcomedMemberRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredWelcome,
                "SELECT guild_id, user_id, joined_at, left_at, session_id, sequence
             FROM welcomed_members ORDER BY guild_id, user_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredWelcome,
                "SELECT guild_id, user_id, joined_at, left_at, session_id, sequence
             FROM welcomed_members WHERE (guild_id, user_id) > ($1, $2)
             ORDER BY guild_id, user_id LIMIT $3",
                guild_id,
                user_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_sessions(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GatewaySessionRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredSession,
                "SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
             FROM gateway_sessions ORDER BY shard_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([shard_id, ..]) => {
            sqlx::query_as!(
                StoredSession,
                "SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
             FROM gateway_sessions WHERE shard_id > $1 ORDER BY shard_id LIMIT $2",
                key_part(shard_id)?,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_applied(
    conn: &mut PgConnection,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<AppliedInteractionRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredApplied,
                "SELECT interaction_id, guild_id, applied_at
             FROM applied_interactions ORDER BY interaction_id LIMIT $1",
                limit,
            )
            .fetch_all(conn)
            .await
        }
        Some([interaction_id, ..]) => {
            sqlx::query_as!(
                StoredApplied,
                "SELECT interaction_id, guild_id, applied_at
             FROM applied_interactions WHERE interaction_id > $1
             ORDER BY interaction_id LIMIT $2",
                interaction_id,
                limit,
            )
            .fetch_all(conn)
            .await
        }
    };
    from_rows(rows.map_err(db_error)?)
}

// Writes, on the batch's transaction. Plain INSERTs: a key already present is
// an error that rolls the batch back, never a row overwritten.

async fn write_settings(conn: &mut PgConnection, rows: &[GuildSettingsRow]) -> StoreResult<()> {
    for r in rows {
        sqlx::query!(
            "INSERT INTO guild_settings
                 (guild_id, prefix, welcome_channel_id, welcome_message, modlog_channel_id,
                  levelup_mode, levelup_channel_id, levelup_message, xp_min, xp_max,
                  xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card, rank_card_accent,
                  web_public, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                     $18)",
            id_to_db(r.guild_id),
            r.prefix,
            r.welcome_channel_id.map(id_to_db),
            r.welcome_message.as_deref(),
            r.modlog_channel_id.map(id_to_db),
            r.levelup_mode,
            r.levelup_channel_id.map(id_to_db),
            r.levelup_message.as_deref(),
            r.xp_min,
            r.xp_max,
            r.xp_cooldown_secs,
            r.warn_expiry_secs,
            r.dm_on_warn,
            r.rank_card,
            r.rank_card_accent
                .map(|c| i32::try_from(c).map_err(|_| out_of_range("A rank card's accent")))
                .transpose()?,
            r.web_public,
            r.created_at,
            r.updated_at,
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_guilds(conn: &mut PgConnection, rows: &[GuildRow]) -> StoreResult<()> {
    for r in rows {
        sqlx::query!(
            "INSERT INTO guilds
                 (guild_id, name, icon, owner_id, member_count, joined_at, left_at, updated_at)
             VALUES ($1, $2, $8, $3, $4, $5, $6, $7)",
            id_to_db(r.guild_id),
            r.name,
            r.owner_id.map(id_to_db),
            r.member_count,
            r.joined_at,
            r.left_at,
            r.updated_at,
            r.icon,
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// One statement: a guild can have hundreds of roles.
async fn write_roles(conn: &mut PgConnection, rows: &[GuildRoleRow]) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed, held_by_bot)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::int8[],
                              $6::bool[], $7::bool[])",
        &column(rows, |r| id_to_db(r.guild_id)),
        &column(rows, |r| id_to_db(r.role_id)),
        &column(rows, |r| r.name.clone()),
        &column(rows, |r| r.position),
        &column(rows, |r| r.permissions),
        &column(rows, |r| r.managed),
        &column(rows, |r| r.held_by_bot),
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The level and leaderboard bucket are derived here, as every XP write does
/// (`xp.rs`), so they agree with the XP whatever wrote the rows.
async fn write_member_xp(conn: &mut PgConnection, rows: &[MemberXpRow]) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages, last_award_at)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int4[], $5::int8[],
                              $6::int8[], $7::timestamptz[])",
        &column(rows, |r| id_to_db(r.guild_id)),
        &column(rows, |r| id_to_db(r.user_id)),
        &column(rows, |r| r.xp),
        &column(rows, |r| level_for_xp(r.xp)),
        &column(rows, |r| xp_bucket(r.xp)),
        &column(rows, |r| r.messages),
        &column(rows, |r| r.last_award_at) as &[Option<DateTime<Utc>>],
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The folded name is derived here, as every profile write does (`profiles.rs`).
async fn write_profiles(conn: &mut PgConnection, rows: &[MemberProfileRow]) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO member_profiles (guild_id, user_id, display_name, search_name, avatar, seen_at)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[],
                              $6::timestamptz[])",
        &column(rows, |r| id_to_db(r.guild_id)),
        &column(rows, |r| id_to_db(r.user_id)),
        &column(rows, |r| r.display_name.clone()),
        &column(rows, |r| fold_name(&r.display_name)),
        &column(rows, |r| r.avatar.clone()) as &[Option<String>],
        &column(rows, |r| r.seen_at),
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn write_rewards(conn: &mut PgConnection, rows: &[LevelRewardRow]) -> StoreResult<()> {
    for r in rows {
        sqlx::query!(
            "INSERT INTO level_rewards (guild_id, level, role_id) VALUES ($1, $2, $3)",
            id_to_db(r.guild_id),
            r.level,
            id_to_db(r.role_id),
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_counters(conn: &mut PgConnection, rows: &[CaseCounterRow]) -> StoreResult<()> {
    for r in rows {
        sqlx::query!(
            "INSERT INTO case_counters (guild_id, last_case) VALUES ($1, $2)",
            id_to_db(r.guild_id),
            r.last_case,
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_cases(conn: &mut PgConnection, rows: &[ModCaseRow]) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO mod_cases
             (guild_id, case_number, target_id, moderator_id, kind, reason, created_at,
              expires_at, revoked_by, revoked_at, source, escalated_from, duration_secs,
              action_status, action_error, lift_status, lift_error, lift_claimed_by,
              lift_claimed_until, lifted_at, log_channel_id, log_message_id, dm_status)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::text[],
                              $6::text[], $7::timestamptz[], $8::timestamptz[], $9::int8[],
                              $10::timestamptz[], $11::text[], $12::int8[], $13::int8[],
                              $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
                              $19::timestamptz[], $20::timestamptz[], $21::int8[], $22::int8[],
                              $23::text[])",
        &column(rows, |r| id_to_db(r.guild_id)),
        &column(rows, |r| r.case_number),
        &column(rows, |r| id_to_db(r.target_id)),
        &column(rows, |r| r.moderator_id.map(id_to_db)) as &[Option<i64>],
        &column(rows, |r| r.kind.clone()),
        &column(rows, |r| r.reason.clone()) as &[Option<String>],
        &column(rows, |r| r.created_at),
        &column(rows, |r| r.expires_at) as &[Option<DateTime<Utc>>],
        &column(rows, |r| r.revoked_by.map(id_to_db)) as &[Option<i64>],
        &column(rows, |r| r.revoked_at) as &[Option<DateTime<Utc>>],
        &column(rows, |r| r.source.clone()),
        &column(rows, |r| r.escalated_from) as &[Option<i64>],
        &column(rows, |r| r.duration_secs) as &[Option<i64>],
        &column(rows, |r| r.action_status.clone()),
        &column(rows, |r| r.action_error.clone()) as &[Option<String>],
        &column(rows, |r| r.lift_status.clone()) as &[Option<String>],
        &column(rows, |r| r.lift_error.clone()) as &[Option<String>],
        &column(rows, |r| r.lift_claimed_by.clone()) as &[Option<String>],
        &column(rows, |r| r.lift_claimed_until) as &[Option<DateTime<Utc>>],
        &column(rows, |r| r.lifted_at) as &[Option<DateTime<Utc>>],
        &column(rows, |r| r.log_channel_id.map(id_to_db)) as &[Option<i64>],
        &column(rows, |r| r.log_message_id.map(id_to_db)) as &[Option<i64>],
        &column(rows, |r| r.dm_status.clone()) as &[Option<String>],
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn write_amendments(conn: &mut PgConnection, rows: &[CaseAmendmentRow]) -> StoreResult<()> {
    for r in rows {
        sqlx::query!(
            "INSERT INTO case_amendments
                 (guild_id, case_number, amendment, amended_at, amended_by, old_reason, new_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id_to_db(r.guild_id),
            r.case_number,
            r.amendment,
            r.amended_at,
            id_to_db(r.amended_by),
            r.old_reason.as_deref(),
            r.new_reason,
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_rules(conn: &mut PgConnection, rows: &[EscalationRuleRow]) -> StoreResult<()> {
    for r in rows {
        sqlx::query!(
            "INSERT INTO escalation_rules (guild_id, warnings, action, duration_secs)
             VALUES ($1, $2, $3, $4)",
            id_to_db(r.guild_id),
            r.warnings,
            r.action,
            r.duration_secs,
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_welcomed(conn: &mut PgConnection, rows: &[WelcomedMemberRow]) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO welcomed_members (guild_id, user_id, joined_at, left_at, session_id, sequence)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::timestamptz[], $4::timestamptz[],
                              $5::text[], $6::int8[])",
        &column(rows, |r| id_to_db(r.guild_id)),
        &column(rows, |r| id_to_db(r.user_id)),
        &column(rows, |r| r.joined_at),
        &column(rows, |r| r.left_at) as &[Option<DateTime<Utc>>],
        &column(rows, |r| r.session_id.clone()) as &[Option<String>],
        &column(rows, |r| r.sequence) as &[Option<i64>],
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn write_sessions(conn: &mut PgConnection, rows: &[GatewaySessionRow]) -> StoreResult<()> {
    for r in rows {
        sqlx::query!(
            "INSERT INTO gateway_sessions
                 (shard_id, shard_total, session_id, resume_url, sequence, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            r.shard_id,
            r.shard_total,
            r.session_id,
            r.resume_url,
            r.sequence,
            r.updated_at,
        )
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_applied(conn: &mut PgConnection, rows: &[AppliedInteractionRow]) -> StoreResult<()> {
    sqlx::query!(
        "INSERT INTO applied_interactions (interaction_id, guild_id, applied_at)
         SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::timestamptz[])",
        &column(rows, |r| id_to_db(r.interaction_id)),
        &column(rows, |r| id_to_db(r.guild_id)),
        &column(rows, |r| r.applied_at),
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}
