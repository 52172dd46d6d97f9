//! [`TransferStore`]: every table read and written whole, for `keeper restore`,
//! `keeper copy` and exports.
//!
//! Reads walk each table's primary key: the first page from its start, each
//! later one after the previous page's last key, a row-value comparison SQLite
//! answers with a range of the key's index. So a page costs its own rows
//! wherever it falls, and a copy of a million members stays linear (an OFFSET
//! would walk every row before the page again).
//!
//! Writes are plain INSERTs in one `BEGIN IMMEDIATE` transaction: a key already
//! there fails the whole batch, nothing is merged. The tables that grow with
//! members (`member_xp`, `mod_cases`, `welcomed_members`, `applied_interactions`)
//! are written with one statement per batch over `json_each`, as awards are; the
//! small ones row by row.

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
use sqlx::{SqliteConnection, SqlitePool};

use crate::{
    SqliteStore,
    cases::CaseRow,
    convert::{from_ms, from_ms_opt, from_rows, narrow, to_ms},
    error::db_error,
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
    xp_min: i64,
    xp_max: i64,
    xp_cooldown_secs: i64,
    warn_expiry_secs: Option<i64>,
    dm_on_warn: i64,
    rank_card: i64,
    rank_card_accent: Option<i64>,
    web_public: i64,
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
            xp_min: narrow(r.xp_min, "xp_min")?,
            xp_max: narrow(r.xp_max, "xp_max")?,
            xp_cooldown_secs: narrow(r.xp_cooldown_secs, "xp_cooldown_secs")?,
            warn_expiry_secs: r.warn_expiry_secs,
            dm_on_warn: r.dm_on_warn != 0,
            rank_card: r.rank_card != 0,
            rank_card_accent: r.rank_card_accent,
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

/// A `guild_roles` row as stored.
struct StoredRole {
    guild_id: i64,
    role_id: i64,
    name: String,
    position: i64,
    permissions: i64,
    managed: i64,
    held_by_bot: i64,
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
    level: i64,
    role_id: i64,
}

impl TryFrom<StoredReward> for LevelRewardRow {
    type Error = StoreError;

    fn try_from(r: StoredReward) -> StoreResult<Self> {
        Ok(LevelRewardRow {
            guild_id: id_from_db(r.guild_id)?,
            level: narrow(r.level, "level")?,
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
    amendment: i64,
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
            amendment: narrow(r.amendment, "amendment")?,
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
    warnings: i64,
    action: String,
    duration_secs: Option<i64>,
}

impl TryFrom<StoredRule> for EscalationRuleRow {
    type Error = StoreError;

    fn try_from(r: StoredRule) -> StoreResult<Self> {
        Ok(EscalationRuleRow {
            guild_id: id_from_db(r.guild_id)?,
            warnings: narrow(r.warnings, "warnings")?,
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
    shard_id: i64,
    shard_total: i64,
    session_id: String,
    resume_url: String,
    sequence: i64,
    updated_at: i64,
}

impl TryFrom<StoredSession> for GatewaySessionRow {
    type Error = StoreError;

    fn try_from(r: StoredSession) -> StoreResult<Self> {
        Ok(GatewaySessionRow {
            shard_id: narrow(r.shard_id, "shard id")?,
            shard_total: narrow(r.shard_total, "shard total")?,
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
impl TransferStore for SqliteStore {
    async fn read_rows(
        &self,
        table: Table,
        after: Option<RowKey>,
        limit: u32,
    ) -> StoreResult<Rows> {
        let (pool, limit) = (&self.reader, i64::from(limit));
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
        tx.commit().await.map_err(db_error)
    }

    async fn clear_all(&self) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        // No foreign keys between the tables, so any order will do.
        sqlx::query!("DELETE FROM guild_settings")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM guilds")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM guild_roles")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM member_xp")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM member_profiles")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM level_rewards")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM case_counters")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM mod_cases")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM case_amendments")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM escalation_rules")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM welcomed_members")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM gateway_sessions")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query!("DELETE FROM applied_interactions")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }
}

// Reads: one query for the first page, one for the pages after a key. Each
// orders by the primary key and starts at a range of its index (the rowid for
// single-column keys), so a page never reads the rows before it.

async fn read_settings(
    pool: &SqlitePool,
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
           FROM guild_settings ORDER BY guild_id LIMIT ?1"#,
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
           FROM guild_settings WHERE guild_id > ?1 ORDER BY guild_id LIMIT ?2"#,
                guild_id,
                limit
            )
            .fetch_all(pool)
            .await,
        };
    from_rows(rows.map_err(db_error)?)
}

async fn read_guilds(
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildRow>> {
    let rows = match after {
        None => sqlx::query_as!(
            StoredGuild,
            r#"SELECT guild_id, name, icon, owner_id, member_count, joined_at, left_at, updated_at
           FROM guilds ORDER BY guild_id LIMIT ?1"#,
            limit
        )
        .fetch_all(pool)
        .await,
        Some([guild_id, ..]) => sqlx::query_as!(
            StoredGuild,
            r#"SELECT guild_id, name, icon, owner_id, member_count, joined_at, left_at, updated_at
           FROM guilds WHERE guild_id > ?1 ORDER BY guild_id LIMIT ?2"#,
            guild_id,
            limit
        )
        .fetch_all(pool)
        .await,
    };
    from_rows(rows.map_err(db_error)?)
}

async fn read_roles(
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GuildRoleRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredRole,
                r#"SELECT guild_id, role_id, name, position, permissions, managed, held_by_bot
           FROM guild_roles ORDER BY guild_id, role_id LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, role_id, _]) => {
            sqlx::query_as!(
                StoredRole,
                r#"SELECT guild_id, role_id, name, position, permissions, managed, held_by_bot
           FROM guild_roles WHERE (guild_id, role_id) > (?1, ?2)
           ORDER BY guild_id, role_id LIMIT ?3"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<MemberXpRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredMemberXp,
                r#"SELECT guild_id, user_id, xp, messages, last_award_at
           FROM member_xp ORDER BY guild_id, user_id LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredMemberXp,
                r#"SELECT guild_id, user_id, xp, messages, last_award_at
           FROM member_xp WHERE (guild_id, user_id) > (?1, ?2)
           ORDER BY guild_id, user_id LIMIT ?3"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<MemberProfileRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredProfile,
                r#"SELECT guild_id, user_id, display_name, avatar, seen_at
           FROM member_profiles ORDER BY guild_id, user_id LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredProfile,
                r#"SELECT guild_id, user_id, display_name, avatar, seen_at
           FROM member_profiles WHERE (guild_id, user_id) > (?1, ?2)
           ORDER BY guild_id, user_id LIMIT ?3"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<LevelRewardRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredReward,
                r#"SELECT guild_id, level, role_id
           FROM level_rewards ORDER BY guild_id, level LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, level, _]) => {
            sqlx::query_as!(
                StoredReward,
                r#"SELECT guild_id, level, role_id
           FROM level_rewards WHERE (guild_id, level) > (?1, ?2)
           ORDER BY guild_id, level LIMIT ?3"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<CaseCounterRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredCounter,
                r#"SELECT guild_id, last_case FROM case_counters ORDER BY guild_id LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, ..]) => {
            sqlx::query_as!(
                StoredCounter,
                r#"SELECT guild_id, last_case FROM case_counters
           WHERE guild_id > ?1 ORDER BY guild_id LIMIT ?2"#,
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
    pool: &SqlitePool,
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
           FROM mod_cases ORDER BY guild_id, case_number LIMIT ?1"#,
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
           FROM mod_cases WHERE (guild_id, case_number) > (?1, ?2)
           ORDER BY guild_id, case_number LIMIT ?3"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<CaseAmendmentRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredAmendment,
                r#"SELECT guild_id, case_number, amendment, amended_at, amended_by, old_reason,
                  new_reason
           FROM case_amendments ORDER BY guild_id, case_number, amendment LIMIT ?1"#,
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
           FROM case_amendments WHERE (guild_id, case_number, amendment) > (?1, ?2, ?3)
           ORDER BY guild_id, case_number, amendment LIMIT ?4"#,
                guild_id,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<EscalationRuleRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredRule,
                r#"SELECT guild_id, warnings, action, duration_secs
           FROM escalation_rules ORDER BY guild_id, warnings LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, warnings, _]) => {
            sqlx::query_as!(
                StoredRule,
                r#"SELECT guild_id, warnings, action, duration_secs
           FROM escalation_rules WHERE (guild_id, warnings) > (?1, ?2)
           ORDER BY guild_id, warnings LIMIT ?3"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<WelcomedMemberRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredWelcome,
                r#"SELECT guild_id, user_id, joined_at, left_at, session_id, sequence
           FROM welcomed_members ORDER BY guild_id, user_id LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([guild_id, user_id, _]) => {
            sqlx::query_as!(
                StoredWelcome,
                r#"SELECT guild_id, user_id, joined_at, left_at, session_id, sequence
           FROM welcomed_members WHERE (guild_id, user_id) > (?1, ?2)
           ORDER BY guild_id, user_id LIMIT ?3"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<GatewaySessionRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredSession,
                r#"SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
           FROM gateway_sessions ORDER BY shard_id LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([shard_id, ..]) => {
            sqlx::query_as!(
                StoredSession,
                r#"SELECT shard_id, shard_total, session_id, resume_url, sequence, updated_at
           FROM gateway_sessions WHERE shard_id > ?1 ORDER BY shard_id LIMIT ?2"#,
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
    pool: &SqlitePool,
    after: Option<RowKey>,
    limit: i64,
) -> StoreResult<Vec<AppliedInteractionRow>> {
    let rows = match after {
        None => {
            sqlx::query_as!(
                StoredApplied,
                r#"SELECT interaction_id, guild_id, applied_at
           FROM applied_interactions ORDER BY interaction_id LIMIT ?1"#,
                limit
            )
            .fetch_all(pool)
            .await
        }
        Some([interaction_id, ..]) => {
            sqlx::query_as!(
                StoredApplied,
                r#"SELECT interaction_id, guild_id, applied_at
           FROM applied_interactions WHERE interaction_id > ?1
           ORDER BY interaction_id LIMIT ?2"#,
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
// an error that fails the batch.

// The batched tables are bound as one JSON array of arrays, one per row, for
// `json_each`: serde_json escapes the strings, and ids and times go in as the
// integers stored.

async fn write_settings(tx: &mut SqliteConnection, rows: &[GuildSettingsRow]) -> StoreResult<()> {
    for r in rows {
        let guild_id = id_to_db(r.guild_id);
        let welcome_channel_id = r.welcome_channel_id.map(id_to_db);
        let modlog_channel_id = r.modlog_channel_id.map(id_to_db);
        let levelup_channel_id = r.levelup_channel_id.map(id_to_db);
        let dm_on_warn = i64::from(r.dm_on_warn);
        let (rank_card, web_public) = (i64::from(r.rank_card), i64::from(r.web_public));
        let (created_ms, updated_ms) = (to_ms(r.created_at), to_ms(r.updated_at));
        sqlx::query!(
            "INSERT INTO guild_settings (guild_id, prefix, welcome_channel_id, welcome_message,
                 modlog_channel_id, levelup_mode, levelup_channel_id, levelup_message, xp_min,
                 xp_max, xp_cooldown_secs, warn_expiry_secs, dm_on_warn, rank_card,
                 rank_card_accent, web_public, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18)",
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
            dm_on_warn,
            rank_card,
            r.rank_card_accent,
            web_public,
            created_ms,
            updated_ms
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_guilds(tx: &mut SqliteConnection, rows: &[GuildRow]) -> StoreResult<()> {
    for r in rows {
        let (guild_id, owner_id) = (id_to_db(r.guild_id), r.owner_id.map(id_to_db));
        let (joined_ms, left_ms) = (r.joined_at.map(to_ms), r.left_at.map(to_ms));
        let updated_ms = to_ms(r.updated_at);
        sqlx::query!(
            "INSERT INTO guilds (guild_id, name, icon, owner_id, member_count, joined_at, left_at,
                 updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_roles(tx: &mut SqliteConnection, rows: &[GuildRoleRow]) -> StoreResult<()> {
    for r in rows {
        let (guild_id, role_id) = (id_to_db(r.guild_id), id_to_db(r.role_id));
        let (managed, held) = (i64::from(r.managed), i64::from(r.held_by_bot));
        sqlx::query!(
            "INSERT INTO guild_roles (guild_id, role_id, name, position, permissions, managed, held_by_bot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            guild_id,
            role_id,
            r.name,
            r.position,
            r.permissions,
            managed,
            held
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// One statement; the level and bucket are derived here, as awards derive them.
async fn write_member_xp(tx: &mut SqliteConnection, rows: &[MemberXpRow]) -> StoreResult<()> {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                id_to_db(r.guild_id),
                id_to_db(r.user_id),
                r.xp,
                level_for_xp(r.xp),
                xp_bucket(r.xp),
                r.messages,
                r.last_award_at.map(to_ms),
            )
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
    sqlx::query!(
        r#"INSERT INTO member_xp (guild_id, user_id, xp, level, xp_bucket, messages, last_award_at)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                  value ->> 6
           FROM json_each(?1)"#,
        json
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn write_profiles(tx: &mut SqliteConnection, rows: &[MemberProfileRow]) -> StoreResult<()> {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                id_to_db(r.guild_id),
                id_to_db(r.user_id),
                &r.display_name,
                fold_name(&r.display_name),
                &r.avatar,
                to_ms(r.seen_at),
            )
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
    sqlx::query!(
        r#"INSERT INTO member_profiles (guild_id, user_id, display_name, search_name, avatar, seen_at)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
           FROM json_each(?1)"#,
        json
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn write_rewards(tx: &mut SqliteConnection, rows: &[LevelRewardRow]) -> StoreResult<()> {
    for r in rows {
        let (guild_id, role_id) = (id_to_db(r.guild_id), id_to_db(r.role_id));
        sqlx::query!(
            "INSERT INTO level_rewards (guild_id, level, role_id) VALUES (?1, ?2, ?3)",
            guild_id,
            r.level,
            role_id
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_counters(tx: &mut SqliteConnection, rows: &[CaseCounterRow]) -> StoreResult<()> {
    for r in rows {
        let guild_id = id_to_db(r.guild_id);
        sqlx::query!(
            "INSERT INTO case_counters (guild_id, last_case) VALUES (?1, ?2)",
            guild_id,
            r.last_case
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// One statement. A case has more columns than serde has tuples for, so each is
/// a `json!` array.
async fn write_cases(tx: &mut SqliteConnection, rows: &[ModCaseRow]) -> StoreResult<()> {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!([
                id_to_db(r.guild_id),
                r.case_number,
                id_to_db(r.target_id),
                r.moderator_id.map(id_to_db),
                r.kind,
                r.reason,
                to_ms(r.created_at),
                r.expires_at.map(to_ms),
                r.revoked_by.map(id_to_db),
                r.revoked_at.map(to_ms),
                r.source,
                r.escalated_from,
                r.duration_secs,
                r.action_status,
                r.action_error,
                r.lift_status,
                r.lift_error,
                r.lift_claimed_by,
                r.lift_claimed_until.map(to_ms),
                r.lifted_at.map(to_ms),
                r.log_channel_id.map(id_to_db),
                r.log_message_id.map(id_to_db),
                r.dm_status,
            ])
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
    sqlx::query!(
        r#"INSERT INTO mod_cases (guild_id, case_number, target_id, moderator_id, kind, reason,
               created_at, expires_at, revoked_by, revoked_at, source, escalated_from,
               duration_secs, action_status, action_error, lift_status, lift_error,
               lift_claimed_by, lift_claimed_until, lifted_at, log_channel_id, log_message_id,
               dm_status)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                  value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11,
                  value ->> 12, value ->> 13, value ->> 14, value ->> 15, value ->> 16,
                  value ->> 17, value ->> 18, value ->> 19, value ->> 20, value ->> 21,
                  value ->> 22
           FROM json_each(?1)"#,
        json
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn write_amendments(tx: &mut SqliteConnection, rows: &[CaseAmendmentRow]) -> StoreResult<()> {
    for r in rows {
        let (guild_id, amended_by) = (id_to_db(r.guild_id), id_to_db(r.amended_by));
        let amended_ms = to_ms(r.amended_at);
        sqlx::query!(
            "INSERT INTO case_amendments (guild_id, case_number, amendment, amended_at, amended_by,
                 old_reason, new_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            guild_id,
            r.case_number,
            r.amendment,
            amended_ms,
            amended_by,
            r.old_reason,
            r.new_reason
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

async fn write_rules(tx: &mut SqliteConnection, rows: &[EscalationRuleRow]) -> StoreResult<()> {
    for r in rows {
        let guild_id = id_to_db(r.guild_id);
        sqlx::query!(
            "INSERT INTO escalation_rules (guild_id, warnings, action, duration_secs)
             VALUES (?1, ?2, ?3, ?4)",
            guild_id,
            r.warnings,
            r.action,
            r.duration_secs
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// One statement.
async fn write_welcomed(tx: &mut SqliteConnection, rows: &[WelcomedMemberRow]) -> StoreResult<()> {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                id_to_db(r.guild_id),
                id_to_db(r.user_id),
                to_ms(r.joined_at),
                r.left_at.map(to_ms),
                &r.session_id,
                r.sequence,
            )
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
    sqlx::query!(
        r#"INSERT INTO welcomed_members (guild_id, user_id, joined_at, left_at, session_id, sequence)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
           FROM json_each(?1)"#,
        json
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn write_sessions(tx: &mut SqliteConnection, rows: &[GatewaySessionRow]) -> StoreResult<()> {
    for r in rows {
        let updated_ms = to_ms(r.updated_at);
        sqlx::query!(
            "INSERT INTO gateway_sessions (shard_id, shard_total, session_id, resume_url, sequence,
                 updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            r.shard_id,
            r.shard_total,
            r.session_id,
            r.resume_url,
            r.sequence,
            updated_ms
        )
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

/// One statement.
async fn write_applied(
    tx: &mut SqliteConnection,
    rows: &[AppliedInteractionRow],
) -> StoreResult<()> {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                id_to_db(r.interaction_id),
                id_to_db(r.guild_id),
                to_ms(r.applied_at),
            )
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(StoreError::internal)?;
    sqlx::query!(
        r#"INSERT INTO applied_interactions (interaction_id, guild_id, applied_at)
           SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1)"#,
        json
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    Ok(())
}
