//! Scripted REST failures: 429s and 5xx on chosen routes, and requests never
//! answered.
//!
//! The REST middleware consumes them and the scenario API scripts them, so
//! they are held by the core (`core.rs`), below both.

/// One scripted failure rule.
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// HTTP method to match (`None` = any).
    pub method: Option<String>,
    /// Substring of the request path (after `/api/v10`) to match.
    pub path_contains: String,
    /// 429 or a 5xx; [`NO_ANSWER`]: the request is never answered (nor
    /// carried out), as when a process is killed while waiting on Discord.
    pub status: u16,
    /// How many more requests this rule fails.
    pub remaining: u32,
    /// For 429: seconds in `retry_after` and `Retry-After`.
    pub retry_after: f64,
    /// For 429: whether it is the global limit.
    pub global: bool,
}

/// The status of a rule whose requests hang until their client goes away.
pub const NO_ANSWER: u16 = 0;

/// The active rules, first match wins.
#[derive(Debug, Default)]
pub struct Faults {
    pub rules: Vec<FaultRule>,
}

impl Faults {
    /// Consume a failure for this request, if one is scripted.
    pub fn take(&mut self, method: &str, path: &str) -> Option<FaultRule> {
        let i = self.rules.iter().position(|r| {
            r.remaining > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.contains(&r.path_contains)
        })?;
        let rule = &mut self.rules[i];
        rule.remaining -= 1;
        let hit = rule.clone();
        if rule.remaining == 0 {
            self.rules.remove(i);
        }
        Some(hit)
    }
}
