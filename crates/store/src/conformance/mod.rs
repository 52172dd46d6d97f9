//! The store test suite, written once and run against every backend.
//!
//! A backend crate provides a [`Fixture`] (a fresh, migrated, empty database per
//! test) and invokes [`conformance_tests!`](crate::conformance_tests) in one of its
//! integration tests; every test of this folder then runs against that backend.
//!
//! One file per storage trait, named as the backend modules are (`settings`, `xp`,
//! `rewards`, `cases`, `escalations`, `users`, `sessions`, `replays`, `guilds`, `profiles`,
//! `admin`, `transfer`, `import`), and `views` for the views each backend's own tests query; this file
//! holds the fixture, the helpers they share and the macro. Tests that span
//! entities sit with the trait they mostly exercise, and say so.

mod admin;
mod cases;
mod escalations;
mod guilds;
mod import;
mod profiles;
mod replays;
mod rewards;
mod sessions;
mod settings;
mod transfer;
mod users;
mod views;
mod xp;

// Flat, so the macro (and backend tests) name every test `conformance::<name>`.
pub use self::{
    admin::*, cases::*, escalations::*, guilds::*, import::*, profiles::*, replays::*, rewards::*,
    sessions::*, settings::*, transfer::*, users::*, views::*, xp::*,
};

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker},
};

use crate::{CaseKind, GatewaySession, NewCase, Store, XpAward};

/// A fresh, empty, migrated database for one test, and how to clean it up.
pub trait Fixture: Sized + Send {
    /// Create the database, migrate it and open a store on it.
    fn create() -> impl Future<Output = Self> + Send;
    /// The store under test.
    fn store(&self) -> Arc<dyn Store>;
    /// Open a second store on the same database, as a restarted process would
    /// (migrations run again at its boot).
    fn reopen(&self) -> impl Future<Output = Arc<dyn Store>> + Send;
    /// Close the stores and remove the database.
    fn cleanup(self) -> impl Future<Output = ()> + Send;
    /// Whether the service the fixture needs beyond the backend's own is here;
    /// `false` skips each test (the fixture says why, and fails instead where
    /// the service is required, as in CI). Only PgBouncer's fixture has one.
    fn available() -> bool {
        true
    }
    /// `member_xp_buckets` as stored, and as counted from `member_xp` (`GROUP BY
    /// guild_id, xp_bucket`): (guild, bucket, members), both in key order. The
    /// triggers of migration 0014 (and on PostgreSQL the award flush, 0019)
    /// keep them equal after every write.
    fn xp_bucket_counts(&self) -> impl Future<Output = [Vec<(i64, i64, i64)>; 2]> + Send;
}

/// Generate one `#[tokio::test]` per conformance test for a backend's fixture.
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:ty) => {
        $crate::conformance_tests!(@each $fixture;
            // admin.rs: the store as a whole, and tests spanning every entity
            health_version_and_counts,
            guild_isolation,
            snowflakes_round_trip_exactly,
            reopen_keeps_data_and_reruns_migrations,
            a_backup_period_is_claimed_once,
            // settings.rs
            settings_default_when_never_set,
            settings_patch_is_partial_and_validated,
            settings_concurrent_patches_keep_every_field,
            all_settings_lists_every_stored_guild,
            // xp.rs
            award_batch_returns_totals_and_level_ups,
            award_batch_sums_duplicate_keys,
            award_batch_writes_checkpoints_atomically,
            a_batch_written_already_is_not_counted_twice,
            concurrent_awards_are_exact,
            awards_and_commands_at_once_keep_counts_exact,
            set_add_reset_xp,
            leaderboard_order_ties_and_pages,
            member_rank_positions,
            leaderboard_and_rank_exact_across_xp_buckets,
            ranks_and_pages_exact_against_brute_force,
            cooling_down_follows_each_guilds_cooldown,
            a_write_for_an_interaction_is_applied_once,
            // rewards.rs
            level_rewards_crud,
            // cases.rs
            cases_numbered_and_listed,
            concurrent_cases_have_no_gaps,
            case_revoke_and_clear_warnings,
            active_warnings_respect_expiry,
            reasons_stored_verbatim,
            concurrent_warnings_escalate_once,
            warnings_three_and_four_together_escalate_once,
            expired_and_revoked_warnings_stop_counting,
            moderation_writes_are_applied_once_per_interaction,
            amendments_keep_the_reason_history,
            pending_actions_are_listed_until_finished,
            lift_claims_are_exclusive_and_leased,
            concurrent_lift_claims_are_disjoint,
            discord_acts_are_recorded_once,
            unknown_moderators_are_named_once,
            member_cases_come_in_pages_with_totals,
            log_message_and_dm_status_are_kept,
            // escalations.rs
            escalation_rules_crud,
            escalation_rules_are_validated,
            // users.rs
            export_and_delete_user,
            a_members_xp_is_deleted_everywhere_and_cases_kept,
            // sessions.rs
            sessions_save_load_delete,
            identify_claims_are_one_per_bucket_per_window,
            // replays.rs
            a_join_is_counted_once,
            a_departure_is_counted_once,
            // guilds.rs
            guild_facts_are_saved_whole_and_read_back,
            guild_events_change_one_fact_each,
            a_left_guild_keeps_when_it_was_left,
            // profiles.rs
            profiles_are_written_when_they_change,
            members_are_found_by_name_with_their_place,
            profiles_go_with_a_members_data,
            // transfer.rs
            every_table_moves_whole,
            a_left_guild_is_purged_whole_after_retention,
            a_guilds_data_is_reset_whole_and_once,
            // import.rs
            imports_merge_and_a_second_run_changes_nothing,
            a_dry_run_reports_the_same_and_writes_nothing,
            an_import_that_fails_writes_nothing,
        );
    };
    (@each $fixture:ty; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if !<$fixture as $crate::conformance::Fixture>::available() {
                    return;
                }
                let fixture = <$fixture as $crate::conformance::Fixture>::create().await;
                $crate::conformance::$name(&fixture).await;
                $crate::conformance::Fixture::cleanup(fixture).await;
            }
        )*
    };
}

fn guild(n: u64) -> Id<GuildMarker> {
    Id::new(n)
}

fn user(n: u64) -> Id<UserMarker> {
    Id::new(n)
}

fn channel(n: u64) -> Id<ChannelMarker> {
    Id::new(n)
}

fn role(n: u64) -> Id<RoleMarker> {
    Id::new(n)
}

/// A fixed instant, whole milliseconds: both backends keep at least that precision.
fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + secs, 0).unwrap()
}

fn award(g: u64, u: u64, xp: i64, at: i64) -> XpAward {
    XpAward {
        guild_id: guild(g),
        user_id: user(u),
        xp,
        messages: 1,
        at: t(at),
    }
}

/// A case by Keeper's moderator 9, with nothing optional set.
fn new_case(g: u64, target: u64, kind: CaseKind, reason: &str, at: i64) -> NewCase {
    NewCase {
        reason: Some(reason.to_owned()),
        ..NewCase::new(guild(g), user(target), user(9), kind, t(at))
    }
}

fn session(shard: u32, seq: u64) -> GatewaySession {
    GatewaySession {
        shard_id: shard,
        shard_total: 4,
        session_id: format!("session-{shard}"),
        resume_url: "wss://gateway-us-east1-b.discord.gg".to_owned(),
        sequence: seq,
        updated_at: t(seq as i64),
    }
}
