//! The level curve, as MEE6 made it familiar: going from level `L` to `L + 1` costs
//! `5L² + 50L + 100` XP, so level 1 needs 100 XP in total, level 2 needs 255, level 3
//! needs 475...

/// The highest level we compute; beyond it the XP needed overflows nothing but is
/// far past anything reachable (level 10,000 needs ~1.7e12 XP).
pub const MAX_LEVEL: i32 = 100_000;

/// XP needed to go from `level` to `level + 1`.
pub fn xp_for_next_level(level: i32) -> i64 {
    let l = i64::from(level.max(0));
    5 * l * l + 50 * l + 100
}

/// Total XP needed to reach `level` from zero.
pub fn total_xp_for_level(level: i32) -> i64 {
    // Closed form of sum_{k=0}^{L-1} (5k² + 50k + 100).
    let l = i64::from(level.clamp(0, MAX_LEVEL));
    5 * (l - 1) * l * (2 * l - 1) / 6 + 25 * l * (l - 1) + 100 * l
}

/// The level a member with `xp` total XP has reached.
pub fn level_for_xp(xp: i64) -> i32 {
    if xp < 100 {
        return 0;
    }
    // The cubic inverse gives a close guess; the loops correct rounding either way.
    let mut level = ((3.0 * xp as f64 / 5.0).cbrt() as i32).clamp(0, MAX_LEVEL);
    while level > 0 && total_xp_for_level(level) > xp {
        level -= 1;
    }
    while level < MAX_LEVEL && total_xp_for_level(level + 1) <= xp {
        level += 1;
    }
    level
}

/// The XP buckets the leaderboard index orders members by, and per-guild member
/// counts are kept for (`member_xp_buckets`, migration 0014): bucket `b` holds the
/// totals `x` with `b³ <= 64·x < (b+1)³`, i.e. `b = ⌊4·∛x⌋`.
///
/// A bucket's width grows like `x^(2/3)`, as the level curve does (a level costs
/// about `3.6·x^(2/3)` XP), so the buckets follow where members crowd: XP piles up
/// at the bottom of a guild (in the benches' `300,000·r³` spread, 15% of members
/// under 1,000 XP), where fixed 1,000-XP buckets held thousands of members that a
/// rank or a deep page had to read one by one. Here each bucket of a 100,000-member
/// guild holds about 370 of them, 0 XP alone (its own bucket) the largest. A wide
/// bucket at the top keeps the busiest members' awards inside their bucket, so
/// most awards still change no indexed column (migration 0003).
pub const XP_BUCKETS_PER_CUBE_ROOT: i64 = 4;

/// Totals above this share the top bucket (41,285), so the arithmetic stays exact
/// in 64 bits and in the migrations' SQL; 2^40 XP is far past anything reachable.
pub const XP_BUCKET_CAP: i64 = 1 << 40;

/// The bucket stored beside a member's XP total (`xp_bucket`). Ordering by bucket,
/// then by exact XP, is ordering by XP.
pub fn xp_bucket(xp: i64) -> i64 {
    let scale = XP_BUCKETS_PER_CUBE_ROOT.pow(3);
    let x = xp.clamp(0, XP_BUCKET_CAP) * scale;
    // The float cube root is a close guess; the loops make it exact.
    let mut b = (x as f64).cbrt() as i64;
    while b > 0 && b * b * b > x {
        b -= 1;
    }
    while (b + 1) * (b + 1) * (b + 1) <= x {
        b += 1;
    }
    b
}

/// The lowest XP total in `bucket` (`⌈b³ / 64⌉`); a bucket is empty when the next
/// one has the same floor. For seeding benches with the same buckets in SQL.
pub fn xp_bucket_floor(bucket: i64) -> i64 {
    let scale = XP_BUCKETS_PER_CUBE_ROOT.pow(3);
    let b = bucket.clamp(0, xp_bucket(XP_BUCKET_CAP));
    (b * b * b + scale - 1) / scale
}

/// A member's XP before and after a write, for [`bucket_moves`]: `before` is
/// `None` when the write created the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XpChange {
    pub guild_id: i64,
    pub before: Option<i64>,
    pub after: i64,
}

/// How a batch of writes changes the per-guild bucket counts (`member_xp_buckets`):
/// `(guild, bucket, change)` with the change non-zero, in key order. A new member
/// adds one to their bucket; a total that crossed into another bucket takes one
/// from the old and adds one to the new; the rest (most awards) change nothing.
///
/// Key order because the count rows are locked in the order they are written: a
/// writer that takes them in ascending (guild, bucket), as every writer does,
/// can't deadlock with another that does the same.
pub fn bucket_moves(changes: impl IntoIterator<Item = XpChange>) -> Vec<(i64, i64, i64)> {
    bucket_count_changes(changes.into_iter().map(|c| BucketMove {
        guild_id: c.guild_id,
        from: c.before.map(xp_bucket),
        to: xp_bucket(c.after),
    }))
}

/// A member's bucket before a write (`None`: a new member) and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketMove {
    pub guild_id: i64,
    pub from: Option<i64>,
    pub to: i64,
}

/// [`bucket_moves`] from the buckets themselves, for a writer that read the
/// stored bucket rather than the total before.
pub fn bucket_count_changes(moves: impl IntoIterator<Item = BucketMove>) -> Vec<(i64, i64, i64)> {
    let mut counts = std::collections::BTreeMap::<(i64, i64), i64>::new();
    for m in moves {
        match m.from {
            Some(from) if from == m.to => continue,
            Some(from) => *counts.entry((m.guild_id, from)).or_default() -= 1,
            None => {}
        }
        *counts.entry((m.guild_id, m.to)).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|&(_, n)| n != 0)
        .map(|((g, b), n)| (g, b, n))
        .collect()
}

/// Where a member stands within their current level: `(xp into it, xp it costs)`.
pub fn progress(xp: i64) -> (i64, i64) {
    let level = level_for_xp(xp);
    (xp - total_xp_for_level(level), xp_for_next_level(level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_count_changes_net_out_in_key_order() {
        let m = |guild_id, from, to| BucketMove { guild_id, from, to };
        assert_eq!(
            bucket_count_changes([
                m(2, Some(5), 6),
                m(1, Some(9), 9),
                m(2, Some(6), 5),
                m(1, None, 3),
                m(1, Some(3), 4),
            ]),
            // Guild 2's two moves cancel out; guild 1's arrival in 3 left again.
            vec![(1, 4, 1)]
        );
    }

    #[test]
    fn bucket_moves_count_arrivals_and_departures_in_key_order() {
        let change = |guild_id, before, after| XpChange {
            guild_id,
            before,
            after,
        };
        // 0 XP is bucket 0, 1 XP bucket 4 (4·∛1), 1,000 XP bucket 40.
        let moves = bucket_moves([
            change(2, Some(1_000), 1_010), // stays in 40: nothing
            change(2, None, 1_000),        // new: +1 in 40
            change(1, Some(0), 1),         // 0 -> 4
            change(1, None, 0),            // new in 0: nets the departure out
            change(2, Some(999), 1_000),   // 39 -> 40
        ]);
        assert_eq!(xp_bucket(999), 39);
        assert_eq!(moves, vec![(1, 4, 1), (2, 39, -1), (2, 40, 2)]);
        assert!(bucket_moves([change(5, Some(7), 7)]).is_empty());
        // A move and its way back in one batch leave nothing to write.
        assert!(bucket_moves([change(3, Some(0), 64), change(3, Some(64), 0)]).is_empty());
    }

    #[test]
    fn known_thresholds() {
        assert_eq!(total_xp_for_level(0), 0);
        assert_eq!(total_xp_for_level(1), 100);
        assert_eq!(total_xp_for_level(2), 255);
        assert_eq!(total_xp_for_level(3), 475);
        assert_eq!(level_for_xp(0), 0);
        assert_eq!(level_for_xp(99), 0);
        assert_eq!(level_for_xp(100), 1);
        assert_eq!(level_for_xp(254), 1);
        assert_eq!(level_for_xp(255), 2);
        assert_eq!(level_for_xp(-5), 0);
    }

    #[test]
    fn closed_form_matches_the_sum() {
        let mut total = 0;
        for level in 0..2_000 {
            assert_eq!(total_xp_for_level(level), total, "level {level}");
            assert_eq!(level_for_xp(total), level);
            if total > 0 {
                assert_eq!(level_for_xp(total - 1), level - 1);
            }
            total += xp_for_next_level(level);
        }
    }

    #[test]
    fn buckets_order_like_xp() {
        assert_eq!(xp_bucket(0), 0);
        assert_eq!(xp_bucket(-5), 0);
        // 4·∛x: 1 XP is bucket 4, 1,000 XP bucket 40, 300,000 XP bucket 267.
        assert_eq!(xp_bucket(1), 4);
        assert_eq!(xp_bucket(999), 39);
        assert_eq!(xp_bucket(1_000), 40);
        assert_eq!(xp_bucket(300_000), 267);
        assert_eq!(xp_bucket(XP_BUCKET_CAP), 41_285);
        assert_eq!(xp_bucket(i64::MAX), 41_285);
        // More XP never means a lower bucket, so (bucket DESC, xp DESC) is xp DESC.
        let totals = [0, 1, 998, 999, 1_000, 1_001, 25_000, 999_999, i64::MAX];
        for pair in totals.windows(2) {
            assert!(xp_bucket(pair[0]) <= xp_bucket(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn bucket_floors_are_exact() {
        // Every bucket starts at its floor and ends below the next one's, checked
        // exactly at the edges, where a float cube root is most likely one off.
        for b in 0..xp_bucket(XP_BUCKET_CAP) {
            let (floor, next) = (xp_bucket_floor(b), xp_bucket_floor(b + 1));
            assert!(next >= floor);
            if next > floor {
                assert_eq!(xp_bucket(floor), b, "floor of {b}");
                assert_eq!(xp_bucket(next - 1), b, "top of {b}");
            }
        }
        for n in [10_i64, 100, 1_000, 10_000] {
            assert_eq!(xp_bucket(n * n * n), 4 * n);
            assert_eq!(xp_bucket(n * n * n - 1), 4 * n - 1);
        }
    }

    #[test]
    fn progress_within_level() {
        assert_eq!(progress(0), (0, 100));
        assert_eq!(progress(150), (50, 155));
        assert_eq!(progress(i64::MAX).1, xp_for_next_level(MAX_LEVEL));
    }
}
